"""xgboost.classifier / xgboost.regression: a node holding an XGBoost Booster (the node folder's
`xgboost.model`, which the reader puts under the attribute `xgboost.model`; `booster` is accepted too:
bytes, or the JSON/UBJSON text), scored with the installed xgboost as MLeap's XGBoost runtime does:
binary raw [-margin, margin] and probability [1 - p, p], multiclass margins and softmax probabilities,
prediction the argmax (or by `thresholds`)."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from workbench.core.errors import BackendUnavailable, CorruptModel, WorkbenchError
from workbench.core.mleap.model import MleapNode
from workbench.core.mleap.ops import register
from workbench.core.mleap.ops._common import (
    attr,
    classifier_outputs,
    out_name,
    prediction_from_probability,
)
from workbench.core.mleap.ops.linear import features

BOOSTER_KEYS = ("xgboost.model", "booster", "xgboost_model")

_boosters: dict[int, tuple[weakref.ref, Any]] = {}


def booster_of(node: MleapNode) -> Any:
    """The node's xgboost.Booster, loaded once per node object."""
    hit = _boosters.get(id(node))
    if hit is not None and hit[0]() is node:
        return hit[1]
    raw = next((node.attributes[k] for k in BOOSTER_KEYS if node.attributes.get(k) is not None), None)
    if raw is None:
        raise WorkbenchError(f"{node.op} {node.name!r} holds no booster (its xgboost.model)",
                             hint=f"attributes: {', '.join(sorted(node.attributes)) or 'none'}")
    try:
        import xgboost
    except ImportError:
        raise BackendUnavailable(f"{node.op} {node.name!r} needs XGBoost to score its booster",
                                 hint="pip install xgboost-cpu") from None
    data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    booster = xgboost.Booster()
    try:
        booster.load_model(bytearray(data))
    except xgboost.core.XGBoostError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
        raise CorruptModel("", f"{node.op} {node.name!r}: XGBoost cannot read its booster: {first}") from None
    key = id(node)
    _boosters[key] = (weakref.ref(node, lambda _ref, key=key: _boosters.pop(key, None)), booster)
    return booster


def _predict(node: MleapNode, x: np.ndarray, margin: bool) -> np.ndarray:
    import xgboost

    missing = float(attr(node, "missing", default=np.nan))
    limit = int(attr(node, "tree_limit", default=0) or 0)
    if bool(attr(node, "treats_zero_as_missing", default=False)):
        x = np.where(x == 0.0, np.nan, x)
    matrix = xgboost.DMatrix(x, missing=missing)
    kwargs: dict[str, Any] = {"output_margin": margin, "validate_features": False}
    if limit > 0:
        kwargs["iteration_range"] = (0, limit)
    return np.asarray(booster_of(node).predict(matrix, **kwargs), dtype=np.float64)


def _width(node: MleapNode) -> int | None:
    n = attr(node, "num_features", default=None)
    return int(n) if n is not None else None


@register("xgboost.classifier")
def xgboost_classifier(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    x = features(node, columns, _width(node))
    margin = _predict(node, x, margin=True)
    prob = _predict(node, x, margin=False)
    classes = int(attr(node, "num_classes", default=2))
    if margin.ndim == 1 or margin.shape[1] == 1:
        m = margin.reshape(-1)
        raw = np.column_stack([-m, m])
        p1 = prob.reshape(-1)
        probability = np.column_stack([1.0 - p1, p1])
    else:
        raw = margin
        probability = prob
    if probability.shape[1] != classes:
        raise WorkbenchError(f"{node.op} {node.name!r} says {classes} classes, its booster gives "
                             f"{probability.shape[1]} probabilities per row")
    prediction = prediction_from_probability(probability, attr(node, "thresholds", default=None))
    return classifier_outputs(node, raw, probability, prediction)


@register("xgboost.regression", "xgboost.regressor")
def xgboost_regression(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    x = features(node, columns, _width(node))
    return {out_name(node, "prediction"): _predict(node, x, margin=False).reshape(len(x), -1)[:, 0]}
