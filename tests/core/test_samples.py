"""The committed sample models: manifest, rows files, size budget, and a reproducible build.

The build module (sample_models/build.py) is imported by path; the cheap sklearn / LightGBM /
XGBoost models are retrained here and must give the same predictions as a second retrain and as the
committed files. Keras is not retrained in tests (TensorFlow import and training are too slow).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "sample_models"
MANIFEST = SAMPLES_DIR / "samples.json"
ENTRIES: list[dict] = json.loads(MANIFEST.read_text())["samples"] if MANIFEST.exists() else []
FORMATS = {"sklearn", "skops", "lightgbm", "xgboost", "keras", "savedmodel", "onnx", "pmml", "mleap"}
REQUIRED_KEYS = {"name", "file", "format", "framework", "task", "inputs", "rows", "trust", "estimator",
                 "classes"}
SIZE_BUDGET = 5 * 1024 * 1024


def _load_build():
    """Import sample_models/build.py by path (sample_models is not a package)."""
    spec = importlib.util.spec_from_file_location("sample_models_build", SAMPLES_DIR / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def build():
    return _load_build()


def _entry(name: str) -> dict:
    matches = [e for e in ENTRIES if e["name"] == name]
    assert len(matches) == 1, f"sample {name!r} missing from samples.json"
    return matches[0]


def _rows(entry: dict) -> pd.DataFrame:
    return pd.read_csv(SAMPLES_DIR / entry["rows"])


def test_manifest_lists_every_required_sample():
    files = {e["file"] for e in ENTRIES}
    required = {"iris_logreg.joblib", "iris_logreg.skops", "iris_logreg.onnx", "iris_logreg.pmml",
                "ctr_pipeline.joblib", "diabetes_rf.joblib", "gb_classifier.joblib",
                "lgbm_classifier.joblib", "lgbm_classifier.txt", "xgb_classifier.joblib",
                "xgb_classifier.json", "keras_mlp.keras", "keras_mlp_savedmodel"}
    assert required <= files, f"missing: {sorted(required - files)}"
    names = [e["name"] for e in ENTRIES]
    assert len(names) == len(set(names)), "sample names must be unique"
    assert {e["format"] for e in ENTRIES} == FORMATS


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["name"] for e in ENTRIES])
def test_entry_file_rows_and_header(entry: dict):
    assert REQUIRED_KEYS <= set(entry), f"missing keys {REQUIRED_KEYS - set(entry)}"
    assert entry["format"] in FORMATS
    assert entry["task"] in ("classification", "regression")
    assert entry["rows"] == f"{entry['name']}.rows.csv"
    # only pickles need trust
    assert entry["trust"] is entry["file"].endswith(".joblib")
    path = SAMPLES_DIR / entry["file"]
    if entry["format"] == "savedmodel":
        assert (path / "saved_model.pb").is_file()
        assert (path / "variables").is_dir()
    else:
        assert path.is_file() and path.stat().st_size > 0
    rows_path = SAMPLES_DIR / entry["rows"]
    assert rows_path.is_file()
    header = rows_path.read_text().splitlines()[0].split(",")
    assert header == entry["inputs"]
    rows = pd.read_csv(rows_path)
    assert 10 <= len(rows) <= 50
    assert not rows.isna().any().any()
    if entry["task"] == "classification":
        assert entry["classes"] and len(entry["classes"]) >= 2
    else:
        assert entry["classes"] is None


def test_samples_dir_under_size_budget():
    total = sum(p.stat().st_size for p in SAMPLES_DIR.rglob("*") if p.is_file())
    assert total < SIZE_BUDGET, f"sample_models is {total / 1e6:.2f} MB (budget 5 MB)"


def test_ctr_rows_keep_string_columns(build):
    rows = _rows(_entry("ctr_pipeline"))
    for column in build.CTR_STRING_COLUMNS:
        assert all(isinstance(v, str) for v in rows[column])
    assert set(rows["gender"]) <= {"f", "m", "u"}
    assert set(rows["device"]) <= {"ios", "android", "web"}
    assert set(rows["item_category"]) <= set(build.CTR_CATEGORIES)
    assert rows["hour"].between(0, 23).all()
    assert pd.api.types.is_integer_dtype(rows["age"])


def test_rows_are_drawn_from_training_data(build):
    X, _ = build.iris_data()
    rows = _rows(_entry("iris_logreg"))
    training = set(map(tuple, X.to_numpy().tolist()))
    assert all(tuple(r) in training for r in rows.to_numpy().tolist())
    X, _ = build.ctr_data()
    rows = _rows(_entry("ctr_pipeline"))
    merged = rows.merge(X.drop_duplicates(), how="left", indicator=True, on=list(X.columns))
    assert (merged["_merge"] == "both").all()


def test_ctr_labels_depend_on_features(build):
    """The synthetic CTR data carries signal: the pipeline ranks clicks well above chance."""
    from sklearn.metrics import roc_auc_score

    X, y = build.ctr_data()
    assert 0.05 < y.mean() < 0.4
    model = build.train_ctr_pipeline()
    assert roc_auc_score(y, model.predict_proba(X)[:, 1]) > 0.65


def _predictions(model, rows: pd.DataFrame) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(rows))
    return np.asarray(model.predict(rows))


CHEAP = [  # (manifest name, training function)
    ("iris_logreg", "train_iris_logreg"),
    ("ctr_pipeline", "train_ctr_pipeline"),
    ("diabetes_rf", "train_diabetes_rf"),
    ("gb_classifier", "train_gb_classifier"),
    ("lgbm_classifier", "train_lgbm_classifier"),
    ("xgb_classifier", "train_xgb_classifier"),
]


@pytest.mark.parametrize("name,train", CHEAP, ids=[c[0] for c in CHEAP])
def test_training_is_reproducible_and_matches_committed_file(build, name: str, train: str):
    import joblib

    entry = _entry(name)
    rows = _rows(entry)[entry["inputs"]]
    first = _predictions(getattr(build, train)(), rows)
    second = _predictions(getattr(build, train)(), rows)
    np.testing.assert_array_equal(first, second)
    committed = joblib.load(SAMPLES_DIR / entry["file"])  # our own pickle: trusted
    np.testing.assert_allclose(_predictions(committed, rows), first, rtol=1e-9, atol=1e-12)
    if entry["classes"] is not None:
        assert [c.item() if hasattr(c, "item") else c for c in committed.classes_] == entry["classes"]


def test_skops_onnx_pmml_hold_the_same_logistic_regression(build):
    """All iris_logreg formats carry the coefficients of the one fitted LogisticRegression."""
    import joblib
    import onnx
    import skops.io
    from defusedxml import ElementTree

    model = joblib.load(SAMPLES_DIR / "iris_logreg.joblib")
    rows = _rows(_entry("iris_logreg"))

    skops_path = SAMPLES_DIR / "iris_logreg.skops"
    assert skops.io.get_untrusted_types(file=skops_path) == []
    restored = skops.io.load(skops_path)
    np.testing.assert_array_equal(restored.predict_proba(rows), model.predict_proba(rows))

    proto = onnx.load(str(SAMPLES_DIR / "iris_logreg.onnx"))
    assert [i.name for i in proto.graph.input] == build.IRIS_COLUMNS
    linear = [n for n in proto.graph.node if n.op_type == "LinearClassifier"]
    assert len(linear) == 1
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in linear[0].attribute}
    np.testing.assert_allclose(np.reshape(attrs["coefficients"], model.coef_.shape), model.coef_,
                               rtol=1e-6)
    np.testing.assert_allclose(attrs["intercepts"], model.intercept_, rtol=1e-6)

    ns = {"p": "http://www.dmg.org/PMML-4_4"}
    root = ElementTree.parse(SAMPLES_DIR / "iris_logreg.pmml").getroot()
    fields = [f.get("name") for f in root.findall("p:DataDictionary/p:DataField", ns)]
    assert fields[1:] == build.IRIS_COLUMNS
    tables = root.findall(".//p:RegressionModel/p:RegressionTable", ns)
    assert [t.get("targetCategory") for t in tables] == ["0", "1", "2"]
    for k, table in enumerate(tables):
        coefs = {p.get("name"): float(p.get("coefficient"))
                 for p in table.findall("p:NumericPredictor", ns)}
        np.testing.assert_allclose([coefs[c] for c in build.IRIS_COLUMNS], model.coef_[k], rtol=1e-12)
        assert float(table.get("intercept")) == pytest.approx(model.intercept_[k], rel=1e-12)


def test_onnx_sample_predicts_like_sklearn():
    import joblib
    import onnxruntime

    model = joblib.load(SAMPLES_DIR / "iris_logreg.joblib")
    rows = _rows(_entry("iris_logreg_onnx"))
    session = onnxruntime.InferenceSession(str(SAMPLES_DIR / "iris_logreg.onnx"),
                                           providers=["CPUExecutionProvider"])
    feeds = {c: rows[[c]].to_numpy(np.float32) for c in rows.columns}
    labels, probabilities = session.run(["label", "probabilities"], feeds)
    np.testing.assert_array_equal(labels, model.predict(rows))
    np.testing.assert_allclose(probabilities, model.predict_proba(rows), atol=1e-5)


def test_native_boosters_match_their_sklearn_wrappers():
    import joblib
    import lightgbm
    import xgboost

    rows = _rows(_entry("lgbm_classifier_native"))
    wrapper = joblib.load(SAMPLES_DIR / "lgbm_classifier.joblib")
    booster = lightgbm.Booster(model_file=str(SAMPLES_DIR / "lgbm_classifier.txt"))
    assert booster.feature_name() == list(rows.columns)
    np.testing.assert_allclose(booster.predict(rows), wrapper.predict_proba(rows)[:, 1], rtol=1e-12)

    rows = _rows(_entry("xgb_classifier_native"))
    wrapper = joblib.load(SAMPLES_DIR / "xgb_classifier.joblib")
    booster = xgboost.Booster()
    booster.load_model(str(SAMPLES_DIR / "xgb_classifier.json"))
    assert booster.feature_names == list(rows.columns)
    np.testing.assert_allclose(booster.predict(xgboost.DMatrix(rows)), wrapper.predict_proba(rows),
                               rtol=1e-6)


def test_keras_samples_declare_their_input_tensor():
    for name in ("keras_mlp", "keras_mlp_savedmodel"):
        entry = _entry(name)
        assert entry["input_tensor"] == "features"
        assert entry["input_shape"] == [None, len(entry["inputs"])]
    import zipfile

    with zipfile.ZipFile(SAMPLES_DIR / "keras_mlp.keras") as archive:
        config = json.loads(archive.read("config.json"))
    inputs = [layer["config"] for layer in config["config"]["layers"] if layer["class_name"] == "InputLayer"]
    assert [layer["name"] for layer in inputs] == ["features"]
    assert inputs[0]["batch_shape"] == [None, 4]


@pytest.mark.java
def test_sklearn2pmml_incident_report_stays_on_this_machine(build, tmp_path):
    """A failed sklearn2pmml conversion tries to POST an incident to telemetry.jpmml.org; the build's
    JVM options route it to a loopback "proxy" (here a listener we own) and give the JVM an empty
    hosts file, so nothing can leave the machine."""
    import socket
    import threading

    from sklearn2pmml import sklearn2pmml

    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(60)
    port = server.getsockname()[1]
    received: list[bytes] = []
    done = threading.Event()

    def serve() -> None:
        try:
            conn, _ = server.accept()
            with conn:
                conn.settimeout(30)
                received.append(conn.recv(4096))  # then close: the JVM sees the proxy fail
        except OSError:
            pass
        finally:
            done.set()

    threading.Thread(target=serve, daemon=True).start()
    garbage = tmp_path / "not_a_pickle.pkl"
    garbage.write_bytes(b"this is not a pickle " * 8)
    try:
        with pytest.raises(RuntimeError, match="SkLearn2PMML application has failed"):
            sklearn2pmml(str(garbage), str(tmp_path / "out.pmml"), escape_func=None,
                         java_opts=build.sklearn2pmml_java_opts(proxy_port=port))
        assert done.wait(30), "the JVM made no connection"
    finally:
        server.close()
    assert received and received[0].startswith(b"CONNECT telemetry.jpmml.org:443")
    assert not (tmp_path / "out.pmml").exists()
    assert build.SKLEARN2PMML_JAVA_OPTS == build.sklearn2pmml_java_opts(proxy_port=9)


def test_pmml_sample_embeds_verification_rows():
    text = (SAMPLES_DIR / "iris_logreg.pmml").read_text()
    assert "<ModelVerification" in text and 'recordCount="10"' in text


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["name"] for e in ENTRIES])
def test_feature_count_is_the_number_of_values_per_row(entry: dict):
    """One column per value in the rows CSV, whether the model takes one input per feature or one
    (batch, k) vector (the SavedModel used to say 1 for its [?, 4] input)."""
    from workbench.core.models import inspect_model

    info = inspect_model(SAMPLES_DIR / entry["file"], trust=entry["trust"])
    assert info.metadata["feature_count"] == len(entry["inputs"])


def test_feature_count_of_inputs_the_rows_cannot_count():
    from workbench.core.types import TensorSpec, feature_count

    assert feature_count([TensorSpec("a", "float32", (None, 3)), TensorSpec("b", "string", (None,))]) == 4
    assert feature_count([TensorSpec("img", "float32", (None, 28, 28))]) is None
    assert feature_count([TensorSpec("x", "float32", (None, None))]) is None
