"""`workbench desktop install|uninstall`: the .desktop entry, icons and MIME package under XDG_DATA_HOME."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from defusedxml import ElementTree

from workbench.core import desktop_entry
from workbench.core.desktop_entry import APP_ID, ICON_SIZES, DesktopIntegrationError

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "resources" / "desktop"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"

ENTRY = f"applications/{APP_ID}.desktop"
MIME_PACKAGE = f"mime/packages/{APP_ID}.xml"
ICONS = [f"icons/hicolor/{n}x{n}/apps/{APP_ID}.png" for n in ICON_SIZES] + [
    f"icons/hicolor/scalable/apps/{APP_ID}.svg"]
EXPECTED_FILES = sorted([ENTRY, MIME_PACKAGE, *ICONS])

#: the model files the entry opens, by glob
EXPECTED_GLOBS = {
    "application/x-onnx": ["*.onnx"],
    "application/x-pmml": ["*.pmml"],
    "application/x-joblib": ["*.joblib"],
    "application/x-python-pickle": ["*.pkl", "*.pickle"],
    "application/x-skops": ["*.skops"],
    "application/x-keras": ["*.keras"],
}


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() or p.is_symlink())


def read_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return dict(parser["Desktop Entry"])


def split_exec(value: str) -> list[str]:
    """The argv a launcher builds from an Exec value (string unescaping, then the spec's quoting rules)."""
    text = value.replace("\\\\", "\x00").replace("\x00", "\\")  # string-level: \\ -> \
    args, current, quoted, i, started = [], "", False, 0, False
    while i < len(text):
        c = text[i]
        if quoted:
            if c == "\\" and i + 1 < len(text) and text[i + 1] in '"`$\\':
                current += text[i + 1]
                i += 1
            elif c == '"':
                quoted = False
            else:
                current += c
        elif c == '"':
            quoted, started = True, True
        elif c == " ":
            if started:
                args.append(current)
            current, started = "", False
        else:
            current += c
            started = True
        i += 1
    if started:
        args.append(current)
    return [a.replace("%%", "%") for a in args]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def declared_globs(xml: bytes) -> dict[str, list[str]]:
    root = ElementTree.fromstring(xml)
    assert root.tag == f"{MIME_NS}mime-info"
    return {t.get("type"): [g.get("pattern") for g in t.findall(f"{MIME_NS}glob")]
            for t in root.findall(f"{MIME_NS}mime-type")}


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", "desktop", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)


def clean_env(**changes: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_DATA_HOME",)}
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


# -- install ------------------------------------------------------------------------------------

def test_install_writes_entry_icons_and_mime_package(tmp_path: Path) -> None:
    home = tmp_path / "data"
    report = desktop_entry.install(home, python=sys.executable)
    assert report.written == EXPECTED_FILES
    assert report.unchanged == [] and report.removed == []
    ours = [p for p in files_under(home) if APP_ID in p]
    assert ours == EXPECTED_FILES

    entry = read_entry(home / ENTRY)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Model Serving Workbench"
    assert entry["Icon"] == APP_ID
    assert entry["TryExec"] == sys.executable
    assert split_exec(entry["Exec"]) == [sys.executable, "-m", "workbench", "gui", "%F"]
    assert entry["MimeType"].rstrip(";").split(";") == list(EXPECTED_GLOBS)

    for n in ICON_SIZES:
        assert png_size(home / f"icons/hicolor/{n}x{n}/apps/{APP_ID}.png") == (n, n)
    svg = ElementTree.fromstring((home / ICONS[-1]).read_bytes())
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert (home / MIME_PACKAGE).read_bytes() == (COMMITTED / f"{APP_ID}.mime.xml").read_bytes()
    for rel in EXPECTED_FILES:
        assert (home / rel).stat().st_mode & 0o777 == 0o644


def test_mime_package_parses_and_declares_the_model_globs(tmp_path: Path) -> None:
    desktop_entry.install(tmp_path, python=sys.executable)
    globs = declared_globs((tmp_path / MIME_PACKAGE).read_bytes())
    assert globs == EXPECTED_GLOBS
    assert desktop_entry.mime_types() == list(EXPECTED_GLOBS)
    root = ElementTree.fromstring((tmp_path / MIME_PACKAGE).read_bytes())
    parents = {t.get("type"): [s.get("type") for s in t.findall(f"{MIME_NS}sub-class-of")]
               for t in root.findall(f"{MIME_NS}mime-type")}
    assert parents["application/x-pmml"] == ["application/xml"]
    assert parents["application/x-skops"] == parents["application/x-keras"] == ["application/zip"]
    namespaces = [r.get("namespaceURI") for r in root.iter(f"{MIME_NS}root-XML")]
    assert "http://www.dmg.org/PMML-4_4" in namespaces


@pytest.mark.skipif(shutil.which("update-mime-database") is None,
                    reason="update-mime-database not installed (Debian package shared-mime-info)")
def test_install_refreshes_the_mime_database(tmp_path: Path) -> None:
    report = desktop_entry.install(tmp_path, python=sys.executable)
    assert report.tools[0].tool == "update-mime-database" and report.tools[0].status == "ran"
    globs2 = (tmp_path / "mime" / "globs2").read_text(encoding="utf-8").splitlines()
    for mime, patterns in EXPECTED_GLOBS.items():
        for pattern in patterns:
            assert f"50:{mime}:{pattern}" in globs2
    assert (tmp_path / "mime" / "application" / "x-onnx.xml").is_file()


@pytest.mark.skipif(shutil.which("update-desktop-database") is None,
                    reason="update-desktop-database not installed (Debian package desktop-file-utils)")
def test_install_refreshes_the_desktop_database(tmp_path: Path) -> None:
    report = desktop_entry.install(tmp_path, python=sys.executable)
    assert [(t.tool, t.status) for t in report.tools][1] == ("update-desktop-database", "ran")
    cache = (tmp_path / "applications" / "mimeinfo.cache").read_text(encoding="utf-8").splitlines()
    for mime in EXPECTED_GLOBS:
        assert f"{mime}={APP_ID}.desktop;" in cache


DESKTOP_FILE_VALIDATE = shutil.which("desktop-file-validate")
needs_validator = pytest.mark.skipif(DESKTOP_FILE_VALIDATE is None,
                                     reason="desktop-file-validate not installed "
                                            "(Debian package desktop-file-utils)")


def validate_entry(path: Path) -> str:
    proc = subprocess.run([DESKTOP_FILE_VALIDATE, str(path)], capture_output=True, text=True, timeout=60)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert " error: " not in output and " warning: " not in output, output
    return output


@needs_validator
def test_written_entry_passes_desktop_file_validate(tmp_path: Path) -> None:
    desktop_entry.install(tmp_path, python=sys.executable)
    validate_entry(tmp_path / ENTRY)


@needs_validator
def test_committed_entry_passes_desktop_file_validate() -> None:
    validate_entry(COMMITTED / f"{APP_ID}.desktop")


@needs_validator
def test_interpreter_path_with_reserved_characters_is_quoted(tmp_path: Path) -> None:
    python = '/opt/my envs/a"b$c`d\\e/100%/bin/python3'
    desktop_entry.install(tmp_path / "data", python=python, tools_path="")
    entry = read_entry(tmp_path / "data" / ENTRY)
    assert entry["Exec"] == r'"/opt/my envs/a\\"b\\$c\\`d\\\\e/100%%/bin/python3" -m workbench gui %F'
    assert split_exec(entry["Exec"]) == [python, "-m", "workbench", "gui", "%F"]
    validate_entry(tmp_path / "data" / ENTRY)


def test_exec_quoting_rules() -> None:
    assert desktop_entry.exec_argument("/usr/bin/python3") == "/usr/bin/python3"
    assert desktop_entry.exec_argument("/a b/python") == '"/a b/python"'
    assert desktop_entry.exec_argument("/a~b") == '"/a~b"'
    assert desktop_entry.exec_argument("/50%/py") == "/50%%/py"
    with pytest.raises(DesktopIntegrationError, match="control character"):
        desktop_entry.exec_argument("/a\nb")
    with pytest.raises(DesktopIntegrationError, match="not absolute"):
        desktop_entry.install(Path("/nonexistent-unused"), python="python3")


def test_install_twice_changes_nothing(tmp_path: Path) -> None:
    desktop_entry.install(tmp_path, python=sys.executable)
    def snapshot() -> dict[str, tuple[bytes, int]]:
        return {rel: ((tmp_path / rel).read_bytes(), (tmp_path / rel).stat().st_mtime_ns)
                for rel in EXPECTED_FILES}

    before = snapshot()
    again = desktop_entry.install(tmp_path, python=sys.executable)
    assert again.written == []
    assert again.unchanged == EXPECTED_FILES
    assert snapshot() == before


def test_install_for_another_interpreter_rewrites_only_the_entry(tmp_path: Path) -> None:
    desktop_entry.install(tmp_path, python=sys.executable)
    report = desktop_entry.install(tmp_path, python="/opt/other/bin/python3")
    assert report.written == [ENTRY]
    assert split_exec(read_entry(tmp_path / ENTRY)["Exec"])[0] == "/opt/other/bin/python3"


def test_missing_database_tools_are_reported_not_fatal(tmp_path: Path) -> None:
    empty = tmp_path / "no-tools"
    empty.mkdir()
    report = desktop_entry.install(tmp_path / "data", python=sys.executable, tools_path=str(empty))
    assert [(t.tool, t.status) for t in report.tools] == [
        ("update-mime-database", "absent"), ("update-desktop-database", "absent")]
    assert report.warnings == []
    assert files_under(tmp_path / "data") == EXPECTED_FILES
    removed = desktop_entry.uninstall(tmp_path / "data", tools_path=str(empty))
    assert removed.removed == EXPECTED_FILES
    assert list((tmp_path / "data").iterdir()) == []


def test_symlink_in_the_way_is_replaced_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.desktop"
    outside.write_text("not ours\n", encoding="utf-8")
    link = tmp_path / "data" / ENTRY
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)
    desktop_entry.install(tmp_path / "data", python=sys.executable, tools_path="")
    assert outside.read_text(encoding="utf-8") == "not ours\n"
    assert not link.is_symlink() and read_entry(link)["Icon"] == APP_ID


# -- uninstall ----------------------------------------------------------------------------------

def test_uninstall_leaves_nothing(tmp_path: Path) -> None:
    home = tmp_path / "data"
    desktop_entry.install(home, python=sys.executable)
    report = desktop_entry.uninstall(home)
    assert report.removed == EXPECTED_FILES
    assert home.is_dir()  # the data folder itself stays
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == []
    again = desktop_entry.uninstall(home)
    assert again.removed == [] and again.tools == []


def test_uninstall_keeps_other_applications_files(tmp_path: Path) -> None:
    home = tmp_path / "data"
    other_entry = home / "applications" / "org.example.Other.desktop"
    other_mime = home / "mime" / "packages" / "org.example.Other.xml"
    other_icon = home / "icons" / "hicolor" / "48x48" / "apps" / "org.example.Other.png"
    other_entry.parent.mkdir(parents=True)
    other_entry.write_text("[Desktop Entry]\nType=Application\nName=Other\nExec=other %f\n"
                           "MimeType=application/x-other;\n", encoding="utf-8")
    other_mime.parent.mkdir(parents=True)
    other_mime.write_text('<?xml version="1.0"?>\n<mime-info xmlns="http://www.freedesktop.org/standards/'
                          'shared-mime-info"><mime-type type="application/x-other"><comment>Other</comment>'
                          '<glob pattern="*.other"/></mime-type></mime-info>\n', encoding="utf-8")
    other_icon.parent.mkdir(parents=True)
    other_icon.write_bytes(b"\x89PNG other")
    others = {p: p.read_bytes() for p in (other_entry, other_mime, other_icon)}

    desktop_entry.install(home, python=sys.executable)
    report = desktop_entry.uninstall(home)
    assert report.removed == EXPECTED_FILES
    assert {p: p.read_bytes() for p in others} == others
    assert not any(APP_ID in p for p in files_under(home))
    if shutil.which("update-mime-database"):
        globs2 = (home / "mime" / "globs2").read_text(encoding="utf-8")
        assert "application/x-other:*.other" in globs2 and "*.onnx" not in globs2
        assert not (home / "mime" / "application" / "x-onnx.xml").exists()
    if shutil.which("update-desktop-database"):
        cache = (home / "applications" / "mimeinfo.cache").read_text(encoding="utf-8")
        assert "org.example.Other.desktop" in cache and APP_ID not in cache


# -- the data folder ----------------------------------------------------------------------------

def test_data_home_follows_xdg_and_refuses_relative_paths() -> None:
    assert desktop_entry.data_home({"XDG_DATA_HOME": "/x/share", "HOME": "/home/u"}) == Path("/x/share")
    assert desktop_entry.data_home({"XDG_DATA_HOME": "", "HOME": "/home/u"}) == Path("/home/u/.local/share")
    assert desktop_entry.data_home({"HOME": "/home/u"}) == Path("/home/u/.local/share")
    with pytest.raises(DesktopIntegrationError, match="not an absolute path") as err:
        desktop_entry.data_home({"XDG_DATA_HOME": "share", "HOME": "/home/u"})
    assert err.value.kind == "desktop"
    with pytest.raises(DesktopIntegrationError, match="HOME is not set"):
        desktop_entry.data_home({})
    with pytest.raises(DesktopIntegrationError, match="not absolute"):
        desktop_entry.data_home({"HOME": "home/u"})


def test_cli_install_and_uninstall_json(tmp_path: Path) -> None:
    home = tmp_path / "share"
    env = clean_env(XDG_DATA_HOME=str(home))
    proc = run_cli("install", "--json", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["action"] == "install" and out["app_id"] == APP_ID
    assert out["data_home"] == str(home)
    assert out["desktop_file"] == str(home / ENTRY)
    assert out["written"] == EXPECTED_FILES and out["removed"] == [] and out["warnings"] == []
    assert {t["tool"] for t in out["tools"]} == {"update-mime-database", "update-desktop-database"}

    proc = run_cli("uninstall", "--json", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["action"] == "uninstall" and out["removed"] == EXPECTED_FILES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["share"]
    assert list(home.iterdir()) == []


def test_cli_defaults_to_home_local_share(tmp_path: Path) -> None:
    env = clean_env(HOME=str(tmp_path / "home"), XDG_DATA_HOME=None)
    proc = run_cli("install", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"desktop entry: {tmp_path}/home/.local/share/{ENTRY}" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
    assert files_under(tmp_path / "home" / ".local" / "share")[:1] == [ENTRY]
    proc = run_cli("uninstall", env=env, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith(f"{len(EXPECTED_FILES)} file(s) removed")
    proc = run_cli("uninstall", env=env, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("nothing to remove")


def test_cli_refuses_relative_xdg_data_home(tmp_path: Path) -> None:
    proc = run_cli("install", "--json", env=clean_env(XDG_DATA_HOME="relative/share"), cwd=tmp_path)
    assert proc.returncode == 2
    out = json.loads(proc.stdout)
    assert out["kind"] == "desktop" and "not an absolute path" in out["error"]
    assert proc.stderr.startswith("error: XDG_DATA_HOME='relative/share' is not an absolute path")
    assert list(tmp_path.iterdir()) == []  # nothing written relative to the working folder


def test_cli_needs_an_action(tmp_path: Path) -> None:
    proc = run_cli("--json", env=clean_env(XDG_DATA_HOME=str(tmp_path)), cwd=tmp_path)
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["kind"] == "bad-arguments"
    assert list(tmp_path.iterdir()) == []


# -- committed metadata -------------------------------------------------------------------------

def test_metainfo_matches_the_entry_and_the_mime_package() -> None:
    root = ElementTree.parse(COMMITTED / f"{APP_ID}.metainfo.xml").getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    assert root.findtext("launchable") == f"{APP_ID}.desktop"
    assert [m.text for m in root.iter("mediatype")] == list(EXPECTED_GLOBS)
    assert root.find("releases/release").get("version") == __import__("workbench").__version__
    committed_entry = read_entry(COMMITTED / f"{APP_ID}.desktop")
    assert committed_entry["Exec"] == "workbench gui %F" and committed_entry["Icon"] == APP_ID


@pytest.mark.skipif(shutil.which("appstreamcli") is None,
                    reason="appstreamcli not installed (Debian package appstream)")
def test_metainfo_passes_appstreamcli_validate() -> None:
    proc = subprocess.run(["appstreamcli", "validate", "--no-net", str(COMMITTED / f"{APP_ID}.metainfo.xml")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation was successful" in proc.stdout
