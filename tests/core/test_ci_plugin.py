"""tests/plugins/backends.py: backend markers skip where the backend is missing, and --no-skips (CI) turns
every skip into a failure that names its reason. Run on a throwaway test file in a child pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

TESTS = '''
import pytest

def test_plain():
    assert 1 + 1 == 2

def test_skips_itself():
    pytest.skip("the frobnicator is not installed")

@pytest.mark.java
def test_needs_java():
    assert True
'''


def _run(tmp_path: Path, *args: str, path: str | None = None, ci: str = "") -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(TESTS)
    env = dict(os.environ, PYTHONPATH=str(REPO), CI=ci)
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "tests.plugins.backends",
                           "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path), *args],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def test_a_skip_is_a_skip_outside_ci(tmp_path: Path) -> None:
    result = _run(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "2 passed, 1 skipped" in result.stdout
    assert "the frobnicator is not installed" in result.stdout


def test_ci_turns_a_skip_into_a_failure_with_its_reason(tmp_path: Path) -> None:
    result = _run(tmp_path, ci="true")
    assert result.returncode == 1
    assert "1 failed, 2 passed" in result.stdout
    assert "skipped under --no-skips (CI)" in result.stdout
    assert "the frobnicator is not installed" in result.stdout


def test_java_marker_skips_without_java_and_fails_in_ci(tmp_path: Path) -> None:
    no_java = str(Path(sys.executable).parent)  # this interpreter's folder only: no `java` on PATH
    result = _run(tmp_path, path=no_java)
    assert "needs java: no Java runtime on PATH" in result.stdout
    assert "1 passed, 2 skipped" in result.stdout
    strict = _run(tmp_path, "--no-skips", path=no_java)
    # the marker's skip happens while setting the test up, so pytest counts that failure as an error
    assert strict.returncode == 1 and "1 failed, 1 passed, 1 error" in strict.stdout
    assert "needs java: no Java runtime on PATH" in strict.stdout


def test_test_modules_have_unique_names() -> None:
    """tests/core and tests/gui are not packages, so pytest imports their modules by file name: two
    modules of the same name would clash when the whole suite runs."""
    names = [path.name for path in (REPO / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
