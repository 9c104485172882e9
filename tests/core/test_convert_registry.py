"""The converter registry: every target listed with "possible" or the precise reason (no Java, no TF)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from tests.core.convert_helpers import SAMPLES
from workbench.core.converters import CONVERTERS, TARGETS, conversion_targets, load_builtin_converters
from workbench.core.converters.base import Converter, register_converter, source_kind
from workbench.core.errors import RegistryError
from workbench.core.models import inspect_model, load_model
from workbench.core.types import ModelInfo, TensorSpec


def _by_target(statuses):
    return {s.target: s for s in statuses}


def test_every_target_is_listed_in_order_for_an_onnx_source():
    info = inspect_model(SAMPLES / "iris_logreg.onnx")
    statuses = conversion_targets(info, None)
    assert [s.target for s in statuses] == list(TARGETS) == ["onnx", "pmml", "savedmodel", "tfserving"]
    by = _by_target(statuses)
    assert not any(s.possible for s in statuses)
    assert by["onnx"].reason.startswith("ONNX: the model is already in ONNX format")
    assert by["pmml"].reason.startswith("PMML from ONNX: not supported:")
    assert by["savedmodel"].reason.startswith("SavedModel from ONNX: not supported: onnx2tf lacks the ai.onnx.ml")
    assert by["tfserving"].reason.startswith("TF Serving bundle: needs a SavedModel first; SavedModel from ONNX")


def test_untrusted_pickle_reason_says_pass_trust():
    info = inspect_model(SAMPLES / "iris_logreg.joblib", trust=False)
    by = _by_target(conversion_targets(info, None))
    for target in ("onnx", "pmml"):
        assert not by[target].possible
        assert "pass --trust" in by[target].reason
        assert by[target].converter_key == f"sklearn-{target}"


def test_trusted_sklearn_model_is_possible_to_onnx_and_pmml():
    info, model = load_model(SAMPLES / "ctr_pipeline.joblib", trust=True)
    by = _by_target(conversion_targets(info, model))
    assert by["onnx"].possible and by["onnx"].reason is None and by["onnx"].converter_key == "sklearn-onnx"
    assert by["pmml"].possible and by["pmml"].converter_key == "sklearn-pmml"


def test_keras_to_pmml_reason():
    info = ModelInfo(path="m.keras", format="keras", framework="keras")
    by = _by_target(conversion_targets(info, None))
    assert by["pmml"].reason.startswith("PMML from Keras: not supported")
    assert by["onnx"].converter_key == "tf-onnx"


def test_skops_is_the_sklearn_source_kind():
    assert source_kind(ModelInfo(path="m.skops", format="skops", framework="sklearn")) == "sklearn"
    assert source_kind(ModelInfo(path="m.txt", format="lightgbm", framework="lightgbm")) == "lightgbm"


class Doubler:
    """A user class skl2onnx and JPMML know nothing about."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.asarray(X) * 2


def _double(X):
    return np.asarray(X) * 2


def test_unconvertible_steps_are_named():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    y = [0, 1, 0, 1]
    info = ModelInfo(path="m.joblib", format="sklearn", framework="sklearn",
                     inputs=[TensorSpec("a", "float64"), TensorSpec("b", "float64")])
    custom = make_pipeline(FunctionTransformer(_double), StandardScaler(), LogisticRegression()).fit(X, y)
    by = _by_target(conversion_targets(info, custom))
    assert not by["pmml"].possible
    assert by["pmml"].reason.startswith("PMML: FunctionTransformer(_double) runs arbitrary Python")
    plain = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    plain.steps.insert(0, ("doubler", Doubler()))
    by = _by_target(conversion_targets(info, plain))
    assert by["onnx"].reason == "ONNX: skl2onnx has no converter for Doubler"
    assert by["pmml"].reason.startswith("PMML: Doubler from module ")
    assert "cannot convert user code" in by["pmml"].reason


def test_duplicate_registration_is_refused():
    load_builtin_converters()
    existing = CONVERTERS.get(("sklearn", "onnx"))
    with pytest.raises(RegistryError, match="already registered"):
        register_converter(existing)
    with pytest.raises(ValueError, match="unknown conversion target"):
        Converter(key="x", target="tflite", sources=("sklearn",), title="x", check=lambda i, m: None,
                  convert=lambda r: r.output)


def test_cli_target_choices_follow_the_registry():
    from workbench.commands.convert import TARGET_CHOICES

    assert tuple(TARGET_CHOICES) == TARGETS


def test_pmml_reason_when_java_is_missing(monkeypatch, tmp_path):
    from workbench.core.converters.to_pmml import check_sklearn

    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no java on PATH
    monkeypatch.delenv("JAVA_HOME", raising=False)
    info = ModelInfo(path="m.joblib", format="sklearn", framework="sklearn", inputs=[TensorSpec("a", "float64")])
    model = LogisticRegression().fit(pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]}), [0, 1, 0, 1])
    assert check_sklearn(info, model) == ("PMML: Java is not installed; sklearn2pmml needs a Java 11+ runtime "
                                          "(apt-get install default-jre-headless, or set JAVA_HOME)")
