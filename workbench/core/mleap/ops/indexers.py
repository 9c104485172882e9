"""string_indexer (Spark StringIndexerModel) and reverse_string_indexer (IndexToString)."""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.core.mleap.model import MleapNode
from workbench.core.mleap.ops import register
from workbench.core.mleap.ops._common import (
    as_scalars,
    attr,
    field,
    handle_invalid,
    io_pairs,
    is_missing,
    out_name,
    refuse_rows,
)
from workbench.core.predictions import canonical_label


def string_labels(node: MleapNode) -> list[list[str]]:
    """The label lists of a string indexer, one per input column: `labels_array_<i>` (with `labels_length`,
    Spark 3) or `labels` (one column, Spark 2 and scikit-learn exports)."""
    count = attr(node, "labels_length", default=None)
    if count is not None and int(count) >= 0 and "labels_array_0" in node.attributes:
        return [[str(v) for v in attr(node, f"labels_array_{i}")] for i in range(int(count))]
    return [[str(v) for v in attr(node, "labels")]]


def scala_text(value: Any) -> str:
    """A value as MLeap's runtime turns it into text before the lookup (`value.toString` on the JVM)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # 1.0 -> "1.0", as Double.toString
    return str(value)


def index_values(node: MleapNode, values: np.ndarray, labels: list[str], policy: str) -> np.ndarray:
    """Each value's index in `labels` (float64); unseen or null values by `policy`."""
    lookup = {label: i for i, label in enumerate(labels)}
    relaxed: dict[str, int] = {}
    for i, label in enumerate(labels):
        relaxed.setdefault(canonical_label(label), i)
    arr = np.asarray(values, dtype=object).reshape(-1)
    missing = is_missing(arr)
    out = np.empty(len(arr), dtype=np.float64)
    bad = np.zeros(len(arr), dtype=bool)
    for i, value in enumerate(arr.tolist()):
        if missing[i]:
            bad[i] = True
            continue
        text = scala_text(value)
        index = lookup.get(text)
        if index is None and not isinstance(value, str):
            index = relaxed.get(canonical_label(value))  # 1 given where the labels say "1" (or "1.0")
        if index is None:
            bad[i] = True
        else:
            out[i] = index
    if bad.any():
        if policy == "keep":
            out[bad] = float(len(labels))
        else:
            refuse_rows(node, bad, arr, "is null or not among the labels the indexer was fitted on", policy)
    return out


@register("string_indexer")
def string_indexer(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Spark StringIndexerModel: label -> its index in the fitted labels (frequency order), as a double.
    handle_invalid: error refuses unseen/null values, keep gives them index len(labels), skip (which
    drops the row in Spark) refuses the row by number."""
    policy = handle_invalid(node)
    label_lists = string_labels(node)
    pairs = io_pairs(node)
    if len(label_lists) != len(pairs):
        raise WorkbenchError(f"string_indexer {node.name!r}: {len(label_lists)} label lists for "
                             f"{len(pairs)} input columns")
    return {out_name(node, out_port): index_values(node, field(node, columns, in_port), labels, policy)
            for (in_port, out_port), labels in zip(pairs, label_lists, strict=True)}


@register("reverse_string_indexer")
def reverse_string_indexer(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Spark IndexToString: an index (double) -> the label at that position."""
    labels = [str(v) for v in attr(node, "labels")]
    out: dict[str, np.ndarray] = {}
    for in_port, out_port in io_pairs(node):
        index = as_scalars(field(node, columns, in_port), f"{node.op} {node.name!r} input")
        valid = np.isfinite(index) & (index >= 0) & (index < len(labels)) & (index == np.floor(index))
        refuse_rows(node, ~valid, index, f"is not an index into the {len(labels)} labels", "error")
        out[out_name(node, out_port)] = np.asarray([labels[int(i)] for i in index], dtype=object)
    return out
