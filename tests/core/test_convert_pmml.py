"""Conversion to PMML with the real sklearn2pmml + Java, proved with the JPMML runtime.

Each sklearn2pmml call starts a JVM (2-4 s): the matrix is one conversion per kind, and the Java-error
and telemetry checks share one failing conversion each.
"""

from __future__ import annotations

import json
import socket
import threading
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from tests.core.convert_helpers import SAMPLES, ctr_booster_pipelines, load_matrix_script, sha256
from workbench.core.conversion import convert_and_prove
from workbench.core.converters.to_pmml import java_error_message, run_sklearn2pmml
from workbench.core.errors import ConversionFailed

pytestmark = pytest.mark.java

MATRIX = load_matrix_script()
SKLEARN_KINDS = [k for k in MATRIX.model_kinds() if not k.native]
PMML_NS = "{http://www.dmg.org/PMML-4_4}"



#: kinds the PMML converter refuses, with the reason it must give (no JVM started, no file written)
PMML_REFUSALS = {
    "lgbm_categorical": "sklearn2pmml cannot convert LightGBM categorical splits here \\(categorical column\\(s\\) c\\)",
    "xgb_categorical": "sklearn2pmml cannot convert XGBoost categorical splits here \\(categorical column\\(s\\) c\\)",
    "lgbm_linear": "linear trees are not supported by JPMML-LightGBM",
}
UNSUPERVISED = ("isolation_forest", "kmeans", "one_class_svm")
NO_PROBABILITIES = ("svc_proba", "knn")


@pytest.mark.parametrize("kind", SKLEARN_KINDS, ids=lambda k: k.key)
def test_matrix_to_pmml(kind, matrix_models, tmp_path):
    model_path, rows_path = matrix_models[kind.key]
    before = sha256(model_path)
    out = tmp_path / f"{kind.key}.pmml"
    if kind.key in PMML_REFUSALS:
        from workbench.core.conversion import CannotConvert

        with pytest.raises(CannotConvert, match="^PMML: " + PMML_REFUSALS[kind.key]):
            convert_and_prove(model_path, "pmml", out, rows=rows_path, trust=True)
        assert list(tmp_path.iterdir()) == [] and sha256(model_path) == before
        return
    result = convert_and_prove(model_path, "pmml", out, rows=rows_path, trust=True)
    parity = result.parity
    if kind.key == "trees_nan_rows":
        # JPMML-SkLearn 0.133.1 writes missingValueStrategy="nullPrediction" (no prediction for a row whose
        # split feature is missing); the converter writes scikit-learn's routing (missing_go_to_left) as
        # missingValueStrategy="defaultChild" + each split's defaultChild: the NaN rows score the same
        assert result.notes["missing_values_routed"] is True
        assert "defaultChild" in result.notes["missing_values_reason"]
        assert parity["missing_value_rows"] == 15  # every other row (1-based odd) misses a value
        assert parity["missing_value_rows_scored_differently"] == []
        assert parity["rows_without_prediction"] == []
    assert result.passed, (parity["max_abs_diff"], result.unexplained_rows)
    assert result.explained_rows == []  # JPMML evaluates in float64/float32 exactly like the original
    assert parity["passed_strict"] is True
    if parity.get("label_agreement") is not None:
        assert parity["label_agreement"] == 1.0
    booster = kind.key.startswith(("lgbm", "xgb"))
    assert result.tolerances["atol"] == 1e-5
    if kind.key in NO_PROBABILITIES:  # label only: the PMML has no probability outputs
        assert parity["max_abs_diff"] is None and parity["compared_outputs"] == ["label"]
        assert "probabilities" in parity["not_compared"]
    elif not booster and parity.get("label_agreement") is not None:
        assert parity["max_abs_diff"] <= 1e-9  # probabilities agree to double precision
    # ModelVerification rows computed by the original model are embedded (JPMML-SkLearn writes none for
    # anomaly and clustering models: the notes say so)
    root = ET.parse(out).getroot()
    verification = root.find(f".//{PMML_NS}ModelVerification")
    if kind.key in UNSUPERVISED:
        assert verification is None and result.notes["verification_rows"] == 0
        assert "no ModelVerification" in result.notes["verification_error"]
    else:
        assert verification is not None and int(verification.get("recordCount")) == 20
        assert result.notes["verification_rows"] == 20
    report = json.loads((tmp_path / f"{kind.key}.pmml.parity.json").read_text())
    assert report["converted_runtime"] == "jpmml" and report["passed"] is True
    assert sha256(model_path) == before


def test_boosters_inside_string_pipelines_to_pmml(tmp_path):
    paths, rows = ctr_booster_pipelines(tmp_path)
    for key in ("xgb", "lgbm"):
        result = convert_and_prove(paths[key], "pmml", tmp_path / f"{key}.pmml", rows=rows, trust=True)
        assert result.passed and result.explained_rows == []
        assert result.parity["label_agreement"] == 1.0 and result.parity["max_abs_diff"] <= 1e-6


def test_native_lightgbm_booster_to_pmml(tmp_path):
    result = convert_and_prove(SAMPLES / "lgbm_classifier.txt", "pmml", tmp_path / "b.pmml",
                               rows=SAMPLES / "lgbm_classifier_native.rows.csv")
    assert result.passed and result.converter == "booster-pmml"
    assert result.parity["label_agreement"] == 1.0


def _xgb_on_numpy():
    from sklearn.datasets import load_iris
    from xgboost import XGBClassifier

    X, y = load_iris(return_X_y=True)
    return XGBClassifier(n_estimators=3, max_depth=2).fit(X, y)


class Sink:
    """A TCP listener on 127.0.0.1 recording the first bytes of each connection (a fake proxy)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.got = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                try:
                    self.received.append(conn.recv(4096))
                except OSError:
                    pass
            self.got.set()

    def close(self) -> None:
        self.sock.close()


def test_java_error_is_shown_and_telemetry_goes_to_the_local_proxy(tmp_path):
    """A bare XGBClassifier fitted on a numpy array: JPMML-XGBoost fails; its own message comes back.

    sklearn2pmml's Java side then POSTs an incident to telemetry.jpmml.org; the JVM is pointed at a
    proxy on 127.0.0.1 (here a sink that records the attempt, by default the closed port 1), so
    nothing leaves the machine.
    """
    sink = Sink()
    try:
        with pytest.raises(ConversionFailed) as caught:
            run_sklearn2pmml(_xgb_on_numpy(), tmp_path / "x.pmml", proxy_port=sink.port)
        assert sink.got.wait(30)
    finally:
        sink.close()
    error = caught.value
    assert str(error) == ("PMML: sklearn2pmml (Java) failed: The XGBoost estimator object does not specify "
                          "feature information (in xgboost.sklearn.XGBClassifier)")
    assert "SkLearn2PMML application has failed" not in str(error)
    assert "org.jpmml.sklearn.SkLearnException" in error.details
    assert sink.received and sink.received[0].startswith(b"CONNECT telemetry.jpmml.org:443")
    assert not (tmp_path / "x.pmml").exists()


def test_java_error_message_parsing_without_context():
    output = ("Standard error:\nSEVERE: Failed to convert PKL to PMML\n"
              "java.lang.IllegalArgumentException: Attribute 'sklearn.x' has an unsupported value\n"
              "\tat org.jpmml.Foo.bar(Foo.java:1)\n")
    assert java_error_message(output) == "Attribute 'sklearn.x' has an unsupported value"
    assert java_error_message("SEVERE: something odd\n") == "something odd"


def test_xgboost_fitted_on_numpy_converts_through_the_workbench(tmp_path):
    """The workbench wraps the estimator in a PMMLPipeline with the x0..xN-1 active fields, so the case
    that fails in bare sklearn2pmml converts and proves."""
    import joblib

    model = _xgb_on_numpy()
    path = tmp_path / "xgb.joblib"
    joblib.dump(model, path)
    rows = pd.DataFrame(np.asarray([[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]]),
                        columns=["x0", "x1", "x2", "x3"])
    result = convert_and_prove(path, "pmml", tmp_path / "xgb.pmml", rows=rows, trust=True)
    assert result.passed and result.parity["label_agreement"] == 1.0


def test_two_pmml_conversions_at_once_give_stdout_back(tmp_path):
    """sklearn2pmml's output is captured by swapping sys.stdout; two conversions at once used to leave it
    swapped for the rest of the process (the GUI's later prints vanished)."""
    import sys

    before = sys.stdout
    results, errors = [], []

    def convert(name: str) -> None:
        try:
            results.append(convert_and_prove(SAMPLES / "iris_logreg.skops", "pmml", tmp_path / f"{name}.pmml"))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=convert, args=(n,)) for n in ("a", "b")]
    [t.start() for t in threads]
    [t.join(300) for t in threads]
    assert not errors and len(results) == 2 and all(r.passed for r in results)
    assert sys.stdout is before
