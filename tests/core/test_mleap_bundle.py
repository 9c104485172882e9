"""The MLeap Bundle.ML reader (issue 16): zip / folder / jar:file:, JSON and protobuf, every op's attributes
decoded; damaged and hostile bundles get one CorruptModel line (`damaged MLeap bundle: ...`)."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.core.convert_helpers import load_build_mleap
from workbench.core.errors import CorruptModel
from workbench.core.limits import LimitExceeded
from workbench.core.mleap.bundle import read_bundle, tensor_from_bytes

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "sample_models"
SAMPLE = SAMPLES_DIR / "mleap_iris_pipeline.zip"


bm = load_build_mleap()


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every Spark-style bundle in both serializations: {serialization: {name: Case}}."""
    out = tmp_path_factory.mktemp("mleap")
    return {ser: bm.spark_bundles(out, ser) for ser in ("json", "protobuf")}


def _node(bundle, op):
    return next(n for n in bundle.nodes if n.op == op)


# ---- the sample, in every container ----------------------------------------------------------------------

def test_sample_zip_is_a_flat_pipeline_with_decoded_attributes():
    import joblib  # noqa: F401 - the sample's expectations are recomputed with scikit-learn below
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    bundle = read_bundle(SAMPLE)
    assert bundle.serialization == "json" and bundle.mleap_version == "0.25.3"
    assert bundle.name == "mleap_iris_pipeline" and bundle.header["uid"] == "00000000-0000-4000-8000-000000000001"
    assert [n.op for n in bundle.nodes] == ["vector_assembler", "standard_scaler", "logistic_regression"]
    va, sc, lr = bundle.nodes
    assert [(p.port, p.name) for p in va.inputs] == [(f"input{i}", c) for i, c in enumerate(bm.IRIS_COLUMNS)]
    assert va.output("output") == "features" and sc.input("input") == "features"
    assert lr.input("features") == "scaled_features"
    assert [p.port for p in lr.outputs] == ["prediction", "raw_prediction", "probability"]
    assert va.attributes["input_shapes"] == [{"base": "scalar", "is_nullable": False, "tensor_shape": None}] * 4
    X, y = bm.iris_data()
    scaler = StandardScaler().fit(X)
    np.testing.assert_allclose(sc.attributes["mean"], scaler.mean_, rtol=1e-12)
    np.testing.assert_allclose(sc.attributes["std"], scaler.scale_, rtol=1e-12)
    model = LogisticRegression(max_iter=1000).fit(scaler.transform(X), y)
    assert lr.attributes["coefficient_matrix"].shape == (3, 4)
    assert lr.attributes["coefficient_matrix"].dtype == np.float64
    # the file holds it column-major (Spark's toArray, as MLeap reads it back; build_mleap re-lays mleap.sklearn's
    # row-major coef_.flatten()): the reader keeps file order, the scorer's coefficient_matrix reads it
    from workbench.core.mleap.ops.linear import coefficient_matrix

    np.testing.assert_allclose(lr.attributes["coefficient_matrix"].reshape(-1), model.coef_.reshape(-1, order="F"),
                               rtol=1e-6)
    np.testing.assert_allclose(coefficient_matrix(lr), model.coef_, rtol=1e-6)
    np.testing.assert_allclose(lr.attributes["intercept_vector"], model.intercept_, rtol=1e-6)
    assert lr.attributes["num_classes"] == 3
    assert lr.folder == "root/logistic_regression.node"


def test_zip_folder_and_jar_file_read_the_same(tmp_path: Path):
    folder = tmp_path / "iris_bundle"
    with zipfile.ZipFile(SAMPLE) as zf:
        zf.extractall(folder)
    nested_zip = tmp_path / "nested.zip"  # a zip of the bundle's folder: one top folder
    with zipfile.ZipFile(nested_zip, "w") as zf:
        for path in folder.rglob("*"):
            if path.is_file():
                zf.write(path, f"iris_bundle/{path.relative_to(folder).as_posix()}")
    reads = [read_bundle(SAMPLE), read_bundle(folder), read_bundle(f"jar:file:{SAMPLE}"),
             read_bundle(f"jar:file://{SAMPLE}"), read_bundle(str(folder)), read_bundle(nested_zip)]
    for other in reads[1:]:
        assert [(n.name, n.op, n.inputs, n.outputs) for n in other.nodes] == \
               [(n.name, n.op, n.inputs, n.outputs) for n in reads[0].nodes]
        np.testing.assert_array_equal(other.nodes[2].attributes["coefficient_matrix"],
                                      reads[0].nodes[2].attributes["coefficient_matrix"])
    assert reads[2].path == SAMPLE


# ---- every op, JSON and protobuf ------------------------------------------------------------------------

def test_json_and_protobuf_decode_to_the_same_values(spark):
    for name, case in spark["json"].items():
        a, b = read_bundle(case.path), read_bundle(spark["protobuf"][name].path)
        assert (a.serialization, b.serialization) == ("json", "protobuf")
        assert [n.op for n in a.nodes] == [n.op for n in b.nodes] == case.ops
        for na, nb in zip(a.nodes, b.nodes, strict=True):
            assert (na.name, na.inputs, na.outputs) == (nb.name, nb.inputs, nb.outputs)
            _same(na.attributes, nb.attributes, f"{name}/{na.name}")
            assert [c.name for c in na.children] == [c.name for c in nb.children]
            for ca, cb in zip(na.children, nb.children, strict=True):
                assert ca.op == cb.op
                _same(ca.attributes, cb.attributes, f"{name}/{na.name}/{ca.name}")


def _same(a, b, where):
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for x, y in zip(a, b):
            _same(x, y, where)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, where


@pytest.mark.parametrize("ser", ["json", "protobuf"])
def test_feature_ops_attributes(spark, ser):
    bundle = read_bundle(spark[ser]["feature_ops"].path)
    indexer = _node(bundle, "string_indexer")
    assert indexer.attributes == {"labels": ["red", "green", "blue"], "handle_invalid": "keep"}
    assert (indexer.input("input"), indexer.output("output")) == ("color", "color_index")
    imputer = _node(bundle, "imputer").attributes
    assert imputer["strategy"] == "mean" and np.isnan(imputer["missing_value"])
    assert isinstance(imputer["surrogate_value"], float)
    assert _node(bundle, "bucketizer").attributes["splits"] == [-np.inf, -0.5, 0.5, np.inf]
    assert _node(bundle, "binarizer").attributes["threshold"] == 5.0
    assert _node(bundle, "polynomial_expansion").attributes == {"degree": 2}
    interaction = _node(bundle, "interaction")
    assert interaction.attributes["num_inputs"] == 2
    assert [p.name for p in interaction.inputs] == ["x1_imputed", "x2"]
    assembler = _node(bundle, "vector_assembler")
    assert [s["base"] for s in assembler.attributes["input_shapes"]] == ["scalar", "scalar"]


@pytest.mark.parametrize("ser", ["json", "protobuf"])
def test_spark_model_ops_attributes(spark, ser):
    from sklearn.linear_model import LinearRegression

    cases = spark[ser]
    bundle = read_bundle(cases["linear_regression"].path)
    indexer, onehot, assembler, linreg = bundle.nodes
    assert indexer.attributes["labels_array_0"] == ["red", "green", "blue"]
    assert indexer.attributes["labels_length"] == 1 and indexer.attributes["handle_invalid"] == "keep"
    assert onehot.attributes == {"category_sizes": [3], "drop_last": True, "handle_invalid": "error"}
    shapes = assembler.attributes["input_shapes"]
    assert shapes[0] == {"base": "tensor", "is_nullable": False, "tensor_shape": [2]}
    assert [s["base"] for s in shapes[1:]] == ["scalar", "scalar"]
    frame, _, y_reg = bm._spark_frame()
    labels = ["red", "green", "blue"]
    idx = frame["color"].map({c: i for i, c in enumerate(labels)}).to_numpy()
    features = np.column_stack([np.eye(3)[idx][:, :2], frame["x1"], frame["x2"]])
    model = LinearRegression().fit(features, y_reg)
    coefficients = linreg.attributes["coefficients"]
    assert coefficients.dtype == np.float64 and coefficients.shape == (4,)
    np.testing.assert_allclose(coefficients, model.coef_, rtol=1e-9)
    assert linreg.attributes["intercept"] == pytest.approx(model.intercept_, rel=1e-9)

    binomial = _node(read_bundle(cases["logistic_regression_binomial"].path), "logistic_regression").attributes
    assert binomial["coefficients"].shape == (4,) and binomial["num_classes"] == 2 and binomial["threshold"] == 0.5
    multi = _node(read_bundle(cases["logistic_regression_multinomial"].path), "logistic_regression").attributes
    assert multi["coefficient_matrix"].shape == (3, 4) and multi["intercept_vector"].shape == (3,)


@pytest.mark.parametrize("ser", ["json", "protobuf"])
def test_trees_decode_to_flat_arrays_that_predict_like_sklearn(spark, ser):
    cases = spark[ser]
    tree_node = _node(read_bundle(cases["decision_tree_regression"].path), "decision_tree_regression")
    tree = tree_node.attributes["tree"]
    assert tree_node.attributes["num_features"] == 4
    features = _features(cases["decision_tree_regression"].rows)
    np.testing.assert_allclose([_walk(tree, row)[0] for row in features],
                               cases["decision_tree_regression"].expected["prediction"], rtol=1e-12)
    assert tree["split"][0] == "continuous" and tree["left"][0] == 1 and tree["feature"][0] >= 0
    leaves = [i for i, s in enumerate(tree["split"]) if s == "leaf"]
    assert all(tree["left"][i] == -1 and tree["values"][i] is not None for i in leaves)

    forest = _node(read_bundle(cases["random_forest_classifier"].path), "random_forest_classifier")
    assert forest.attributes["trees"] == [f"tree{i}" for i in range(5)]
    assert forest.attributes["tree_weights"] == [1.0] * 5 and forest.attributes["num_classes"] == 2
    assert [c.name for c in forest.children] == forest.attributes["trees"]
    assert {c.op for c in forest.children} == {"decision_tree_classifier"}
    assert forest.children[0].folder == "root/forest.node/tree0"
    probabilities = []
    for row in _features(cases["random_forest_classifier"].rows):
        votes = [np.asarray(_walk(c.attributes["tree"], row)) for c in forest.children]
        probabilities.append(np.mean([v / v.sum() for v in votes], axis=0))
    np.testing.assert_allclose(probabilities, cases["random_forest_classifier"].expected["probability"], atol=1e-12)

    gbt = _node(read_bundle(cases["gbt_regression"].path), "gbt_regression")
    weights = gbt.attributes["tree_weights"]
    predictions = [sum(w * _walk(c.attributes["tree"], row)[0] for w, c in zip(weights, gbt.children))
                   for row in _features(cases["gbt_regression"].rows)]
    np.testing.assert_allclose(predictions, cases["gbt_regression"].expected["prediction"], rtol=1e-9)


def _features(rows):
    labels = ["red", "green", "blue"]
    idx = rows["color"].map({c: i for i, c in enumerate(labels)}).to_numpy()
    return np.column_stack([np.eye(3)[idx][:, :2], rows["x1"], rows["x2"]])


def _walk(tree, row):
    i = 0
    while tree["split"][i] != "leaf":
        i = tree["left"][i] if row[tree["feature"][i]] <= tree["threshold"][i] else tree["right"][i]
    return tree["values"][i]


def test_categorical_splits_tensors_of_every_base_and_nested_pipelines(tmp_path: Path):
    records = [{"kind": "categorical", "feature": 1, "is_left": True, "num_categories": 3, "categories": [0.0, 2.0]},
               {"kind": "leaf", "values": [1.0]}, {"kind": "leaf", "values": [2.0]}]
    inner = bm.Node("inner", "pipeline", [], [], stages=[
        bm.Node("scale", "standard_scaler", [("input", "v")], [("output", "v2")],
                {"mean": bm.tensor([1.0, 2.0]), "std": bm.tensor(np.array([[0.5, 2.0]]))})])
    nodes = [bm.Node("first", "vector_assembler", [("input0", "a"), ("input1", "b")], [("output", "v")],
                     {"input_shapes": bm.data_shapes([None, 3])}),
             inner,
             bm.Node("tree", "decision_tree_regression", [("features", "v2")], [("prediction", "p")],
                     {"num_features": bm.long(2), "ints": bm.tensor(np.array([[1, -2], [3, 4]]), "int"),
                      "longs": bm.tensor(np.array([2**40, -1]), "long"), "floats": bm.tensor([0.5, -1.25], "float"),
                      "names": bm.tensor(np.array(["x", "yé"], dtype=object), "string"),
                      "flags": bm.tensor(np.array([True, False]), "boolean"), "count": bm.int_(-7),
                      "ok": bm.boolean(True), "weights": bm.longs([5, -6])}, tree=records)]
    for ser in ("json", "protobuf"):
        bundle = read_bundle(bm.write_bundle(tmp_path / f"nested_{ser}.zip", nodes, serialization=ser))
        assert [n.name for n in bundle.nodes] == ["first", "scale", "tree"]
        assert bundle.nodes[1].folder == "root/inner.node/scale.node"
        assert bundle.nodes[0].attributes["input_shapes"][1]["tensor_shape"] == [3]
        assert bundle.nodes[1].attributes["std"].shape == (1, 2)
        attrs = bundle.nodes[2].attributes
        assert attrs["ints"].dtype == np.int32 and attrs["ints"].tolist() == [[1, -2], [3, 4]]
        assert attrs["longs"].dtype == np.int64 and attrs["longs"].tolist() == [2**40, -1]
        assert attrs["floats"].dtype == np.float32 and attrs["floats"].tolist() == [0.5, -1.25]
        assert attrs["names"].tolist() == ["x", "yé"] and attrs["flags"].tolist() == [True, False]
        assert attrs["count"] == -7 and attrs["ok"] is True and attrs["weights"] == [5, -6]
        tree = attrs["tree"]
        assert tree["split"] == ["categorical", "leaf", "leaf"]
        assert tree["categories"][0] == [0.0, 2.0] and bool(tree["is_left"][0]) is True
        assert tree["left"].tolist() == [1, -1, -1] and tree["right"].tolist() == [2, -1, -1]
        assert np.isnan(tree["threshold"][0]) and tree["feature"].tolist() == [1, -1, -1]


def test_tensor_bytes_are_big_endian_and_strings_length_prefixed():
    assert tensor_from_bytes("double", np.array([1.5, -2.0], ">f8").tobytes()).tolist() == [1.5, -2.0]
    assert tensor_from_bytes("int", b"\x00\x00\x01\x00").tolist() == [256]
    assert tensor_from_bytes("string", b"\x00\x00\x00\x02ab\x00\x00\x00\x00").tolist() == ["ab", ""]
    with pytest.raises(ValueError, match="declares 9 bytes"):
        tensor_from_bytes("string", b"\x00\x00\x00\x09ab")
    with pytest.raises(ValueError, match="whole number"):
        tensor_from_bytes("double", b"\x00" * 7)


# ---- bad bundles ----------------------------------------------------------------------------------------

def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "bundle"
    with zipfile.ZipFile(SAMPLE) as zf:
        zf.extractall(folder)
    return folder


def _zip_of(folder: Path, target: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return target


def _damaged(path, match: str):
    with pytest.raises(CorruptModel) as info:
        read_bundle(path)
    message = str(info.value)
    assert "damaged MLeap bundle: " in message and "\n" not in message
    assert match in message, message
    return message


def test_missing_bundle_json(tmp_path: Path):
    folder = _folder(tmp_path)
    (folder / "bundle.json").unlink()
    _damaged(folder, "bundle.json is missing")
    _damaged(_zip_of(folder, tmp_path / "b.zip"), "bundle.json is missing")


def test_node_naming_a_missing_folder(tmp_path: Path):
    folder = _folder(tmp_path)
    shutil.rmtree(folder / "root" / "standard_scaler.node")
    _damaged(folder, "node 'standard_scaler' is listed in root/model.json but root/standard_scaler.node/ is missing")


def test_unknown_serialization_and_mismatched_files(tmp_path: Path):
    folder = _folder(tmp_path)
    header = json.loads((folder / "bundle.json").read_text())
    (folder / "bundle.json").write_text(json.dumps({**header, "format": "avro"}))
    _damaged(folder, "unknown serialization 'avro'")
    (folder / "bundle.json").write_text(json.dumps({**header, "format": "protobuf"}))
    _damaged(folder, "root/model.pb is missing (it holds model.json: bundle.json says 'protobuf')")


def test_bad_json_and_bad_values(tmp_path: Path):
    folder = _folder(tmp_path)
    model = folder / "root" / "standard_scaler.node" / "model.json"
    good = json.loads(model.read_text())
    model.write_text("{not json")
    _damaged(folder, "root/standard_scaler.node/model.json is not valid JSON")
    bad = json.loads(json.dumps(good))
    bad["attributes"]["mean"]["shape"]["dimensions"][0]["size"] = 5
    model.write_text(json.dumps(bad))
    _damaged(folder, "tensor dimensions [5] do not fit 4 values")
    bad["attributes"]["mean"] = {"type": "tensor", "double": ["x"]}
    model.write_text(json.dumps(bad))
    _damaged(folder, "is not a number")
    model.write_text("[" * 100_000)
    _damaged(folder, "nested too deeply")


def test_damaged_protobuf(tmp_path: Path, spark):
    source = spark["protobuf"]["linear_regression"].path
    with zipfile.ZipFile(source) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    name = "root/linreg.node/model.pb"
    for data, match in [(files[name][:-3], "damaged MLeap bundle: root/linreg.node/model.pb"),
                        (b"\x0a\xff\xff\xff\xff\x0f", "declares")]:
        target = tmp_path / "bad.zip"
        with zipfile.ZipFile(target, "w") as zf:
            for n, d in files.items():
                zf.writestr(n, data if n == name else d)
        _damaged(target, match)


def test_zip_bomb_is_refused_before_reading(tmp_path: Path):
    folder = _folder(tmp_path)
    bomb = _zip_of(folder, tmp_path / "bomb.zip")
    with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("root/padding.bin", b"\0" * (8 << 20))
    with pytest.raises(LimitExceeded, match="compression ratio"):
        read_bundle(bomb)


def test_metadata_files_are_read_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = _folder(tmp_path)
    monkeypatch.setenv("WORKBENCH_LIMIT_METADATA_FILE_BYTES", "64")
    with pytest.raises(LimitExceeded, match="metadata_file_bytes"):
        read_bundle(folder)


def test_paths_that_escape_the_bundle(tmp_path: Path):
    folder = _folder(tmp_path)
    for member in ("../evil.json", "/etc/evil.json"):
        target = _zip_of(folder, tmp_path / "escape.zip", {member: b"{}"})
        _damaged(target, "escapes the bundle")
    # a pipeline naming a node outside its folder
    root = folder / "root" / "model.json"
    model = json.loads(root.read_text())
    model["attributes"]["nodes"]["string"][1] = "../../outside"
    root.write_text(json.dumps(model))
    _damaged(folder, "names a node '../../outside' outside its folder")


def test_symlinks_out_of_a_folder_bundle(tmp_path: Path):
    folder = _folder(tmp_path)
    outside = tmp_path / "outside.json"
    outside.write_text((folder / "root" / "standard_scaler.node" / "model.json").read_text())
    target = folder / "root" / "standard_scaler.node" / "model.json"
    target.unlink()
    target.symlink_to(outside)
    _damaged(folder, "root/standard_scaler.node/model.json is a symbolic link out of the bundle")
    target.unlink()
    shutil.copyfile(outside, target)
    shutil.rmtree(folder / "root" / "logistic_regression.node")
    (folder / "root" / "logistic_regression.node").symlink_to(tmp_path, target_is_directory=True)
    _damaged(folder, "symbolic link out of the bundle")


def test_missing_path_is_a_model_file_error(tmp_path: Path):
    from workbench.core.errors import ModelFileError

    with pytest.raises(ModelFileError, match="no such file"):
        read_bundle(f"jar:file:{tmp_path}/nothing.zip")


def test_truncated_tree(tmp_path: Path):
    records = [{"kind": "continuous", "feature": 0, "threshold": 1.0}, {"kind": "leaf", "values": [1.0]}]
    node = bm.Node("t", "decision_tree_regression", [("features", "f")], [("prediction", "p")],
                   {"num_features": bm.long(1)}, tree=records)
    for ser in ("json", "protobuf"):
        path = bm.write_bundle(tmp_path / f"t_{ser}.zip", [node], serialization=ser)
        _damaged(path, "the tree ends with 1 children missing")
