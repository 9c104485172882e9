"""`workbench gui [FILES...] [--screenshot OUT.png]`: the desktop app."""

from __future__ import annotations

import argparse

NAME = "gui"
HELP = "start the desktop app (optionally open FILES; --screenshot saves a PNG of the window and exits)"

VIEWS = ("overview", "rows", "predict", "benchmark", "endpoints")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILES", help="model files or folders to open")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="wait until FILES are loaded and shown, save a PNG of the window, exit")
    parser.add_argument("--view", choices=VIEWS, default="overview", help="the view to show (default overview)")
    parser.add_argument("--trust", action="store_true",
                        help="load pickle/joblib FILES without asking (they run code: only files you trust)")
    parser.add_argument("--theme", choices=("system", "light", "dark"), default=None,
                        help="colour theme (default: the saved choice, else follow the system)")


def run(args: argparse.Namespace) -> int:
    from workbench.gui.app import run as run_app

    theme = args.theme
    if theme is None:
        from workbench.gui.settings import AppSettings

        theme = AppSettings().theme()
    return run_app(args.files, args.screenshot, trust=args.trust, view=args.view, theme=theme)
