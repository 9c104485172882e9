"""Tree ensembles as padded [n_trees, max_nodes] arrays walked `depth` times with tf.gather/tf.where.

Every tree family (sklearn trees and forests, GradientBoosting, HistGradientBoosting, LightGBM,
XGBoost) is first turned into `TreeArrays` in numpy, then `ensemble_sum` emits the same TF walk.
Comparison follows each library: sklearn trees cast X to float32 and compare `x <= threshold` with
float64 thresholds; HistGradientBoosting and LightGBM compare float64 `x <= threshold`; XGBoost
compares float32 `x < split_condition`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.core.converters.to_savedmodel.graph import (
    CompileError,
    Context,
    Frame,
    Head,
    Step,
    binary_probabilities,
    sigmoid,
    softmax,
)
from workbench.core.converters.to_savedmodel.registry import register


@dataclass
class TreeArrays:
    """One tree in flat arrays; a leaf has left == right == its own index."""

    feature: np.ndarray  # int, per node (0 at leaves)
    threshold: np.ndarray  # float64
    left: np.ndarray  # int
    right: np.ndarray  # int
    missing_left: np.ndarray  # bool: where NaN goes
    values: np.ndarray  # [nodes, K] float64 (only leaves matter)
    nan_as_zero: np.ndarray | None = None  # LightGBM: NaN is read as 0.0 at this node
    zero_missing: np.ndarray | None = None  # LightGBM: |x| <= 1e-35 takes the default direction
    #: categorical splits: per node a bitset of the category codes going left ([nodes, words] uint32);
    #: a NaN code follows missing_left, a code not in the set (or < 0) goes right
    cat_bits: np.ndarray | None = None
    is_cat: np.ndarray | None = None

    @property
    def size(self) -> int:
        return len(self.feature)

    def depth(self) -> int:
        """Longest root-to-leaf path (edges)."""
        best, stack = 0, [(0, 0)]
        while stack:
            node, d = stack.pop()
            left, right = int(self.left[node]), int(self.right[node])
            if left == node and right == node:
                best = max(best, d)
                continue
            stack.append((left, d + 1))
            stack.append((right, d + 1))
        return best


@dataclass
class Ensemble:
    trees: list[TreeArrays]
    #: "float32": X is rounded to float32 before comparing (sklearn trees, XGBoost)
    input_dtype: str = "float32"
    #: "le": x <= t goes left (sklearn, LightGBM); "lt": x < t goes left (XGBoost)
    op: str = "le"


def bitset(codes: Any, words: int) -> np.ndarray:
    """Category codes -> uint32 words (bit c % 32 of word c // 32), as sklearn/LightGBM bitsets."""
    out = np.zeros(words, np.int64)
    for c in codes:
        c = int(c)
        if 0 <= c < 32 * words:
            out[c // 32] |= 1 << (c % 32)
    return out


def leaf_fix(left: np.ndarray, right: np.ndarray, is_leaf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(len(left))
    return np.where(is_leaf, idx, left).astype(np.int64), np.where(is_leaf, idx, right).astype(np.int64)


class PackedEnsemble:
    """The ensemble's arrays as TF variables, ready to be walked."""

    def __init__(self, ens: Ensemble, ctx: Context, name: str) -> None:
        if not ens.trees:
            raise CompileError(f"{name}: the model has no trees")
        n_trees, width = len(ens.trees), max(t.size for t in ens.trees)
        k = ens.trees[0].values.shape[1]
        feature = np.zeros((n_trees, width), np.int64)
        threshold = np.zeros((n_trees, width), np.float64)
        left = np.tile(np.arange(width, dtype=np.int64), (n_trees, 1))
        right = left.copy()
        missing_left = np.zeros((n_trees, width), bool)
        values = np.zeros((n_trees, width, k), np.float64)
        nan_zero = np.zeros((n_trees, width), bool)
        zero_missing = np.zeros((n_trees, width), bool)
        lgbm = any(t.nan_as_zero is not None for t in ens.trees)
        words = max((t.cat_bits.shape[1] for t in ens.trees if t.cat_bits is not None), default=0)
        cat_bits = np.zeros((n_trees, width, max(words, 1)), np.int64)
        is_cat = np.zeros((n_trees, width), bool)
        for i, t in enumerate(ens.trees):
            if t.cat_bits is not None and t.is_cat is not None:
                cat_bits[i, : t.size, : t.cat_bits.shape[1]] = t.cat_bits
                is_cat[i, : t.size] = t.is_cat
            n = t.size
            feature[i, :n], threshold[i, :n] = t.feature, t.threshold
            left[i, :n], right[i, :n], missing_left[i, :n] = t.left, t.right, t.missing_left
            values[i, :n] = t.values
            if t.nan_as_zero is not None:
                nan_zero[i, :n] = t.nan_as_zero
            if t.zero_missing is not None:
                zero_missing[i, :n] = t.zero_missing
        self.depth = max(t.depth() for t in ens.trees)
        self.n_features = int(feature.max()) + 1
        self.k = k
        self.op = ens.op
        self.input_dtype = ens.input_dtype
        self.feature = ctx.const(feature, "int64", f"{name}_feature")
        self.threshold = ctx.const(threshold, "float64", f"{name}_threshold")
        self.left = ctx.const(left, "int64", f"{name}_left")
        self.right = ctx.const(right, "int64", f"{name}_right")
        self.missing_left = ctx.const(missing_left, "bool", f"{name}_missing_left")
        self.values = ctx.const(values, "float64", f"{name}_values")
        self.nan_zero = ctx.const(nan_zero, "bool", f"{name}_nan_as_zero") if lgbm else None
        self.zero_missing = ctx.const(zero_missing, "bool", f"{name}_zero_missing") if lgbm else None
        self.words = words
        self.cat_bits = ctx.const(cat_bits, "int64", f"{name}_cat_bits") if words else None
        self.is_cat = ctx.const(is_cat, "bool", f"{name}_is_cat") if words else None
        ctx.notes.setdefault("trees", 0)
        ctx.notes["trees"] += n_trees
        ctx.notes["tree_depth"] = max(ctx.notes.get("tree_depth", 0), self.depth)
        ctx.notes["tree_compare"] = (
            "float32 x < float32 threshold" if ens.op == "lt" else f"{ens.input_dtype} x <= float64 threshold"
        )

    def leaf_values(self, x: Any) -> Any:
        """x [N, F] float64 -> per-tree leaf values [T, N, K]."""
        import tensorflow as tf

        if self.input_dtype == "float32":
            x = tf.cast(tf.cast(x, tf.float32), tf.float64)
        n = tf.shape(x, out_type=tf.int64)[0]
        flat = tf.reshape(tf.transpose(x), [-1])  # feature-major: x[r, f] at f * N + r
        rows = tf.range(n, dtype=tf.int64)[None, :]
        n_trees = tf.shape(self.feature, out_type=tf.int64)[0]
        idx = tf.zeros(tf.stack([n_trees, n]), tf.int64)
        for _ in tf.range(self.depth):
            feat = tf.gather(self.feature, idx, batch_dims=1)
            val = tf.gather(flat, feat * n + rows)
            thr = tf.gather(self.threshold, idx, batch_dims=1)
            miss_left = tf.gather(self.missing_left, idx, batch_dims=1)
            is_nan = tf.math.is_nan(val)
            if self.nan_zero is not None:
                nan_zero = tf.gather(self.nan_zero, idx, batch_dims=1)
                zero_missing = tf.gather(self.zero_missing, idx, batch_dims=1)
                val = tf.where(is_nan & nan_zero, tf.zeros_like(val), val)
                is_missing = (is_nan & ~nan_zero) | (zero_missing & (tf.abs(val) <= 1e-35))
            else:
                is_missing = is_nan
            cmp = val < thr if self.op == "lt" else val <= thr
            if self.cat_bits is not None:
                cmp = tf.where(tf.gather(self.is_cat, idx, batch_dims=1), self._in_left_set(val, idx), cmp)
            go_left = tf.where(is_missing, miss_left, cmp)
            idx = tf.where(
                go_left, tf.gather(self.left, idx, batch_dims=1), tf.gather(self.right, idx, batch_dims=1)
            )
        return tf.gather(self.values, idx, batch_dims=1)

    def _in_left_set(self, val: Any, idx: Any) -> Any:
        """Whether the (integer-truncated) category code `val` is in the node's left bitset."""
        import tensorflow as tf

        finite = tf.where(tf.math.is_finite(val), val, tf.fill(tf.shape(val), tf.constant(-1.0, tf.float64)))
        code = tf.cast(tf.clip_by_value(finite, -1.0, 32.0 * self.words), tf.int64)
        valid = (finite > -1.0) & (code < 32 * self.words)  # C++ int truncation: -0.5 -> 0
        safe = tf.where(valid, code, tf.zeros_like(code))
        bits = tf.gather(self.cat_bits, idx, batch_dims=1)  # [T, N, W]
        word = tf.gather(bits, safe // 32, batch_dims=2)
        return valid & (tf.bitwise.bitwise_and(tf.bitwise.right_shift(word, safe % 32), 1) == 1)

    def total(self, x: Any) -> Any:
        """Sum of the leaf values over the trees: [N, K]."""
        import tensorflow as tf

        return tf.reduce_sum(self.leaf_values(x), axis=0)

    def total_float32_sequential(self, x: Any, init: Any) -> Any:
        """`init` [K] plus the leaf values added tree by tree in float32, as XGBoost accumulates: [N, K]."""
        import tensorflow as tf

        leaves = tf.cast(self.leaf_values(x), tf.float32)
        start = tf.broadcast_to(tf.cast(init, tf.float32)[None, :], tf.shape(leaves)[1:])
        return tf.foldl(lambda acc, leaf: acc + leaf, leaves, initializer=start)


def _needs_x(frame: Frame, packed: PackedEnsemble, name: str) -> Any:
    x = frame.numeric(name)
    if x.shape[1] is not None and x.shape[1] < packed.n_features:
        raise CompileError(f"{name} uses feature #{packed.n_features - 1} but receives {x.shape[1]} columns")
    return x


# ---------------------------------------------------------------- scikit-learn trees


def sklearn_tree(tree: Any, values: np.ndarray) -> TreeArrays:
    """sklearn `tree_` -> TreeArrays with the given per-node values [nodes, K]."""
    is_leaf = tree.children_left == -1
    left, right = leaf_fix(tree.children_left, tree.children_right, is_leaf)
    missing = getattr(tree, "missing_go_to_left", None)
    missing_left = np.asarray(missing).astype(bool) if missing is not None else np.ones(tree.node_count, bool)
    return TreeArrays(
        feature=np.where(is_leaf, 0, tree.feature).astype(np.int64),
        threshold=np.where(is_leaf, 0.0, tree.threshold).astype(np.float64),
        left=left,
        right=right,
        missing_left=missing_left & ~is_leaf,
        values=np.asarray(values, dtype=np.float64),
    )


def _classifier_leaf_proba(tree_est: Any, n_classes: int) -> np.ndarray:
    """What DecisionTreeClassifier.predict_proba returns at each node (normalised as sklearn does)."""
    proba = np.array(tree_est.tree_.value[:, 0, :n_classes], dtype=np.float64)
    normalizer = proba.sum(axis=1)[:, np.newaxis]
    normalizer[normalizer == 0.0] = 1.0
    return proba / normalizer


def _check_single_output(est: Any) -> str | None:
    if getattr(est, "n_outputs_", 1) != 1 and hasattr(est, "classes_"):
        return "multi-output classification is not supported"
    if getattr(est, "monotonic_cst", None) is not None:
        return None
    return None


def _tree_head(est: Any, ens: Ensemble, ctx: Context, scale: float, classifier: bool) -> Step:
    name = type(est).__name__
    packed = PackedEnsemble(ens, ctx, name)
    classes = np.asarray(est.classes_) if classifier else None
    n_outputs = getattr(est, "n_outputs_", 1)

    def run(frame: Frame) -> Head:
        total = packed.total(_needs_x(frame, packed, name))
        if scale != 1.0:
            total = total / scale
        if classifier:
            return Head("classification", probabilities=total, classes=classes)
        return Head("regression", value=total[:, 0] if n_outputs == 1 else total)

    return run


@register("sklearn", ("DecisionTreeClassifier", "ExtraTreeClassifier"), "classifier", _check_single_output)
def _decision_tree_classifier(est: Any, ctx: Context) -> Step:
    tree = sklearn_tree(est.tree_, _classifier_leaf_proba(est, len(est.classes_)))
    return _tree_head(est, Ensemble([tree]), ctx, 1.0, True)


@register("sklearn", ("DecisionTreeRegressor", "ExtraTreeRegressor"), "regressor")
def _decision_tree_regressor(est: Any, ctx: Context) -> Step:
    tree = sklearn_tree(est.tree_, est.tree_.value[:, :, 0])
    return _tree_head(est, Ensemble([tree]), ctx, 1.0, False)


@register("sklearn", ("RandomForestClassifier", "ExtraTreesClassifier"), "classifier", _check_single_output)
def _forest_classifier(est: Any, ctx: Context) -> Step:
    n_classes = len(est.classes_)
    trees = [sklearn_tree(e.tree_, _classifier_leaf_proba(e, n_classes)) for e in est.estimators_]
    return _tree_head(est, Ensemble(trees), ctx, float(len(est.estimators_)), True)


@register("sklearn", ("RandomForestRegressor", "ExtraTreesRegressor"), "regressor")
def _forest_regressor(est: Any, ctx: Context) -> Step:
    trees = [sklearn_tree(e.tree_, e.tree_.value[:, :, 0]) for e in est.estimators_]
    return _tree_head(est, Ensemble(trees), ctx, float(len(est.estimators_)), False)


# ---------------------------------------------------------------- losses and links


def loss_output(loss: Any, raw: Any, classifier: bool, classes: np.ndarray | None, owner: str) -> Head:
    """Apply an sklearn `_loss` object's predict_proba (classifier) or inverse link (regressor)."""
    import tensorflow as tf

    kind = type(loss).__name__
    if classifier:
        if kind == "HalfBinomialLoss":
            return Head(
                "classification", probabilities=binary_probabilities(sigmoid(raw[:, 0])), classes=classes
            )
        if kind == "ExponentialLoss":
            return Head(
                "classification",
                probabilities=binary_probabilities(sigmoid(2.0 * raw[:, 0])),
                classes=classes,
            )
        if kind == "HalfMultinomialLoss":
            return Head("classification", probabilities=softmax(raw), classes=classes)
        raise CompileError(f"{owner}: loss {kind} is not supported")
    link = type(loss.link).__name__
    value = raw[:, 0]
    if link == "IdentityLink":
        return Head("regression", value=value)
    if link == "LogLink":
        return Head("regression", value=tf.exp(value))
    raise CompileError(f"{owner}: link {link} is not supported")


def _check_loss(est: Any) -> str | None:
    loss = getattr(est, "_loss", None)
    if loss is None:
        return "the fitted loss is unknown"
    kind = type(loss).__name__
    if hasattr(est, "classes_"):
        if kind not in ("HalfBinomialLoss", "ExponentialLoss", "HalfMultinomialLoss"):
            return f"loss {kind} is not supported"
    elif type(loss.link).__name__ not in ("IdentityLink", "LogLink"):
        return f"link {type(loss.link).__name__} is not supported"
    return None


# ---------------------------------------------------------------- GradientBoosting


def _check_gb(est: Any) -> str | None:
    init = est.init_
    if not (isinstance(init, str) and init == "zero") and not type(init).__name__.startswith("Dummy"):
        return f"a custom init estimator ({type(init).__name__}) is not supported"
    return _check_loss(est)


def _gb_baseline(est: Any) -> np.ndarray:
    """The init estimator's raw prediction (a constant for 'zero' and Dummy* inits)."""
    x = np.zeros((1, est.n_features_in_), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(est._raw_predict_init(x), dtype=np.float64)[0]


@register("sklearn", ("GradientBoostingClassifier", "GradientBoostingRegressor"), "classifier", _check_gb)
def _gradient_boosting(est: Any, ctx: Context) -> Step:
    name = type(est).__name__
    n_iter, k = est.estimators_.shape
    scale = float(est.learning_rate)
    trees = []
    for i in range(n_iter):
        for j in range(k):
            t = est.estimators_[i, j].tree_
            vals = np.zeros((t.node_count, k))
            vals[:, j] = scale * t.value[:, 0, 0]
            trees.append(sklearn_tree(t, vals))
    packed = PackedEnsemble(Ensemble(trees), ctx, name)
    baseline = ctx.const(_gb_baseline(est), "float64", "init_raw")
    classifier = hasattr(est, "classes_")
    classes = np.asarray(est.classes_) if classifier else None
    loss = est._loss

    def run(frame: Frame) -> Head:
        raw = packed.total(_needs_x(frame, packed, name)) + baseline
        return loss_output(loss, raw, classifier, classes, name)

    return run


# ---------------------------------------------------------------- HistGradientBoosting


def _hgb_preprocessor_parts(est: Any) -> list[tuple[str, Any, list[int]]] | None:
    """(part name, transformer, input indices) of HGB's internal categorical preprocessor, or None."""
    pre = getattr(est, "_preprocessor", None)
    if pre is None:
        return None
    parts = []
    for name, trans, _cols in pre.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        indices = [int(i) for i in pre._transformer_to_input_indices[name]]
        if indices:
            parts.append((name, trans, indices))
    return parts


def _check_hgb(est: Any) -> str | None:
    parts = _hgb_preprocessor_parts(est)
    if parts is not None:
        names = [type(t).__name__ if not isinstance(t, str) else t for _, t, _ in parts]
        if any(n not in ("OrdinalEncoder", "FunctionTransformer", "passthrough") for n in names):
            return f"unexpected internal preprocessing ({', '.join(names)})"
    return _check_loss(est)


def hgb_tree(pred: Any, col: int, k: int) -> TreeArrays:
    nodes = pred.nodes
    is_leaf = nodes["is_leaf"].astype(bool)
    left, right = leaf_fix(nodes["left"].astype(np.int64), nodes["right"].astype(np.int64), is_leaf)
    vals = np.zeros((len(nodes), k))
    vals[:, col] = nodes["value"]
    is_cat = nodes["is_categorical"].astype(bool) & ~is_leaf
    cat_bits = None
    if is_cat.any():
        raw = np.asarray(pred.raw_left_cat_bitsets, dtype=np.int64)  # [n_bitsets, 8] uint32 words
        cat_bits = np.zeros((len(nodes), raw.shape[1]), np.int64)
        cat_bits[is_cat] = raw[nodes["bitset_idx"][is_cat]]
    return TreeArrays(
        feature=np.where(is_leaf, 0, nodes["feature_idx"]).astype(np.int64),
        threshold=np.where(is_leaf, 0.0, nodes["num_threshold"]).astype(np.float64),
        left=left,
        right=right,
        missing_left=nodes["missing_go_to_left"].astype(bool) & ~is_leaf,
        values=vals,
        cat_bits=cat_bits,
        is_cat=is_cat if cat_bits is not None else None,
    )


def _hgb_input_step(est: Any, ctx: Context) -> Step | None:
    """HGB's own categorical preprocessing: ordinal codes (unknown/missing -> NaN) first, then numbers."""
    from workbench.core.converters.to_savedmodel.registry import build_step

    parts = _hgb_preprocessor_parts(est)
    if parts is None:
        return None
    steps = [
        (build_step(t, ctx, n) if type(t).__name__ == "OrdinalEncoder" else None, idx) for n, t, idx in parts
    ]

    def run(frame: Frame) -> Frame:
        outs = []
        for step, indices in steps:
            sub = frame.select(indices)
            out = step(sub) if step is not None else Frame(matrix=sub.numeric("HistGradientBoosting"))
            outs.append(out)
        return Frame.concat(outs)

    return run


@register(
    "sklearn", ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor"), "classifier", _check_hgb
)
def _hist_gradient_boosting(est: Any, ctx: Context) -> Step:
    name = type(est).__name__
    k = int(est.n_trees_per_iteration_)
    trees = [hgb_tree(pred, j, k) for preds in est._predictors for j, pred in enumerate(preds)]
    packed = PackedEnsemble(Ensemble(trees, input_dtype="float64"), ctx, name)
    baseline = ctx.const(
        np.asarray(est._baseline_prediction, dtype=np.float64).reshape(-1), "float64", "baseline"
    )
    classifier = hasattr(est, "classes_")
    classes = np.asarray(est.classes_) if classifier else None
    loss = est._loss
    pre = _hgb_input_step(est, ctx)

    def run(frame: Frame) -> Head:
        if pre is not None:
            frame = pre(frame)
        raw = packed.total(_needs_x(frame, packed, name)) + baseline
        return loss_output(loss, raw, classifier, classes, name)

    return run
