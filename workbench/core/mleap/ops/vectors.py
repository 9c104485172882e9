"""vector_assembler, interaction and polynomial_expansion: ops that build feature vectors."""

from __future__ import annotations

from math import comb

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.core.mleap.model import MleapNode
from workbench.core.mleap.ops import register
from workbench.core.mleap.ops._common import (
    as_matrix,
    attr,
    field,
    numbered_ports,
    out_name,
    refuse_rows,
    vector_attr,
)


def _input_ports(node: MleapNode) -> list[str]:
    ports = numbered_ports(node, "input")
    if not ports and node.input("input") is not None:
        ports = ["input"]
    if not ports:
        raise WorkbenchError(f"{node.op} {node.name!r} has no input0.. ports")
    return ports


@register("vector_assembler")
def vector_assembler(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Spark VectorAssembler: the inputs (numbers or vectors) side by side in port order, one vector per row.
    A null input is an error, as in Spark; NaN values are passed on as they are."""
    parts = []
    for port in _input_ports(node):
        values = np.asarray(field(node, columns, port))
        if values.dtype == object:
            nulls = np.fromiter((v is None for v in values.reshape(len(values), -1)[:, 0].tolist()), dtype=bool,
                                count=len(values))
            refuse_rows(node, nulls, values, f"is null in field {node.input(port)!r}", "error")
        parts.append(as_matrix(values, f"vector_assembler {node.name!r} field {node.input(port)!r}"))
    return {out_name(node, "output"): np.concatenate(parts, axis=1)}


def _encode(node: MleapNode, x: np.ndarray, sizes: list[int], index: int) -> np.ndarray:
    """Spark Interaction's FeatureEncoder for one input: a feature with n > 1 values is one-hot (its value
    is a category index), a feature with 1 is numeric (its value as it is); the encodings side by side."""
    if x.shape[1] != len(sizes):
        raise WorkbenchError(f"interaction {node.name!r}: input {index} has {x.shape[1]} values per row, its "
                             f"num_features{index} says {len(sizes)}")
    parts = []
    for j, n in enumerate(sizes):
        column = x[:, j]
        if n > 1:
            ok = (column >= 0) & (column < n) & (column == np.floor(column))
            refuse_rows(node, ~ok, column, f"is not a category index in [0, {n}) (input {index}, feature {j})",
                        "error")
            hot = np.zeros((len(column), n), dtype=np.float64)
            hot[np.arange(len(column)), column.astype(np.int64)] = 1.0
            parts.append(hot)
        else:
            parts.append(column.reshape(-1, 1))
    return np.concatenate(parts, axis=1) if parts else np.ones((len(x), 1))


@register("interaction")
def interaction(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Spark Interaction: the product of every combination of one encoded value from each input, the first
    input's index varying slowest (Spark builds it from the last input back: index = i_prev + i * size_prev)."""
    ports = _input_ports(node)
    count = int(attr(node, "num_inputs", default=len(ports)))
    if count != len(ports):
        raise WorkbenchError(f"interaction {node.name!r}: num_inputs is {count}, the node has {len(ports)} inputs")
    result: np.ndarray | None = None
    for i, port in enumerate(ports):
        sizes = [int(v) for v in vector_attr(node, f"num_features{i}")]
        encoded = _encode(node, as_matrix(field(node, columns, port), f"interaction input {i}"), sizes, i)
        result = encoded if result is None else (result[:, :, None] * encoded[:, None, :]).reshape(len(encoded), -1)
    assert result is not None
    return {out_name(node, "output"): result}


def expansion_terms(n: int, degree: int) -> list[tuple[int, ...]]:
    """The exponent tuples of Spark PolynomialExpansion's output, in its order (the constant left out):
    the last feature's power is the outer loop, so (x, y) at degree 2 gives x, x^2, y, x*y, y^2."""
    terms: list[tuple[int, ...]] = []

    def expand(last: int, degree_left: int, powers: list[int]) -> None:
        if degree_left == 0 or last < 0:
            terms.append(tuple(powers))
            return
        for p in range(degree_left + 1):
            powers[last] = p
            expand(last - 1, degree_left - p, powers)
        powers[last] = 0

    expand(n - 1, degree, [0] * n)
    return terms[1:]


def _expand(values: np.ndarray, last: int, degree: int, multiplier: np.ndarray, out: list[np.ndarray]) -> None:
    """Spark's expandDense on whole columns, multiplying in its order (alpha *= v, last feature first)."""
    if degree == 0 or last < 0:
        out.append(multiplier)
        return
    v = values[:, last]
    alpha = multiplier
    for _ in range(degree + 1):
        _expand(values, last - 1, degree - _, alpha, out)
        alpha = alpha * v


@register("polynomial_expansion")
def polynomial_expansion(node: MleapNode, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Spark PolynomialExpansion: every monomial of the vector's values up to `degree`, Spark's term order."""
    degree = int(attr(node, "degree"))
    if degree < 1:
        raise WorkbenchError(f"polynomial_expansion {node.name!r} has degree {degree}: expected >= 1")
    x = as_matrix(field(node, columns, "input"), f"polynomial_expansion {node.name!r} input")
    terms: list[np.ndarray] = []
    _expand(x, x.shape[1] - 1, degree, np.ones(len(x), dtype=np.float64), terms)
    if len(terms) != comb(x.shape[1] + degree, degree):
        raise WorkbenchError("polynomial_expansion produced the wrong number of terms")
    return {out_name(node, "output"): np.column_stack(terms[1:]) if len(terms) > 1 else np.empty((len(x), 0))}
