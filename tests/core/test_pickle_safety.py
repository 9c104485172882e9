"""Inspecting a pickle without trust never runs code from it."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from workbench.core.errors import UntrustedPickle
from workbench.core.models import inspect_model, load_model


class _CreatesFile:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # unpickling would create (truncate) the target file
        return (open, (str(self.target), "w"))


class _RunsShell:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


@pytest.fixture()
def fitted() -> LogisticRegression:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    return LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))


@pytest.mark.parametrize("payload", [_CreatesFile, _RunsShell])
@pytest.mark.parametrize("writer", ["pickle", "joblib", "joblib-gzip"])
def test_untrusted_inspection_runs_nothing(tmp_path: Path, fitted: LogisticRegression, payload, writer) -> None:
    target = tmp_path / "pwned.txt"
    fitted.evil = payload(target)
    model_path = tmp_path / "model.pkl"
    if writer == "pickle":
        model_path.write_bytes(pickle.dumps(fitted))
    else:
        joblib.dump(fitted, model_path, compress=("gzip", 3) if writer == "joblib-gzip" else 0)

    info = inspect_model(model_path)

    assert not target.exists()
    assert info.format == "sklearn" and info.task == "classification"
    assert info.classes == [0, 1]
    assert info.loaded is False
    foreign = [w for w in info.warnings if "outside scikit-learn" in w]
    assert foreign and ("system" in foreign[0] or "open" in foreign[0])
    with pytest.raises(UntrustedPickle, match="--trust"):
        load_model(model_path)
    assert not target.exists()


def test_trusted_inspection_loads(tmp_path: Path, fitted: LogisticRegression) -> None:
    path = tmp_path / "ok.joblib"
    joblib.dump(fitted, path)
    info, model = load_model(path, trust=True)
    assert info.loaded is True
    np.testing.assert_array_equal(model.coef_, fitted.coef_)
    assert [spec.name for spec in info.inputs] == ["x0", "x1", "x2"]


RACE = """
import sys, threading
from workbench.core.models import load_model
errors = []
def go(path):
    try:
        load_model(path, trust=True)
    except Exception as exc:
        errors.append(f"{path}: {type(exc).__name__}: {exc}")
threads = [threading.Thread(target=go, args=(p,)) for p in sys.argv[1:]]
[t.start() for t in threads]
[t.join() for t in threads]
print(errors)
"""


def test_pickles_load_together_from_several_threads() -> None:
    """Unpickling imports scikit-learn; two threads doing that first import at once deadlocked
    (_DeadlockError) or saw a half-initialised sklearn.base, as when the app opens several pickles."""
    import subprocess
    import sys

    from tests.conftest import REPO, SAMPLES_DIR

    names = ["gb_classifier.joblib", "ctr_pipeline.joblib", "xgb_classifier.joblib", "diabetes_rf.joblib",
             "iris_logreg.skops", "lgbm_classifier.joblib"]
    for _ in range(2):  # each run is one fresh interpreter: the race is on the first import
        out = subprocess.run([sys.executable, "-c", RACE, *[str(SAMPLES_DIR / n) for n in names]], cwd=REPO,
                             capture_output=True, text=True, timeout=300, check=False)
        assert out.returncode == 0, out.stderr[-1000:]
        assert out.stdout.strip() == "[]"


def test_framework_loads_run_one_at_a_time() -> None:
    """While one decorated load runs, the shared lock is held: no other thread can take it."""
    import threading

    from workbench.core.formats import base

    inside = threading.Event()
    release = threading.Event()

    @base.one_load_at_a_time
    def slow() -> None:
        inside.set()
        release.wait(10)

    free = []

    def try_lock() -> None:  # from another thread; released at once when taken
        got = base._FRAMEWORK_LOAD_LOCK.acquire(blocking=False)
        if got:
            base._FRAMEWORK_LOAD_LOCK.release()
        free.append(got)

    first = threading.Thread(target=slow)
    first.start()
    assert inside.wait(10)
    for expected in ([False], [False, True]):
        other = threading.Thread(target=try_lock)
        other.start()
        other.join(10)
        assert free == expected     # taken while the first load runs, free once it is over
        release.set()
        first.join(10)
