"""Missing-value routing of scikit-learn trees in ONNX tree ensembles.

scikit-learn >= 1.3 trees (DecisionTree*, ExtraTree*, RandomForest*, ExtraTrees*, IsolationForest) send a
row whose split feature is NaN to the child named by `tree_.missing_go_to_left` (set for every split node,
also when the training data had no NaN: then the child that received more samples). A row goes left
when x <= threshold, and skl2onnx writes each split as BRANCH_LEQ whose true branch is that left child,
but it writes `nodes_missing_value_tracks_true = 0` everywhere: onnxruntime then sends NaN to the false
(right) branch, so NaN rows are scored differently wherever scikit-learn sends them left.

`route_missing_values` sets `nodes_missing_value_tracks_true` of each BRANCH_LEQ node from
`missing_go_to_left`, after checking, tree by tree and node by node, that the ONNX tree is the
scikit-learn tree (same node ids, split features, children, thresholds within float32 rounding); when a
tree does not match it changes nothing and says why (the parity proof then shows the NaN rows).
The opset-5 rewrite in onnx_double.py copies the attribute, so float64 trees keep the routing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")


class NotRouted(Exception):
    """The ONNX trees could not be matched to the scikit-learn trees (the message says why)."""


def _components(obj: Any) -> list[Any]:
    from workbench.core.converters.to_onnx import iter_components

    return iter_components(obj)


def sklearn_tree_lists(model: Any) -> list[list[Any]]:
    """For each component of `model` made of scikit-learn trees (in pipeline order), its trees (`tree_`
    objects) in the order skl2onnx numbers them (tree id 0, 1, ...)."""
    out = []
    for comp in _components(model):
        if hasattr(comp, "tree_") and hasattr(comp.tree_, "missing_go_to_left"):
            out.append([comp.tree_])
            continue
        estimators = getattr(comp, "estimators_", None)
        if estimators is None or hasattr(comp, "_predictors"):
            continue
        flat = np.asarray(estimators, dtype=object).ravel().tolist()
        trees = [e.tree_ for e in flat if hasattr(e, "tree_")]
        if trees and len(trees) == len(flat) and all(hasattr(t, "missing_go_to_left") for t in trees):
            out.append(trees)
    return out


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _close32(onnx_value: float, threshold: float) -> bool:
    """skl2onnx stores a float32 threshold (possibly moved by one float32 step for x <= t semantics)."""
    t32 = np.float32(threshold)
    v = np.float32(onnx_value)
    return bool(v == t32 or v == np.nextafter(t32, np.float32(np.inf)) or v == np.nextafter(t32, np.float32(-np.inf))
                or abs(float(v) - threshold) <= 1e-6 * max(1.0, abs(threshold)))


def _routing_for(node: Any, trees: list[Any]) -> list[int]:
    """The new nodes_missing_value_tracks_true of one TreeEnsemble node, checked against `trees`."""
    a = _attrs(node)
    tree_ids = list(a["nodes_treeids"])
    node_ids = list(a["nodes_nodeids"])
    modes = [m.decode() if isinstance(m, bytes) else m for m in a["nodes_modes"]]
    distinct = sorted(set(tree_ids))
    if distinct != list(range(len(trees))):
        raise NotRouted(f"the ONNX node {node.op_type} has {len(distinct)} trees, the model {len(trees)}")
    current = list(a.get("nodes_missing_value_tracks_true") or [0] * len(tree_ids))
    routing = list(current)
    seen: dict[int, set[int]] = {}
    for i, (t, n) in enumerate(zip(tree_ids, node_ids, strict=True)):
        tree = trees[t]
        if not 0 <= n < tree.node_count:
            raise NotRouted(f"tree {t}: node id {n} is not a node of the scikit-learn tree")
        seen.setdefault(t, set()).add(n)
        left, right = int(tree.children_left[n]), int(tree.children_right[n])
        is_split = left != -1
        if modes[i] == "LEAF":
            if is_split:
                raise NotRouted(f"tree {t}: node {n} is a leaf in ONNX but a split in scikit-learn")
            continue
        if modes[i] != "BRANCH_LEQ":
            raise NotRouted(f"tree {t}: node {n} has mode {modes[i]} (BRANCH_LEQ expected)")
        if not is_split:
            raise NotRouted(f"tree {t}: node {n} is a split in ONNX but a leaf in scikit-learn")
        if (int(a["nodes_featureids"][i]) != int(tree.feature[n]) or int(a["nodes_truenodeids"][i]) != left
                or int(a["nodes_falsenodeids"][i]) != right):
            raise NotRouted(f"tree {t}: node {n} does not split like scikit-learn's (feature/children differ)")
        if not _close32(float(a["nodes_values"][i]), float(tree.threshold[n])):
            raise NotRouted(f"tree {t}: node {n} threshold {a['nodes_values'][i]!r} is not scikit-learn's "
                            f"{float(tree.threshold[n])!r}")
        # x <= t (or NaN routed left) takes the true branch = scikit-learn's left child
        routing[i] = int(bool(tree.missing_go_to_left[n]))
    for t, tree in enumerate(trees):
        if len(seen.get(t, ())) != tree.node_count:
            raise NotRouted(f"tree {t}: ONNX has {len(seen.get(t, ()))} nodes, scikit-learn {tree.node_count}")
    return routing


def route_missing_values(onx: Any, model: Any) -> dict[str, Any]:
    """Set `nodes_missing_value_tracks_true` of the skl2onnx tree nodes of `onx` (in place) from the
    scikit-learn trees of `model`. Returns a note: {"nodes_routed_left": k, "trees": n} when done, {} when
    the model has no scikit-learn trees; raises NotRouted when the trees do not match."""
    from onnx import helper

    lists = sklearn_tree_lists(model)
    if not lists:
        return {}
    nodes = [n for n in onx.graph.node if n.op_type in _TREE_OPS and n.domain == "ai.onnx.ml"]
    if len(nodes) == len(lists):
        pairs = list(zip(nodes, lists, strict=True))
    elif len(lists) == 1 and len(nodes) == len(lists[0]) > 1:  # one node per tree (skl2onnx's IsolationForest)
        pairs = [(node, [tree]) for node, tree in zip(nodes, lists[0], strict=True)]
    else:
        raise NotRouted(f"the graph has {len(nodes)} tree ensemble node(s) for {len(lists)} tree model(s)")
    plans = [(node, _routing_for(node, trees)) for node, trees in pairs]
    left = 0
    for node, routing in plans:
        kept = [a for a in node.attribute if a.name != "nodes_missing_value_tracks_true"]
        del node.attribute[:]
        node.attribute.extend(kept + [helper.make_attribute("nodes_missing_value_tracks_true", routing)])
        left += sum(routing)
    return {"nodes_routed_left": left, "trees": sum(len(t) for t in lists)}
