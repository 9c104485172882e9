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
