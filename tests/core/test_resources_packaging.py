"""The top-level resources/ folder ships in the wheel as the package workbench.resources, and the
installed package finds it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.resources import files
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RESOURCES = REPO / "resources"


def resource_files() -> list[str]:
    """Every file of resources/ (bytecode caches aside), relative to it."""
    return sorted(p.relative_to(RESOURCES).as_posix() for p in RESOURCES.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def test_resources_live_at_the_top_level() -> None:
    assert not (REPO / "workbench" / "resources").exists()
    names = resource_files()
    assert "icons/app.svg" in names and "styles/00_base.qss" in names
    assert "desktop/io.github.model_serving_workbench.Workbench.desktop" in names


def test_pyproject_lists_every_package_and_maps_resources() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    on_disk = sorted(".".join(p.parent.relative_to(REPO).parts)
                     for p in (REPO / "workbench").rglob("__init__.py"))
    missing = sorted(set(on_disk) - set(config["packages"]))
    assert missing == [], f"add {missing} to [tool.setuptools] packages in pyproject.toml"
    assert sorted(config["packages"]) == sorted([*on_disk, "workbench.resources"])
    assert config["package-dir"] == {"workbench.resources": "resources"}


def test_the_installed_package_reads_the_checkout_resources() -> None:
    """The editable install (pip install -e .) maps workbench.resources onto resources/."""
    assert Path(str(files("workbench.resources"))).resolve() == RESOURCES.resolve()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the project's sources (the build leaves nothing in the checkout)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "workbench", src / "workbench", ignore=ignore)
    shutil.copytree(RESOURCES, src / "resources", ignore=ignore)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", "-w", str(root / "dist"), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = (root / "dist").glob("model_serving_workbench-*.whl")
    return built


def test_wheel_contains_every_resource_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [rel for rel in resource_files() if f"workbench/resources/{rel}" not in names]
    assert missing == [], "resources missing from the wheel: extend [tool.setuptools.package-data]"
    assert not any(n.startswith("resources/") for n in names)  # no top-level 'resources' package
    modules = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "workbench").rglob("*.py")
                     if "__pycache__" not in p.parts)
    assert [m for m in modules if m not in names] == []


def test_installed_wheel_finds_its_resources(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = (
        "from importlib.resources import files\n"
        "from workbench.core import desktop_entry\n"
        "root = files('workbench.resources')\n"
        "print(root)\n"
        "print(sorted(p.name for p in (root / 'icons').iterdir() if p.name.endswith('.svg')))\n"
        "print(sorted(p.name for p in (root / 'styles').iterdir()))\n"
        "print(len(desktop_entry.planned_files('/usr/bin/python3')))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    root, icons, styles, planned = proc.stdout.splitlines()
    assert Path(root) == site / "workbench" / "resources"
    assert icons == str(sorted(p.name for p in (RESOURCES / "icons").glob("*.svg")))
    assert styles == str(sorted(p.name for p in (RESOURCES / "styles").iterdir() if p.is_file()))
    assert planned == "12"  # the entry, the MIME package, 9 PNG sizes and the scalable SVG
