"""Decision trees and their ensembles, as Spark ML scores them: decision_tree_classifier /
decision_tree_regression, random_forest_classifier / random_forest_regression, gbt_classifier /
gbt_regression (the *_regressor spellings are accepted too).

A tree's nodes come from the bundle's tree.json / tree.pb. The reader (workbench.core.mleap.bundle) gives
them as the attribute `tree`: flat arrays in depth-first order (left, right, feature, threshold, split,
categories, is_left, values). Also accepted: a pre-order list (node, left subtree, right subtree) under
`nodes` (or `tree`), each node a dict in one of the shapes MLeap writes:

- Bundle.ML's (protobuf field names): {"internal": {"split": {"continuous": {"featureIndex", "threshold"}}}},
  {"internal": {"split": {"categorical": {"featureIndex", "isLeft", "numCategories", "categories"}}}},
  {"leaf": {"values": [...]}};
- mleap's scikit-learn exporter: {"type": "internal", "split": {"type": "continuous", "featureIndex",
  "threshold"}}, {"type": "leaf", "values": [...]};

or a nested root dict whose internal nodes also hold "left" and "right". snake_case keys (feature_index,
is_left, num_categories) are accepted. A forest's trees are its `children`, in the order of its `trees`
attribute. A continuous split sends x <= threshold left (NaN goes right); a categorical split sends a
value left when it is among `categories` and isLeft, or not among them and not isLeft. A classifier's leaf
values are its class counts (impurity stats), a regressor's leaf holds the prediction.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.core.mleap.model import MleapNode
from workbench.core.mleap.ops import register
from workbench.core.mleap.ops._common import (
    attr,
    classifier_outputs,
    out_name,
    prediction_from_probability,
    vector_attr,
)
from workbench.core.mleap.ops.linear import features

_TREE_KEYS = ("nodes", "tree", "tree_nodes")


@dataclass(frozen=True)
class CompiledTree:
    """A tree as flat arrays, node 0 the root."""

    feature: np.ndarray  # (n,) int64, -1 at leaves
    threshold: np.ndarray  # (n,) float64
    left: np.ndarray  # (n,) int64
    right: np.ndarray  # (n,) int64
    categorical: np.ndarray  # (n,) bool
    categories: tuple[np.ndarray | None, ...]  # per node: the split's categories
    is_left: np.ndarray  # (n,) bool
    values: np.ndarray  # (n, k) float64, rows of leaves meaningful

    def leaf_values(self, x: np.ndarray) -> np.ndarray:
        """The leaf values every row of `x` lands on: (N, k)."""
        at = np.zeros(len(x), dtype=np.int64)
        rows = np.arange(len(x))
        active = self.feature[at] >= 0
        while active.any():
            r = rows[active]
            node = at[r]
            value = x[r, self.feature[node]]
            go_left = value <= self.threshold[node]
            cat = self.categorical[node]
            if cat.any():
                for k in np.flatnonzero(cat):
                    found = bool(np.isin(value[k], self.categories[node[k]]))
                    go_left[k] = found == bool(self.is_left[node[k]])
            at[r] = np.where(go_left, self.left[node], self.right[node])
            active = self.feature[at] >= 0
        return self.values[at]


def _get(d: dict[str, Any], *keys: str, default: Any = ...) -> Any:
    for key in keys:
        if key in d:
            return d[key]
    if default is ...:
        raise WorkbenchError(f"a tree node lacks {keys[0]!r}: {sorted(d)}")
    return default


def _normalise(raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """("leaf", {"values"}) or ("continuous" | "categorical", split dict) of one node in any accepted shape."""
    if "leaf" in raw and isinstance(raw["leaf"], dict):
        return "leaf", raw["leaf"]
    if "internal" in raw and isinstance(raw["internal"], dict):
        split = raw["internal"].get("split", raw["internal"])
    elif raw.get("type") == "leaf" or ("values" in raw and "split" not in raw and "left" not in raw):
        return "leaf", raw
    else:
        split = raw.get("split", raw)
    if "continuous" in split:
        return "continuous", split["continuous"]
    if "categorical" in split:
        return "categorical", split["categorical"]
    kind = split.get("type")
    if kind in ("continuous", "categorical"):
        return kind, split
    if "categories" in split:
        return "categorical", split
    if "threshold" in split:
        return "continuous", split
    raise WorkbenchError(f"a tree node is neither a leaf nor a split: {sorted(raw)}")


def _from_flat(flat: dict[str, Any], where: str) -> CompiledTree:
    """The reader's form (workbench.core.mleap.bundle): flat arrays in depth-first order, node 0 the root."""
    left = np.asarray(flat["left"], dtype=np.int64).reshape(-1)
    n = len(left)
    kinds = list(flat.get("split") or ["leaf" if i < 0 else "continuous" for i in left])
    raw_values = list(flat["values"])
    categories = list(flat.get("categories") or [None] * n)
    if not (len(kinds) == len(raw_values) == len(categories) == n):
        raise WorkbenchError(f"{where}: the tree's arrays differ in length")
    widths = {len(np.asarray(v).reshape(-1)) for k, v in zip(kinds, raw_values, strict=True) if k == "leaf"}
    if len(widths) != 1:
        raise WorkbenchError(f"{where}: the tree's leaves hold {sorted(widths)} values each; expected one width")
    table = np.zeros((n, widths.pop()), dtype=np.float64)
    for i, (kind, v) in enumerate(zip(kinds, raw_values, strict=True)):
        if kind == "leaf":
            table[i] = np.asarray(v, dtype=np.float64).reshape(-1)
    feature = np.where(np.asarray([k == "leaf" for k in kinds]), -1,
                       np.asarray(flat["feature"], dtype=np.int64).reshape(-1))
    is_left = flat.get("is_left")
    return CompiledTree(feature, np.asarray(flat["threshold"], dtype=np.float64).reshape(-1), left,
                        np.asarray(flat["right"], dtype=np.int64).reshape(-1),
                        np.asarray([k == "categorical" for k in kinds], dtype=bool),
                        tuple(None if c is None else np.asarray(c, dtype=np.float64).reshape(-1) for c in categories),
                        np.ones(n, dtype=bool) if is_left is None else np.asarray(is_left, dtype=bool).reshape(-1),
                        table)


def compile_tree(raw_nodes: Any, where: str) -> CompiledTree:
    """Flat arrays of a tree given as the reader's flat arrays, a pre-order list of nodes or a nested root."""
    if isinstance(raw_nodes, dict) and "values" in raw_nodes and "right" in raw_nodes \
            and not isinstance(raw_nodes["right"], dict):
        return _from_flat(raw_nodes, where)
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    categorical: list[bool] = []
    categories: list[np.ndarray | None] = []
    is_left: list[bool] = []
    values: list[np.ndarray] = []

    def new_node() -> int:
        for lst, empty in ((feature, -1), (threshold, np.nan), (left, -1), (right, -1), (categorical, False),
                           (categories, None), (is_left, True), (values, None)):
            lst.append(empty)
        return len(feature) - 1

    def fill(i: int, kind: str, body: dict[str, Any]) -> None:
        if kind == "leaf":
            values[i] = np.asarray(_get(body, "values"), dtype=np.float64).reshape(-1)
            return
        feature[i] = int(_get(body, "featureIndex", "feature_index"))
        if kind == "continuous":
            threshold[i] = float(_get(body, "threshold"))
        else:
            categorical[i] = True
            categories[i] = np.asarray(_get(body, "categories", default=[]), dtype=np.float64).reshape(-1)
            is_left[i] = bool(_get(body, "isLeft", "is_left", default=True))

    if isinstance(raw_nodes, dict):  # nested
        def walk(raw: dict[str, Any]) -> int:
            i = new_node()
            kind, body = _normalise(raw)
            fill(i, kind, body)
            if kind != "leaf":
                left[i] = walk(_get(raw, "left"))
                right[i] = walk(_get(raw, "right"))
            return i

        walk(raw_nodes)
    else:
        items = list(raw_nodes)
        position = 0

        def build() -> int:
            nonlocal position
            if position >= len(items):
                raise WorkbenchError(f"{where}: the tree's node list ends inside a split")
            raw = items[position]
            position += 1
            i = new_node()
            kind, body = _normalise(raw)
            fill(i, kind, body)
            if kind != "leaf":
                left[i] = build()
                right[i] = build()
            return i

        build()
        if position != len(items):
            raise WorkbenchError(f"{where}: {len(items) - position} tree node(s) after the tree's last leaf")
    widths = {len(v) for v in values if v is not None}
    if len(widths) != 1:
        raise WorkbenchError(f"{where}: the tree's leaves hold {sorted(widths)} values each; expected one width")
    width = widths.pop()
    table = np.zeros((len(values), width), dtype=np.float64)
    for i, v in enumerate(values):
        if v is not None:
            table[i] = v
    return CompiledTree(np.asarray(feature, dtype=np.int64), np.asarray(threshold, dtype=np.float64),
                        np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64),
                        np.asarray(categorical, dtype=bool), tuple(categories), np.asarray(is_left, dtype=bool),
                        table)


_compiled: dict[int, tuple[weakref.ref, CompiledTree]] = {}


def tree_of(node: MleapNode) -> CompiledTree:
    """The compiled tree a (tree) node holds, compiled once per node object."""
    hit = _compiled.get(id(node))
    if hit is not None and hit[0]() is node:
        return hit[1]
    raw = next((node.attributes[k] for k in _TREE_KEYS if node.attributes.get(k) is not None
                and not (isinstance(node.attributes[k], list) and node.attributes[k]
                         and isinstance(node.attributes[k][0], str))), None)
    if raw is None:
        if len(node.children) == 1:
            return tree_of(node.children[0])
        raise WorkbenchError(f"{node.op or 'tree'} {node.name!r} holds no tree nodes",
                             hint=f"attributes: {', '.join(sorted(node.attributes)) or 'none'}")
    compiled = compile_tree(raw, f"{node.op or 'tree'} {node.name!r}")
    key = id(node)
    _compiled[key] = (weakref.ref(node, lambda _ref, key=key: _compiled.pop(key, None)), compiled)
    return compiled


def ensemble_trees(node: MleapNode) -> list[CompiledTree]:
    """A forest's trees in the order of its `trees` attribute (else its children's order)."""
    by_name = {child.name: child for child in node.children}
    names = attr(node, "trees", default=None)
    if names is not None and all(isinstance(n, str) for n in names):
        missing = [n for n in names if n not in by_name]
        if missing:
            raise WorkbenchError(f"{node.op} {node.name!r} names trees {missing} it does not hold",
                                 hint=f"held: {', '.join(by_name) or 'none'}")
        children = [by_name[n] for n in names]
    else:
        children = list(node.children)
    if not children:
        raise WorkbenchError(f"{node.op} {node.name!r} holds no trees")
    return [tree_of(child) for child in children]


def _width(node: MleapNode) -> int | None:
    n = attr(node, "num_features", default=None)
    return int(n) if n is not None else None


def _thresholds(node: MleapNode) -> Any:
    return attr(node, "thresholds", default=None)


def _normalised(counts: np.ndarray) -> np.ndarray:
    total = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total != 0.0, counts / np.where(total != 0.0, total, 1.0), 0.0)


def _classify(node: MleapNode, raw: np.ndarray, probability: np.ndarray) -> dict[str, np.ndarray]:
    thresholds = _thresholds(node)
    if thresholds is None:
        prediction = np.argmax(raw, axis=1).astype(np.float64)
    else:
        prediction = prediction_from_probability(probability, thresholds)
    return classifier_outputs(node, raw, probability, prediction)


@register("decision_tree_classifier")
def decision_tree_classifier(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """raw = the leaf's class counts, probability = counts / their sum, prediction = argmax."""
    x = features(node, columns, _width(node))
    raw = tree_of(node).leaf_values(x)
    return _classify(node, raw, _normalised(raw))


@register("decision_tree_regression", "decision_tree_regressor")
def decision_tree_regression(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """prediction = the leaf's value."""
    x = features(node, columns, _width(node))
    return {out_name(node, "prediction"): tree_of(node).leaf_values(x)[:, 0]}


@register("random_forest_classifier")
def random_forest_classifier(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """raw = the sum over trees of each tree's normalised class counts (Spark's votes), probability =
    raw / its sum, prediction = argmax."""
    x = features(node, columns, _width(node))
    raw: np.ndarray | None = None
    for tree in ensemble_trees(node):
        votes = _normalised(tree.leaf_values(x))
        raw = votes if raw is None else raw + votes
    assert raw is not None
    return _classify(node, raw, _normalised(raw))


@register("random_forest_regression", "random_forest_regressor")
def random_forest_regression(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """prediction = the mean of the trees' predictions."""
    x = features(node, columns, _width(node))
    trees = ensemble_trees(node)
    total = np.zeros(len(x), dtype=np.float64)
    for tree in trees:
        total = total + tree.leaf_values(x)[:, 0]
    return {out_name(node, "prediction"): total / len(trees)}


def _margin(node: MleapNode, x: np.ndarray) -> np.ndarray:
    trees = ensemble_trees(node)
    weights = vector_attr(node, "tree_weights", default=None)
    weights = np.ones(len(trees)) if weights is None else weights
    if len(weights) != len(trees):
        raise WorkbenchError(f"{node.op} {node.name!r}: {len(weights)} tree weights for {len(trees)} trees")
    total = np.zeros(len(x), dtype=np.float64)
    for tree, weight in zip(trees, weights, strict=True):
        total = total + tree.leaf_values(x)[:, 0] * weight
    return total


@register("gbt_classifier")
def gbt_classifier(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """margin = sum of weight * tree prediction; raw [-m, m]; probability of class 1 = 1 / (1 + exp(-2m))
    (Spark's logistic loss); prediction 1 when m > 0 (or by thresholds on the probability)."""
    loss = str(attr(node, "lossType", "loss_type", default="logistic"))
    if loss != "logistic":
        raise WorkbenchError(f"gbt_classifier {node.name!r} has loss {loss!r}: only 'logistic' is scored")
    x = features(node, columns, _width(node))
    margin = _margin(node, x)
    p1 = 1.0 / (1.0 + np.exp(-2.0 * margin))
    probability = np.column_stack([1.0 - p1, p1])
    raw = np.column_stack([-margin, margin])
    thresholds = _thresholds(node)
    if thresholds is None:
        prediction = (margin > 0.0).astype(np.float64)
    else:
        prediction = prediction_from_probability(probability, thresholds)
    return classifier_outputs(node, raw, probability, prediction)


@register("gbt_regression", "gbt_regressor")
def gbt_regression(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """prediction = sum of weight * tree prediction."""
    x = features(node, columns, _width(node))
    return {out_name(node, "prediction"): _margin(node, x)}
