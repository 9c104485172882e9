"""workbench.core never imports Qt: the CLI and other programs use it headless."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import workbench.core

CORE = Path(workbench.core.__file__).parent
QT_PACKAGES = ("PySide6", "PySide2", "PyQt5", "PyQt6", "pyqtgraph", "qtpy", "shiboken6")


def test_no_qt_import_statement_in_core() -> None:
    offenders = []
    for source in CORE.rglob("*.py"):
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{source.relative_to(CORE)}: {n}" for n in names if n.split(".")[0] in QT_PACKAGES]
    assert offenders == []


def test_core_modules_import_with_qt_blocked() -> None:
    """Import every core module in a fresh interpreter where importing Qt raises."""
    script = f"""
import importlib, pkgutil, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {QT_PACKAGES!r}:
            raise ImportError('Qt imported from core: ' + name)
sys.meta_path.insert(0, Block())
import workbench.core
for mod in pkgutil.walk_packages(workbench.core.__path__, 'workbench.core.'):
    importlib.import_module(mod.name)
print('ok', len([m for m in sys.modules if m.startswith('workbench.core')]))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
    assert int(result.stdout.split()[1]) > 10
