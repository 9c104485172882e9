"""MLeap XGBoost bundles (issue 16, "xgboost where the bundle holds a Booster"): the `xgboost.model` file
of an `xgboost.classifier` / `xgboost.regression` node (mleap-xgboost-runtime's layout) is read bounded into
the node, `workbench predict --runtime mleap --json` equals xgboost's own predictions, inspect shows the op,
and hostile booster files are refused."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.core.convert_helpers import load_build_mleap
from workbench.cli import main
from workbench.core.errors import CorruptModel
from workbench.core.limits import LimitExceeded
from workbench.core.mleap.bundle import read_bundle

pytest.importorskip("xgboost")

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "sample_models"
PROB_TOL = 1e-7
NAMES = ("xgboost_classifier_binary", "xgboost_classifier_multiclass", "xgboost_regression")


bm = load_build_mleap()


@pytest.fixture(scope="module")
def xgb_cases(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], object]:
    out = tmp_path_factory.mktemp("mleap_xgb")
    cases = {}
    for ser in ("json", "protobuf"):
        for zipped in (True, False):
            for name, case in bm.xgboost_bundles(out, ser, zipped=zipped).items():
                cases[(name, ser, "zip" if zipped else "folder")] = case
    return cases


def _predict(capsys: pytest.CaptureFixture[str], case, tmp_path: Path) -> dict:
    rows = tmp_path / "rows.csv"
    rows.write_text(bm.case_rows_csv(case))
    capsys.readouterr()
    code = main(["predict", str(case.path), "--rows", str(rows), "--runtime", "mleap", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert out["runtime"] == "mleap" and out["rows"] == len(case.rows)
    return out


@pytest.mark.parametrize("layout", ["zip", "folder"])
@pytest.mark.parametrize("ser", ["json", "protobuf"])
@pytest.mark.parametrize("name", NAMES)
def test_predict_equals_xgboost(xgb_cases, name: str, ser: str, layout: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    case = xgb_cases[(name, ser, layout)]
    out = _predict(capsys, case, tmp_path)
    preds = out["predictions"]
    if case.task == "regression":
        got = np.array([p["value"] for p in preds])
        want = case.expected["prediction"]
        # xgboost computes in float32; the runtime hands the float32 result on as float64: identical
        assert np.array_equal(got, want), np.max(np.abs(got - want))
        return
    classes = case.classes
    assert out["classes"] == classes
    prob = np.array([[p["probabilities"][str(c)] for c in classes] for p in preds])
    assert prob.shape == case.expected["probability"].shape
    assert np.max(np.abs(prob - case.expected["probability"])) <= PROB_TOL
    assert [p["label"] for p in preds] == case.expected["prediction"].astype(int).tolist()
    raw = np.array([p["outputs"]["raw_prediction"] for p in preds])
    assert np.max(np.abs(raw - case.expected["raw_prediction"])) <= PROB_TOL
    # the rows really span the classes (not a constant model)
    assert len({p["label"] for p in preds}) == len(classes)


def test_inspect_shows_the_xgboost_op(xgb_cases, capsys: pytest.CaptureFixture[str]) -> None:
    for name, op, task in (("xgboost_classifier_multiclass", "xgboost.classifier", "classification"),
                           ("xgboost_regression", "xgboost.regression", "regression")):
        case = xgb_cases[(name, "protobuf", "zip")]
        capsys.readouterr()
        assert main(["inspect", str(case.path), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["format"] == "mleap" and out["task"] == task
        assert out["metadata"]["ops"][-1] == op
        assert out["metadata"]["estimator"] == op
        if task == "classification":
            assert out["classes"] == [0, 1, 2]


def test_reader_loads_the_booster_file_into_the_node(xgb_cases) -> None:
    import xgboost

    case = xgb_cases[("xgboost_classifier_binary", "json", "zip")]
    node = read_bundle(case.path).nodes[-1]
    assert node.op == "xgboost.classifier" and node.folder == "root/xgb.node"
    assert node.attributes["num_features"] == 4 and node.attributes["num_classes"] == 2
    assert node.attributes["tree_limit"] == 0
    with zipfile.ZipFile(case.path) as zf:
        assert node.attributes["xgboost.model"] == zf.read("root/xgb.node/xgboost.model")
    booster = xgboost.Booster()
    booster.load_model(bytearray(node.attributes["xgboost.model"]))
    assert booster.num_boosted_rounds() == 8 and booster.num_features() == 4


def _folder_case(xgb_cases, name: str = "xgboost_regression"):
    return xgb_cases[(name, "json", "folder")].path


def _damaged(path: Path, what: str) -> None:
    with pytest.raises(CorruptModel, match="damaged MLeap bundle") as err:
        read_bundle(path)
    assert what in str(err.value)


def test_missing_empty_or_unreadable_booster(xgb_cases, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    folder = tmp_path / "b.bundle"
    shutil.copytree(_folder_case(xgb_cases), folder)
    booster = folder / "root" / "xgb.node" / "xgboost.model"
    data = booster.read_bytes()
    booster.unlink()
    _damaged(folder, "root/xgb.node/xgboost.model is missing")
    booster.write_bytes(b"")
    _damaged(folder, "root/xgb.node/xgboost.model is empty")
    booster.unlink()
    booster.mkdir()
    _damaged(folder, "root/xgb.node/xgboost.model is a folder")
    booster.rmdir()
    booster.write_bytes(b"not a booster at all")
    rows = tmp_path / "rows.csv"
    rows.write_text(bm.case_rows_csv(xgb_cases[("xgboost_regression", "json", "folder")]))
    capsys.readouterr()
    code = main(["predict", str(folder), "--rows", str(rows), "--runtime", "mleap", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 2 and "XGBoost cannot read its booster" in out["error"]
    booster.write_bytes(data)
    assert read_bundle(folder).nodes[-1].attributes["xgboost.model"] == data


def test_booster_file_is_read_bounded(xgb_cases, monkeypatch: pytest.MonkeyPatch) -> None:
    path = xgb_cases[("xgboost_regression", "protobuf", "zip")].path
    with zipfile.ZipFile(path) as zf:
        size = zf.getinfo("root/xgb.node/xgboost.model").file_size
        biggest_other = max(i.file_size for i in zf.infolist() if not i.filename.endswith("xgboost.model"))
    assert size > biggest_other  # so the limit below only trips on the booster
    monkeypatch.setenv("WORKBENCH_LIMIT_MODEL_FILE_BYTES", str(size - 1))
    with pytest.raises(LimitExceeded, match="model_file_bytes") as err:
        read_bundle(path)
    assert "xgboost.model" in str(err.value)
    monkeypatch.setenv("WORKBENCH_LIMIT_MODEL_FILE_BYTES", str(size))
    assert len(read_bundle(path).nodes[-1].attributes["xgboost.model"]) == size


def test_booster_symlinks_and_fifos_are_refused(xgb_cases, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "b.bundle"
    shutil.copytree(_folder_case(xgb_cases), folder)
    booster = folder / "root" / "xgb.node" / "xgboost.model"
    outside = tmp_path / "outside.model"
    outside.write_bytes(booster.read_bytes())
    booster.unlink()
    booster.symlink_to(outside)
    _damaged(folder, "root/xgb.node/xgboost.model is a symbolic link out of the bundle")
    booster.unlink()
    os.mkfifo(booster)
    _damaged(folder, "root/xgb.node/xgboost.model")


def test_zip_booster_member_bomb_is_refused_before_reading(xgb_cases, tmp_path: Path) -> None:
    src = xgb_cases[("xgboost_regression", "json", "zip")].path
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("xgboost.model"):
                data = b"\0" * (8 << 20)
            zout.writestr(info.filename, data, compress_type=zipfile.ZIP_DEFLATED)
    with pytest.raises(LimitExceeded, match="compression ratio"):
        read_bundle(bomb)


# ---- conversions ---------------------------------------------------------------------------------------

ONNX_TOL = 2e-6  # onnxruntime's float32 TreeEnsemble sums the leaves in another order than XGBoost


@pytest.mark.parametrize("ser", ["json", "protobuf"])
@pytest.mark.parametrize("name", NAMES)
def test_onnx_conversion_is_proved(xgb_cases, name: str, ser: str, tmp_path: Path) -> None:
    """onnxmltools' XGBoost converter on the node's Booster behind the bundle's feature stages, proved by
    convert_and_prove against the mleap runtime, and checked here against xgboost's own predictions."""
    import onnxruntime as ort

    from workbench.core.conversion import convert_and_prove

    case = xgb_cases[(name, ser, "zip")]
    out = tmp_path / "model.onnx"
    result = convert_and_prove(case.path, "onnx", out, rows=case.rows, atol=ONNX_TOL, rtol=0.0)
    assert result.passed, result.parity
    assert result.converter == "mleap-onnx"
    assert result.parity["max_abs_diff"] <= ONNX_TOL
    assert result.parity["explained_rows"] == 0
    if case.task == "classification":
        assert result.parity["label_agreement"] == 1.0
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    feeds = {"color": case.rows[["color"]].to_numpy(object).astype(str),
             "x1": case.rows[["x1"]].to_numpy(np.float64), "x2": case.rows[["x2"]].to_numpy(np.float64)}
    got = sess.run(None, feeds)
    if case.task == "regression":
        assert np.max(np.abs(got[0][:, 0] - case.expected["prediction"])) <= ONNX_TOL
    else:
        assert got[0].tolist() == case.expected["prediction"].astype(int).tolist()
        assert np.max(np.abs(got[1] - case.expected["probability"])) <= ONNX_TOL


SAVEDMODEL_TOL = 1e-7  # the compiler computes 1 - p in float32 as XGBoost does; MLeap's runtime in double


@pytest.mark.tf
@pytest.mark.parametrize("name", NAMES)
def test_savedmodel_conversion_is_proved(xgb_cases, name: str, tmp_path: Path) -> None:
    """The SavedModel compiler's XGBoost step (float32 trees, XGBoost's sigmoid/softmax) behind the bundle's
    feature stages, proved against the mleap runtime and equal to xgboost's own predictions."""
    import tensorflow as tf

    from workbench.core.conversion import convert_and_prove

    case = xgb_cases[(name, "protobuf", "zip")]
    out = tmp_path / "saved"
    result = convert_and_prove(case.path, "savedmodel", out, rows=case.rows, atol=SAVEDMODEL_TOL, rtol=0.0)
    assert result.passed, result.parity
    assert result.converter == "mleap-savedmodel"
    assert result.parity["max_abs_diff"] <= SAVEDMODEL_TOL
    if case.task == "classification":
        assert result.parity["label_agreement"] == 1.0
    serve = tf.saved_model.load(str(out)).signatures["serving_default"]
    got = serve(color=tf.constant(case.rows["color"].to_numpy(str)),
                x1=tf.constant(case.rows["x1"].to_numpy(np.float64)),
                x2=tf.constant(case.rows["x2"].to_numpy(np.float64)))
    if case.task == "regression":
        assert np.array_equal(got["value"].numpy(), case.expected["prediction"])  # float32 as XGBoost: exact
    else:
        assert got["label"].numpy().tolist() == case.expected["prediction"].astype(int).tolist()
        assert np.array_equal(got["probabilities"].numpy(), case.expected["probability"])


PMML_TOL = 2e-6  # the PMML engine sums the float32 leaves in float64; XGBoost sums in float32


@pytest.mark.java
@pytest.mark.parametrize("name", NAMES)
def test_pmml_conversion_is_proved(xgb_cases, name: str, tmp_path: Path) -> None:
    """The booster's trees as PMML trees (exact float64 thresholds, the base margin as a one-leaf tree;
    binary through the logit chain, multiclass a softmax chain), proved against the mleap runtime."""
    from workbench.core.conversion import convert_and_prove

    case = xgb_cases[(name, "json", "zip")]
    result = convert_and_prove(case.path, "pmml", tmp_path / "model.pmml", rows=case.rows, atol=PMML_TOL, rtol=0.0)
    assert result.passed, result.parity
    assert result.converter == "mleap-pmml"
    assert result.parity["max_abs_diff"] <= PMML_TOL
    assert result.parity["explained_rows"] == 0
    if case.task == "classification":
        assert result.parity["label_agreement"] == 1.0


def test_xgb_threshold_routes_float64_as_xgboost_routes_float32() -> None:
    """float64 x <= xgb_threshold(t) exactly when float32(x) < t, at and around every rounding tie."""
    from workbench.core.converters.from_mleap.plan import xgb_threshold

    rng = np.random.default_rng(0)
    ts = np.concatenate([rng.normal(0, 10, 300).astype(np.float32), np.float32([0.0, -0.0, 1.0, -1.0, 1e-30, 3.5])])
    for t in ts:
        p = np.nextafter(np.float32(t), np.float32(-np.inf))
        mid = (float(p) + float(t)) / 2.0
        xs = [mid, np.nextafter(mid, -np.inf), np.nextafter(mid, np.inf), float(p), float(t),
              float(np.nextafter(np.float32(t), np.float32(np.inf)))]
        cut = xgb_threshold(float(t))
        for x in xs:
            assert (x <= cut) == bool(np.float32(x) < np.float32(t)), (float(t), x, cut)


def test_pmml_refuses_an_objective_it_cannot_express(xgb_cases) -> None:
    import xgboost

    from workbench.core.converters.from_mleap.plan import Head, Unsupported, xgboost_trees_head

    x = np.arange(40, dtype=float).reshape(20, 2)
    booster = xgboost.XGBRegressor(objective="reg:gamma", n_estimators=2).fit(x, x[:, 0] + 1).get_booster()
    with pytest.raises(Unsupported, match="XGBoost objective 'reg:gamma' is not supported"):
        xgboost_trees_head(Head("xgboost", "xgboost", "regression", "xgboost.regression", booster=booster),
                           "PMML: the xgboost.regression node")


def test_onnx_refuses_what_it_cannot_express(xgb_cases, tmp_path: Path) -> None:
    """A node that reads 0.0 as missing, or a non-NaN `missing`, is refused naming the attribute."""
    from workbench.core.converters.from_mleap import check_nodes
    from workbench.core.mleap.model import MleapNode

    nodes = read_bundle(xgb_cases[("xgboost_regression", "json", "zip")].path).nodes
    last = nodes[-1]
    assert check_nodes("onnx", nodes) is None
    for extra, text in (({"treats_zero_as_missing": True}, "treats_zero_as_missing=true"),
                        ({"missing": 0.0}, "missing=0.0 is not supported (only NaN)"),
                        ({"num_features": 7}, "num_features=7 for a features vector of 4")):
        changed = MleapNode(last.name, last.op, last.inputs, last.outputs, {**last.attributes, **extra},
                            folder=last.folder)
        why = check_nodes("onnx", nodes[:-1] + (changed,))
        assert why is not None and text in why and "node 'xgb'" in why, why
