"""LightGBM and XGBoost models (sklearn wrappers and raw Boosters) through their tree dumps.

LightGBM: `Booster.dump_model()` (float64 `x <= threshold`, per-node missing types).
XGBoost: `Booster.save_raw("json")` (float32 `x < split_condition`, NaN takes the default child).
"""

from __future__ import annotations

import json
import math
import re
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
from workbench.core.converters.to_savedmodel.trees import (
    Ensemble,
    PackedEnsemble,
    TreeArrays,
    bitset,
    leaf_fix,
)

# ---------------------------------------------------------------- LightGBM

_LGB_IDENTITY = {
    "regression",
    "regression_l2",
    "l2",
    "mean_squared_error",
    "mse",
    "regression_l1",
    "l1",
    "mean_absolute_error",
    "mae",
    "huber",
    "fair",
    "quantile",
    "mape",
    "lambdarank",
    "rank_xendcg",
}
_LGB_EXP = {"poisson", "gamma", "tweedie"}


def _lgb_booster(model: Any) -> Any:
    return model.booster_ if hasattr(model, "booster_") else model


def _lgb_dump(model: Any) -> dict:
    booster = _lgb_booster(model)
    return booster.dump_model()


def _check_lgb(model: Any) -> str | None:
    try:
        dump = _lgb_dump(model)
    except Exception as exc:  # an unfitted wrapper
        return f"cannot read the LightGBM trees ({exc})"
    objective = str(dump.get("objective", "")).split()
    head = objective[0] if objective else ""
    if head not in _LGB_IDENTITY | _LGB_EXP | {"binary", "multiclass", "cross_entropy", "xentropy"}:
        return f"LightGBM objective {head!r} is not supported"
    if "sqrt" in objective:
        return "LightGBM reg_sqrt=True is not supported"
    cat_features, pandas_cats = lgb_categorical(dump)
    if pandas_cats and len(pandas_cats) != len(cat_features):
        return (
            f"LightGBM: {len(pandas_cats)} pandas categorical column(s) but {len(cat_features)} categorical "
            "feature(s): cannot tell which inputs carry category values"
        )
    for tree in dump.get("tree_info", []):
        if "leaf_coeff" in json.dumps(tree.get("tree_structure", {})):
            return "LightGBM linear trees (linear_tree=True) are not supported"
    return None


def _lgb_tree(structure: dict, col: int, k: int) -> TreeArrays:
    feature, threshold, left, right, miss_left, values, nan_zero, zero_missing, leaf = ([] for _ in range(9))
    cats: dict[int, list[int]] = {}

    def visit(node: dict) -> int:
        idx = len(feature)
        for arr in (feature, threshold, left, right, miss_left, nan_zero, zero_missing, leaf):
            arr.append(0)
        values.append(0.0)
        if "leaf_value" in node:
            leaf[idx] = True
            values[idx] = float(node["leaf_value"])
            left[idx] = right[idx] = idx
            miss_left[idx] = nan_zero[idx] = zero_missing[idx] = False
            return idx
        if node.get("decision_type", "<=") == "==":  # categorical: codes in the set go left, NaN right
            feature[idx] = int(node["split_feature"])
            codes = [int(c) for c in str(node["threshold"]).split("||") if c != ""]
            cats[idx] = codes
            miss_left[idx] = nan_zero[idx] = zero_missing[idx] = False
            left[idx] = visit(node["left_child"])
            right[idx] = visit(node["right_child"])
            return idx
        if node.get("decision_type", "<=") != "<=":
            raise CompileError(f"LightGBM decision type {node.get('decision_type')!r} is not supported")
        missing_type = node.get("missing_type", "None")
        feature[idx] = int(node["split_feature"])
        threshold[idx] = float(node["threshold"])
        miss_left[idx] = bool(node.get("default_left", True))
        nan_zero[idx] = missing_type != "NaN"
        zero_missing[idx] = missing_type == "Zero"
        leaf[idx] = False
        left[idx] = visit(node["left_child"])
        right[idx] = visit(node["right_child"])
        return idx

    visit(structure)
    vals = np.zeros((len(values), k))
    vals[:, col] = values
    cat_bits = is_cat = None
    if cats:
        words = max(max(c, default=0) for c in cats.values()) // 32 + 1
        cat_bits = np.zeros((len(values), words), np.int64)
        is_cat = np.zeros(len(values), bool)
        for node, codes in cats.items():
            cat_bits[node] = bitset(codes, words)
            is_cat[node] = True
    return TreeArrays(
        feature=np.asarray(feature, np.int64),
        threshold=np.asarray(threshold, np.float64),
        left=np.asarray(left, np.int64),
        right=np.asarray(right, np.int64),
        missing_left=np.asarray(miss_left, bool),
        values=vals,
        nan_as_zero=np.asarray(nan_zero, bool),
        zero_missing=np.asarray(zero_missing, bool),
        cat_bits=cat_bits,
        is_cat=is_cat,
    )


def lgb_categorical(dump: dict) -> tuple[list[int], list[list[Any]]]:
    """Categorical feature indices (in column order) and the pandas categories recorded at fit time."""
    names = list(dump.get("feature_names", []))
    infos = dump.get("feature_infos", {})
    cat = [i for i, n in enumerate(names) if isinstance(infos.get(n), dict) and infos[n].get("values")]
    return cat, list(dump.get("pandas_categorical") or [])


def lgb_string_inputs(model: Any) -> set[int]:
    """Input columns that carry string category values (pandas categoricals with string categories)."""
    cat, pandas_cats = lgb_categorical(_lgb_dump(model))
    if not pandas_cats or len(pandas_cats) != len(cat):
        return set()
    return {i for i, levels in zip(cat, pandas_cats, strict=True) if any(isinstance(v, str) for v in levels)}


def _lgb_input_step(dump: dict) -> Any:
    """Pandas categorical columns -> category codes (unknown/missing -> NaN), as LightGBM's sklearn API."""
    from workbench.core.converters.to_savedmodel.preprocessing import _category_values, _match_matrix

    cat, pandas_cats = lgb_categorical(dump)
    if not pandas_cats:
        return None
    plans = {
        i: _category_values(
            np.asarray(levels, dtype=object if any(isinstance(v, str) for v in levels) else np.float64)
        )
        for i, levels in zip(cat, pandas_cats, strict=True)
    }

    def run(frame: Frame) -> Frame:
        import tensorflow as tf

        cols = []
        for j in range(frame.width):
            col = frame.column(j)
            if j in plans:
                kind, values = plans[j]
                eq = _match_matrix(col, kind, values, f"LightGBM categorical column {frame.label(j)}")
                code = tf.cast(tf.argmax(tf.cast(eq, tf.int32), axis=1), tf.float64)
                col = tf.where(tf.reduce_any(eq, axis=1), code, tf.constant(np.nan, tf.float64))
            elif frame.kinds[j] != "number":
                raise CompileError(
                    f"LightGBM receives string column {frame.label(j)} that is not categorical"
                )
            cols.append(col)
        return Frame(matrix=tf.stack(cols, axis=1))

    return run


def _lgb_classes(model: Any, objective: str, k: int) -> np.ndarray | None:
    if hasattr(model, "classes_"):
        return np.asarray(model.classes_)
    if objective in ("binary", "cross_entropy", "xentropy"):
        return np.array([0, 1])
    if objective == "multiclass":
        return np.arange(k)
    return None


@register("lightgbm", ("LGBMClassifier", "LGBMRegressor", "LGBMModel", "Booster"), "classifier", _check_lgb)
def _lightgbm(model: Any, ctx: Context) -> Step:
    dump = _lgb_dump(model)
    objective = str(dump.get("objective", "regression")).split()
    head = objective[0]
    k = int(dump.get("num_tree_per_iteration", 1))
    trees = [_lgb_tree(t["tree_structure"], i % k, k) for i, t in enumerate(dump["tree_info"])]
    packed = PackedEnsemble(Ensemble(trees, input_dtype="float64"), ctx, "lightgbm")
    pre = _lgb_input_step(dump)
    n_iter = max(1, len(trees) // k)
    average = bool(dump.get("average_output", False))
    sig = 1.0
    for tok in objective[1:]:
        if tok.startswith("sigmoid:"):
            sig = float(tok.split(":", 1)[1])
    classes = _lgb_classes(model, head, k)
    is_regressor = type(model).__name__ == "LGBMRegressor" or classes is None
    ctx.notes["objective"] = " ".join(objective)

    def run(frame: Frame) -> Head:
        import tensorflow as tf

        if pre is not None:
            frame = pre(frame)
        raw = packed.total(frame.numeric("LightGBM"))
        if average:
            raw = raw / float(n_iter)
        if head in ("binary",):
            proba = binary_probabilities(sigmoid(sig * raw[:, 0]))
        elif head in ("cross_entropy", "xentropy"):
            proba = binary_probabilities(sigmoid(raw[:, 0]))
        elif head == "multiclass":
            proba = softmax(raw)
        elif head in _LGB_EXP:
            return Head("regression", value=tf.exp(raw[:, 0]))
        else:
            return Head("regression", value=raw[:, 0] if k == 1 else raw)
        if is_regressor:
            return Head("regression", value=proba[:, 1] if proba.shape[1] == 2 else proba)
        return Head("classification", probabilities=proba, classes=classes)

    return run


# ---------------------------------------------------------------- XGBoost

_XGB_LOGISTIC = {"binary:logistic", "reg:logistic"}
_XGB_IDENTITY = {
    "reg:squarederror",
    "reg:linear",
    "reg:absoluteerror",
    "reg:pseudohubererror",
    "reg:quantileerror",
    "reg:squaredlogerror",
    "binary:logitraw",
    "rank:pairwise",
    "rank:ndcg",
    "rank:map",
}
_XGB_EXP = {"count:poisson", "reg:gamma", "reg:tweedie"}
_XGB_SOFTMAX = {"multi:softprob", "multi:softmax"}


def _xgb_booster(model: Any) -> Any:
    return model.get_booster() if hasattr(model, "get_booster") else model


def _xgb_json(model: Any) -> dict:
    return json.loads(bytes(_xgb_booster(model).save_raw("json")))["learner"]


def _check_xgb(model: Any) -> str | None:
    try:
        learner = _xgb_json(model)
    except Exception as exc:
        return f"cannot read the XGBoost trees ({exc})"
    booster = learner["gradient_booster"]
    if booster.get("name") != "gbtree":
        return f"XGBoost booster {booster.get('name')!r} is not supported (only gbtree)"
    objective = learner["objective"]["name"]
    if objective not in _XGB_LOGISTIC | _XGB_IDENTITY | _XGB_EXP | _XGB_SOFTMAX:
        return f"XGBoost objective {objective!r} is not supported"
    if int(learner["learner_model_param"].get("num_target", "1")) > 1:
        return "XGBoost multi-target models are not supported"
    for tree in booster["model"]["trees"]:
        if any(int(s) != 0 for s in tree.get("split_type", [])):
            return "XGBoost categorical splits are not supported (encode the categories before training)"
    missing = getattr(model, "missing", np.nan)
    if missing is not None and not (isinstance(missing, float) and math.isnan(missing)):
        return f"XGBoost missing={missing!r} is not supported (only NaN)"
    return None


def _parse_floats(text: Any) -> list[float]:
    return [float(v) for v in re.findall(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", str(text))]


def _xgb_tree(tree: dict, col: int, k: int) -> TreeArrays:
    lc = np.asarray(tree["left_children"], np.int64)
    rc = np.asarray(tree["right_children"], np.int64)
    is_leaf = lc == -1
    left, right = leaf_fix(lc, rc, is_leaf)
    cond = np.asarray(tree["split_conditions"], np.float32).astype(np.float64)
    vals = np.zeros((len(lc), k))
    vals[:, col] = np.where(is_leaf, cond, 0.0)
    return TreeArrays(
        feature=np.where(is_leaf, 0, np.asarray(tree["split_indices"], np.int64)),
        threshold=np.where(is_leaf, 0.0, cond),
        left=left,
        right=right,
        missing_left=np.asarray(tree["default_left"], bool) & ~is_leaf,
        values=vals,
    )


def _xgb_iterations(model: Any) -> int | None:
    """How many boosting rounds the sklearn wrapper's predict uses (best_iteration with early stopping)."""
    best = getattr(model, "best_iteration", None) if hasattr(model, "get_booster") else None
    try:
        if best is None and hasattr(model, "get_booster"):
            return None
        return int(best) + 1 if best is not None else None
    except (AttributeError, TypeError, ValueError):
        return None


@register(
    "xgboost",
    ("XGBClassifier", "XGBRegressor", "XGBModel", "XGBRFClassifier", "XGBRFRegressor", "Booster"),
    "classifier",
    _check_xgb,
)
def _xgboost(model: Any, ctx: Context) -> Step:
    learner = _xgb_json(model)
    objective = learner["objective"]["name"]
    gbm = learner["gradient_booster"]["model"]
    params = learner["learner_model_param"]
    n_class = int(params.get("num_class", "0"))
    k = max(1, n_class)
    trees_json = gbm["trees"]
    info = gbm["tree_info"]
    rounds = _xgb_iterations(model)
    if rounds is not None and "iteration_indptr" in gbm:
        trees_json = trees_json[: int(gbm["iteration_indptr"][rounds])]
    trees = [_xgb_tree(t, int(info[i]) if k > 1 else 0, k) for i, t in enumerate(trees_json)]
    packed = PackedEnsemble(Ensemble(trees, input_dtype="float32", op="lt"), ctx, "xgboost")
    base = np.asarray(_parse_floats(params.get("base_score", "0.5")), np.float32)
    if base.size == 1:
        base = np.repeat(base, k)
    base_margin = ctx.const(_xgb_base_margin(base, objective).reshape(k), "float32", "base_margin")
    classes = np.asarray(model.classes_) if hasattr(model, "classes_") else None
    if classes is None and type(model).__name__ == "Booster":
        if objective == "binary:logistic":
            classes = np.array([0, 1])
        elif objective in _XGB_SOFTMAX:
            classes = np.arange(k)
    ctx.notes["objective"] = objective
    ctx.notes["float32"] = True

    def run(frame: Frame) -> Head:
        import tensorflow as tf

        # float32 throughout, trees added one by one onto the base margin, as XGBoost predicts
        margin = packed.total_float32_sequential(frame.numeric("XGBoost"), base_margin)
        one_d = tf.constant(1.0, tf.float64)
        if objective in _XGB_SOFTMAX:
            proba = _xgb_softmax(margin)
        elif objective in _XGB_LOGISTIC:
            p = _f32(one_d / _f64(_f32(one_d + _f64(_expf(-margin[:, 0])))))
            if classes is None:
                return Head("regression", value=tf.cast(p, tf.float64))
            proba = tf.stack([_f32(one_d - _f64(p)), p], axis=1)
        elif objective in _XGB_EXP:
            return Head("regression", value=tf.cast(_expf(margin[:, 0]), tf.float64))
        else:
            return Head("regression", value=tf.cast(margin[:, 0], tf.float64))
        proba = tf.cast(proba, tf.float64)
        if classes is None:
            return Head("regression", value=proba)
        return Head("classification", probabilities=proba, classes=classes)

    return run


def _f32(x: Any) -> Any:
    import tensorflow as tf

    return tf.cast(x, tf.float32)


def _f64(x: Any) -> Any:
    import tensorflow as tf

    return tf.cast(x, tf.float64)


def _expf(x: Any) -> Any:
    """float32 exp rounded from double (as a correctly rounded expf), not TF's vectorised float32 exp."""
    import tensorflow as tf

    return tf.cast(tf.exp(tf.cast(x, tf.float64)), tf.float32)


def _xgb_softmax(margin: Any) -> Any:
    """XGBoost's softmax: float32 exp(x - max), summed in double, divided in float32."""
    import tensorflow as tf

    e = _expf(margin - tf.reduce_max(margin, axis=1, keepdims=True))
    total = _f32(tf.reduce_sum(_f64(e), axis=1))  # XGBoost sums in double, divides in float
    return _f32(_f64(e) / _f64(total)[:, None])


def _xgb_base_margin(base: np.ndarray, objective: str) -> np.ndarray:
    """base_score (float32) to the margin XGBoost starts from: float32 arithmetic, log in double."""
    if objective in _XGB_LOGISTIC:
        inner = np.float32(1.0) / base - np.float32(1.0)
        return np.array([-math.log(float(v)) for v in inner], np.float32)
    if objective in _XGB_EXP:
        return np.array([math.log(float(v)) for v in base], np.float32)
    return base.astype(np.float32)
