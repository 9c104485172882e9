"""one_hot_encoder, bucketizer and binarizer (Spark's OneHotEncoderModel, Bucketizer, Binarizer)."""

from __future__ import annotations

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.core.mleap.model import MleapNode
from workbench.core.mleap.ops import register
from workbench.core.mleap.ops._common import (
    as_matrix,
    as_scalars,
    attr,
    field,
    handle_invalid,
    io_pairs,
    out_name,
    refuse_rows,
    vector_attr,
)

_MAX = np.finfo(np.float64).max


def category_sizes(node: MleapNode) -> list[int]:
    """`category_sizes` (Spark 2.3+, one per column) or `size` (the older one-column encoder)."""
    sizes = attr(node, "category_sizes", default=None)
    if sizes is None:
        sizes = [attr(node, "size")]
    return [int(s) for s in np.asarray(sizes).reshape(-1)]


@register("one_hot_encoder")
def one_hot_encoder(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Spark OneHotEncoderModel: a category index -> a 0/1 vector (dense here).

    With handle_invalid=keep an extra slot at index `size` takes invalid indices; drop_last drops the last
    slot (the invalid one under keep, the last category otherwise), which then encodes as all zeros.
    An index is valid when 0 <= x < size (truncated to an integer, as Spark does).
    """
    policy = handle_invalid(node)
    drop_last = bool(attr(node, "drop_last", "dropLast", default=True))
    sizes = category_sizes(node)
    pairs = io_pairs(node)
    if len(sizes) != len(pairs):
        raise WorkbenchError(f"one_hot_encoder {node.name!r}: {len(sizes)} category sizes for {len(pairs)} inputs")
    out: dict[str, np.ndarray] = {}
    for (in_port, out_port), size in zip(pairs, sizes, strict=True):
        x = as_scalars(field(node, columns, in_port), f"one_hot_encoder {node.name!r} input")
        with np.errstate(invalid="ignore"):
            valid = (x >= 0) & (x < size)
        if policy == "keep":
            width = size if drop_last else size + 1
            index = np.where(valid, np.trunc(np.where(valid, x, 0)), size).astype(np.int64)
        else:
            refuse_rows(node, ~valid, x, f"is not a category index in [0, {size})", policy)
            width = size - 1 if drop_last else size
            index = np.trunc(x).astype(np.int64)
        encoded = np.zeros((len(x), max(width, 0)), dtype=np.float64)
        hot = index < width
        encoded[np.flatnonzero(hot), index[hot]] = 1.0
        out[out_name(node, out_port)] = encoded
    return out


def restore_splits(splits: np.ndarray) -> np.ndarray:
    """Bucket bounds with the outer +-Double.MaxValue an export writes for +-infinity made infinite again."""
    splits = np.array(splits, dtype=np.float64)
    if len(splits) and splits[0] == -_MAX:
        splits[0] = -np.inf
    if len(splits) and splits[-1] == _MAX:
        splits[-1] = np.inf
    return splits


def bucketize(node: MleapNode, x: np.ndarray, splits: np.ndarray, policy: str) -> np.ndarray:
    """Spark Bucketizer.binarySearchForBuckets over a whole column: bucket i holds [s_i, s_i+1), the last
    also its upper bound; NaN goes to the extra bucket len(splits)-1 under keep; out of bounds is an error."""
    if len(splits) < 2:
        raise WorkbenchError(f"bucketizer {node.name!r} has {len(splits)} splits: at least 2 are needed")
    nan = np.isnan(x)
    if policy != "keep":
        refuse_rows(node, nan, x, "is NaN", policy)
    with np.errstate(invalid="ignore"):
        outside = ~nan & ((x < splits[0]) | (x > splits[-1]))
    refuse_rows(node, outside, x, f"is outside the bucketizer's bounds [{splits[0]}, {splits[-1]}]", "error")
    index = np.searchsorted(splits, np.where(nan, splits[0], x), side="right") - 1
    index = np.minimum(index, len(splits) - 2)  # x == the last split: the last bucket
    return np.where(nan, len(splits) - 1, index).astype(np.float64)


@register("bucketizer")
def bucketizer(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Spark Bucketizer: a number -> the index of its bucket between `splits` (as a double)."""
    policy = handle_invalid(node)
    pairs = io_pairs(node)
    if len(pairs) == 1:
        split_lists = [vector_attr(node, "splits")]
    else:
        split_lists = [vector_attr(node, f"splits_array_{i}", f"splits{i}") for i in range(len(pairs))]
    out: dict[str, np.ndarray] = {}
    for (in_port, out_port), splits in zip(pairs, split_lists, strict=True):
        x = as_scalars(field(node, columns, in_port), f"bucketizer {node.name!r} input")
        out[out_name(node, out_port)] = bucketize(node, x, restore_splits(splits), policy)
    return out


@register("binarizer")
def binarizer(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Spark Binarizer: 1.0 where the value is > threshold, else 0.0 (scalars or each value of a vector)."""
    threshold = float(attr(node, "threshold"))
    out: dict[str, np.ndarray] = {}
    for in_port, out_port in io_pairs(node):
        values = np.asarray(field(node, columns, in_port))
        x = as_matrix(values, f"binarizer {node.name!r} input")
        result = (x > threshold).astype(np.float64)
        out[out_name(node, out_port)] = result[:, 0] if values.ndim == 1 else result
    return out
