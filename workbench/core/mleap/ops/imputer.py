"""imputer (Spark ImputerModel as MLeap runs it): missing values replaced by the fitted surrogate."""

from __future__ import annotations

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.core.mleap.model import MleapNode
from workbench.core.mleap.ops import register
from workbench.core.mleap.ops._common import as_matrix, attr, field, io_pairs, out_name

STRATEGIES = ("mean", "median", "mode", "most_frequent", "constant")


@register("imputer")
def imputer(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """NaN, null, and values equal to `missing_value` (default NaN) become `surrogate_value` (the training
    mean, median or mode, as `strategy` says: the scorer only applies it). One surrogate per input column."""
    strategy = str(attr(node, "strategy", default="mean"))
    if strategy not in STRATEGIES:
        raise WorkbenchError(f"imputer {node.name!r} has strategy {strategy!r}: expected one of "
                             f"{', '.join(STRATEGIES)}")
    surrogates = np.asarray(attr(node, "surrogate_value", "surrogateValue", "imputeValue"),
                            dtype=np.float64).reshape(-1)
    missing = float(attr(node, "missing_value", "missingValue", default=np.nan))
    pairs = io_pairs(node)
    if len(surrogates) == 1 and len(pairs) > 1:
        surrogates = np.repeat(surrogates, len(pairs))
    if len(surrogates) != len(pairs):
        raise WorkbenchError(f"imputer {node.name!r}: {len(surrogates)} surrogate values for {len(pairs)} inputs")
    out: dict[str, np.ndarray] = {}
    for (in_port, out_port), surrogate in zip(pairs, surrogates, strict=True):
        values = np.asarray(field(node, columns, in_port))
        x = as_matrix(np.where(values == None, np.nan, values) if values.dtype == object else values,  # noqa: E711
                      f"imputer {node.name!r} input")
        hole = np.isnan(x) | (x == missing)
        result = np.where(hole, surrogate, x)
        out[out_name(node, out_port)] = result[:, 0] if values.ndim == 1 else result
    return out
