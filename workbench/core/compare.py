"""Parity between two prediction batches: the check behind `workbench compare` and every conversion.

`compare_batches(a, b)` compares each output role both batches have (label, probabilities, value),
`b` against `a` as reference: probabilities are aligned by class label first (so PMML's "1" and
ONNX's 1 line up), and a value is within tolerance when |a - b| <= atol + rtol * |a|. The report
gives, per role and overall, the max absolute and relative difference, the label agreement rate,
the rows that differ most (with their feature values when the rows frame is given), and notes
that explain what was compared and why rows differ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.errors import WorkbenchError
from workbench.core.predictions import PredictionBatch, align_probabilities, canonical_label, canonical_labels
from workbench.core.types import jsonable

from workbench.core.tolerances import DEFAULT_ATOL, DEFAULT_RTOL  # noqa: F401  (re-exported)
WORST_ROWS = 5


@dataclass
class RoleParity:
    """Parity of one output role (label, probabilities or value)."""

    role: str
    compared: bool = True
    passed: bool = True
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    #: labels only: share of rows whose labels agree
    agreement: float | None = None
    #: rows (0-based) outside tolerance / with a different label
    rows_outside: list[int] = field(default_factory=list)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"compared": self.compared, "passed": self.passed, "max_abs_diff": self.max_abs_diff,
                "max_rel_diff": self.max_rel_diff, "agreement": self.agreement,
                "rows_outside": len(self.rows_outside), "note": self.note or None}


@dataclass
class ParityReport:
    """The result of `compare_batches`; `to_json()` is the `workbench compare --json` core."""

    rows: int
    atol: float
    rtol: float
    passed: bool
    max_abs_diff: float | None
    max_rel_diff: float | None
    label_agreement: float | None
    roles: dict[str, RoleParity]
    worst_rows: list[dict[str, Any]]
    a_runtime: str = ""
    b_runtime: str = ""
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return jsonable({
            "rows": self.rows,
            "max_abs_diff": self.max_abs_diff,
            "max_rel_diff": self.max_rel_diff,
            "label_agreement": self.label_agreement,
            "passed": self.passed,
            "worst_rows": self.worst_rows,
            "atol": self.atol,
            "rtol": self.rtol,
            "roles": {name: role.to_json() for name, role in self.roles.items()},
            "notes": list(self.notes),
        })

    def summary(self) -> str:
        """One line: passed or not, and the headline numbers."""
        verdict = "PASS" if self.passed else "FAIL"
        parts = [f"{verdict}: {self.rows} rows"]
        if self.label_agreement is not None:
            parts.append(f"labels agree on {agreement_text(self.label_agreement)}")
        if self.max_abs_diff is not None:
            parts.append(f"max abs diff {self.max_abs_diff:.3g}")
        if self.max_rel_diff is not None:
            parts.append(f"max rel diff {self.max_rel_diff:.3g}")
        return ", ".join(parts) + f" (atol {self.atol:g}, rtol {self.rtol:g})"


@dataclass
class _View:
    """The parts of a batch that take part in the comparison (after alignment)."""

    labels: list[str] | None
    raw_labels: np.ndarray | None
    probabilities: np.ndarray | None
    classes: list[Any] | None
    values: np.ndarray | None


def agreement_text(fraction: float) -> str:
    """A share of agreeing labels: "100%" only when all agree, otherwise two decimals never rounded
    up to 100 ("99.99%", "50.00%")."""
    if fraction >= 1.0:
        return "100%"
    return f"{min(fraction * 100, 99.99):.2f}%"


def check_tolerances(atol: float | None, rtol: float | None) -> None:
    """Raise unless each given tolerance is a finite number >= 0 (a NaN would make every
    comparison pass: `diff > nan` is always False)."""
    bad = [f"{name} {value!r}" for name, value in (("atol", atol), ("rtol", rtol))
           if value is not None and not (isinstance(value, int | float) and math.isfinite(value) and value >= 0)]
    if bad:
        raise WorkbenchError(f"tolerances must be finite numbers, zero or positive: got {', '.join(bad)}",
                             hint="e.g. --atol 1e-6 --rtol 1e-5")


def compare_batches(a: PredictionBatch, b: PredictionBatch, atol: float = DEFAULT_ATOL,
                    rtol: float = DEFAULT_RTOL, frame: pd.DataFrame | None = None,
                    worst: int = WORST_ROWS) -> ParityReport:
    """Compare batch `b` against reference `a`, row by row, per output role.

    Parameters
    ----------
    a, b
        Predictions of the same rows (same order); `a` is the reference for relative differences.
    atol, rtol
        A number is within tolerance when |a - b| <= atol + rtol * |a|. Labels must agree exactly.
    frame
        The rows that were predicted; when given, the worst rows carry their feature values.
    worst
        How many of the most different rows to report.

    Returns
    -------
    ParityReport
        `passed` is True when every compared role is within tolerance and something was compared.
    """
    check_tolerances(atol, rtol)
    if a.rows != b.rows:
        raise WorkbenchError(f"cannot compare {a.rows} predictions with {b.rows}: both must predict the "
                             "same rows")
    if frame is not None and len(frame) != a.rows:
        raise WorkbenchError(f"the rows frame has {len(frame)} rows but the predictions have {a.rows}")
    n = a.rows
    notes: list[str] = []
    va, vb, classes_differ = _views(a, b, notes)
    roles: dict[str, RoleParity] = {}
    row_diff = np.zeros(n)
    row_outside = np.zeros(n, dtype=bool)
    label_mismatch = np.zeros(n, dtype=bool)

    if va.labels is not None and vb.labels is not None:
        agree = np.asarray([x == y for x, y in zip(va.labels, vb.labels, strict=True)], dtype=bool)
        label_mismatch = ~agree
        roles["label"] = RoleParity("label", passed=bool(agree.all()),
                                    agreement=float(agree.mean()) if n else 1.0,
                                    rows_outside=[int(i) for i in np.flatnonzero(~agree)])
    elif (va.labels is None) != (vb.labels is None) and (a.labels is not None or b.labels is not None):
        notes.append(f"labels not compared: only {'a' if va.labels is not None else 'b'} predicts labels")

    if va.probabilities is not None and vb.probabilities is not None:
        role, diff, outside = _numeric("probabilities", va.probabilities, vb.probabilities, atol, rtol)
        if classes_differ:
            role.passed = False
            role.note = "the two models have different class labels"
        roles["probabilities"] = role
        row_diff = np.maximum(row_diff, diff)
        row_outside |= outside

    if va.values is not None and vb.values is not None:
        if va.values.shape != vb.values.shape:
            shapes = f"{va.values.shape[1:]} vs {vb.values.shape[1:]}"
            roles["value"] = RoleParity("value", passed=False, note=f"value shapes differ: {shapes}")
        else:
            role, diff, outside = _numeric("value", va.values, vb.values, atol, rtol)
            roles["value"] = role
            row_diff = np.maximum(row_diff, diff)
            row_outside |= outside

    numeric = [r for r in roles.values() if r.max_abs_diff is not None]
    max_abs = max((r.max_abs_diff for r in numeric), default=None)
    max_rel = max((r.max_rel_diff for r in numeric), default=None)
    label_role = roles.get("label")
    if not roles:
        notes.append(f"nothing to compare: a has {a.roles or ['no outputs']}, "
                     f"b has {b.roles or ['no outputs']}")
    passed = bool(roles) and all(r.passed for r in roles.values())
    notes.extend(_explain(roles, row_outside, label_mismatch, row_diff, n))
    worst_rows = _worst_rows(va, vb, a, b, frame, row_diff, row_outside, label_mismatch,
                             "label" in roles, worst)
    return ParityReport(rows=n, atol=atol, rtol=rtol, passed=passed, max_abs_diff=max_abs,
                        max_rel_diff=max_rel,
                        label_agreement=label_role.agreement if label_role else None, roles=roles,
                        worst_rows=worst_rows, a_runtime=a.runtime, b_runtime=b.runtime, notes=notes)


# ------------------------------------------------------------------------------------------ views

def _views(a: PredictionBatch, b: PredictionBatch, notes: list[str]) -> tuple[_View, _View, bool]:
    """Comparable views of both batches (b aligned to a's classes); True when the class sets differ."""
    va, vb = _view(a), _view(b)
    classes_differ = False
    # One side a classifier, the other only raw values of the same width (e.g. a SavedModel whose
    # signature does not say it classifies): read those values as probabilities of the same classes.
    for x, y, xname, yname in ((va, vb, "a", "b"), (vb, va, "b", "a")):
        if x.probabilities is not None and y.probabilities is None and y.values is not None \
                and y.values.shape == x.probabilities.shape:
            y.probabilities, y.classes = y.values.astype(np.float64), list(x.classes or [])
            y.values = None
            if y.labels is None and x.classes:
                idx = np.argmax(np.nan_to_num(y.probabilities, nan=-1.0), axis=1)
                y.labels = [canonical_label(x.classes[i]) for i in idx]
            notes.append(f"{yname} gives plain values; compared them as probabilities of {xname}'s classes "
                         f"{[jsonable(c) for c in x.classes or []]}")
    if va.probabilities is not None and vb.probabilities is not None and va.classes and vb.classes:
        ca, cb = canonical_labels(va.classes), canonical_labels(vb.classes)
        if ca != cb:
            if set(ca) == set(cb):
                vb.probabilities = align_probabilities(vb.probabilities, vb.classes, va.classes)
                vb.classes = list(va.classes)
                notes.append("b's probability columns reordered to a's class order")
            else:
                classes_differ = True
                notes.append(f"class labels differ: a {ca}, b {cb}; probabilities compared on a's classes")
                vb.probabilities = align_probabilities(vb.probabilities, vb.classes, va.classes) \
                    if set(ca) & set(cb) else None
                vb.classes = list(va.classes)
    elif va.probabilities is not None and vb.probabilities is not None \
            and va.probabilities.shape != vb.probabilities.shape:
        widths = f"{va.probabilities.shape[1]} vs {vb.probabilities.shape[1]}"
        notes.append(f"probability widths differ ({widths})")
        vb.probabilities = None
    return va, vb, classes_differ


def _view(batch: PredictionBatch) -> _View:
    values = None
    if batch.values is not None:
        v = np.asarray(batch.values)
        if v.dtype.kind in "fiub":
            values = v.astype(np.float64).reshape(batch.rows, -1)
    probs = np.asarray(batch.probabilities, dtype=np.float64) if batch.probabilities is not None else None
    labels = canonical_labels(batch.labels) if batch.labels is not None else None
    return _View(labels=labels, raw_labels=batch.labels, probabilities=probs,
                 classes=list(batch.classes) if batch.classes is not None else None, values=values)


# ----------------------------------------------------------------------------------------- numbers

def _numeric(role: str, a: np.ndarray, b: np.ndarray, atol: float,
             rtol: float) -> tuple[RoleParity, np.ndarray, np.ndarray]:
    """Per-role differences; returns the role, each row's max abs diff and rows outside tolerance."""
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    both_nan = np.isnan(a) & np.isnan(b)
    one_nan = np.isnan(a) ^ np.isnan(b)
    diff = np.where(both_nan, 0.0, np.abs(a - b))
    diff = np.where(one_nan, np.inf, diff)
    scale = np.maximum(np.abs(np.nan_to_num(a)), np.abs(np.nan_to_num(b)))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / scale)
    rel = np.where(np.isnan(rel), np.inf, rel)
    outside_cells = diff > atol + rtol * np.abs(np.nan_to_num(a))
    row_diff = diff.max(axis=1) if diff.size else np.zeros(len(a))
    row_outside = outside_cells.any(axis=1) if diff.size else np.zeros(len(a), dtype=bool)
    result = RoleParity(role, passed=not bool(row_outside.any()),
                        max_abs_diff=float(diff.max()) if diff.size else 0.0,
                        max_rel_diff=float(rel.max()) if rel.size else 0.0,
                        rows_outside=[int(i) for i in np.flatnonzero(row_outside)])
    notes = []
    if one_nan.any():
        notes.append(f"{int(one_nan.any(axis=1).sum())} row(s) have a missing result on one side only")
    if both_nan.any():
        notes.append(f"{int(both_nan.any(axis=1).sum())} row(s) have no result (NaN) on both sides: they agree, "
                     "but look at those rows")
    if notes:
        result.note = "; ".join(notes)
    return result, row_diff, row_outside


def _explain(roles: dict[str, RoleParity], row_outside: np.ndarray, label_mismatch: np.ndarray,
             row_diff: np.ndarray, n: int) -> list[str]:
    """Notes that help read a failure (few rows far off while the rest agree closely, label ties)."""
    notes = []
    bad = row_outside | label_mismatch
    k = int(bad.sum())
    if n >= 10 and 0 < k <= max(1, n // 10):
        rest = float(row_diff[~bad].max()) if (~bad).any() else 0.0
        notes.append(f"{k} of {n} rows differ while the other rows agree to {rest:.2g}: typical of a "
                     "feature value that sits right on a split threshold, compared in float32 by one side "
                     "and in float64 by the other (tree models); see those rows' features")
    label = roles.get("label")
    if label is not None and label.rows_outside and not row_outside[label.rows_outside].any():
        notes.append(f"{len(label.rows_outside)} row(s) have different labels although probabilities agree "
                     "within tolerance: ties or a decision threshold right at the probability")
    return notes


def _feature_value(value: Any, dtype: Any) -> Any:
    """A feature value as the user wrote it: one of a float32 column (rows prepared for an ONNX graph)
    by its shortest decimal form (6.2, not 6.199999809265137); everything else as JSON."""
    if dtype == np.float32 and isinstance(value, float | np.floating) and np.isfinite(value):
        return float(str(np.float32(value)))
    return jsonable(value)


def _worst_rows(va: _View, vb: _View, a: PredictionBatch, b: PredictionBatch, frame: pd.DataFrame | None,
                row_diff: np.ndarray, row_outside: np.ndarray, label_mismatch: np.ndarray,
                labels_compared: bool, worst: int) -> list[dict[str, Any]]:
    """The rows that differ most: label disagreements first, then by largest difference."""
    candidates = [i for i in range(len(row_diff)) if label_mismatch[i] or row_diff[i] > 0]
    candidates.sort(key=lambda i: (not label_mismatch[i], not row_outside[i], -row_diff[i], i))
    out = []
    for i in candidates[:worst]:
        record: dict[str, Any] = {
            "row": i + 1,
            "index": jsonable(frame.index[i]) if frame is not None else i,
            "features": ({str(k): _feature_value(v, frame.dtypes[k]) for k, v in frame.iloc[i].items()}
                         if frame is not None else None),
            "a": _side(va, a, i),
            "b": _side(vb, b, i),
            "diff": float(row_diff[i]),
            "label_match": (not bool(label_mismatch[i])) if labels_compared else None,
            "within_tolerance": not bool(row_outside[i] or label_mismatch[i]),
        }
        out.append(record)
    return out


def _side(view: _View, batch: PredictionBatch, i: int) -> dict[str, Any]:
    label = None
    if batch.labels is not None:
        label = jsonable(batch.labels[i])
    elif view.labels is not None:
        label = view.labels[i]
    probs = None
    if view.probabilities is not None:
        names = view.classes if view.classes else list(range(view.probabilities.shape[1]))
        probs = {canonical_label(c): float(p) for c, p in zip(names, view.probabilities[i], strict=False)}
    value = None
    if view.values is not None:
        row = view.values[i]
        value = float(row[0]) if row.size == 1 else [float(x) for x in row]
    return {"label": label, "probabilities": probs, "value": value}


# ------------------------------------------------------------------------------------- two models

@dataclass
class ModelComparison:
    """Two models (or one model in two runtimes) run on the same rows and compared: `compare_models`."""

    report: ParityReport
    #: "a" / "b" -> model, format, runtime, elapsed_ms (the `workbench compare --json` sides)
    sides: dict[str, dict[str, Any]]
    warnings: list[str]
    #: the rows as model A took them (the worst rows' features come from here)
    prepared: pd.DataFrame


def _predict_side(label: str, path: str, frame: pd.DataFrame, runtime: str | None, trust: bool,
                  opened: tuple[Any, Any] | None = None) -> tuple[Any, Any, Any]:
    """(info, prepared rows, batch) of one side; `opened` is its (info, session) when loaded already."""
    from workbench.core.errors import InputRowsError
    from workbench.core.rows import prepare_rows
    from workbench.core.runtimes import predict_prepared, predict_rows

    try:
        if opened is not None:
            info, session = opened
            prepared = prepare_rows(frame, info)
            return info, prepared, predict_prepared(session, prepared)
        return predict_rows(path, frame, runtime=runtime, trust=trust)
    except InputRowsError as exc:
        raise InputRowsError(f"model {label} ({path}): {exc.message}", exc.problems, hint=exc.hint) from None


def compare_models(a: str, b: str, frame: pd.DataFrame, *, runtime_a: str | None = None,
                   runtime_b: str | None = None, trust: bool = False, trust_b: bool | None = None,
                   atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL, worst: int = WORST_ROWS,
                   opened_a: tuple[Any, Any] | None = None) -> ModelComparison:
    """The `workbench compare A B` flow: predict `frame` with A and with B (each in its runtime, the
    format's natural one by default), then `compare_batches(A, B)` with A as reference. The desktop
    app's Compare view calls this; `trust_b` defaults to `trust`."""
    check_tolerances(atol, rtol)
    info_a, prepared_a, batch_a = _predict_side("A", a, frame, runtime_a, trust, opened_a)
    info_b, _, batch_b = _predict_side("B", b, frame, runtime_b, trust if trust_b is None else trust_b)
    report = compare_batches(batch_a, batch_b, atol=atol, rtol=rtol, frame=prepared_a, worst=max(worst, 0))
    warnings = list(dict.fromkeys([*frame.attrs.get("warnings", []), *(f"A: {w}" for w in batch_a.warnings),
                                   *(f"B: {w}" for w in batch_b.warnings)]))
    sides = {
        "a": {"model": a, "format": info_a.format, "runtime": batch_a.runtime, "elapsed_ms": batch_a.elapsed_ms},
        "b": {"model": b, "format": info_b.format, "runtime": batch_b.runtime, "elapsed_ms": batch_b.elapsed_ms},
    }
    return ModelComparison(report, sides, warnings, prepared_a)


# ------------------------------------------------------------------------------- model vs endpoint

def compare_model_with_endpoint(model_path: str, endpoint_url: str, frame: pd.DataFrame, *,
                                model_name: str | None = None, version: int | str | None = None,
                                signature: str | None = None, grpc: str | None = None,
                                headers: dict[str, str] | None = None, timeout: float | None = None,
                                verify: bool | str = True, runtime: str | None = None, trust: bool = False,
                                atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL, worst: int = WORST_ROWS,
                                opened: tuple[Any, Any] | None = None) -> ModelComparison:
    """The `workbench compare MODEL URL` flow: predict `frame` with the local model (reference A), send the
    same rows to the endpoint (`endpoint_predictions`: the probe's request builder and clients), pair its
    outputs with A's roles, then `compare_batches(A, endpoint)`. A role or output that could not be paired
    is in the report's roles as not compared (`compared: false`, `passed: null`, the reason in `note`) and
    in the notes; with nothing paired the verdict is FAIL ("nothing to compare"). Endpoint failures raise
    `EndpointError` (its `exit_code`: 1 the endpoint answered with an error, 2 unreachable / bad input)."""
    from workbench.core.serving.endpoint_predictions import endpoint_predictions
    from workbench.core.serving.http import DEFAULT_TIMEOUT

    check_tolerances(atol, rtol)
    info_a, prepared_a, batch_a = _predict_side("A", model_path, frame, runtime, trust, opened)
    answer = endpoint_predictions(endpoint_url, frame, model=model_name, version=version, signature=signature,
                                  grpc=grpc, headers=headers, timeout=timeout or DEFAULT_TIMEOUT, verify=verify,
                                  reference=batch_a)
    report = compare_batches(batch_a, answer.batch, atol=atol, rtol=rtol, frame=prepared_a, worst=max(worst, 0))
    for item in answer.unpaired:
        if "role" in item and item["role"] not in report.roles:
            report.roles[item["role"]] = RoleParity(item["role"], compared=False, passed=None,  # type: ignore[arg-type]
                                                    note=item["reason"])
    report.notes[:0] = [n for n in answer.notes if n.startswith("not compared") or " read as " in n
                        or "arg-max" in n]
    warnings = list(dict.fromkeys([*frame.attrs.get("warnings", []), *(f"A: {w}" for w in batch_a.warnings)]))
    sides = {
        "a": {"model": model_path, "format": info_a.format, "runtime": batch_a.runtime,
              "elapsed_ms": batch_a.elapsed_ms},
        "b": answer.side(),
    }
    return ModelComparison(report, sides, warnings, prepared_a)


# ---- describing a comparison: the words both front ends show ---------------------------------------------

def format_number(value: Any, empty: str = "-") -> str:
    """A difference or tolerance as the reports show it (3 significant digits; `empty` for none)."""
    if value is None:
        return empty
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def describe_side(side: dict[str, Any], empty: str = "-") -> str:
    """One side of a worst row (label, the first probabilities, value) on one line."""
    parts = []
    if side.get("label") is not None:
        parts.append(f"label {side['label']}")
    if side.get("probabilities"):
        parts.append("p " + " ".join(f"{k}:{v:.4g}" for k, v in list(side["probabilities"].items())[:6]))
    if side.get("value") is not None:
        value = side["value"]
        parts.append("value " + (f"{value:.6g}" if isinstance(value, float) else str(value)))
    return ", ".join(parts) or empty
