"""`workbench desktop install|uninstall [--json]`: the app in the user's desktop menu, with its icons and
the model file types it opens."""

from __future__ import annotations

import argparse

from workbench.commands.common import print_json

NAME = "desktop"
HELP = ("Add the app to your desktop's menu (install: .desktop entry, icons and model file types under "
        "$XDG_DATA_HOME, default ~/.local/share) or take it out again (uninstall).")

JSON_HELP = ('print {"action", "app_id", "data_home", "desktop_file", "written", "unchanged", "removed", '
             '"tools": [{"tool", "status", "detail"}], "warnings"}')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = actions.add_parser(
        "install", help="write the .desktop entry (launching this installation's Python), the icons and "
                        "the MIME types; running it again changes nothing",
        description="Write the .desktop entry, hicolor icons and shared-mime-info package for this user and "
                    "refresh the desktop's databases (update-mime-database, update-desktop-database) when "
                    "they are installed.")
    uninstall = actions.add_parser(
        "uninstall", help="remove exactly what install wrote",
        description="Remove the files `workbench desktop install` wrote and refresh the desktop's databases.")
    for sub in (install, uninstall):
        sub.add_argument("--json", action="store_true", help=JSON_HELP)


def run(args: argparse.Namespace) -> int:
    """Exit 0 when done (also when there was nothing to do); 2 when the data folder is unusable
    (a relative XDG_DATA_HOME, no HOME, an unwritable folder: a DesktopIntegrationError, reported by
    the CLI as `error: ...`). A database tool that fails is a warning: the files are in place."""
    from workbench.core import desktop_entry

    if args.action == "install":
        report = desktop_entry.install()
    else:
        report = desktop_entry.uninstall()
    if getattr(args, "json", False):
        print_json(report.to_json())
        return 0
    if report.action == "install":
        print(f"desktop entry: {report.desktop_file}")
        print(f"{len(report.written)} file(s) written, {len(report.unchanged)} already up to date, "
              f"under {report.data_home}")
    elif report.removed:
        print(f"{len(report.removed)} file(s) removed from {report.data_home}")
    else:
        print(f"nothing to remove: the desktop entry is not installed under {report.data_home}")
    for tool in report.tools:
        if tool.status == "absent":
            print(f"{tool.tool}: not installed (skipped)")
    for warning in report.warnings:
        print(f"warning: {warning}")
    return 0
