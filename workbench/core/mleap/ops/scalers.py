"""standard_scaler, min_max_scaler and max_abs_scaler (Spark's StandardScalerModel, MinMaxScalerModel,
MaxAbsScalerModel): vectors in, vectors out (a one-number field stays one number)."""

from __future__ import annotations

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.core.mleap.model import MleapNode
from workbench.core.mleap.ops import register
from workbench.core.mleap.ops._common import as_matrix, attr, field, io_pairs, out_name, vector_attr


def _each(node: MleapNode, columns: dict[str, np.ndarray], transform) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for in_port, out_port in io_pairs(node):
        values = np.asarray(field(node, columns, in_port))
        x = as_matrix(values, f"{node.op} {node.name!r} input")
        result = transform(x)
        out[out_name(node, out_port)] = result[:, 0] if values.ndim == 1 and result.shape[1] == 1 else result
    return out


def _check_width(node: MleapNode, x: np.ndarray, *vectors: np.ndarray | None) -> None:
    for v in vectors:
        if v is not None and len(v) != x.shape[1]:
            raise WorkbenchError(f"{node.op} {node.name!r} was fitted on {len(v)} values per row, the input has "
                                 f"{x.shape[1]}")


@register("standard_scaler")
def standard_scaler(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """(x - mean) * (1 / std): `mean` present means withMean, `std` withStd; a zero std gives 0, as Spark does."""
    mean = vector_attr(node, "mean", default=None)
    std = vector_attr(node, "std", default=None)
    scale = None if std is None else np.where(std == 0.0, 0.0, 1.0 / np.where(std == 0.0, 1.0, std))

    def transform(x: np.ndarray) -> np.ndarray:
        _check_width(node, x, mean, std)
        y = x - mean if mean is not None else x.copy()
        return y * scale if scale is not None else y

    return _each(node, columns, transform)


@register("min_max_scaler")
def min_max_scaler(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """(x - E_min) / (E_max - E_min) * (max - min) + min, with 0.5 for a constant feature; NaN stays NaN.
    `min`/`max` are the fitted data's bounds, `min_value`/`max_value` the target range (default [0, 1])."""
    low = vector_attr(node, "min", "original_min")
    high = vector_attr(node, "max", "original_max")
    target_min = float(attr(node, "min_value", "minValue", default=0.0))
    target_max = float(attr(node, "max_value", "maxValue", default=1.0))
    span = high - low

    def transform(x: np.ndarray) -> np.ndarray:
        _check_width(node, x, low, high)
        with np.errstate(invalid="ignore", divide="ignore"):
            raw = np.where(span != 0.0, (x - low) / np.where(span != 0.0, span, 1.0), 0.5)
        raw = np.where(np.isnan(x), np.nan, raw)
        return raw * (target_max - target_min) + target_min

    return _each(node, columns, transform)


@register("max_abs_scaler")
def max_abs_scaler(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """x / max|x| per feature, a zero maximum taken as 1 (Spark's maxAbsUnzero)."""
    max_abs = vector_attr(node, "maxAbs", "max_abs")
    divisor = np.where(max_abs == 0.0, 1.0, max_abs)

    def transform(x: np.ndarray) -> np.ndarray:
        _check_width(node, x, max_abs)
        return x / divisor

    return _each(node, columns, transform)
