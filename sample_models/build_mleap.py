"""MLeap test bundles (issue 16): made with the `mleap` package's scikit-learn serializers where it covers
the ops, and otherwise written here from the Bundle.ML layout (bundle.json, root/, model + node files per
node, JSON per MLeap's JsonSupport or protobuf per MLeap's bundle.proto), with expected outputs worked out
independently (scikit-learn models fitted on the same data, or by hand).

Importable by tests (`importlib` by path, like build.py) and used by build.py for the committed sample.

    write_bundle(out, nodes, serialization="json" | "protobuf", zipped=True) -> Path
    iris_pipeline(out_dir) -> (zip path, rows, expected)          # via mleap.sklearn
    spark_bundles(out_dir, serialization) -> {name: Case}          # written from the layout
    xgboost_bundles(out_dir, serialization) -> {name: Case}        # xgboost.classifier/regression + booster file
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MLEAP_VERSION = "0.25.3"
IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
FIXED_TIMESTAMP = "2024-01-01T00:00:00.000"

# ---- typed values ----------------------------------------------------------------------------------------
# ("s", base, value) a scalar, ("l", base, [values]) a list, ("t", base, ndarray) a tensor; ("m", model dict)


def double(x: float) -> tuple:
    return ("s", "double", float(x))


def long(x: int) -> tuple:
    return ("s", "long", int(x))


def int_(x: int) -> tuple:
    return ("s", "int", int(x))


def string(x: str) -> tuple:
    return ("s", "string", x)


def boolean(x: bool) -> tuple:
    return ("s", "boolean", bool(x))


def doubles(xs: Any) -> tuple:
    return ("l", "double", [float(x) for x in xs])


def longs(xs: Any) -> tuple:
    return ("l", "long", [int(x) for x in xs])


def ints(xs: Any) -> tuple:
    return ("l", "int", [int(x) for x in xs])


def strings(xs: Any) -> tuple:
    return ("l", "string", [str(x) for x in xs])


def tensor(array: Any, base: str = "double") -> tuple:
    return ("t", base, np.asarray(array))


def spark_matrix(matrix: Any) -> tuple:
    """A matrix tensor as Spark's MLeap ops write it: `DenseTensor(m.toArray, Seq(numRows, numCols))`,
    Spark's toArray being column-major (and MLeap reads it back with the column-major Matrices.dense)."""
    m = np.asarray(matrix, dtype=np.float64)
    return tensor(m.reshape(-1, order="F").reshape(m.shape))


def data_shapes(shapes: list[int | None]) -> tuple:
    """A vector assembler's input_shapes: None for a scalar input, n for a vector of n."""
    return ("l", "data_shape", [{"base": "scalar"} if s is None else {"base": "tensor", "dims": [s]} for s in shapes])


@dataclass
class Node:
    """One stage: op, node name, ports [(port, field)], attributes (typed values), and for tree models the
    depth-first tree records or the trees of an ensemble (name -> (op, attributes, records))."""

    name: str
    op: str
    inputs: list[tuple[str, str]]
    outputs: list[tuple[str, str]]
    attributes: dict[str, tuple] = field(default_factory=dict)
    tree: list[dict] | None = None
    trees: dict[str, tuple[str, dict[str, tuple], list[dict]]] | None = None
    #: stages of a nested pipeline (op "pipeline")
    stages: list[Node] | None = None
    #: other files of the node's folder, e.g. an xgboost op's booster {"xgboost.model": bytes}
    files: dict[str, bytes] | None = None


# ---- JSON (MLeap JsonSupport) ----------------------------------------------------------------------------

def _json_shape(dims: list[int]) -> dict:
    return {"dimensions": [{"size": int(d), "name": ""} for d in dims]}


def _json_value(value: tuple) -> dict:
    kind, base = value[0], value[1]
    if kind == "s":
        return {base: value[2]}
    if kind == "l":
        if base == "data_shape":
            return {"type": "list", "data_shape": [
                {"base": s["base"], "isNullable": False} if s["base"] == "scalar" else
                {"base": "tensor", "isNullable": False, "tensorShape": _json_shape(s["dims"])} for s in value[2]]}
        return {"type": "list", base: list(value[2])}
    array = value[2]
    return {"type": "tensor", base: array.reshape(-1).tolist(), "shape": _json_shape(list(array.shape))}


def _json_model(op: str, attributes: dict[str, tuple]) -> bytes:
    return json.dumps({"op": op, "attributes": {k: _json_value(v) for k, v in attributes.items()}}, indent=2).encode()


def _json_node(node: Node) -> bytes:
    return json.dumps({"name": node.name, "shape": {
        "inputs": [{"name": f, "port": p} for p, f in node.inputs],
        "outputs": [{"name": f, "port": p} for p, f in node.outputs]}}, indent=2).encode()


def _json_tree(records: list[dict]) -> bytes:
    lines = []
    for r in records:
        if r["kind"] == "leaf":
            lines.append({"type": "leaf", "values": [float(v) for v in r["values"]]})
        elif r["kind"] == "continuous":
            lines.append({"type": "internal", "split": {"type": "continuous", "featureIndex": int(r["feature"]),
                                                        "threshold": float(r["threshold"])}})
        else:
            lines.append({"type": "internal", "split": {
                "type": "categorical", "featureIndex": int(r["feature"]), "isLeft": bool(r["is_left"]),
                "numCategories": int(r["num_categories"]), "categories": [float(c) for c in r["categories"]]}})
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


# ---- protobuf (MLeap bundle.proto, written by hand) ------------------------------------------------------

def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _ld(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


def _vi(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint(value)


def _f64(number: int, value: float) -> bytes:
    return _key(number, 1) + struct.pack("<d", value)


_BASIC = {"boolean": 1, "byte": 2, "short": 3, "int": 4, "long": 5, "float": 6, "double": 7, "string": 100,
          "byte_string": 101}
_BE = {"boolean": ">u1", "byte": ">i1", "short": ">i2", "int": ">i4", "long": ">i8", "float": ">f4", "double": ">f8"}
#: Scalar / List field numbers by base
_FIELD = {"boolean": 1, "string": 2, "int": 3, "long": 4, "float": 5, "double": 6, "byte_string": 7, "tensor": 8,
          "basic_type": 9, "data_shape": 10, "model": 11}


def _pb_shape(dims: list[int]) -> bytes:
    return b"".join(_ld(1, _vi(1, int(d)) + _ld(2, b"")) for d in dims)


def _pb_tensor(base: str, array: np.ndarray) -> bytes:
    if base == "string":
        raw = b"".join(len(s.encode()).to_bytes(4, "big") + s.encode() for s in array.reshape(-1).tolist())
    else:
        raw = np.ascontiguousarray(array.reshape(-1).astype(_BE[base])).tobytes()
    return _vi(1, _BASIC[base]) + _ld(2, _pb_shape(list(array.shape))) + _ld(3, raw)


def _pb_value(value: tuple) -> bytes:
    kind, base = value[0], value[1]
    if kind == "t":
        return _ld(3, _pb_tensor(base, value[2]))
    number = _FIELD[base]
    if kind == "s":
        x = value[2]
        if base == "string":
            body = _ld(number, x.encode())
        elif base == "double":
            body = _f64(number, x)
        else:
            body = _vi(number, int(x))
        return _ld(1, body)
    items = value[2]
    if base == "string":
        body = b"".join(_ld(number, s.encode()) for s in items)
    elif base == "double":
        body = _ld(number, struct.pack(f"<{len(items)}d", *items))
    elif base == "data_shape":
        body = b"".join(_ld(number, _vi(1, 0) if s["base"] == "scalar" else _vi(1, 2) + _ld(3, _pb_shape(s["dims"])))
                        for s in items)
    else:  # packed varints
        body = _ld(number, b"".join(_varint(int(x)) for x in items))
    return _ld(2, body)


def _pb_model(op: str, attributes: dict[str, tuple]) -> bytes:
    entries = b"".join(_ld(1, _ld(1, k.encode()) + _ld(2, _pb_value(v))) for k, v in attributes.items())
    return _ld(1, op.encode()) + _ld(2, entries)


def _pb_node(node: Node) -> bytes:
    def socket(p: str, f: str) -> bytes:
        return _ld(1, p.encode()) + _ld(2, f.encode())

    shape = b"".join(_ld(1, socket(p, f)) for p, f in node.inputs) + b"".join(_ld(2, socket(p, f)) for p, f in node.outputs)
    return _ld(1, node.name.encode()) + _ld(2, shape)


def _pb_tree(records: list[dict]) -> bytes:
    out = bytearray()
    for r in records:
        if r["kind"] == "leaf":
            msg = _ld(2, _ld(1, struct.pack(f"<{len(r['values'])}d", *[float(v) for v in r["values"]])))
        elif r["kind"] == "continuous":
            split = _ld(2, _vi(1, int(r["feature"])) + _f64(2, float(r["threshold"])))
            msg = _ld(1, _ld(1, split))
        else:
            cats = [float(c) for c in r["categories"]]
            split = _ld(1, _vi(1, int(r["feature"])) + _vi(2, int(bool(r["is_left"]))) + _vi(3, int(r["num_categories"]))
                        + _ld(4, struct.pack(f"<{len(cats)}d", *cats)))
            msg = _ld(1, _ld(1, split))
        out += len(msg).to_bytes(4, "big") + msg
    return bytes(out)


# ---- the bundle ------------------------------------------------------------------------------------------

def write_bundle(out: Path, nodes: list[Node], *, name: str = "pipeline", serialization: str = "json",
                 zipped: bool = True, uid: str = "00000000-0000-4000-8000-000000000016") -> Path:
    """A Bundle.ML whose root is a pipeline of `nodes` (a zip at `out`, or a folder when not zipped)."""
    ext = "json" if serialization == "json" else "pb"
    files: dict[str, bytes] = {}

    def model_bytes(op: str, attrs: dict[str, tuple]) -> bytes:
        return _json_model(op, attrs) if ext == "json" else _pb_model(op, attrs)

    def put(folder: str, node: Node) -> None:
        attrs = dict(node.attributes)
        if node.op == "pipeline":
            attrs["nodes"] = strings([s.name for s in node.stages or []])
        if node.trees is not None:
            attrs["trees"] = strings(list(node.trees))
        files[f"{folder}/model.{ext}"] = model_bytes(node.op, attrs)
        files[f"{folder}/node.{ext}"] = _json_node(node) if ext == "json" else _pb_node(node)
        if node.tree is not None:
            files[f"{folder}/tree.{ext}"] = _json_tree(node.tree) if ext == "json" else _pb_tree(node.tree)
        for tree_name, (op, tree_attrs, records) in (node.trees or {}).items():
            files[f"{folder}/{tree_name}/model.{ext}"] = model_bytes(op, tree_attrs)
            files[f"{folder}/{tree_name}/tree.{ext}"] = _json_tree(records) if ext == "json" else _pb_tree(records)
        for file_name, data in (node.files or {}).items():
            files[f"{folder}/{file_name}"] = data
        for stage in node.stages or []:
            put(f"{folder}/{stage.name}.node", stage)

    put("root", Node(name=name, op="pipeline", inputs=[], outputs=[], stages=nodes))
    files["bundle.json"] = json.dumps({"uid": uid, "name": name, "format": serialization,
                                       "version": MLEAP_VERSION, "timestamp": FIXED_TIMESTAMP}, indent=2).encode()
    out = Path(out)
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    if zipped:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for rel in sorted(files):
                info = zipfile.ZipInfo(rel, date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, files[rel])
    else:
        for rel, data in files.items():
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(data)
    return out


# ---- trees from scikit-learn -----------------------------------------------------------------------------

def sklearn_tree_records(tree: Any, *, scale: float = 1.0, classifier: bool = False) -> list[dict]:
    """A fitted scikit-learn tree as MLeap's depth-first records (left = feature <= threshold, as in
    Spark). Classifier leaves hold class weights (Spark holds counts; both normalise to the same
    probabilities); regressor leaves the prediction times `scale`."""
    t = tree.tree_
    records: list[dict] = []
    stack = [0]
    while stack:
        i = stack.pop()
        if t.children_left[i] == -1:
            values = t.value[i][0] if classifier else [t.value[i][0][0] * scale]
            records.append({"kind": "leaf", "values": [float(v) for v in values]})
        else:
            records.append({"kind": "continuous", "feature": int(t.feature[i]), "threshold": float(t.threshold[i])})
            stack.append(int(t.children_right[i]))
            stack.append(int(t.children_left[i]))
    return records


# ---- cases -----------------------------------------------------------------------------------------------

@dataclass
class Case:
    """A bundle, rows to score and what each output field must hold (worked out without MLeap)."""

    path: Path
    rows: pd.DataFrame
    expected: dict[str, np.ndarray]
    task: str
    classes: list[Any] | None = None
    ops: list[str] = field(default_factory=list)


def iris_data() -> tuple[pd.DataFrame, np.ndarray]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = IRIS_COLUMNS
    return X, np.asarray(y)


def iris_pipeline(out_dir: Path, name: str = "mleap_iris_pipeline") -> Case:
    """vector_assembler -> standard_scaler -> logistic_regression (multinomial, 3 classes), serialized by
    the mleap package (mleap.sklearn). Its logistic regression node declares only `prediction`; the
    probability and raw-prediction ports MLeap's runtime fills are added to node.json."""
    import mleap.sklearn.logistic  # noqa: F401 - adds serialize_to_bundle to LogisticRegression
    import mleap.sklearn.pipeline  # noqa: F401
    import mleap.sklearn.preprocessing.data  # noqa: F401
    from mleap.sklearn.preprocessing.data import FeatureExtractor
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = iris_data()
    assembler = FeatureExtractor(input_scalars=IRIS_COLUMNS, output_vector="features",
                                 output_vector_items=IRIS_COLUMNS)
    assembler.name = "vector_assembler"
    scaler = StandardScaler()
    scaler.mlinit(prior_tf=assembler, output_features="scaled_features")
    scaler.name = "standard_scaler"
    logreg = LogisticRegression(max_iter=1000)
    logreg.mlinit(input_features="scaled_features", prediction_column="prediction")
    logreg.name = "logistic_regression"
    pipeline = Pipeline([("assemble", assembler), ("scale", scaler), ("logreg", logreg)])
    pipeline.mlinit()
    pipeline.name = name
    pipeline.fit(X, y)
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory() as tmp:
        pipeline.serialize_to_bundle(tmp, name, init=True)
        folder = Path(tmp) / name
        node_json = folder / "root" / "logistic_regression.node" / "node.json"
        node = json.loads(node_json.read_text())
        node["shape"]["outputs"] += [{"name": "raw_prediction", "port": "raw_prediction"},
                                     {"name": "probability", "port": "probability"}]
        node_json.write_text(json.dumps(node, indent=3))
        # mleap.sklearn writes coef_.flatten() (row-major) but MLeap's runtime reads coefficient_matrix
        # column-major (Matrices.dense of Spark's toArray): re-lay it as Spark and MLeap do, so MLeap and the
        # workbench both score the sample as the scikit-learn pipeline (see workbench/core/mleap/ops/linear.py)
        model_json = folder / "root" / "logistic_regression.node" / "model.json"
        model = json.loads(model_json.read_text())
        cm = model["attributes"]["coefficient_matrix"]
        dims = [int(d["size"]) for d in cm["shape"]["dimensions"]]
        cm["double"] = np.asarray(cm["double"], dtype=np.float64).reshape(dims).reshape(-1, order="F").tolist()
        model_json.write_text(json.dumps(model, indent=3))
        header = json.loads((folder / "bundle.json").read_text())
        header.update({"uid": "00000000-0000-4000-8000-000000000001", "timestamp": FIXED_TIMESTAMP})
        (folder / "bundle.json").write_text(json.dumps(header, indent=3))
        target = out_dir / f"{name}.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    rows = X.iloc[::5].head(30).reset_index(drop=True)
    expected = {"prediction": pipeline.predict(rows).astype(float), "probability": pipeline.predict_proba(rows),
                "raw_prediction": pipeline.decision_function(rows)}
    return Case(target, rows, expected, "classification", [0, 1, 2],
                ["vector_assembler", "standard_scaler", "logistic_regression"])


def _spark_frame() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A small mixed frame: two numeric columns (one with NaN), a string column; a class label and a
    regression target."""
    rng = np.random.default_rng(16)
    n = 120
    color = rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2])
    x1 = rng.normal(0, 1, n).round(3)
    x2 = rng.uniform(0, 10, n).round(3)
    signal = 1.5 * x1 + 0.3 * x2 + (color == "red") * 1.0
    y_class = (signal > np.median(signal)).astype(int)
    y_reg = signal + rng.normal(0, 0.1, n)
    frame = pd.DataFrame({"color": color, "x1": x1, "x2": x2})
    return frame, y_class, y_reg


def spark_bundles(out_dir: Path, serialization: str = "json", *, zipped: bool = True) -> dict[str, Case]:
    """Spark-style bundles written from the layout, every op's attributes as MLeap's Spark ops store them,
    each with its expected outputs computed by hand or by scikit-learn on the same data."""
    from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier,
                                  RandomForestRegressor)
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    out_dir = Path(out_dir)
    ext = "zip" if zipped else "bundle"
    frame, y_class, y_reg = _spark_frame()
    labels = ["red", "green", "blue"]  # Spark orders by frequency, most frequent first
    index = frame["color"].map({c: i for i, c in enumerate(labels)}).to_numpy(float)
    onehot = np.eye(3)[index.astype(int)][:, :2]  # dropLast: blue is all zeros
    x1 = frame["x1"].to_numpy()
    x2 = frame["x2"].to_numpy()
    features = np.column_stack([onehot, x1, x2])
    rows = frame.head(20).copy()
    rows.loc[3, "color"] = "purple"  # unseen: handle_invalid keep -> index 3
    r_index = rows["color"].map({c: i for i, c in enumerate(labels)}).fillna(3).to_numpy(float)
    r_onehot = np.zeros((len(rows), 3))  # keep + dropLast: 3 categories + 1 invalid slot - 1 dropped
    for k, i in enumerate(r_index.astype(int)):
        if i < 3:
            r_onehot[k, i] = 1.0
    r_features = np.column_stack([r_onehot[:, :2], rows["x1"], rows["x2"]])
    prep = [
        Node("color_indexer", "string_indexer", [("input0", "color")], [("output0", "color_index")],
             {"labels_length": int_(1), "labels_array_0": strings(labels), "handle_invalid": string("keep"),
              "input_names": strings(["color"]), "output_names": strings(["color_index"])}),
        Node("color_onehot", "one_hot_encoder", [("input0", "color_index")], [("output0", "color_vec")],
             {"category_sizes": ints([3]), "drop_last": boolean(True), "handle_invalid": string("error")}),
        Node("assembler", "vector_assembler", [("input0", "color_vec"), ("input1", "x1"), ("input2", "x2")],
             [("output", "features")], {"input_shapes": data_shapes([2, None, None])}),
    ]
    cases: dict[str, Case] = {}

    def case(name: str, nodes: list[Node], expected: dict[str, np.ndarray], task: str, classes: Any = None,
             case_rows: pd.DataFrame | None = None) -> None:
        path = write_bundle(out_dir / f"{name}_{serialization}.{ext}", nodes, name=name, serialization=serialization,
                            zipped=zipped)
        cases[name] = Case(path, rows if case_rows is None else case_rows, expected, task, classes,
                           [n.op for n in nodes])

    # the unseen "purple" row only goes through string_indexer (keep); one_hot (error) would refuse it
    fit_rows = rows.drop(index=3).reset_index(drop=True)
    f_features = np.delete(r_features, 3, axis=0)

    linreg = LinearRegression().fit(features, y_reg)
    case("linear_regression", prep + [Node("linreg", "linear_regression", [("features", "features")],
                                            [("prediction", "prediction")],
                                            {"coefficients": tensor(linreg.coef_), "intercept": double(linreg.intercept_)})],
         {"prediction": linreg.predict(f_features)}, "regression", case_rows=fit_rows)

    binary = LogisticRegression(max_iter=2000).fit(features, y_class)
    case("logistic_regression_binomial", prep + [Node(
        "logreg", "logistic_regression", [("features", "features")],
        [("prediction", "prediction"), ("raw_prediction", "raw_prediction"), ("probability", "probability")],
        {"coefficients": tensor(binary.coef_[0]), "intercept": double(binary.intercept_[0]),
         "num_classes": long(2), "threshold": double(0.5)})],
        {"prediction": binary.predict(f_features).astype(float), "probability": binary.predict_proba(f_features)},
        "classification", [0, 1], case_rows=fit_rows)

    y3 = np.digitize(y_reg, np.quantile(y_reg, [1 / 3, 2 / 3]))
    multi = LogisticRegression(max_iter=2000).fit(features, y3)
    case("logistic_regression_multinomial", prep + [Node(
        "logreg", "logistic_regression", [("features", "features")],
        [("prediction", "prediction"), ("raw_prediction", "raw_prediction"), ("probability", "probability")],
        {"coefficient_matrix": spark_matrix(multi.coef_), "intercept_vector": tensor(multi.intercept_),
         "num_classes": long(3)})],
        {"prediction": multi.predict(f_features).astype(float), "probability": multi.predict_proba(f_features)},
        "classification", [0, 1, 2], case_rows=fit_rows)

    dtc = DecisionTreeClassifier(max_depth=4, random_state=0).fit(features, y_class)
    case("decision_tree_classifier", prep + [Node(
        "dtree", "decision_tree_classifier", [("features", "features")],
        [("prediction", "prediction"), ("raw_prediction", "raw_prediction"), ("probability", "probability")],
        {"num_features": long(4), "num_classes": long(2)}, tree=sklearn_tree_records(dtc, classifier=True))],
        {"prediction": dtc.predict(f_features).astype(float), "probability": dtc.predict_proba(f_features)},
        "classification", [0, 1], case_rows=fit_rows)

    dtr = DecisionTreeRegressor(max_depth=4, random_state=0).fit(features, y_reg)
    case("decision_tree_regression", prep + [Node(
        "dtree", "decision_tree_regression", [("features", "features")], [("prediction", "prediction")],
        {"num_features": long(4)}, tree=sklearn_tree_records(dtr))],
        {"prediction": dtr.predict(f_features)}, "regression", case_rows=fit_rows)

    rf = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(features, y_class)
    trees = {f"tree{i}": ("decision_tree_classifier", {"num_features": long(4), "num_classes": long(2)},
                          sklearn_tree_records(est, classifier=True)) for i, est in enumerate(rf.estimators_)}
    case("random_forest_classifier", prep + [Node(
        "forest", "random_forest_classifier", [("features", "features")],
        [("prediction", "prediction"), ("raw_prediction", "raw_prediction"), ("probability", "probability")],
        {"num_features": long(4), "num_classes": long(2), "tree_weights": doubles([1.0] * 5)}, trees=trees)],
        {"prediction": rf.predict(f_features).astype(float), "probability": rf.predict_proba(f_features)},
        "classification", [0, 1], case_rows=fit_rows)

    # Spark GBT regression: prediction = sum(weight_i * tree_i); scikit-learn's init constant is tree0, a leaf
    gbr = GradientBoostingRegressor(n_estimators=6, max_depth=2, learning_rate=0.3, random_state=0).fit(features, y_reg)
    init = float(gbr.init_.constant_.reshape(-1)[0])
    gtrees = {"tree0": ("decision_tree_regression", {"num_features": long(4)}, [{"kind": "leaf", "values": [init]}])}
    for i, est in enumerate(gbr.estimators_[:, 0], start=1):
        gtrees[f"tree{i}"] = ("decision_tree_regression", {"num_features": long(4)}, sklearn_tree_records(est))
    case("gbt_regression", prep + [Node(
        "gbt", "gbt_regression", [("features", "features")], [("prediction", "prediction")],
        {"num_features": long(4), "tree_weights": doubles([1.0] + [0.3] * 6)}, trees=gtrees)],
        {"prediction": gbr.predict(f_features)}, "regression", case_rows=fit_rows)

    # Spark GBT classification (logistic loss): margin m = sum(weight_i * tree_i), P(1) = 1 / (1 + exp(-2m)).
    # scikit-learn's raw score F = init + lr * sum(tree_i) with P(1) = sigmoid(F), so m = F / 2: tree0 is the
    # leaf F_init / 2, the other trees are scikit-learn's leaves halved with weight lr.
    gbc = GradientBoostingClassifier(n_estimators=6, max_depth=2, learning_rate=0.3, random_state=0).fit(
        features, y_class)
    init_raw = float(gbc.decision_function(features[:1])[0]
                     - 0.3 * sum(est.predict(features[:1])[0] for est in gbc.estimators_[:, 0]))
    ctrees = {"tree0": ("decision_tree_regression", {"num_features": long(4)},
                        [{"kind": "leaf", "values": [init_raw / 2.0]}])}
    for i, est in enumerate(gbc.estimators_[:, 0], start=1):
        ctrees[f"tree{i}"] = ("decision_tree_regression", {"num_features": long(4)},
                              sklearn_tree_records(est, scale=0.5))
    margin = gbc.decision_function(f_features) / 2.0
    case("gbt_classifier", prep + [Node(
        "gbt", "gbt_classifier", [("features", "features")],
        [("prediction", "prediction"), ("raw_prediction", "raw_prediction"), ("probability", "probability")],
        {"num_features": long(4), "num_classes": long(2), "tree_weights": doubles([1.0] + [0.3] * 6)},
        trees=ctrees)],
        {"prediction": gbc.predict(f_features).astype(float), "probability": gbc.predict_proba(f_features),
         "raw_prediction": np.column_stack([-margin, margin])}, "classification", [0, 1], case_rows=fit_rows)

    # Spark random forest regression: prediction = mean of the trees (tree_weights all 1)
    rfr = RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0).fit(features, y_reg)
    rtrees = {f"tree{i}": ("decision_tree_regression", {"num_features": long(4)}, sklearn_tree_records(est))
              for i, est in enumerate(rfr.estimators_)}
    case("random_forest_regression", prep + [Node(
        "forest", "random_forest_regression", [("features", "features")], [("prediction", "prediction")],
        {"num_features": long(4), "tree_weights": doubles([1.0] * 5)}, trees=rtrees)],
        {"prediction": rfr.predict(f_features)}, "regression", case_rows=fit_rows)

    # bucketizer + polynomial_expansion feeding a model: bucket(x1) and the degree-2 expansion of (x1, x2)
    # (Spark's term order) assembled with the one-hot color, then a linear regression; features by numpy
    def bucket_poly(x1v: np.ndarray, x2v: np.ndarray, hot: np.ndarray) -> np.ndarray:
        b = np.digitize(x1v, [-0.5, 0.5]).astype(float)  # splits [-inf, -0.5, 0.5, inf]
        return np.column_stack([hot, b, x1v, x1v ** 2, x2v, x1v * x2v, x2v ** 2])

    bp_train = bucket_poly(x1, x2, onehot[:, :2])
    bp_rows = np.delete(bucket_poly(rows["x1"].to_numpy(), rows["x2"].to_numpy(), r_onehot[:, :2]), 3, axis=0)
    bp_lin = LinearRegression().fit(bp_train, y_reg)
    case("bucketizer_polynomial_linear_regression", prep[:2] + [
        Node("x1_bucketizer", "bucketizer", [("input", "x1")], [("output", "x1_bucket")],
             {"splits": doubles([-np.inf, -0.5, 0.5, np.inf]), "handle_invalid": string("error")}),
        Node("pair", "vector_assembler", [("input0", "x1"), ("input1", "x2")], [("output", "pair")],
             {"input_shapes": data_shapes([None, None])}),
        Node("poly", "polynomial_expansion", [("input", "pair")], [("output", "pair_poly")], {"degree": long(2)}),
        Node("assembler", "vector_assembler", [("input0", "color_vec"), ("input1", "x1_bucket"),
                                               ("input2", "pair_poly")], [("output", "features")],
             {"input_shapes": data_shapes([2, None, 5])}),
        Node("linreg", "linear_regression", [("features", "features")], [("prediction", "prediction")],
             {"coefficients": tensor(bp_lin.coef_), "intercept": double(bp_lin.intercept_)})],
        {"prediction": bp_rows @ bp_lin.coef_ + bp_lin.intercept_}, "regression", case_rows=fit_rows)

    # feature ops, worked out by hand on the rows (all rows, the unseen color included)
    x1r, x2r = rows["x1"].to_numpy(), rows["x2"].to_numpy()
    x1_missing = x1r.copy()
    x1_missing[[1, 5]] = np.nan
    feature_rows = rows.assign(x1=x1_missing)
    surrogate = float(np.nanmean(x1))
    splits = [-np.inf, -0.5, 0.5, np.inf]
    bucket = np.digitize(x1r, [-0.5, 0.5]).astype(float)  # Spark: [s_i, s_i+1), last bucket closed
    imputed = np.where(np.isnan(x1_missing), surrogate, x1_missing)
    poly = np.column_stack([imputed, imputed ** 2, x2r, imputed * x2r, x2r ** 2])  # Spark's order, degree 2
    case("feature_ops", [
        Node("color_indexer", "string_indexer", [("input", "color")], [("output", "color_index")],
             {"labels": strings(labels), "handle_invalid": string("keep")}),
        Node("x1_imputer", "imputer", [("input", "x1")], [("output", "x1_imputed")],
             {"surrogate_value": double(surrogate), "missing_value": double(np.nan), "strategy": string("mean")}),
        Node("x1_bucketizer", "bucketizer", [("input", "x1_imputed")], [("output", "x1_bucket")],
             {"splits": doubles(splits), "handle_invalid": string("error")}),
        Node("x2_binarizer", "binarizer", [("input", "x2")], [("output", "x2_high")],
             {"threshold": double(5.0), "input_shapes": data_shapes([None])}),
        Node("assembler", "vector_assembler", [("input0", "x1_imputed"), ("input1", "x2")], [("output", "pair")],
             {"input_shapes": data_shapes([None, None])}),
        Node("poly", "polynomial_expansion", [("input", "pair")], [("output", "pair_poly")],
             {"degree": long(2)}),
        Node("interaction", "interaction", [("input0", "x1_imputed"), ("input1", "x2")], [("output", "x1_x2")],
             {"num_inputs": int_(2), "input_shapes": data_shapes([None, None])}),
    ], {"color_index": r_index, "x1_imputed": imputed, "x1_bucket": bucket,
        "x2_high": (x2r > 5.0).astype(float), "pair_poly": poly, "x1_x2": (imputed * x2r).reshape(-1, 1)},
        "other", case_rows=feature_rows)
    return cases


def xgboost_bundles(out_dir: Path, serialization: str = "json", *, zipped: bool = True) -> dict[str, Case]:
    """Spark-style bundles whose model is an XGBoost booster, laid out as mleap-xgboost-runtime's
    XGBoostClassificationOp / XGBoostRegressionOp store it: op `xgboost.classifier` (attributes num_features,
    num_classes, tree_limit) or `xgboost.regression` (num_features, tree_limit), the booster written by
    saveModel to the file `xgboost.model` in the node's folder. Trained with the installed xgboost on the
    same frame as spark_bundles (string_indexer + one_hot + vector_assembler in front); the expected
    outputs are xgboost's own predictions on the assembled features (float32, as XGBoost computes).
    Boosters are written as UBJSON (binary classifier, regressor) and JSON (multiclass)."""
    import xgboost

    out_dir = Path(out_dir)
    ext = "zip" if zipped else "bundle"
    frame, y_class, y_reg = _spark_frame()
    labels = ["red", "green", "blue"]
    index = frame["color"].map({c: i for i, c in enumerate(labels)}).to_numpy(int)
    features = np.column_stack([np.eye(3)[index][:, :2], frame["x1"], frame["x2"]])
    rows = frame.head(24).reset_index(drop=True)
    r_index = rows["color"].map({c: i for i, c in enumerate(labels)}).to_numpy(int)
    r_features = np.column_stack([np.eye(3)[r_index][:, :2], rows["x1"], rows["x2"]])
    prep = [
        Node("color_indexer", "string_indexer", [("input", "color")], [("output", "color_index")],
             {"labels": strings(labels), "handle_invalid": string("error")}),
        Node("color_onehot", "one_hot_encoder", [("input0", "color_index")], [("output0", "color_vec")],
             {"category_sizes": ints([3]), "drop_last": boolean(True), "handle_invalid": string("error")}),
        Node("assembler", "vector_assembler", [("input0", "color_vec"), ("input1", "x1"), ("input2", "x2")],
             [("output", "features")], {"input_shapes": data_shapes([2, None, None])}),
    ]
    y3 = np.digitize(y_reg, np.quantile(y_reg, [1 / 3, 2 / 3]))
    params = {"n_estimators": 8, "max_depth": 3, "learning_rate": 0.3, "random_state": 0, "n_jobs": 1}
    cases: dict[str, Case] = {}
    outputs = [("prediction", "prediction"), ("raw_prediction", "raw_prediction"), ("probability", "probability")]
    for name, y, fmt in (("xgboost_classifier_binary", y_class, "ubj"), ("xgboost_classifier_multiclass", y3, "json")):
        model = xgboost.XGBClassifier(**params).fit(features, y)
        booster = model.get_booster()
        k = len(np.unique(y))
        margin = booster.predict(xgboost.DMatrix(r_features), output_margin=True).astype(np.float64)
        raw = np.column_stack([-margin, margin]) if margin.ndim == 1 else margin
        node = Node("xgb", "xgboost.classifier", [("features", "features")], outputs,
                    {"num_features": int_(4), "num_classes": int_(k), "tree_limit": int_(0)},
                    files={"xgboost.model": bytes(booster.save_raw(fmt))})
        path = write_bundle(out_dir / f"{name}_{serialization}.{ext}", prep + [node], name=name,
                            serialization=serialization, zipped=zipped)
        cases[name] = Case(path, rows, {"prediction": model.predict(r_features).astype(float),
                                        "probability": model.predict_proba(r_features).astype(np.float64),
                                        "raw_prediction": raw},
                           "classification", list(range(k)), [n.op for n in prep] + ["xgboost.classifier"])
    reg = xgboost.XGBRegressor(**params).fit(features, y_reg)
    node = Node("xgb", "xgboost.regression", [("features", "features")], [("prediction", "prediction")],
                {"num_features": int_(4), "tree_limit": int_(0)},
                files={"xgboost.model": bytes(reg.get_booster().save_raw("ubj"))})
    path = write_bundle(out_dir / f"xgboost_regression_{serialization}.{ext}", prep + [node],
                        name="xgboost_regression", serialization=serialization, zipped=zipped)
    cases["xgboost_regression"] = Case(path, rows, {"prediction": reg.predict(r_features).astype(np.float64)},
                                       "regression", None, [n.op for n in prep] + ["xgboost.regression"])
    return cases


def case_rows_csv(case: Case) -> str:
    buffer = io.StringIO()
    case.rows.to_csv(buffer, index=False)
    return buffer.getvalue()
