"""logistic_regression (binary and multinomial) and linear_regression, as Spark ML scores them."""

from __future__ import annotations

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.core.mleap.model import MleapNode
from workbench.core.mleap.ops import register
from workbench.core.mleap.ops._common import (
    as_matrix,
    attr,
    classifier_outputs,
    field,
    out_name,
    prediction_from_probability,
    vector_attr,
)


def features(node: MleapNode, columns: dict[str, np.ndarray], width: int | None = None) -> np.ndarray:
    """The node's `features` field as an (N, k) float64 matrix, checked to be `width` wide."""
    x = as_matrix(field(node, columns, "features"), f"{node.op} {node.name!r} features")
    if width is not None and x.shape[1] != width:
        raise WorkbenchError(f"{node.op} {node.name!r} takes {width} features per row, the field "
                             f"{node.input('features')!r} has {x.shape[1]}")
    return x


def coefficient_matrix(node: MleapNode) -> np.ndarray:
    """The (classes, features) coefficients of a multinomial model, read row-major from the tensor's
    dimensions [classes, features], as the reader decodes it, mleap.sklearn writes it (coef_.flatten())
    and the from_mleap converters read it.

    Open question (shared with the reader and the converters): MLeap's Spark and runtime ops store and
    load `coefficientMatrix.toArray`, which is column-major, so a Spark-written multinomial bundle would
    need `.reshape(-1).reshape((rows, cols), order="F")` here. Kept row-major until the three parts
    decide together (one place to change: this function).
    """
    tensor = np.asarray(attr(node, "coefficient_matrix"), dtype=np.float64)
    if tensor.ndim != 2:
        raise WorkbenchError(f"logistic_regression {node.name!r}: coefficient_matrix has {tensor.ndim} "
                             "dimensions, expected 2")
    return tensor


def softmax(raw: np.ndarray) -> np.ndarray:
    """Spark's multinomial raw2probability: exp(raw - max) normalised per row."""
    shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


@register("logistic_regression")
def logistic_regression(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Binary: margin = x.w + b, raw [-m, m], probability [1 - s, s] with s = sigmoid(m), prediction
    1 when s > threshold (default 0.5). Multinomial: raw = W x + b, softmax, prediction argmax of raw
    (or of probability / thresholds when the bundle has thresholds)."""
    if "coefficient_matrix" in node.attributes:
        weights = coefficient_matrix(node)
        intercepts = vector_attr(node, "intercept_vector", default=None)
        intercepts = np.zeros(weights.shape[0]) if intercepts is None else intercepts
        x = features(node, columns, weights.shape[1])
        raw = x @ weights.T + intercepts
        probability = softmax(raw)
        thresholds = attr(node, "thresholds", default=None)
        if thresholds is None:
            prediction = np.argmax(raw, axis=1).astype(np.float64)
        else:
            prediction = prediction_from_probability(probability, thresholds)
        return classifier_outputs(node, raw, probability, prediction)
    weights = vector_attr(node, "coefficients")
    intercept = float(attr(node, "intercept", default=0.0))
    threshold = float(attr(node, "threshold", default=0.5))
    x = features(node, columns, len(weights))
    margin = x @ weights + intercept
    p1 = 1.0 / (1.0 + np.exp(-margin))
    probability = np.column_stack([1.0 - p1, p1])
    raw = np.column_stack([-margin, margin])
    prediction = (p1 > threshold).astype(np.float64)
    return classifier_outputs(node, raw, probability, prediction)


@register("linear_regression")
def linear_regression(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """prediction = x.w + b."""
    weights = vector_attr(node, "coefficients")
    intercept = float(attr(node, "intercept", default=0.0))
    x = features(node, columns, len(weights))
    return {out_name(node, "prediction"): x @ weights + intercept}
