"""An MLeap pipeline as a plan every target emits: input columns, the model's feature vector as scalar
expressions, and one model head.

MLeap (Spark ML semantics) passes Spark vectors between nodes. Each supported feature op is rewritten
here into per-element expressions over the original input columns (`Expr`), so ONNX, PMML and
SavedModel each emit the same arithmetic in float64:

- ``("in", name)``: a numeric input column
- ``("index", name, labels, unseen)``: string_indexer: the position of the text in `labels`
  (`unseen` for any other text: ``len(labels)`` with handle_invalid="keep", -1 with "error")
- ``("const", v)``
- ``("scale", e, sub, div, mul, add)``: ``((e - sub) / div) * mul + add``
- ``("eq", e, c)`` / ``("gt", e, t)``: 1.0 when e == c / e > t, else 0.0
- ``("bucket", e, splits, nan_bucket)``: Bucketizer's bucket index (`nan_bucket` for NaN, or None)
- ``("impute", e, missing, surrogate)``: `surrogate` where e is NaN or equals `missing`
- ``("prod", (e1, e2, ...))``: a product (interaction, polynomial_expansion)

Model heads (`Head`): ``linear`` (scores = X W^T + b) or ``trees`` (a sum of per-tree leaf vectors,
already weighted as the MLeap model combines them), then a post transform: ``value`` (regression),
``sigmoid`` (binary logistic: p1 = 1 / (1 + exp(-score))), ``softmax`` (multinomial),
``normalize`` (tree classifiers: probabilities = raw / sum(raw)), ``gbt`` (p1 = 1 / (1 + exp(-2 margin))).

`make_plan` raises `Unsupported` naming the op (and attribute) a target cannot take.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.core.mleap.model import MleapBundle, MleapNode
from workbench.core.mleap.ops.linear import coefficient_matrix

Expr = tuple

#: the feature ops and model ops the converters take
FEATURE_OPS = ("string_indexer", "one_hot_encoder", "vector_assembler", "standard_scaler", "min_max_scaler",
               "max_abs_scaler", "imputer", "bucketizer", "binarizer", "interaction", "polynomial_expansion")
MODEL_OPS = ("logistic_regression", "linear_regression", "decision_tree_classifier", "decision_tree_regression",
             "random_forest_classifier", "random_forest_regression", "gbt_classifier", "gbt_regression")
#: MLeap's XGBoost ops (mleap-xgboost-runtime): the node holds a Booster (its xgboost.model file); only the
#: ONNX target takes them (onnxmltools' XGBoost converter on the Booster)
XGBOOST_OPS = ("xgboost.classifier", "xgboost.regression", "xgboost.regressor")
#: op names MLeap writers use for the same models (sklearn's serializer, older bundles)
_ALIASES = {"decision_tree_regressor": "decision_tree_regression",
            "random_forest_regressor": "random_forest_regression", "gbt_regressor": "gbt_regression"}

NUMBER = "number"
STRING = "string"


class Unsupported(Exception):
    """The pipeline cannot be converted; the message names the node, its op and why."""


@dataclass
class Tree:
    """One tree: per node feature, threshold (x <= t goes left), left/right child (-1 at leaves) and the
    leaf vector (already weighted)."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    values: np.ndarray  # [nodes, K]

    @property
    def is_leaf(self) -> np.ndarray:
        return self.left < 0


@dataclass
class Head:
    kind: str  # "linear" | "trees"
    post: str  # "value" | "sigmoid" | "softmax" | "normalize" | "gbt"
    task: str  # "classification" | "regression"
    op: str
    n_classes: int = 0
    #: linear: [K, n] and [K]
    weights: np.ndarray | None = None
    bias: np.ndarray | None = None
    trees: list[Tree] = field(default_factory=list)
    #: tree classifiers in PMML: per-tree normalized leaf distributions and the tree weights
    tree_weights: list[float] = field(default_factory=list)
    #: binary classifiers: label = p1 > threshold
    threshold: float = 0.5
    #: the output fields of the model node
    prediction: str = "prediction"
    probability: str | None = None
    #: kind "xgboost" (an xgboost.classifier / xgboost.regression node): its loaded xgboost.Booster
    booster: Any = None


@dataclass
class Plan:
    columns: list[tuple[str, str]]  # (name, NUMBER|STRING), in the order the pipeline reads them
    features: list[Expr]
    head: Head
    ops: list[str]

    @property
    def classes(self) -> list[int]:
        return list(range(self.head.n_classes))


# ------------------------------------------------------------------------------------------ helpers


def _attr(node: MleapNode, *names: str, default: Any = None) -> Any:
    for name in names:
        if name in node.attributes and node.attributes[name] is not None:
            return node.attributes[name]
    return default


def _vec(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float64).reshape(-1)


def _inputs(node: MleapNode) -> list[str]:
    """The node's input fields, input0, input1... (or the single "input") in port order."""
    def key(port: str) -> tuple[int, str]:
        digits = "".join(c for c in port if c.isdigit())
        return (int(digits) if digits else -1, port)
    return [p.name for p in sorted(node.inputs, key=lambda p: key(p.port))]


def _outputs(node: MleapNode) -> list[str]:
    def key(port: str) -> tuple[int, str]:
        digits = "".join(c for c in port if c.isdigit())
        return (int(digits) if digits else -1, port)
    return [p.name for p in sorted(node.outputs, key=lambda p: key(p.port))]


def _const(v: float) -> Expr:
    return ("const", float(v))


def polynomial_terms(n: int, degree: int) -> list[tuple[int, ...]]:
    """Exponent tuples of Spark's PolynomialExpansion, in its order (constant term left out):
    (x, y), degree 2 -> x, x^2, y, xy, y^2."""
    out: list[tuple[int, ...]] = []

    def rec(last: int, deg: int, exps: list[int]) -> None:
        if deg == 0 or last < 0:
            out.append(tuple(exps))
            return
        for i in range(deg + 1):
            exps[last] += i
            rec(last - 1, deg - i, exps)
            exps[last] -= i

    rec(n - 1, degree, [0] * n)
    return [e for e in out if any(e)]


# ------------------------------------------------------------------------------------------ trees


def _split_of(raw: dict[str, Any]) -> dict[str, Any] | None:
    """{'feature', 'threshold'} or {'categorical': ...} of an internal node in any of MLeap's shapes."""
    split = raw.get("split", raw)
    if isinstance(split, dict):
        if "continuous" in split and isinstance(split["continuous"], dict):
            split = split["continuous"]
        elif "categorical" in split and isinstance(split["categorical"], dict):
            return {"categorical": split["categorical"]}
        elif split.get("type") == "categorical":
            return {"categorical": split}
        feature = next((split[k] for k in ("featureIndex", "feature_index", "feature") if k in split), None)
        if feature is not None and "threshold" in split:
            return {"feature": int(feature), "threshold": float(split["threshold"])}
    return None


def _is_leaf(raw: dict[str, Any]) -> bool:
    return raw.get("type") == "leaf" or "leaf" in raw or ("values" in raw and "split" not in raw)


def _leaf_values(raw: dict[str, Any]) -> list[float]:
    leaf = raw.get("leaf", raw)
    values = leaf.get("values", leaf.get("value"))
    return [float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]


def read_tree(node: MleapNode, where: str) -> Tree:
    """A tree node's decoded nodes (a preorder list of internal/leaf dicts, or a nested dict with
    left/right children) as flat arrays."""
    raw = _attr(node, "nodes", "tree", "root")
    if raw is None:
        raise Unsupported(f"{where}: the tree has no nodes")
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    values: list[list[float]] = []

    def add(entry: dict[str, Any]) -> int:
        i = len(feature)
        feature.append(0), threshold.append(0.0), left.append(-1), right.append(-1), values.append([])
        if _is_leaf(entry):
            values[i] = _leaf_values(entry)
            return i
        split = _split_of(entry.get("internal", entry))
        if split is None:
            raise Unsupported(f"{where}: a tree node is neither a leaf nor a continuous split: {entry!r:.120}")
        if "categorical" in split:
            raise Unsupported(f"{where}: categorical tree splits are not supported (a Spark tree trained on "
                              "features with nominal metadata); train on one-hot or numeric features")
        feature[i], threshold[i] = split["feature"], split["threshold"]
        return i

    if isinstance(raw, dict) and "left" in raw and "feature" in raw and not isinstance(raw["left"], dict):
        return _flat_tree(raw, where)
    if isinstance(raw, dict):  # nested
        def walk(entry: dict[str, Any]) -> int:
            i = add(entry)
            if left[i] == -1 and not _is_leaf(entry):
                lo = walk(entry["left"])
                hi = walk(entry["right"])
                left[i], right[i] = lo, hi
            return i
        walk(raw)
    else:  # preorder list
        entries = list(raw)
        pos = 0

        def walk_list() -> int:
            nonlocal pos
            if pos >= len(entries):
                raise Unsupported(f"{where}: the tree's node list ends early")
            entry = entries[pos]
            pos += 1
            i = add(entry)
            if not _is_leaf(entry):
                lo = walk_list()
                hi = walk_list()
                left[i], right[i] = lo, hi
            return i
        walk_list()
    k = max(len(v) for v in values)
    vals = np.zeros((len(values), k))
    for i, v in enumerate(values):
        if v:
            vals[i, : len(v)] = v
    return Tree(np.asarray(feature, np.int64), np.asarray(threshold, np.float64), np.asarray(left, np.int64),
                np.asarray(right, np.int64), vals)


def _flat_tree(raw: dict[str, Any], where: str) -> Tree:
    """The reader's flat arrays (depth-first, node 0 the root, -1 children at leaves)."""
    left = np.asarray(raw["left"], np.int64).reshape(-1)
    right = np.asarray(raw["right"], np.int64).reshape(-1)
    kinds = raw.get("split")
    if kinds is not None and any(str(k) == "categorical" for k in kinds):
        raise Unsupported(f"{where}: categorical tree splits are not supported (a Spark tree trained on "
                          "features with nominal metadata); train on one-hot or numeric features")
    leaf = left < 0
    feature = np.where(leaf, 0, np.asarray(raw["feature"], np.int64).reshape(-1))
    threshold = np.where(leaf, 0.0, np.asarray(raw["threshold"], np.float64).reshape(-1))
    leaf_values = [list(np.asarray(v, np.float64).reshape(-1)) if v is not None else [] for v in raw["values"]]
    k = max(len(v) for v in leaf_values)
    values = np.zeros((len(left), k))
    for i, v in enumerate(leaf_values):
        values[i, : len(v)] = v
    return Tree(feature, threshold, left, right, values)


def _forest(node: MleapNode, where: str) -> tuple[list[Tree], list[float]]:
    names = _attr(node, "trees")
    children = {c.name: c for c in node.children}
    if names:
        missing = [n for n in names if n not in children]
        if missing:
            raise Unsupported(f"{where}: trees {missing[:3]} are missing from the bundle")
        ordered = [children[n] for n in names]
    else:
        ordered = list(node.children)
    if not ordered:
        raise Unsupported(f"{where}: the ensemble has no trees")
    weights = _attr(node, "tree_weights")
    weights = [1.0] * len(ordered) if weights is None else [float(w) for w in _vec(weights)]
    if len(weights) != len(ordered):
        raise Unsupported(f"{where}: {len(weights)} tree weights for {len(ordered)} trees")
    return [read_tree(c, f"{where} {c.name}") for c in ordered], weights


def _normalized(values: np.ndarray) -> np.ndarray:
    total = values.sum(axis=1, keepdims=True)
    total[total == 0.0] = 1.0
    return values / total


# ------------------------------------------------------------------------------------------ the plan


def nodes_of(source: Any) -> tuple[MleapNode, ...]:
    if isinstance(source, MleapBundle):
        return source.nodes
    return tuple(source)


def make_plan(source: MleapBundle | Any, target: str = "") -> Plan:
    """The plan of a bundle (or a sequence of nodes), or `Unsupported` naming the op and `target`."""
    nodes = nodes_of(source)
    label = target or "conversion"
    fields: dict[str, Any] = {}  # field -> Expr (scalar) | list[Expr] (vector) | ("string", name)
    columns: list[tuple[str, str]] = []
    head: Head | None = None
    ops: list[str] = []

    def column(name: str, kind: str, where: str) -> Any:
        if name in fields:
            value = fields[name]
            if kind == STRING and not (isinstance(value, tuple) and value[0] == "string"):
                raise Unsupported(f"{where} reads {name!r}, which an earlier node computes: only input text "
                                  "columns can be indexed")
            return value
        columns.append((name, kind))
        fields[name] = ("string", name) if kind == STRING else ("in", name)
        return fields[name]

    def numeric(name: str, where: str) -> list[Expr]:
        value = column(name, NUMBER, where)
        if isinstance(value, tuple) and value[0] == "string":
            raise Unsupported(f"{where} reads the text column {name!r}: index it first (string_indexer)")
        return list(value) if isinstance(value, list) else [value]

    for node in nodes:
        op = _ALIASES.get(node.op, node.op)
        where = f"{label}: node {node.name!r} (op {node.op})"
        if head is not None:
            raise Unsupported(f"{where} comes after the model node: nodes after the model (e.g. "
                              "index_to_string) are not supported")
        ops.append(op)
        ins, outs = _inputs(node), _outputs(node)
        if op in MODEL_OPS or op in XGBOOST_OPS:
            feats = node.input("features") or (ins[0] if ins else None)
            if feats is None:
                raise Unsupported(f"{where}: no features input")
            x = numeric(feats, where)
            head = _head(node, op, where, len(x))
            head.prediction = node.output("prediction") or "prediction"
            head.probability = node.output("probability")
            features = x
            continue
        if op not in FEATURE_OPS:
            raise Unsupported(f"{where}: op {node.op!r} is not supported; supported: "
                              f"{', '.join(FEATURE_OPS + MODEL_OPS)}")
        if not ins or not outs:
            raise Unsupported(f"{where}: no input or output field")
        if op == "string_indexer":
            count = _attr(node, "labels_length")
            if count is not None and "labels_array_0" in node.attributes:
                label_lists = [_attr(node, f"labels_array_{i}") for i in range(int(count))]
            else:
                label_lists = [_attr(node, "labels")]
            if any(labels is None for labels in label_lists):
                raise Unsupported(f"{where}: no labels (labels, or labels_length and labels_array_<i>)")
            if len(label_lists) != len(ins) or len(outs) != len(ins):
                raise Unsupported(f"{where}: {len(label_lists)} label lists for {len(ins)} inputs, {len(outs)} outputs")
            invalid = str(_attr(node, "handle_invalid", default="error")).lower()
            if invalid == "skip":
                raise Unsupported(f"{where}: handle_invalid='skip' drops rows, which a model cannot")
            for name, out, labels in zip(ins, outs, label_lists, strict=True):
                column(name, STRING, where)
                labels = tuple(str(v) for v in labels)
                fields[out] = ("index", name, labels, len(labels) if invalid == "keep" else -1)
        elif op == "one_hot_encoder":
            sizes = _attr(node, "category_sizes")
            sizes = [int(_attr(node, "size"))] if sizes is None and _attr(node, "size") is not None else sizes
            if sizes is None:
                raise Unsupported(f"{where}: no category_sizes attribute")
            sizes = [int(s) for s in np.asarray(sizes).reshape(-1)]
            drop_last = bool(_attr(node, "drop_last", default=True))
            invalid = str(_attr(node, "handle_invalid", default="error")).lower()
            if len(sizes) != len(ins) or len(outs) != len(ins):
                raise Unsupported(f"{where}: {len(sizes)} category sizes for {len(ins)} inputs, {len(outs)} outputs")
            for name, out, size in zip(ins, outs, sizes, strict=True):
                (x,) = _scalar(numeric(name, where), where, name)
                width = size + (1 if invalid == "keep" else 0) - (1 if drop_last else 0)
                fields[out] = [("eq", x, float(j)) for j in range(width)]
        elif op == "vector_assembler":
            parts: list[Expr] = []
            for name in ins:
                parts.extend(numeric(name, where))
            fields[outs[0]] = parts
        elif op == "standard_scaler":
            x = numeric(ins[0], where)
            mean = _attr(node, "mean")
            std = _attr(node, "std")
            if mean is None and std is None:
                fields[outs[0]] = x
                continue
            mean = _vec(mean) if mean is not None else np.zeros(len(x))
            std = _vec(std) if std is not None else np.ones(len(x))
            _width(where, x, mean, std)
            fields[outs[0]] = [_const(0.0) if s == 0.0 else ("scale", e, float(m), float(s), 1.0, 0.0)
                               for e, m, s in zip(x, mean, std, strict=True)]
        elif op == "min_max_scaler":
            x = numeric(ins[0], where)
            lo, hi = _vec(_attr(node, "min")), _vec(_attr(node, "max"))
            lo_v = float(_attr(node, "min_value", "minValue", default=0.0))
            hi_v = float(_attr(node, "max_value", "maxValue", default=1.0))
            _width(where, x, lo, hi)
            scale = hi_v - lo_v
            fields[outs[0]] = [_const(0.5 * scale + lo_v) if b - a == 0.0 else ("scale", e, float(a), float(b - a),
                                                                                  scale, lo_v)
                               for e, a, b in zip(x, lo, hi, strict=True)]
        elif op == "max_abs_scaler":
            x = numeric(ins[0], where)
            mx = np.abs(_vec(_attr(node, "max_abs", "maxAbs")))
            _width(where, x, mx)
            fields[outs[0]] = [("scale", e, 0.0, float(m) if m != 0.0 else 1.0, 1.0, 0.0) for e, m in zip(x, mx, strict=True)]
        elif op == "imputer":
            missing = float(_attr(node, "missing_value", default=math.nan))
            surrogate = _attr(node, "surrogate_value", "surrogate_values")
            outs_ = outs
            if len(ins) != len(outs_):
                raise Unsupported(f"{where}: {len(ins)} inputs for {len(outs_)} outputs")
            surrogates = _vec(surrogate)
            if len(surrogates) != len(ins):
                raise Unsupported(f"{where}: {len(surrogates)} surrogate values for {len(ins)} inputs")
            for name, out, sur in zip(ins, outs_, surrogates, strict=True):
                (x,) = _scalar(numeric(name, where), where, name)
                fields[out] = ("impute", x, missing, float(sur))
        elif op == "bucketizer":
            splits = _attr(node, "splits")
            if splits is None:
                raise Unsupported(f"{where}: only single-column bucketizers (splits) are supported")
            splits = _vec(splits)
            invalid = str(_attr(node, "handle_invalid", default="error")).lower()
            (x,) = _scalar(numeric(ins[0], where), where, ins[0])
            fields[outs[0]] = ("bucket", x, tuple(float(s) for s in splits),
                               float(len(splits) - 1) if invalid == "keep" else None)
        elif op == "binarizer":
            t = float(_attr(node, "threshold", default=0.0))
            value = numeric(ins[0], where)
            out = [("gt", e, t) for e in value]
            fields[outs[0]] = out if isinstance(fields.get(ins[0]), list) else out[0]
        elif op == "interaction":
            n_inputs = int(_attr(node, "num_inputs", default=len(ins)))
            if n_inputs != len(ins):
                raise Unsupported(f"{where}: num_inputs {n_inputs} but {len(ins)} inputs")
            encoded: list[list[Expr]] = []
            for i, name in enumerate(ins):
                x = numeric(name, where)
                spec = _attr(node, f"num_features{i}")
                spec = [1] * len(x) if spec is None else [int(s) for s in np.asarray(spec).reshape(-1)]
                if len(spec) != len(x):
                    raise Unsupported(f"{where}: input {name!r} has {len(x)} values, its spec {len(spec)}")
                enc: list[Expr] = []
                for e, s in zip(x, spec, strict=True):
                    enc.extend([e] if s == 1 else [("eq", e, float(c)) for c in range(s)])
                encoded.append(enc)
            terms: list[tuple[Expr, ...]] = [()]
            for enc in encoded:  # the first input varies slowest (Spark's Interaction)
                terms = [t + (e,) for t in terms for e in enc]
            fields[outs[0]] = [("prod", t) for t in terms]
        elif op == "polynomial_expansion":
            degree = int(_attr(node, "degree", default=2))
            x = numeric(ins[0], where)
            vector = []
            for exps in polynomial_terms(len(x), degree):
                factors: tuple[Expr, ...] = ()
                for i in range(len(x) - 1, -1, -1):
                    factors += (x[i],) * exps[i]
                vector.append(factors[0] if len(factors) == 1 else ("prod", factors))
            fields[outs[0]] = vector
    if head is None:
        raise Unsupported(f"{label}: the pipeline has no model node (one of {', '.join(MODEL_OPS)}); a "
                          "feature-only pipeline has no prediction to prove")
    n_used = max([int(t.feature[~t.is_leaf].max()) + 1 for t in head.trees if (~t.is_leaf).any()] or [0])
    if head.weights is not None and head.weights.shape[1] != len(features):
        raise Unsupported(f"{label}: the {head.op} node has {head.weights.shape[1]} coefficients for "
                          f"{len(features)} features")
    if n_used > len(features):
        raise Unsupported(f"{label}: the {head.op} node splits on feature #{n_used - 1} of {len(features)}")
    return Plan(columns, features, head, ops)


def _scalar(x: list[Expr], where: str, name: str) -> list[Expr]:
    if len(x) != 1:
        raise Unsupported(f"{where}: {name!r} is a vector of {len(x)}, a single value is expected")
    return x


def _width(where: str, x: list[Expr], *arrays: np.ndarray) -> None:
    for a in arrays:
        if len(a) != len(x):
            raise Unsupported(f"{where}: attributes of length {len(a)} for a vector of {len(x)}")


def _xgboost_head(node: MleapNode, op: str, where: str, n: int) -> Head:
    import math as _math

    from workbench.core.errors import WorkbenchError
    from workbench.core.mleap.ops.xgboost_ops import booster_of

    if bool(_attr(node, "treats_zero_as_missing", default=False)):
        raise Unsupported(f"{where}: treats_zero_as_missing=true (0.0 read as missing) is not supported")
    missing = _attr(node, "missing", default=None)
    if missing is not None and not _math.isnan(float(missing)):
        raise Unsupported(f"{where}: missing={float(missing)!r} is not supported (only NaN)")
    if _attr(node, "thresholds") is not None:
        raise Unsupported(f"{where}: thresholds are not supported for XGBoost classifiers")
    try:
        booster = booster_of(node)
    except WorkbenchError as exc:
        raise Unsupported(f"{where}: {exc}") from None
    limit = int(_attr(node, "tree_limit", default=0) or 0)
    rounds = booster.num_boosted_rounds()
    if 0 < limit < rounds:
        booster = booster[:limit]
    width = _attr(node, "num_features", default=None)
    if width is not None and int(width) != n:
        raise Unsupported(f"{where}: num_features={int(width)} for a features vector of {n}")
    if booster.num_features() > n:
        raise Unsupported(f"{where}: the booster reads {booster.num_features()} features, the vector has {n}")
    if op == "xgboost.classifier":
        k = int(_attr(node, "num_classes", default=2))
        return Head("xgboost", "xgboost", "classification", op, n_classes=k, booster=booster)
    return Head("xgboost", "xgboost", "regression", op, booster=booster)


def _head(node: MleapNode, op: str, where: str, n: int) -> Head:
    if op in XGBOOST_OPS:
        return _xgboost_head(node, op, where, n)
    if op == "linear_regression":
        coef = _vec(_attr(node, "coefficients"))
        return Head("linear", "value", "regression", op, weights=coef[None, :],
                    bias=np.asarray([float(_attr(node, "intercept", default=0.0))]))
    if op == "logistic_regression":
        k = int(_attr(node, "num_classes", default=2))
        matrix = _attr(node, "coefficient_matrix")
        if matrix is not None and k > 2:
            w = coefficient_matrix(node)  # column-major, as MLeap reads it (see ops/linear.py)
            if w.shape[0] != k:
                raise Unsupported(f"{where}: coefficient_matrix has {w.shape[0]} rows for {k} classes")
            b = _vec(_attr(node, "intercept_vector", default=np.zeros(k)))
            if _attr(node, "thresholds") is not None:
                raise Unsupported(f"{where}: multinomial thresholds are not supported")
            return Head("linear", "softmax", "classification", op, n_classes=k, weights=w, bias=b)
        if matrix is not None:
            coef = np.asarray(matrix, dtype=np.float64).reshape(-1)
            intercept = float(_vec(_attr(node, "intercept_vector", default=[0.0]))[0])
        else:
            coef = _vec(_attr(node, "coefficients"))
            intercept = float(_attr(node, "intercept", default=0.0))
        return Head("linear", "sigmoid", "classification", op, n_classes=2, weights=coef[None, :],
                    bias=np.asarray([intercept]), threshold=_binary_threshold(node, where))
    if op in ("decision_tree_classifier", "decision_tree_regression"):
        tree = read_tree(node, where)
        if op == "decision_tree_regression":
            return Head("trees", "value", "regression", op, trees=[tree], tree_weights=[1.0])
        k = int(_attr(node, "num_classes", default=tree.values.shape[1]))
        tree.values = _pad(tree.values, k)
        normalized = Tree(tree.feature, tree.threshold, tree.left, tree.right, _normalized(tree.values))
        return Head("trees", "normalize", "classification", op, n_classes=k, trees=[normalized], tree_weights=[1.0])
    trees, weights = _forest(node, where)
    if op == "random_forest_classifier":
        k = int(_attr(node, "num_classes", default=max(t.values.shape[1] for t in trees)))
        scaled = [Tree(t.feature, t.threshold, t.left, t.right, _normalized(_pad(t.values, k)) * w)
                  for t, w in zip(trees, weights, strict=True)]
        return Head("trees", "normalize", "classification", op, n_classes=k, trees=scaled, tree_weights=weights)
    if op == "random_forest_regression":
        n_trees = len(trees)
        scaled = [Tree(t.feature, t.threshold, t.left, t.right, t.values[:, :1] * w / n_trees)
                  for t, w in zip(trees, weights, strict=True)]
        return Head("trees", "value", "regression", op, trees=scaled, tree_weights=weights)
    scaled = [Tree(t.feature, t.threshold, t.left, t.right, t.values[:, :1] * w) for t, w in zip(trees, weights, strict=True)]
    if op == "gbt_regression":
        return Head("trees", "value", "regression", op, trees=scaled, tree_weights=weights)
    k = int(_attr(node, "num_classes", default=2))
    if k != 2:
        raise Unsupported(f"{where}: a GBT classifier with {k} classes (MLeap's is binary)")
    return Head("trees", "gbt", "classification", op, n_classes=2, trees=scaled, tree_weights=weights,
                threshold=_binary_threshold(node, where))


def _pad(values: np.ndarray, k: int) -> np.ndarray:
    if values.shape[1] >= k:
        return values[:, :k]
    return np.pad(values, ((0, 0), (0, k - values.shape[1])))


def _binary_threshold(node: MleapNode, where: str) -> float:
    thresholds = _attr(node, "thresholds")
    if thresholds is not None:
        t = _vec(thresholds)
        if len(t) != 2 or t[0] + t[1] == 0:
            raise Unsupported(f"{where}: thresholds {t.tolist()} are not supported")
        # Spark: predict argmax(p_k / t_k): p1 / t1 > p0 / t0  <=>  p1 > t1 / (t0 + t1)
        return float(t[1] / (t[0] + t[1]))
    return float(_attr(node, "threshold", default=0.5))


def sigmoid_label_note(head: Head) -> str:
    return f"label = p1 > {head.threshold!r}"


def xgb_threshold(t: float) -> float:
    """The float64 `x <= t'` that routes a row as XGBoost's float32 `float32(x) < t` does (t a float32).

    float32(x) < t  <=>  float32(x) <= p (p the float32 below t)  <=>  x < m, or x == m when the tie
    rounds to p, with m = (p + t) / 2 the midpoint (exact in float64); ties round to the even one."""
    t32 = np.float32(t)
    p = np.nextafter(t32, np.float32(-np.inf))
    m = (float(p) + float(t32)) / 2.0
    even = int(np.array(p, np.float32).view(np.uint32)) & 1 == 0
    return m if even else float(np.nextafter(m, -np.inf))


def xgboost_trees_head(head: Head, where: str) -> Head:
    """An XGBoost head as a trees head (float64 `x <= t'`, leaves summed onto the base margin, as one
    one-leaf tree): objectives reg:squarederror (value), binary:logistic (gbt: the leaves halved, as
    p1 = 1 / (1 + exp(-2 m))) and multi:softprob/softmax (softmax of the per-class sums). XGBoost sums in
    float32 and the target in float64, so probabilities differ by about 1e-7."""
    import json as _json

    from workbench.core.converters.to_savedmodel.boosters import _parse_floats, _xgb_base_margin

    learner = _json.loads(bytes(head.booster.save_raw("json")))["learner"]
    gb = learner["gradient_booster"]
    if gb.get("name") != "gbtree":
        raise Unsupported(f"{where}: XGBoost booster {gb.get('name')!r} (only gbtree)")
    objective = learner["objective"]["name"]
    params = learner["learner_model_param"]
    k = max(1, int(params.get("num_class", "0")))
    if int(params.get("num_target", "1")) > 1:
        raise Unsupported(f"{where}: XGBoost multi-target models are not supported")
    posts = {"reg:squarederror": "value", "reg:linear": "value", "binary:logistic": "gbt",
             "multi:softprob": "softmax", "multi:softmax": "softmax"}
    if objective not in posts:
        raise Unsupported(f"{where}: XGBoost objective {objective!r} is not supported (only "
                          f"{', '.join(posts)})")
    post = posts[objective]
    if (post == "value") != (head.task == "regression"):
        raise Unsupported(f"{where}: XGBoost objective {objective!r} in a {head.op} node")
    scale = 0.5 if post == "gbt" else 1.0
    base = np.asarray(_parse_floats(params.get("base_score", "0.5")), np.float32)
    base = np.repeat(base, k) if base.size == 1 else base
    margin = np.asarray(_xgb_base_margin(base, objective), np.float64).reshape(k)
    trees = [Tree(np.zeros(1, np.int64), np.zeros(1), np.array([-1]), np.array([-1]), margin[None, :] * scale)]
    info = gb["model"]["tree_info"]
    for i, tj in enumerate(gb["model"]["trees"]):
        if any(int(v) != 0 for v in tj.get("split_type", [])):
            raise Unsupported(f"{where}: XGBoost categorical splits are not supported")
        left = np.asarray(tj["left_children"], np.int64)
        leaf = left < 0
        cond = np.asarray(tj["split_conditions"], np.float32).astype(np.float64)
        if not np.all(np.isfinite(cond)):
            raise Unsupported(f"{where}: XGBoost tree {i} has a non-finite split condition")
        values = np.zeros((len(left), k))
        values[:, int(info[i]) if k > 1 else 0] = np.where(leaf, cond, 0.0) * scale
        thresholds = np.array([0.0 if lf else xgb_threshold(c) for c, lf in zip(cond, leaf, strict=True)])
        trees.append(Tree(np.where(leaf, 0, np.asarray(tj["split_indices"], np.int64)), thresholds, left,
                          np.asarray(tj["right_children"], np.int64), values))
    return Head("trees", post, head.task, head.op, n_classes=head.n_classes, trees=trees,
                tree_weights=[1.0] * len(trees), prediction=head.prediction, probability=head.probability)

