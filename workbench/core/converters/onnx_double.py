"""Double-precision tree ensembles for ONNX: ai.onnx.ml opset 5 `TreeEnsemble` with float64 splits.

skl2onnx and onnxmltools write `TreeEnsembleClassifier`/`TreeEnsembleRegressor` (ai.onnx.ml opset 1-3)
whose thresholds are float32, even with a DoubleTensorType input (measured with skl2onnx 1.20: the
thresholds stay FLOATS, and onnxruntime 1.32 then refuses the graph: "Type (tensor(double)) of output
arg (probabilities) of node (TreeEnsembleClassifier) does not match expected type (tensor(float))").
A model that compares float64 features with float64 thresholds (HistGradientBoosting, LightGBM) then
sends a value lying between a threshold and its float32 rounding the other way.

onnxruntime 1.32 runs ai.onnx.ml opset 5 `TreeEnsemble` with double inputs, double `nodes_splits` and
double `leaf_weights` (measured: x = 0.1 against split 0.1 and float32(0.1) goes exactly as in float64).
`to_double_trees` rewrites the one tree node of a float32 graph into that operator, with the model's
own float64 thresholds (looked up per feature from their float32 roundings; an ambiguous rounding
refuses), base values, the post transform (Sigmoid/Softmax) and the label as standard ONNX ops, and
double inputs. It returns None with the reason when the graph is not of that simple shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ML_DOUBLE_OPSET = 5
#: onnx's TreeEnsemble node modes
_MODES = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3, "BRANCH_EQ": 4, "BRANCH_NEQ": 5}
_TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")


class NotRewritable(Exception):
    """The graph cannot be rewritten with double thresholds (the message says why)."""


def float64_thresholds(model: Any) -> dict[int, dict[float, float]]:
    """{feature: {float32 rounding of a threshold: the float64 threshold}} of a tree model whose
    runtime compares in float64; raises NotRewritable when two thresholds round to one float32."""
    from workbench.core.converters.thresholds import split_thresholds

    found = split_thresholds(model)
    if not found:
        raise NotRewritable("the model has no split thresholds the workbench can read")
    out: dict[int, dict[float, float]] = {}
    for feature, values in found[0].items():
        per: dict[float, float] = {}
        for t in values.tolist():
            key = float(np.float32(t))
            if key in per and per[key] != t:
                raise NotRewritable(f"feature {feature} has two thresholds ({per[key]!r}, {t!r}) with the same "
                                    "float32 rounding: the float32 graph cannot tell which is which")
            per[key] = float(t)
        out[feature] = per
    return out


def compares_in_float64(model: Any) -> bool:
    """True for tree models whose own runtime compares float64 X with float64 thresholds."""
    from workbench.core.converters.thresholds import _final

    est = _final(model)
    name = type(est).__name__
    return hasattr(est, "_predictors") or name.startswith("LGBM") or type(est).__module__.startswith("lightgbm")


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def to_double_trees(onx: Any, model: Any) -> Any:
    """A copy of `onx` whose tree node is an opset-5 TreeEnsemble with the model's float64 thresholds
    (see module docstring). Raises NotRewritable with the reason."""
    import copy

    from onnx import TensorProto, helper, numpy_helper

    thresholds = float64_thresholds(model)
    onx = copy.deepcopy(onx)
    graph = onx.graph
    trees = [n for n in graph.node if n.op_type in _TREE_OPS and n.domain == "ai.onnx.ml"]
    if len(trees) != 1:
        raise NotRewritable(f"the graph has {len(trees)} tree ensemble nodes (one is rewritten)")
    tree = trees[0]
    ml_nodes = [n for n in graph.node if n.domain == "ai.onnx.ml" and n is not tree]
    if ml_nodes:
        raise NotRewritable(f"the graph has other ai.onnx.ml nodes ({ml_nodes[0].op_type})")
    producers = {o: n for n in graph.node for o in n.output}
    graph_inputs = {i.name for i in graph.input}
    feed = tree.input[0]
    concat = producers.get(feed)
    if concat is not None and not (concat.op_type == "Concat" and all(i in graph_inputs for i in concat.input)):
        raise NotRewritable("the trees do not read the model inputs directly (preprocessing steps before them)")
    outputs = {o.name for o in graph.output}
    if any(o not in outputs for o in tree.output):
        raise NotRewritable("the tree outputs feed further nodes")
    a = _attrs(tree)
    classifier = tree.op_type == "TreeEnsembleClassifier"
    prefix = "class" if classifier else "target"
    modes = [m.decode() if isinstance(m, bytes) else m for m in a["nodes_modes"]]
    key = list(zip(a["nodes_treeids"], a["nodes_nodeids"], strict=True))
    index = {k: i for i, k in enumerate(key)}
    leaves: dict[tuple[int, int], dict[int, float]] = {}
    for t, n, c, w in zip(a[f"{prefix}_treeids"], a[f"{prefix}_nodeids"], a[f"{prefix}_ids"],
                          a[f"{prefix}_weights"], strict=True):
        leaves.setdefault((t, n), {})
        leaves[(t, n)][c] = leaves[(t, n)].get(c, 0.0) + float(w)
    missing_track = a.get("nodes_missing_value_tracks_true") or [0] * len(key)
    if classifier:
        labels = a.get("classlabels_int64s")
        if not labels:
            raise NotRewritable("string class labels are not rewritten")
        n_classes = len(labels)
    target_ids = sorted({c for d in leaves.values() for c in d})
    n_targets = max(target_ids) + 1 if target_ids else 1
    tree_ids = sorted({t for t, _ in key})
    # new arrays
    f_ids: list[int] = []
    splits: list[float] = []
    nmodes: list[int] = []
    t_ids: list[int] = []
    t_leaf: list[int] = []
    f_next: list[int] = []
    f_leaf: list[int] = []
    miss: list[int] = []
    roots: list[int] = []
    leaf_targets: list[int] = []
    leaf_weights: list[float] = []
    for tree_id in tree_ids:
        node_ids = [n for t, n in key if t == tree_id]
        targets_here = sorted({c for n in node_ids for c in leaves.get((tree_id, n), {})}) or [0]
        for target in targets_here:  # one copy of the tree per target (a leaf carries one weight)
            interior: dict[int, int] = {}
            leaf_at: dict[int, int] = {}
            for n in node_ids:
                i = index[(tree_id, n)]
                if modes[i] == "LEAF":
                    leaf_at[n] = len(leaf_targets) + len(leaf_at)
                else:
                    interior[n] = len(f_ids) + len(interior)
            for n in node_ids:
                if n in leaf_at:
                    leaf_targets.append(target)
                    leaf_weights.append(leaves.get((tree_id, n), {}).get(target, 0.0))
            if not interior:  # a tree that is one leaf: a split whose both branches reach it
                roots.append(len(f_ids))
                (only,) = leaf_at.values()
                f_ids.append(0), splits.append(0.0), nmodes.append(0)
                t_ids.append(only), t_leaf.append(1), f_next.append(only), f_leaf.append(1), miss.append(0)
                continue
            children = {a[side][index[(tree_id, m)]] for m in interior
                        for side in ("nodes_truenodeids", "nodes_falsenodeids")}
            root = next(n for n in node_ids if n in interior and n not in children)
            roots.append(interior[root])
            for n in node_ids:
                if n not in interior:
                    continue
                i = index[(tree_id, n)]
                mode = modes[i]
                if mode not in _MODES:
                    raise NotRewritable(f"node mode {mode} is not rewritten")
                feature = int(a["nodes_featureids"][i])
                value32 = float(np.float32(a["nodes_values"][i]))
                exact = thresholds.get(feature, {}).get(value32)
                if exact is None:
                    raise NotRewritable(f"threshold {value32!r} of feature {feature} is not one of the model's")
                f_ids.append(feature), splits.append(exact), nmodes.append(_MODES[mode]), miss.append(int(missing_track[i]))
                for nxt, ids, flags in ((a["nodes_truenodeids"][i], t_ids, t_leaf),
                                        (a["nodes_falsenodeids"][i], f_next, f_leaf)):
                    if nxt in interior:
                        ids.append(interior[nxt]), flags.append(0)
                    else:
                        ids.append(leaf_at[nxt]), flags.append(1)
    scores = f"{tree.name or 'trees'}_double_scores"
    new_nodes = [helper.make_node(
        "TreeEnsemble", [feed], [scores], domain="ai.onnx.ml", name=f"{tree.name or 'trees'}_double",
        nodes_featureids=f_ids, nodes_splits=numpy_helper.from_array(np.asarray(splits, np.float64)),
        nodes_modes=numpy_helper.from_array(np.asarray(nmodes, np.uint8)),
        nodes_truenodeids=t_ids, nodes_trueleafs=t_leaf, nodes_falsenodeids=f_next, nodes_falseleafs=f_leaf,
        nodes_missing_value_tracks_true=miss, tree_roots=roots, leaf_targetids=leaf_targets,
        leaf_weights=numpy_helper.from_array(np.asarray(leaf_weights, np.float64)), n_targets=n_targets,
        aggregate_function=1, post_transform=0)]
    consts: list[Any] = []

    def const(name: str, value: Any) -> str:
        consts.append(numpy_helper.from_array(np.asarray(value), name=name))
        return name

    base = a.get("base_values") or []
    summed = scores
    if base:
        summed = f"{scores}_base"
        new_nodes.append(helper.make_node("Add", [scores, const(f"{scores}_b", np.asarray(base, np.float64))],
                                          [summed]))
    post = a.get("post_transform", b"NONE")
    post = post.decode() if isinstance(post, bytes) else post
    out_types: dict[str, Any] = {}
    if classifier:
        label_out, prob_out = tree.output[0], tree.output[1]
        if post == "LOGISTIC" and n_classes == 2 and n_targets <= 2 and len(target_ids) == 1:
            col = summed
            if n_targets == 2:
                col = f"{scores}_col"
                new_nodes.append(helper.make_node("Slice", [summed, const(f"{scores}_s0", np.asarray([target_ids[0]])),
                                                            const(f"{scores}_s1", np.asarray([target_ids[0] + 1])),
                                                            const(f"{scores}_s2", np.asarray([1]))], [col]))
            p = f"{scores}_p"
            q = f"{scores}_q"
            new_nodes.append(helper.make_node("Sigmoid", [col], [p]))
            new_nodes.append(helper.make_node("Sub", [const(f"{scores}_one", np.ones((1, 1))), p], [q]))
            new_nodes.append(helper.make_node("Concat", [q, p], [prob_out], axis=1))
        elif post == "SOFTMAX" and n_targets == n_classes:
            new_nodes.append(helper.make_node("Softmax", [summed], [prob_out], axis=1))
        elif post == "NONE" and n_targets == n_classes:
            new_nodes.append(helper.make_node("Identity", [summed], [prob_out]))
        else:
            raise NotRewritable(f"post transform {post} with {n_targets} targets and {n_classes} classes")
        idx = f"{scores}_argmax"
        new_nodes.append(helper.make_node("ArgMax", [prob_out], [idx], axis=1, keepdims=0))
        new_nodes.append(helper.make_node("Gather", [const(f"{scores}_labels", np.asarray(labels, np.int64)), idx],
                                          [label_out], axis=0))
        out_types = {label_out: (TensorProto.INT64, [None]), prob_out: (TensorProto.DOUBLE, [None, n_classes])}
    else:
        if post != "NONE":
            raise NotRewritable(f"regressor post transform {post}")
        new_nodes.append(helper.make_node("Identity", [summed], [tree.output[0]]))
        out_types = {tree.output[0]: (TensorProto.DOUBLE, [None, n_targets])}
    position = list(graph.node).index(tree)
    kept = [n for n in graph.node if n is not tree]
    del graph.node[:]
    graph.node.extend(kept[:position] + new_nodes + kept[position:])
    graph.initializer.extend(consts)
    for vi in graph.output:
        if vi.name in out_types:
            elem, shape = out_types[vi.name]
            vi.CopyFrom(helper.make_tensor_value_info(vi.name, elem, shape))
    for vi in graph.input:
        if vi.type.tensor_type.elem_type == TensorProto.FLOAT:
            vi.type.tensor_type.elem_type = TensorProto.DOUBLE
    del graph.value_info[:]
    for entry in onx.opset_import:
        if entry.domain == "ai.onnx.ml":
            entry.version = ML_DOUBLE_OPSET
    if onx.ir_version < 10:
        onx.ir_version = 10
    return onx
