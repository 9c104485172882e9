"""Backend markers that mean something, and no silent skips in CI.

- A test marked `tf` is skipped when TensorFlow is not installed, one marked `java` when no Java runtime is
  on PATH, and one marked `mlserver` when the MLServer venv is missing: people who install less
  (`pip install -e ".[test]"`, no JRE) still get a clean run of everything else, and
  `-m "not tf and not java"` deselects those tests up front.
- With `--no-skips` (on by default when CI=true) every skip is a failure that names its reason: CI and a
  fresh clone after `scripts/setup.sh` install every backend, so a skip there means a missing dependency.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

#: marker -> (is the backend here?, what to install)
BACKENDS = {
    "tf": (lambda: importlib.util.find_spec("tensorflow") is not None,
           'TensorFlow is not installed (pip install -e ".[tf]")'),
    "java": (lambda: shutil.which("java") is not None,
             "no Java runtime on PATH (Debian: apt-get install default-jre-headless)"),
    "mlserver": (lambda: _mlserver_venv() is not None,
                 "the MLServer venv is missing (bash scripts/setup_mlserver.sh)"),
}


def _mlserver_venv():
    from workbench.testing.mlserver import find_mlserver_venv

    return find_mlserver_venv()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--no-skips", action="store_true",
                     default=os.environ.get("CI", "").lower() == "true",
                     help="turn every skipped test into a failure (default on when CI=true)")


def pytest_configure(config: pytest.Config) -> None:
    for line in ("tf: needs TensorFlow (the [tf] extra)", "java: needs a Java runtime",
                 "mlserver: needs the MLServer venv (scripts/setup_mlserver.sh)"):
        config.addinivalue_line("markers", line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    present: dict[str, bool] = {}
    for item in items:
        for name, (available, missing) in BACKENDS.items():
            if item.get_closest_marker(name) is None:
                continue
            if name not in present:
                present[name] = bool(available())
            if not present[name]:
                item.add_marker(pytest.mark.skip(reason=f"needs {name}: {missing}"))


def _strict(config: pytest.Config) -> bool:
    return bool(config.getoption("--no-skips"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and _strict(item.config):
        _fail(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.skipped and _strict(collector.config):
        _fail(report)


def _fail(report: pytest.TestReport | pytest.CollectReport) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (f"skipped under --no-skips (CI): {reason}\n"
                       "scripts/setup.sh installs every backend the tests use; a skip here means one is missing.")
