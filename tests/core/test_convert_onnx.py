"""Conversion to ONNX, proved on rows: the matrix, threshold flips, nothing-is-lost rules, CLI contract.

Real skl2onnx/onnxmltools/tf2onnx conversions and real onnxruntime sessions; the models are trained
here on scikit-learn's bundled datasets by scripts/conversion_matrix.py (no download).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest

from tests.core.convert_helpers import SAMPLES, ctr_booster_pipelines, load_matrix_script, sha256
from workbench.cli import main as cli_main
from workbench.core.conversion import CannotConvert, convert_and_prove
from workbench.core.converters.thresholds import split_thresholds

MATRIX = load_matrix_script()
SKLEARN_KINDS = [k for k in MATRIX.model_kinds() if not k.native]



#: kinds the ONNX converters refuse, with the reason they must give (and no file written)
ONNX_REFUSALS = {
    "lgbm_categorical": "onnxmltools cannot convert LightGBM categorical features \\(c, pandas category columns\\)",
    "xgb_categorical": "onnxmltools cannot convert XGBoost categorical splits \\(categorical feature\\(s\\) c\\)",
    "lgbm_linear": "linear trees are not supported by onnxmltools",
}


@pytest.mark.parametrize("kind", SKLEARN_KINDS, ids=lambda k: k.key)
def test_matrix_to_onnx(kind, matrix_models, tmp_path):
    model_path, rows_path = matrix_models[kind.key]
    before = sha256(model_path)
    out = tmp_path / f"{kind.key}.onnx"
    if kind.key in ONNX_REFUSALS:
        with pytest.raises(CannotConvert, match="^ONNX: " + ONNX_REFUSALS[kind.key]):
            convert_and_prove(model_path, "onnx", out, rows=rows_path, trust=True)
        assert list(tmp_path.iterdir()) == [] and sha256(model_path) == before
        return
    result = convert_and_prove(model_path, "onnx", out, rows=rows_path, trust=True)
    parity = result.parity
    assert result.passed, (parity["max_abs_diff"], result.unexplained_rows)
    assert result.output == str(out) and out.is_file()
    assert parity["rows"] >= 30
    # rows may differ only where a value sits on a split threshold (rows placed there, and e.g. one
    # diabetes row whose s5 equals a LightGBM threshold to 1e-17); each of those is explained
    assert all("split threshold" in r["explanation"] for r in result.explained_rows)
    if kind.key in ("logreg", "ctr_pipeline", "mlp", "linear_regression", "ridge", "decision_tree",
                    "random_forest", "extra_trees", "gb_classifier", "gb_regressor"):
        assert result.explained_rows == []  # skl2onnx adjusts sklearn tree thresholds for float32
    if not result.explained_rows:
        assert parity["passed_strict"] is True
        if parity.get("label_agreement") is not None:
            assert parity["label_agreement"] == 1.0
    if result.notes.get("double_trees"):  # float64 trees (opset-5 TreeEnsemble): the float64 tolerance
        assert kind.key == "hist_gb_real_thresholds" and result.notes["float32"] is False
        assert result.tolerances["atol"] == 1e-5 and parity["max_abs_diff"] <= 1e-5
    else:
        assert result.tolerances["atol"] == 1e-4  # float32 runtime
    if kind.key == "trees_nan_rows":  # NaN routed like scikit-learn's missing_go_to_left
        assert result.notes["missing_values_routed"] is True
        assert parity["missing_value_rows"] == 15 and parity["missing_value_rows_scored_differently"] == []
        assert parity["label_agreement"] == 1.0 and parity["max_abs_diff"] < 1e-6
    # the converted file really is an ONNX graph with one [None, 1] input per original column
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    columns = list(pd.read_csv(rows_path, nrows=1).columns)
    names = [i.name for i in session.get_inputs()]
    assert names == columns
    report = json.loads((tmp_path / f"{kind.key}.onnx.parity.json").read_text())
    assert report["passed"] is True and report["converted_runtime"] == "onnxruntime"
    assert sha256(model_path) == before


@pytest.mark.parametrize("sample", ["lgbm_classifier.txt", "xgb_classifier.json"])
def test_native_boosters_to_onnx(sample, tmp_path):
    rows = SAMPLES / (sample.split(".")[0] + "_native.rows.csv")
    result = convert_and_prove(SAMPLES / sample, "onnx", tmp_path / "m.onnx", rows=rows)
    assert result.passed
    assert result.converter == "booster-onnx"
    assert all("split threshold" in r["explanation"] for r in result.explained_rows)


@pytest.mark.parametrize("key", ["xgb", "lgbm"])
def test_boosters_inside_string_pipelines_to_onnx(key, tmp_path):
    """OneHot(strings) + StandardScaler + XGBoost/LightGBM: onnxmltools converters registered in skl2onnx."""
    paths, rows = ctr_booster_pipelines(tmp_path)
    result = convert_and_prove(paths[key], "onnx", tmp_path / f"{key}.onnx", rows=rows, trust=True)
    assert result.passed and result.parity["label_agreement"] == 1.0
    session = ort.InferenceSession(str(tmp_path / f"{key}.onnx"), providers=["CPUExecutionProvider"])
    types = {i.name: i.type for i in session.get_inputs()}
    assert types["device"] == "tensor(string)" and types["price"] == "tensor(float)"
    # the scaler runs in float32 in ONNX: a scaled value on an XGBoost threshold can take the other
    # branch; any row that differs beyond 1e-4 is explained as such
    for row in result.explained_rows:
        assert row["explanation"].startswith("after the preprocessing steps, feature 'num__")
        assert "XGBoost" in row["explanation"] or "LightGBM" in row["explanation"]
    assert result.parity["max_abs_diff_unexplained"] <= 1e-4


def _stump(tmp_path: Path):
    """A LightGBM stump on x in {0.1, 0.2}: its split threshold t has float32(t) > t."""
    import joblib
    from lightgbm import LGBMClassifier

    x = np.array([0.1] * 50 + [0.2] * 50)
    X = pd.DataFrame({"x": x, "z": np.tile([1.0, 2.0], 50)})
    y = np.array([0] * 50 + [1] * 50)
    model = LGBMClassifier(n_estimators=5, num_leaves=2, min_child_samples=5, min_data_in_bin=1,
                           verbose=-1).fit(X, y)
    path = tmp_path / "stump.joblib"
    joblib.dump(model, path)
    return model, path


def test_float32_threshold_label_flip_is_detected_and_explained(tmp_path):
    model, path = _stump(tmp_path)
    (t,) = split_thresholds(model)[0][0]
    on_threshold = float(np.float32(t))
    assert on_threshold > t  # LightGBM (float64) sends it right, a float32 runtime (x <= t32) left
    rows = pd.DataFrame({"x": [0.1, 0.2, on_threshold, 0.12], "z": [1.0, 2.0, 1.0, 2.0]})
    rows_path = tmp_path / "rows.csv"
    rows.to_csv(rows_path, index=False, float_format="%.17g")
    result = convert_and_prove(path, "onnx", tmp_path / "stump.onnx", rows=rows_path, trust=True,
                               threshold_rows_on=False)
    assert result.parity["label_agreement"] == pytest.approx(3 / 4)
    assert result.parity["passed_strict"] is False
    assert result.passed is True and result.output is not None
    (flip,) = result.explained_rows
    assert flip["index"] == 2 and flip["row"] == 3 and flip["threshold_row"] is False
    assert flip["label_flip"] is True
    assert flip["original_label"] == model.predict(rows.iloc[[2]])[0]
    assert flip["converted_label"] != flip["original_label"]
    assert "feature 'x'" in flip["explanation"] and "split threshold" in flip["explanation"]
    assert "float32" in flip["explanation"]
    report = json.loads((tmp_path / "stump.onnx.parity.json").read_text())
    assert report["explained_rows"][0]["explanation"] == flip["explanation"]


def test_unexplained_difference_fails_and_keeps_output_beside(tmp_path):
    source = SAMPLES / "iris_logreg.joblib"
    before = sha256(source)
    out = tmp_path / "lr.onnx"
    result = convert_and_prove(source, "onnx", out, rows=SAMPLES / "iris_logreg.rows.csv", trust=True,
                               atol=1e-12, rtol=0.0)
    assert result.passed is False and result.exit_code == 1
    assert result.explained_rows == []  # no trees: nothing to explain float32 differences away
    assert not out.exists()
    failed = tmp_path / "lr.onnx.failed"
    assert result.failed_output == str(failed)
    assert ort.InferenceSession(str(failed), providers=["CPUExecutionProvider"]).get_outputs()[1].name == \
        "probabilities"
    report = json.loads((tmp_path / "lr.onnx.parity.json").read_text())
    assert report["passed"] is False and report["parity"]["max_abs_diff"] > 1e-12
    assert sha256(source) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lr.onnx.failed", "lr.onnx.parity.json"]


def test_existing_output_needs_force(tmp_path):
    out = tmp_path / "lr.onnx"
    out.write_bytes(b"precious")
    with pytest.raises(CannotConvert, match="exists: pass --force"):
        convert_and_prove(SAMPLES / "iris_logreg.joblib", "onnx", out, trust=True)
    assert out.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lr.onnx"]
    result = convert_and_prove(SAMPLES / "iris_logreg.joblib", "onnx", out, trust=True, force=True)
    assert result.passed and out.read_bytes()[:8] != b"precious"
    ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])


# ------------------------------------------------------------------------------------------ CLI


def _cli(capsys, *argv):
    code = cli_main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_json_contract_and_exit_codes(tmp_path, capsys):
    source = SAMPLES / "ctr_pipeline.joblib"
    before = sha256(source)
    out = tmp_path / "ctr.onnx"
    code, stdout, _ = _cli(capsys, "convert", str(source), "--to", "onnx", "--out", str(out),
                           "--rows", str(SAMPLES / "ctr_pipeline.rows.csv"), "--trust", "--json")
    assert code == 0
    payload = json.loads(stdout)
    assert {"source", "target", "output", "converter", "seconds", "parity"} <= set(payload)
    assert payload["target"] == "onnx" and payload["output"] == str(out) and payload["converter"] == "sklearn-onnx"
    assert {"rows", "max_abs_diff", "max_rel_diff", "label_agreement", "passed", "worst_rows"} <= set(payload["parity"])
    assert payload["parity"]["rows"] == 30 and payload["parity"]["passed"] is True
    assert payload["parity"]["label_agreement"] == 1.0 and payload["parity"]["max_abs_diff"] <= 1e-4

    # again without --force: exit 2, the output untouched
    snapshot = sha256(out)
    code, _, stderr = _cli(capsys, "convert", str(source), "--to", "onnx", "--out", str(out), "--trust")
    assert code == 2 and stderr.startswith("error: ") and "--force" in stderr
    assert sha256(out) == snapshot

    # outside tolerance: exit 1, JSON says so, output kept as .failed
    code, stdout, _ = _cli(capsys, "convert", str(source), "--to", "onnx", "--out", str(tmp_path / "t.onnx"),
                           "--trust", "--atol", "1e-15", "--rtol", "0", "--json")
    assert code == 1
    payload = json.loads(stdout)
    assert payload["parity"]["passed"] is False and payload["output"] is None
    assert Path(payload["failed_output"]).name == "t.onnx.failed"

    # cannot convert: exit 2 with the precise reason
    code, _, stderr = _cli(capsys, "convert", str(SAMPLES / "iris_logreg.onnx"), "--to", "savedmodel",
                           "--out", str(tmp_path / "sm"))
    assert code == 2 and "SavedModel from ONNX: not supported" in stderr
    assert not (tmp_path / "sm").exists()

    # an untrusted pickle is not loaded
    code, _, stderr = _cli(capsys, "convert", str(source), "--to", "onnx", "--out", str(tmp_path / "u.onnx"))
    assert code == 2 and "--trust" in stderr
    assert sha256(source) == before


def test_cli_summary_and_extension_warning(tmp_path, capsys):
    code, stdout, stderr = _cli(capsys, "convert", str(SAMPLES / "iris_logreg.skops"), "--to", "onnx",
                                "--out", str(tmp_path / "iris.pmml"))
    assert code == 0 and (tmp_path / "iris.pmml").is_file()
    assert stderr.splitlines()[0] == ("warning: writing ONNX to a .pmml file (PMML's ending); tools pick the "
                                      "format by the ending: use .onnx")
    assert "  labels     agree on 100% of rows" in stdout.splitlines()
    code, stdout, stderr = _cli(capsys, "convert", str(SAMPLES / "diabetes_rf.joblib"), "--trust", "--to", "onnx",
                                "--out", str(tmp_path / "rf.onnx"))
    assert code == 0 and "warning" not in stderr
    assert "labels" not in stdout and "None" not in stdout          # a regressor has no labels to agree on


def test_cli_list_targets(capsys):
    code, stdout, _ = _cli(capsys, "convert", str(SAMPLES / "iris_logreg.onnx"), "--list", "--json")
    assert code == 0
    targets = json.loads(stdout)["targets"]
    assert [t["target"] for t in targets] == ["onnx", "pmml", "savedmodel", "tfserving"]
    assert all(t["possible"] is False and t["reason"] for t in targets)
    code, _, stderr = _cli(capsys, "convert", str(SAMPLES / "iris_logreg.onnx"), "--to", "onnx")
    assert code == 2 and stderr == "error: --to TARGET and --out PATH are required (or --list to see the possible targets)\n"


@pytest.mark.tf
def test_keras_mlp_to_onnx(tmp_path):
    result = convert_and_prove(SAMPLES / "keras_mlp.keras", "onnx", tmp_path / "k.onnx",
                               rows=SAMPLES / "keras_mlp.rows.csv")
    assert result.passed and result.converter == "tf-onnx"
    assert result.parity["rows"] == 30
    assert result.parity["label_agreement"] == 1.0 and result.parity["max_abs_diff"] <= 1e-4
    # the graph has no classifier ops: the converted model keeps the source's task and classes
    from workbench.core.models import inspect_model

    source, converted = inspect_model(SAMPLES / "keras_mlp.keras"), inspect_model(tmp_path / "k.onnx")
    assert (converted.task, converted.classes) == (source.task, source.classes) == ("classification", [0, 1, 2])
    assert converted.framework_version and "None" not in converted.framework_version


@pytest.mark.tf
def test_savedmodel_folder_to_onnx(tmp_path):
    source = SAMPLES / "keras_mlp_savedmodel"
    before = sha256(source)
    result = convert_and_prove(source, "onnx", tmp_path / "s.onnx", rows=SAMPLES / "keras_mlp_savedmodel.rows.csv",
                               trust=True)  # loading a SavedModel runs its graph: trusted here
    assert result.passed and result.converter == "tf-onnx"
    assert result.parity["rows"] == 30 and result.parity["max_abs_diff"] <= 1e-4
    assert sha256(source) == before


def test_cancel_and_progress(tmp_path):
    from workbench.core.converters import ConversionCancelled

    seen: list[tuple[float, str]] = []
    with pytest.raises(ConversionCancelled):
        convert_and_prove(SAMPLES / "iris_logreg.joblib", "onnx", tmp_path / "c.onnx", trust=True,
                          progress=lambda f, m: seen.append((f, m)), cancelled=lambda: True)
    assert list(tmp_path.iterdir()) == []  # the temporary output was removed
    assert seen[0] == (0.02, "loading the model")
    seen.clear()
    result = convert_and_prove(SAMPLES / "iris_logreg.joblib", "onnx", tmp_path / "c.onnx", trust=True,
                               progress=lambda f, m: seen.append((f, m)))
    assert result.passed
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
