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
    """The (classes, features) coefficients of a multinomial model, read COLUMN-major from the tensor's
    values with dimensions [classes, features], as MLeap's own runtime reads them. The one place the
    scorer and the from_mleap converters (ONNX, PMML, SavedModel) take the matrix from.

    Why column-major (issue 16, from combust/mleap's sources):
    - Spark writes it column-major: mleap-spark LogisticRegressionOpV21.store writes
      `DenseTensor(cm.toArray, Seq(cm.numRows, cm.numCols))` of `obj.coefficientMatrix`, and Spark's
      `Matrix.toArray` "Converts to a dense array in column major" (newArray(j * numRows + i) = v, whatever
      `isTransposed` is: Spark's multinomial coefficientMatrix is an isTransposed DenseMatrix, toArray
      still gives column-major values).
    - MLeap reads it column-major: mleap-runtime LogisticRegressionOp.load (and mleap-spark's V21 load)
      builds `Matrices.dense(numRows = dims(0), numCols = dims(1), tensor.toArray)`, a column-major
      DenseMatrix; its own store writes `cm.toArray` again, so Scala writers and readers agree.
    - mleap.sklearn (python/mleap/sklearn/linear_model/_logistic.py, PR combust/mleap#615; the installed
      0.25.3 MLeapSerializer) writes `coef_.flatten()`, row-major, with the same dimensions: real MLeap
      reads such a bundle transposed. The workbench scores a bundle as MLeap does, so it reads column-major
      too; sample_models/build_mleap.py re-lays mleap.sklearn's matrix column-major for the committed
      sample (mleap_iris_pipeline.zip), which real MLeap therefore scores right as well.
    The reader keeps a tensor's values in file order (reshaped C-order to its dimensions), so reshape(-1)
    gives the stored values back.
    """
    tensor = np.asarray(attr(node, "coefficient_matrix"), dtype=np.float64)
    if tensor.ndim != 2:
        raise WorkbenchError(f"logistic_regression {node.name!r}: coefficient_matrix has {tensor.ndim} "
                             "dimensions, expected 2")
    return tensor.reshape(-1).reshape(tensor.shape, order="F")


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
