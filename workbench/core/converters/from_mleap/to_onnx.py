"""An MLeap pipeline plan as an ONNX graph, built with onnx.helper, float64 end to end.

Inputs: one [N, 1] tensor per column the pipeline reads (double, or string for string_indexer inputs).
string_indexer is an ai.onnx.ml `LabelEncoder` (text -> int64 index, then Cast to double); the other
feature ops are standard ONNX ops on double tensors (Sub/Div/Mul/Add for the scalers, Equal+Cast for
one-hot, Greater+Cast for binarizer, IsNaN/Where for imputer, GreaterOrEqual sums for bucketizer, Mul for
interaction and polynomial expansion), concatenated (`Concat`) into the feature matrix. Models: linear
ones as `MatMul` + `Add` (+ `Sigmoid` / `Softmax`), tree ones as one ai.onnx.ml opset 5 `TreeEnsemble`
with double thresholds and leaf weights (Spark compares float64 `x <= threshold`: no float32 rounding
of thresholds or features, so no row flips on a split). The ai.onnx.ml operators Scaler, OneHotEncoder,
Imputer, Binarizer, LinearClassifier/LinearRegressor and TreeEnsembleClassifier/Regressor compute in
float32 and would cost the 1e-9 parity; they are not used.

Outputs: classifiers `label` (int64 [N], the class index Spark predicts) and `probabilities`
(double [N, K]); regressors `variable` (double [N, 1]).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.converters.from_mleap.plan import STRING, Expr, Plan

ONNX_OPSET = 17
ML_OPSET = 5


class _Graph:
    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.memo: dict[Any, str] = {}
        self.consts: dict[tuple[str, bytes, tuple[int, ...]], str] = {}
        self.n = 0

    def name(self, base: str) -> str:
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, value: Any, dtype: Any = np.float64) -> str:
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.tobytes(), arr.shape)
        if key not in self.consts:
            name = self.name("c")
            self.inits.append(self.numpy_helper.from_array(arr, name=name))
            self.consts[key] = name
        return self.consts[key]

    def op(self, op_type: str, inputs: list[str], domain: str = "", **attrs: Any) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], domain=domain, name=out, **attrs))
        return out

    def to_double(self, t: str) -> str:
        from onnx import TensorProto

        return self.op("Cast", [t], to=TensorProto.DOUBLE)

    def expr(self, e: Expr) -> str:
        if e in self.memo:
            return self.memo[e]
        kind = e[0]
        if kind == "in":
            out = e[1]
        elif kind == "const":
            out = self.const(np.full((1, 1), e[1]))
        elif kind == "index":
            _, name, labels, unseen = e
            idx = self.op("LabelEncoder", [name], domain="ai.onnx.ml", keys_strings=list(labels),
                          values_int64s=list(range(len(labels))), default_int64=int(unseen))
            out = self.to_double(idx)
        elif kind == "scale":
            _, x, sub, div, mul, add = e
            out = self.expr(x)
            if sub != 0.0:
                out = self.op("Sub", [out, self.const([[sub]])])
            if div != 1.0:
                out = self.op("Div", [out, self.const([[div]])])
            if mul != 1.0:
                out = self.op("Mul", [out, self.const([[mul]])])
            if add != 0.0:
                out = self.op("Add", [out, self.const([[add]])])
        elif kind == "eq":
            out = self.to_double(self.op("Equal", [self.expr(e[1]), self.const([[e[2]]])]))
        elif kind == "gt":
            out = self.to_double(self.op("Greater", [self.expr(e[1]), self.const([[e[2]]])]))
        elif kind == "bucket":
            _, x, splits, nan_bucket = e
            xs = self.expr(x)
            inner = np.asarray(splits[1:-1], np.float64).reshape(1, -1)
            if inner.size:
                ge = self.to_double(self.op("GreaterOrEqual", [xs, self.const(inner)]))
                out = self.op("ReduceSum", [ge, self.const([1], np.int64)], keepdims=1)
            else:
                out = self.op("Mul", [xs, self.const([[0.0]])])
            if nan_bucket is not None:
                out = self.op("Where", [self.op("IsNaN", [xs]), self.const([[nan_bucket]]), out])
        elif kind == "impute":
            _, x, missing, surrogate = e
            xs = self.expr(x)
            cond = self.op("IsNaN", [xs])
            if not np.isnan(missing):
                cond = self.op("Or", [cond, self.op("Equal", [xs, self.const([[missing]])])])
            out = self.op("Where", [cond, self.const([[surrogate]]), xs])
        elif kind == "prod":
            factors = [self.expr(f) for f in e[1]]
            out = factors[0]
            for f in factors[1:]:
                out = self.op("Mul", [out, f])
        else:  # pragma: no cover - make_plan only makes the kinds above
            raise ValueError(f"unknown expression {kind}")
        self.memo[e] = out
        return out


def build_onnx(plan: Plan, producer_version: str = "") -> Any:
    """The ONNX ModelProto of `plan` (checked with onnx.checker)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    g = _Graph()
    inputs = [helper.make_tensor_value_info(name, TensorProto.STRING if kind == STRING else TensorProto.DOUBLE,
                                            [None, 1]) for name, kind in plan.columns]
    columns = [g.expr(e) for e in plan.features]
    x = g.op("Concat", columns, axis=1) if len(columns) > 1 else columns[0]
    head = plan.head
    if head.kind == "xgboost":
        return _xgboost_model(g, plan, x, inputs, producer_version)
    if head.kind == "linear":
        scores = g.op("Add", [g.op("MatMul", [x, g.const(np.asarray(head.weights, np.float64).T)]),
                              g.const(np.asarray(head.bias, np.float64).reshape(1, -1))])
    else:
        scores = _tree_ensemble(g, plan, x, numpy_helper)
    outputs = []
    if head.task == "regression":
        g.nodes.append(helper.make_node("Identity", [scores], ["variable"]))
        outputs.append(helper.make_tensor_value_info("variable", TensorProto.DOUBLE, [None, 1]))
    else:
        if head.post in ("sigmoid", "gbt"):
            margin = scores if head.post == "sigmoid" else g.op("Mul", [scores, g.const([[2.0]])])
            p1 = g.op("Sigmoid", [margin])
            prob = g.op("Concat", [g.op("Sub", [g.const([[1.0]]), p1]), p1], axis=1)
            label = g.op("Cast", [g.op("Greater", [p1, g.const([[head.threshold]])])], to=TensorProto.INT64)
            label = g.op("Reshape", [label, g.const([-1], np.int64)])
        else:
            if head.post == "softmax":
                prob = g.op("Softmax", [scores], axis=1)
            else:  # normalize
                prob = g.op("Div", [scores, g.op("ReduceSum", [scores, g.const([1], np.int64)], keepdims=1)])
            label = g.op("ArgMax", [prob], axis=1, keepdims=0)
        g.nodes.append(helper.make_node("Identity", [label], ["label"]))
        g.nodes.append(helper.make_node("Identity", [prob], ["probabilities"]))
        outputs.append(helper.make_tensor_value_info("label", TensorProto.INT64, [None]))
        outputs.append(helper.make_tensor_value_info("probabilities", TensorProto.DOUBLE, [None, head.n_classes]))
    graph = helper.make_graph(g.nodes, "mleap_pipeline", inputs, outputs, g.inits)
    opsets = [helper.make_opsetid("", ONNX_OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="workbench from_mleap",
                              producer_version=producer_version)
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    return model


def _tree_ensemble(g: _Graph, plan: Plan, x: str, numpy_helper: Any) -> str:
    """One ai.onnx.ml opset 5 TreeEnsemble summing every tree's (pre-weighted) leaf vectors: [N, K]."""
    head = plan.head
    k = head.trees[0].values.shape[1]
    f_ids: list[int] = []
    splits: list[float] = []
    t_ids: list[int] = []
    t_leaf: list[int] = []
    f_next: list[int] = []
    f_leaf: list[int] = []
    roots: list[int] = []
    leaf_targets: list[int] = []
    leaf_weights: list[float] = []
    for tree in head.trees:
        for target in range(k):  # one copy of the tree per target: a leaf carries one weight
            interior = {i: len(f_ids) + n for n, i in enumerate(np.flatnonzero(~tree.is_leaf))}
            leaves = {i: len(leaf_targets) + n for n, i in enumerate(np.flatnonzero(tree.is_leaf))}
            for i in leaves:
                leaf_targets.append(target)
                leaf_weights.append(float(tree.values[i, target]))
            if not interior:  # a one-leaf tree: a split whose two branches reach the leaf
                (only,) = leaves.values()
                roots.append(len(f_ids))
                f_ids.append(0), splits.append(0.0)
                t_ids.append(only), t_leaf.append(1), f_next.append(only), f_leaf.append(1)
                continue
            roots.append(interior[0])
            for i in interior:
                f_ids.append(int(tree.feature[i])), splits.append(float(tree.threshold[i]))
                for child, ids, flags in ((int(tree.left[i]), t_ids, t_leaf), (int(tree.right[i]), f_next, f_leaf)):
                    if child in interior:
                        ids.append(interior[child]), flags.append(0)
                    else:
                        ids.append(leaves[child]), flags.append(1)
    n_nodes = len(f_ids)
    out = g.name("trees")
    g.nodes.append(g.helper.make_node(
        "TreeEnsemble", [x], [out], domain="ai.onnx.ml", name=out,
        nodes_featureids=f_ids, nodes_splits=numpy_helper.from_array(np.asarray(splits, np.float64)),
        nodes_modes=numpy_helper.from_array(np.zeros(n_nodes, np.uint8)),  # BRANCH_LEQ: x <= t goes left
        nodes_truenodeids=t_ids, nodes_trueleafs=t_leaf, nodes_falsenodeids=f_next, nodes_falseleafs=f_leaf,
        nodes_missing_value_tracks_true=[0] * n_nodes,  # NaN <= t is false in Spark: right
        tree_roots=roots, leaf_targetids=leaf_targets,
        leaf_weights=numpy_helper.from_array(np.asarray(leaf_weights, np.float64)), n_targets=k,
        aggregate_function=1, post_transform=0))
    return out


#: onnxmltools' XGBoost converter writes ai.onnx.ml TreeEnsembleClassifier / TreeEnsembleRegressor, which
#: ai.onnx.ml opset 5 deprecates: a pipeline with an XGBoost node is written with ai.onnx.ml opset 4
XGB_ML_OPSET = 4


def _xgboost_model(g: _Graph, plan: Plan, x: str, inputs: list[Any], producer_version: str) -> Any:
    """The feature graph (float64), cast to float32 as XGBoost reads its features, then the Booster as
    onnxmltools' XGBoost converter writes it (the converter workbench.core.converters.to_onnx uses for native
    XGBoost models, target_opset BOOSTER_OPSET), its nodes and initializers renamed into this graph;
    outputs label (int64) + probabilities or variable, in float64 like the other heads."""
    import onnx
    from onnx import TensorProto, helper

    from workbench.core.converters.from_mleap.plan import Unsupported
    from workbench.core.converters.to_onnx import BOOSTER_OPSET, booster_refusal

    head = plan.head
    why = booster_refusal(head.booster, "onnxmltools")
    if why:
        raise Unsupported(f"ONNX: the {head.op} node: {why}")
    try:
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType
    except ImportError:
        raise Unsupported("ONNX: an XGBoost node needs onnxmltools (pip install onnxmltools)") from None
    booster = head.booster.copy()
    booster.feature_names = None  # onnxmltools wants f0, f1...
    booster.feature_types = None
    n = len(plan.features)
    try:
        sub = onnxmltools.convert_xgboost(booster, initial_types=[("input", FloatTensorType([None, n]))],
                                          target_opset=BOOSTER_OPSET)
    except Exception as exc:  # noqa: BLE001 - onnxmltools raises many kinds; the reason is its message
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise Unsupported(f"ONNX: onnxmltools cannot convert the {head.op} node's booster: {first}") from None
    x32 = g.op("Cast", [x], to=TensorProto.FLOAT)
    rename = {"input": x32}

    def name_of(t: str) -> str:
        if t == "":
            return t
        if t not in rename:
            rename[t] = g.name(f"xgb_{t}")
        return rename[t]

    for init in sub.graph.initializer:
        copy = onnx.TensorProto()
        copy.CopyFrom(init)
        copy.name = name_of(init.name)
        g.inits.append(copy)
    for node in sub.graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        del copy.input[:], copy.output[:]
        copy.input.extend(name_of(t) for t in node.input)
        copy.output.extend(name_of(t) for t in node.output)
        copy.name = g.name(f"xgb_{node.name or node.op_type}")
        g.nodes.append(copy)
    produced = {o.name: rename[o.name] for o in sub.graph.output}
    outputs = []
    if head.task == "regression":
        value = g.op("Cast", [produced["variable"]], to=TensorProto.DOUBLE)
        g.nodes.append(helper.make_node("Identity", [value], ["variable"]))
        outputs.append(helper.make_tensor_value_info("variable", TensorProto.DOUBLE, [None, 1]))
    else:
        prob = g.op("Cast", [produced["probabilities"]], to=TensorProto.DOUBLE)
        g.nodes.append(helper.make_node("Identity", [produced["label"]], ["label"]))
        g.nodes.append(helper.make_node("Identity", [prob], ["probabilities"]))
        outputs.append(helper.make_tensor_value_info("label", TensorProto.INT64, [None]))
        outputs.append(helper.make_tensor_value_info("probabilities", TensorProto.DOUBLE, [None, head.n_classes]))
    graph = helper.make_graph(g.nodes, "mleap_pipeline", inputs, outputs, g.inits)
    opsets = [helper.make_opsetid("", ONNX_OPSET), helper.make_opsetid("ai.onnx.ml", XGB_ML_OPSET)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="workbench from_mleap",
                              producer_version=producer_version)
    model.ir_version = 10
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        first = (str(exc).strip().splitlines() or ["invalid"])[0][:200]
        raise Unsupported(f"ONNX: the feature stages in front of the {head.op} node do not fit ai.onnx.ml opset "
                          f"{XGB_ML_OPSET} (onnxmltools' XGBoost trees): {first}") from None
    return model


def write_onnx(plan: Plan, out: Path, producer_version: str = "") -> Path:
    import onnx

    model = build_onnx(plan, producer_version)
    names = [name for name, _ in plan.columns]
    entry = model.metadata_props.add()
    entry.key, entry.value = "workbench.source", "mleap"
    del names
    onnx.save_model(model, str(out))
    return out
