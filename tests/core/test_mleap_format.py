"""Format `mleap` (issue 16): detection by content (not by name), and what inspection shows for the sample
bundle and the Spark-style bundles made by sample_models/build_mleap.py."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.core.test_mleap_bundle import SAMPLE, bm
from workbench.core.errors import CorruptModel, UnknownFormat
from workbench.core.models import detect_format, inspect_model

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("mleap_fmt")
    return {ser: bm.spark_bundles(out, ser) for ser in ("json", "protobuf")}


def test_detected_by_content_whatever_the_name(tmp_path: Path):
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(SAMPLE) as zf:
        zf.extractall(folder)
    renamed = tmp_path / "model.bin"
    renamed.write_bytes(SAMPLE.read_bytes())
    for path in (SAMPLE, renamed, folder, f"jar:file:{SAMPLE}"):
        assert detect_format(path) == "mleap"
    # a zip that is not a bundle is not taken for one
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("bundle.json", "{}")
        zf.writestr("data/model.json", "{}")
    with pytest.raises(UnknownFormat):
        detect_format(other)


def test_damaged_bundle_is_reported_by_inspect(tmp_path: Path):
    folder = tmp_path / "b"
    with zipfile.ZipFile(SAMPLE) as zf:
        zf.extractall(folder)
    (folder / "root" / "model.json").write_text('{"op": "pipeline", "attributes": {"nodes": '
                                                '{"type": "list", "string": ["gone"]}}}')
    assert detect_format(folder) == "mleap"
    with pytest.raises(CorruptModel, match="damaged MLeap bundle: node 'gone' is listed"):
        inspect_model(folder)


def test_inspect_the_sample():
    info = inspect_model(SAMPLE)
    assert (info.format, info.framework, info.framework_version) == ("mleap", "mleap", "0.25.3")
    assert info.task == "classification" and info.classes == [0, 1, 2] and info.loaded
    assert [(s.name, s.dtype, s.shape) for s in info.inputs] == [(c, "float64", (None,)) for c in bm.IRIS_COLUMNS]
    assert [(s.name, s.shape) for s in info.outputs] == [("prediction", (None,)), ("raw_prediction", (None, 3)),
                                                         ("probability", (None, 3))]
    meta = info.metadata
    assert meta["serialization"] == "json" and meta["mleap_version"] == "0.25.3"
    assert meta["estimator"] == "logistic_regression" and meta["feature_count"] == 4
    assert meta["ops"] == ["vector_assembler", "standard_scaler", "logistic_regression"]
    assert meta["nodes"][1] == {"name": "standard_scaler", "op": "standard_scaler",
                                "inputs": [{"port": "input", "name": "features"}],
                                "outputs": [{"port": "output", "name": "scaled_features"}]}
    assert meta["nodes"][2]["num_classes"] == 3
    assert meta["bundle_name"] == "mleap_iris_pipeline" and len(meta["sha256"]) == 64


@pytest.mark.parametrize("ser", ["json", "protobuf"])
def test_inspect_spark_pipelines(spark, ser):
    cases = spark[ser]
    info = inspect_model(cases["random_forest_classifier"].path)
    assert info.metadata["serialization"] == ser
    color, x1, x2 = info.inputs
    assert (color.name, color.dtype, color.categories, color.accepts_missing) == \
        ("color", "string", ("red", "green", "blue"), True)
    assert [(s.name, s.dtype, s.shape) for s in (x1, x2)] == [("x1", "float64", (None,)), ("x2", "float64", (None,))]
    assert info.task == "classification" and info.classes == [0, 1]
    assert [(s.name, s.shape) for s in info.outputs] == [("prediction", (None,)), ("raw_prediction", (None, 2)),
                                                         ("probability", (None, 2))]
    forest = info.metadata["nodes"][-1]
    assert forest["op"] == "random_forest_classifier" and forest["trees"] == 5 and forest["num_features"] == 4
    assert info.metadata["nodes"][1]["drop_last"] is True
    assert info.metadata["ops"] == cases["random_forest_classifier"].ops

    for name in ("linear_regression", "decision_tree_regression", "gbt_regression"):
        info = inspect_model(cases[name].path)
        assert info.task == "regression" and info.classes is None
        assert [s.name for s in info.outputs] == ["prediction"]
        assert info.metadata["feature_count"] == 3
    multi = inspect_model(cases["logistic_regression_multinomial"].path)
    assert multi.classes == [0, 1, 2] and multi.outputs[2].shape == (None, 3)
    binomial = inspect_model(cases["logistic_regression_binomial"].path)
    assert binomial.classes == [0, 1]

    features = inspect_model(cases["feature_ops"].path)
    assert features.task == "other" and features.warnings
    by_name = {s.name: s for s in features.inputs}
    assert list(by_name) == ["color", "x1", "x2"] and by_name["x1"].accepts_missing


def test_vector_inputs_get_their_width(tmp_path: Path):
    nodes = [bm.Node("scale", "standard_scaler", [("input", "features")], [("output", "scaled")],
                     {"mean": bm.tensor([0.0] * 3), "std": bm.tensor([1.0] * 3)}),
             bm.Node("lr", "linear_regression", [("features", "scaled")], [("prediction", "y")],
                     {"coefficients": bm.tensor([1.0, 2.0, 3.0]), "intercept": bm.double(0.0),
                      "num_features": bm.long(3)})]
    info = inspect_model(bm.write_bundle(tmp_path / "v.zip", nodes))
    assert [(s.name, s.dtype, s.shape) for s in info.inputs] == [("features", "float64", (None, 3))]
    assert info.metadata["feature_count"] == 3 and info.task == "regression"


def test_cli_inspect_json_and_jar_path():
    for path in (str(SAMPLE), f"jar:file:{SAMPLE}"):
        done = subprocess.run([sys.executable, "-m", "workbench", "inspect", path, "--json"], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        assert doc["format"] == "mleap" and doc["task"] == "classification" and doc["classes"] == [0, 1, 2]
        assert [i["name"] for i in doc["inputs"]] == bm.IRIS_COLUMNS
        assert [n["op"] for n in doc["metadata"]["nodes"]] == ["vector_assembler", "standard_scaler",
                                                               "logistic_regression"]
        assert doc["metadata"]["serialization"] == "json"


def test_the_sample_scores_like_the_sklearn_pipeline_it_was_made_from(tmp_path: Path):
    """The committed sample, scored by the mleap runtime, against the scikit-learn pipeline build_mleap
    fits on the same data (rebuilt here; the rebuilt bundle holds the same coefficients)."""
    import numpy as np
    import pandas as pd

    from workbench.core.mleap.bundle import read_bundle
    from workbench.core.rows import prepare_rows
    from workbench.core.runtimes import open_session

    case = bm.iris_pipeline(tmp_path)
    np.testing.assert_allclose(read_bundle(case.path).nodes[2].attributes["coefficient_matrix"],
                               read_bundle(SAMPLE).nodes[2].attributes["coefficient_matrix"], rtol=1e-9)
    rows = pd.read_csv(SAMPLE.with_name("mleap_iris_pipeline.rows.csv"))
    pd.testing.assert_frame_equal(rows, case.rows)
    info = inspect_model(SAMPLE)
    got = open_session(SAMPLE, info, "mleap", trust=False).predict(prepare_rows(rows, info))
    np.testing.assert_allclose(got.probabilities, case.expected["probability"], atol=1e-9)
    assert [int(float(v)) for v in got.labels] == case.expected["prediction"].astype(int).tolist()
