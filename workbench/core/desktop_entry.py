"""Desktop integration for one user: the freedesktop `.desktop` entry, hicolor icons and MIME types.

`install()` writes, under the user's data folder ($XDG_DATA_HOME, default ~/.local/share):

- ``applications/<APP_ID>.desktop``: the committed entry (``resources/desktop``) with its ``Exec`` and
  ``TryExec`` pointing at this installation's Python (``<python> -m workbench gui %F``);
- ``icons/hicolor/<N>x<N>/apps/<APP_ID>.png`` for every size of ``ICON_SIZES`` and
  ``icons/hicolor/scalable/apps/<APP_ID>.svg``;
- ``mime/packages/<APP_ID>.xml``: the shared-mime-info package with the glob patterns of the model file
  types shared-mime-info does not define (ONNX, PMML, joblib, pickle, skops, Keras).

then refreshes the MIME and desktop databases with ``update-mime-database`` / ``update-desktop-database``
when they are installed (their absence is reported, never an error). `uninstall()` removes exactly those
files (and the folders that become empty, up to the data folder itself, which stays), then refreshes
the databases again, or removes the databases the tools generated when no other package or entry is
left in them. Both are idempotent: a second run changes nothing. Nothing is written outside the data
folder: files are replaced atomically (a symlink in the way is replaced, never followed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from typing import Any

from workbench.core.errors import WorkbenchError

#: reverse-DNS application id: names the .desktop entry, the icons, the MIME package and the metainfo
APP_ID = "io.github.model_serving_workbench.Workbench"

#: pixel sizes of the committed hicolor PNG icons
#: (rendered from resources/icons/app.svg by scripts/make_icons.py)
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)

#: the package the top-level resources/ folder is installed as
RESOURCES_PACKAGE = "workbench.resources"

#: what update-mime-database generates in a mime folder, besides one MEDIA/SUBTYPE.xml per type
MIME_DATABASE_FILES = ("XMLnamespaces", "aliases", "generic-icons", "globs", "globs2", "icons", "magic",
                       "mime.cache", "subclasses", "treemagic", "types", "version")

#: what update-desktop-database generates in an applications folder
DESKTOP_DATABASE_FILES = ("mimeinfo.cache",)

#: seconds a database tool may take before it counts as failed
TOOL_TIMEOUT = 120

# characters that make an Exec argument need quoting (Desktop Entry Specification, "The Exec key")
_EXEC_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")
_EXEC_ESCAPED_IN_QUOTES = set('"`$\\')


class DesktopIntegrationError(WorkbenchError):
    """The desktop entry cannot be installed or removed (bad data folder, unwritable file)."""

    kind = "desktop"


def desktop_resources() -> Traversable:
    """The committed desktop files (`resources/desktop`), wherever the package is installed."""
    return files(RESOURCES_PACKAGE) / "desktop"


def data_home(environ: Mapping[str, str] | None = None) -> Path:
    """The user's data folder: $XDG_DATA_HOME, or $HOME/.local/share when it is unset or empty.

    A relative $XDG_DATA_HOME is refused (the XDG Base Directory Specification calls it invalid), so is
    a missing or relative $HOME when it is needed."""
    env = os.environ if environ is None else environ
    value = env.get("XDG_DATA_HOME", "")
    if value:
        if not os.path.isabs(value):
            raise DesktopIntegrationError(
                f"XDG_DATA_HOME={value!r} is not an absolute path, which the XDG Base Directory "
                "Specification calls invalid",
                hint="set XDG_DATA_HOME to an absolute folder, or unset it to use ~/.local/share")
        return Path(value)
    home = env.get("HOME", "")
    if not home or not os.path.isabs(home):
        raise DesktopIntegrationError(
            "cannot find the user's data folder: XDG_DATA_HOME is not set and HOME is "
            + ("not set" if not home else f"not absolute ({home!r})"),
            hint="set XDG_DATA_HOME to an absolute folder")
    return Path(home) / ".local" / "share"


def exec_argument(arg: str) -> str:
    """One argument of a desktop entry's Exec key, quoted as the specification says, then escaped as a
    string value (backslashes doubled); a literal `%` becomes `%%`."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in arg):
        raise DesktopIntegrationError(f"{arg!r} contains a control character and cannot be put in a "
                                      "desktop entry's Exec line")
    if arg == "" or any(c in _EXEC_RESERVED for c in arg):
        arg = '"' + "".join("\\" + c if c in _EXEC_ESCAPED_IN_QUOTES else c for c in arg) + '"'
    return arg.replace("%", "%%").replace("\\", "\\\\")


def exec_line(python: str) -> str:
    """The Exec value that starts this workbench installation on the files it is given."""
    return " ".join([exec_argument(python), "-m", "workbench", "gui"]) + " %F"


def _string_value(text: str) -> str:
    """A desktop entry string value (backslashes escaped)."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in text):
        raise DesktopIntegrationError(f"{text!r} contains a control character and cannot be put in a "
                                      "desktop entry")
    return text.replace("\\", "\\\\")


def desktop_entry(python: str) -> str:
    """The committed entry with Exec and TryExec pointing at `python` (an absolute interpreter path)."""
    if not os.path.isabs(python):
        raise DesktopIntegrationError(
            f"the Python interpreter path {python!r} is not absolute: the desktop entry could not start it",
            hint="run `workbench desktop install` with the Python of the installation to launch")
    template = (desktop_resources() / f"{APP_ID}.desktop").read_text(encoding="utf-8")
    lines, group = [], None
    for line in template.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            group = stripped[1:-1]
        elif group == "Desktop Entry" and line.startswith("Exec="):
            line = "Exec=" + exec_line(python)
        elif group == "Desktop Entry" and line.startswith("TryExec="):
            line = "TryExec=" + _string_value(python)
        lines.append(line)
    return "\n".join(lines) + "\n"


def _walk(folder: Traversable, prefix: PurePosixPath) -> Iterator[tuple[PurePosixPath, Traversable]]:
    for item in sorted(folder.iterdir(), key=lambda t: t.name):
        if item.is_dir():
            yield from _walk(item, prefix / item.name)
        elif item.is_file():
            yield prefix / item.name, item


def planned_files(python: str) -> dict[PurePosixPath, bytes]:
    """Every file `install` writes: path relative to the data folder -> content."""
    res = desktop_resources()
    planned = {
        PurePosixPath("applications", f"{APP_ID}.desktop"): desktop_entry(python).encode("utf-8"),
        PurePosixPath("mime", "packages", f"{APP_ID}.xml"): (res / f"{APP_ID}.mime.xml").read_bytes(),
    }
    for rel, item in _walk(res / "icons", PurePosixPath("icons")):
        planned[rel] = item.read_bytes()
    return planned


def installed_paths() -> list[PurePosixPath]:
    """Every file `install` writes (relative to the data folder), whatever the interpreter."""
    return sorted(planned_files(os.path.abspath(os.sep)))


def mime_types() -> list[str]:
    """The MIME types the shared-mime-info package of `resources/desktop` declares."""
    from defusedxml import ElementTree

    root = ElementTree.fromstring((desktop_resources() / f"{APP_ID}.mime.xml").read_bytes())
    ns = "{http://www.freedesktop.org/standards/shared-mime-info}"
    return [node.get("type") for node in root.iter(f"{ns}mime-type")]


@dataclass
class ToolRun:
    """One database tool: "ran", "absent" (not installed: fine), or "failed" (with the reason)."""

    tool: str
    status: str
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"tool": self.tool, "status": self.status, "detail": self.detail}


@dataclass
class DesktopReport:
    action: str
    data_home: Path
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    tools: list[ToolRun] = field(default_factory=list)

    @property
    def desktop_file(self) -> Path:
        return self.data_home / "applications" / f"{APP_ID}.desktop"

    @property
    def warnings(self) -> list[str]:
        return [f"{t.tool} failed: {t.detail}" for t in self.tools if t.status == "failed"]

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "app_id": APP_ID,
            "data_home": str(self.data_home),
            "desktop_file": str(self.desktop_file),
            "written": self.written,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "tools": [t.to_json() for t in self.tools],
            "warnings": self.warnings,
        }


def _write_atomically(target: Path, content: bytes) -> None:
    """Write `content` to `target` through a temporary file in its folder and a rename: a reader never
    sees half a file, and a symlink at `target` is replaced rather than followed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _same_content(target: Path, content: bytes) -> bool:
    if target.is_symlink() or not target.is_file():
        return False
    try:
        return target.read_bytes() == content
    except OSError:
        return False


def _prune_empty(folder: Path, stop: Path) -> None:
    """Remove `folder` and its parents while they are empty, never `stop` or anything above it."""
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty, or already gone / not ours to remove
            if folder.exists():
                return
        folder = folder.parent


def _run_tool(name: str, args: list[str], tools_path: str | None) -> ToolRun:
    exe = shutil.which(name, path=tools_path)
    if exe is None:
        return ToolRun(name, "absent", "not installed; the desktop picks the files up at its next scan")
    try:
        proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=TOOL_TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ToolRun(name, "failed", str(exc))
    if proc.returncode != 0:
        why = (proc.stderr or proc.stdout).strip().splitlines()
        return ToolRun(name, "failed", why[0] if why else f"exit code {proc.returncode}")
    return ToolRun(name, "ran", " ".join(args))


def install(home: Path | None = None, python: str | None = None, *,
            tools_path: str | None = None) -> DesktopReport:
    """Install the desktop entry, icons and MIME package for the user (see the module docstring).

    `home`: the data folder (default `data_home()`); `python`: the interpreter the entry launches
    (default this one); `tools_path`: where to look for the database tools (default $PATH)."""
    home = _checked_home(home)
    python = sys_executable() if python is None else python
    report = DesktopReport("install", home)
    for rel, content in sorted(planned_files(python).items()):
        target = home.joinpath(*rel.parts)
        if _same_content(target, content):
            report.unchanged.append(str(rel))
            continue
        try:
            _write_atomically(target, content)
        except OSError as exc:
            raise DesktopIntegrationError(f"cannot write {target}: {exc.strerror or exc}",
                                          hint="check the folder's permissions") from exc
        report.written.append(str(rel))
    report.tools.append(_run_tool("update-mime-database", [str(home / "mime")], tools_path))
    report.tools.append(_run_tool("update-desktop-database", ["-q", str(home / "applications")], tools_path))
    return report


def uninstall(home: Path | None = None, *, tools_path: str | None = None) -> DesktopReport:
    """Remove what `install` writes (see the module docstring); nothing installed is not an error."""
    home = _checked_home(home)
    report = DesktopReport("uninstall", home)
    for rel in installed_paths():
        target = home.joinpath(*rel.parts)
        if not (target.is_symlink() or target.exists()):
            continue
        if target.is_dir() and not target.is_symlink():
            continue  # a folder where our file would be was not written by install: leave it
        try:
            target.unlink()
        except OSError as exc:
            raise DesktopIntegrationError(f"cannot remove {target}: {exc.strerror or exc}",
                                          hint="check the folder's permissions") from exc
        report.removed.append(str(rel))
        _prune_empty(target.parent, home)
    if report.removed:
        _refresh_or_drop_mime_database(home, report, tools_path)
        _refresh_or_drop_desktop_database(home, report, tools_path)
    return report


def _refresh_or_drop_mime_database(home: Path, report: DesktopReport, tools_path: str | None) -> None:
    mime = home / "mime"
    packages = mime / "packages"
    if packages.is_dir() and any(packages.iterdir()):
        report.tools.append(_run_tool("update-mime-database", [str(mime)], tools_path))
        return
    # no package left: the generated database described only ours
    generated = [mime / name for name in MIME_DATABASE_FILES]
    generated += [mime.joinpath(*t.split("/")).with_suffix(".xml") for t in mime_types()]
    for path in generated:
        if path.is_file() or path.is_symlink():
            path.unlink()
            _prune_empty(path.parent, home)


def _refresh_or_drop_desktop_database(home: Path, report: DesktopReport, tools_path: str | None) -> None:
    apps = home / "applications"
    if apps.is_dir() and any(apps.rglob("*.desktop")):
        report.tools.append(_run_tool("update-desktop-database", ["-q", str(apps)], tools_path))
        return
    for name in DESKTOP_DATABASE_FILES:
        path = apps / name
        if path.is_file() or path.is_symlink():
            path.unlink()
            _prune_empty(apps, home)


def _checked_home(home: Path | None) -> Path:
    home = data_home() if home is None else Path(home)
    if not home.is_absolute():
        raise DesktopIntegrationError(f"the data folder {str(home)!r} is not an absolute path",
                                      hint="give an absolute folder")
    if home.exists() and not home.is_dir():
        raise DesktopIntegrationError(f"the data folder {home} is not a folder")
    return home


def sys_executable() -> str:
    """This interpreter's absolute path (what the entry launches)."""
    if not sys.executable:
        raise DesktopIntegrationError(
            "cannot tell which Python runs the workbench (sys.executable is empty)",
            hint="run `python3 -m workbench desktop install` with the Python to launch")
    return sys.executable
