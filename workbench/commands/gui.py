"""`workbench gui [FILES...] [--screenshot OUT.png]`: the desktop app."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from workbench.commands.common import fail

NAME = "gui"
HELP = "Start the desktop app (optionally opening FILES; --screenshot saves a PNG of the window and exits)."

#: `--view` choices: the overview and every page of the main window (tests keep the two lists equal)
VIEWS = ("overview", "rows", "predict", "compare", "benchmark", "graph", "endpoints")

NO_DISPLAY = ("no display found ({why}): run under a desktop session or xvfb-run, or use the command-line "
              "tools (`workbench --help` lists them)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILES", help="model files or folders to open")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="wait until FILES are loaded and shown, save a PNG of the window, exit "
                             "(works without a display: Qt's offscreen platform is used then)")
    parser.add_argument("--view", choices=VIEWS, default="overview", help="the view to show (default overview)")
    parser.add_argument("--trust", action="store_true",
                        help="load FILES without asking even where loading runs code from them (pickle/joblib, SavedModel, "
                             "Keras with Lambda layers): only files you trust")
    parser.add_argument("--theme", choices=("system", "light", "dark"), default=None,
                        help="colour theme (default: the saved choice, else follow the system)")


def missing_display(environ: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """Why Qt would find no display to open a window on (None when there is one, or no need for one).

    Decided before any QApplication exists: without a display Qt's xcb plugin aborts the process."""
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None  # macOS and Windows always have their native platform
    qpa = environ.get("QT_QPA_PLATFORM", "").strip().lower()
    if qpa and not qpa.startswith(("xcb", "wayland")):
        return None  # offscreen, minimal, eglfs, vnc, ... need no display server
    has_x = bool(environ.get("DISPLAY"))
    has_wayland = bool(environ.get("WAYLAND_DISPLAY"))
    if qpa.startswith("xcb"):
        return None if has_x else "DISPLAY is not set"
    if qpa.startswith("wayland"):
        return None if has_wayland else "WAYLAND_DISPLAY is not set"
    return None if has_x or has_wayland else "DISPLAY is not set"


def run(args: argparse.Namespace) -> int:
    if args.screenshot:
        folder = Path(args.screenshot).expanduser().resolve().parent
        if not folder.is_dir():
            return fail(f"cannot save the screenshot: folder {folder} does not exist (create it first)")
    why = missing_display(os.environ)
    if why is not None:
        if not args.screenshot or os.environ.get("QT_QPA_PLATFORM", "").strip():
            return fail(NO_DISPLAY.format(why=why))
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a picture needs no screen: widget.grab() works offscreen

    from workbench.gui.app import run as run_app

    theme = args.theme
    if theme is None:
        from workbench.gui.settings import AppSettings

        theme = AppSettings().theme()
    return run_app(args.files, args.screenshot, trust=args.trust, view=args.view, theme=theme)
