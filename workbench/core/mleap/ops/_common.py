"""Helpers the op modules share: reading a node's fields and attributes, refusing rows, thresholds."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.core.errors import InputRowsError, WorkbenchError
from workbench.core.mleap.model import MleapNode

_NUMBERED = re.compile(r"^(input|output)(\d+)$")
#: how many refused rows a message names before "and N more"
_SHOWN = 10


def field(node: MleapNode, columns: dict[str, np.ndarray], port: str = "input") -> np.ndarray:
    """The frame field bound to `node`'s input `port`; a missing binding or field is named."""
    name = node.input(port)
    if name is None:
        raise WorkbenchError(f"MLeap node {node.name!r} ({node.op}) has no {port!r} input port")
    if name not in columns:
        raise WorkbenchError(f"MLeap node {node.name!r} ({node.op}) reads field {name!r}, which neither the "
                             f"rows nor an earlier node provide", hint=f"fields: {', '.join(sorted(columns))}")
    return columns[name]


def numbered_ports(node: MleapNode, kind: str) -> list[str]:
    """`node`'s ports "input0", "input1"... (kind "input") or "output0"... in numeric order."""
    ports = node.inputs if kind == "input" else node.outputs
    found = []
    for p in ports:
        m = _NUMBERED.match(p.port)
        if m and m.group(1) == kind:
            found.append((int(m.group(2)), p.port))
    return [port for _, port in sorted(found)]


def io_pairs(node: MleapNode) -> list[tuple[str, str]]:
    """(input port, output port) pairs of a one-or-many column transformer: ("input", "output") for the
    single-column shape, else ("input0", "output0"), ("input1", "output1")..."""
    if node.input("input") is not None:
        return [("input", "output" if node.output("output") is not None else _first_output(node))]
    ins, outs = numbered_ports(node, "input"), numbered_ports(node, "output")
    if not ins or len(ins) != len(outs):
        raise WorkbenchError(f"MLeap node {node.name!r} ({node.op}) has inputs {[p.port for p in node.inputs]} "
                             f"and outputs {[p.port for p in node.outputs]}: expected input/output or "
                             "input0../output0.. pairs")
    return list(zip(ins, outs, strict=True))


def _first_output(node: MleapNode) -> str:
    if not node.outputs:
        raise WorkbenchError(f"MLeap node {node.name!r} ({node.op}) has no output")
    return node.outputs[0].port


def out_name(node: MleapNode, port: str) -> str:
    name = node.output(port)
    if name is None:
        raise WorkbenchError(f"MLeap node {node.name!r} ({node.op}) has no {port!r} output port")
    return name


def attr(node: MleapNode, *names: str, default: Any = ...) -> Any:
    """The first of `names` present in `node`'s attributes (or `default`; without one, an error)."""
    for name in names:
        if name in node.attributes and node.attributes[name] is not None:
            return node.attributes[name]
    if default is ...:
        raise WorkbenchError(f"MLeap node {node.name!r} ({node.op}) lacks the attribute {names[0]!r}",
                             hint=f"attributes: {', '.join(sorted(node.attributes)) or 'none'}")
    return default


def vector_attr(node: MleapNode, *names: str, default: Any = ...) -> np.ndarray | None:
    """A numeric attribute as a flat float64 array (a tensor, a list or a scalar)."""
    value = attr(node, *names, default=default)
    if value is None:
        return None
    return np.asarray(value, dtype=np.float64).reshape(-1)


def as_matrix(values: np.ndarray, what: str = "") -> np.ndarray:
    """A field as an (N, k) float64 matrix (a scalar field is k = 1)."""
    arr = np.asarray(values)
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise WorkbenchError(f"{what or 'a field'} holds values that are not numbers") from None
    arr = arr.astype(np.float64, copy=False)
    return arr.reshape(len(arr), -1) if arr.ndim != 2 else arr


def as_scalars(values: np.ndarray, what: str = "") -> np.ndarray:
    """A scalar field as an (N,) float64 array."""
    arr = as_matrix(values, what)
    if arr.shape[1] != 1:
        raise WorkbenchError(f"{what or 'a field'} holds vectors of {arr.shape[1]} values where one number per "
                             "row is expected")
    return arr[:, 0]


def is_missing(values: np.ndarray) -> np.ndarray:
    """True where a value is null (None) or NaN."""
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        return np.isnan(arr)
    if arr.dtype == object:
        return np.fromiter((v is None or (isinstance(v, float) and v != v) for v in arr.tolist()),
                           dtype=bool, count=len(arr))
    return np.zeros(arr.shape, dtype=bool)


def handle_invalid(node: MleapNode) -> str:
    """The node's handle_invalid ("error" when absent, as in Spark)."""
    value = str(attr(node, "handle_invalid", "handleInvalid", default="error")).lower()
    if value not in ("error", "skip", "keep"):
        raise WorkbenchError(f"MLeap node {node.name!r} ({node.op}) has handle_invalid {value!r}: "
                             "expected error, skip or keep")
    return value


def refuse_rows(node: MleapNode, bad: np.ndarray, values: Sequence[Any] | np.ndarray, what: str,
                policy: str) -> None:
    """Raise InputRowsError naming every row (counted from 1) where `bad` is True, if any.

    With handle_invalid=skip Spark would drop those rows; the workbench never drops a row silently,
    so it refuses them by number instead.
    """
    rows = np.flatnonzero(np.asarray(bad))
    if not len(rows):
        return
    problems = [f"row {i + 1}: {_show(values[i])} {what}" for i in rows]
    shown = ", ".join(str(i + 1) for i in rows[:_SHOWN]) + (f" and {len(rows) - _SHOWN} more"
                                                           if len(rows) > _SHOWN else "")
    if policy == "skip":
        message = (f"{node.op} {node.name!r}: row(s) {shown} {what}; the bundle says handle_invalid=skip, which "
                   "drops such rows in Spark, and the workbench refuses them instead of dropping them")
    else:
        message = f"{node.op} {node.name!r}: row(s) {shown} {what} (handle_invalid={policy})"
    raise InputRowsError(message, problems, hint=problems[0])


def _show(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return np.array2string(value, threshold=6)
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def prediction_from_probability(probability: np.ndarray, thresholds: Sequence[float] | None) -> np.ndarray:
    """Spark's probability2prediction: argmax of p / threshold (a zero threshold wins), or plain argmax."""
    if thresholds is None:
        return np.argmax(probability, axis=1).astype(np.float64)
    t = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if t.shape[0] != probability.shape[1]:
        raise WorkbenchError(f"{t.shape[0]} thresholds for {probability.shape[1]} classes")
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(t == 0.0, np.inf, probability / np.where(t == 0.0, 1.0, t))
    return np.argmax(scaled, axis=1).astype(np.float64)


def classifier_outputs(node: MleapNode, raw: np.ndarray | None, probability: np.ndarray,
                       prediction: np.ndarray) -> dict[str, np.ndarray]:
    """The fields a classifier node writes: prediction, and raw_prediction / probability where bound."""
    out = {out_name(node, "prediction"): prediction}
    raw_name = node.output("raw_prediction") or node.output("rawPrediction")
    if raw_name is not None and raw is not None:
        out[raw_name] = raw
    prob_name = node.output("probability")
    if prob_name is not None:
        out[prob_name] = probability
    return out
