"""Send rows to a serving endpoint and turn its answer into a `PredictionBatch`, paired with a local one.

`endpoint_predictions(url, frame, reference=batch)` runs the probe flow (`run_probe`: the same request
builder and REST/gRPC/v2 clients as `workbench probe`), reads the endpoint's answer as named outputs and
maps them onto the roles of the reference batch (the local model's predictions):

* probabilities: an output named probabilities / probability / scores / output_probability (a :classify
  answer's scores follow its classes), else the one numeric output as wide as the local classes;
* label: an output named label / labels / classes / class_ids / predict with one value per row, else the
  arg-max of the paired probabilities (said in a note);
* value: an output named outputs / output / value / predictions / variable (or the local output's own
  name), else the one numeric output as wide as the local values.

Everything that could not be paired is listed in `unpaired` with the reason: a local role the endpoint
gave nothing for, or an endpoint output no local role matches. Nothing is ever dropped silently.
Failures raise `EndpointError` carrying the probe's diagnosis and the CLI's exit code (1: the endpoint
answered with an error, 2: unreachable or bad input).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.core.predictions import (PredictionBatch, binary_to_two_columns, canonical_label,
                                        labels_from_probabilities, probabilities_from_maps)
from workbench.core.serving.diagnosis import Diagnosis
from workbench.core.serving.http import DEFAULT_TIMEOUT

PROBABILITY_NAMES = ("probabilities", "probability", "probas", "scores", "output_probability",
                     "predict_proba", "probs")
LABEL_NAMES = ("label", "labels", "classes", "class", "class_ids", "output_label", "predicted_label",
               "predict", "prediction")
VALUE_NAMES = ("outputs", "output", "value", "values", "predictions", "variable", "predict", "prediction",
               "y")


class EndpointError(WorkbenchError):
    """The endpoint could not give predictions for the rows; `diagnosis` says why, `exit_code` is the
    CLI's (1 the endpoint answered with an error, 2 it was unreachable or the input was bad)."""

    def __init__(self, diagnosis: Diagnosis, where: str = "") -> None:
        prefix = f"endpoint {where}: " if where else "endpoint: "
        super().__init__(prefix + diagnosis.message, hint=diagnosis.hint or None)
        self.diagnosis = diagnosis
        self.kind = diagnosis.kind
        self.exit_code = 1 if diagnosis.reachable else 2


@dataclass
class EndpointAnswer:
    """An endpoint's predictions of some rows, as a batch paired with a reference batch's roles."""

    batch: PredictionBatch
    url: str
    protocol: str | None
    transport: str                      # "rest" or "grpc"
    model: str | None
    version: Any
    signature: str | None
    #: endpoint outputs by name, one row per input row
    outputs: dict[str, np.ndarray]
    #: role (label / probabilities / value) -> the endpoint output it was read from ("argmax(...)" for
    #: labels derived from probabilities)
    paired: dict[str, str] = field(default_factory=dict)
    #: what was not compared: {"role": ..., "reason": ...} or {"output": ..., "reason": ...}
    unpaired: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    latency_ms: float = 0.0
    request_url: str | None = None

    def side(self) -> dict[str, Any]:
        """The `b` side of `workbench compare MODEL URL --json` (model/format/runtime/elapsed_ms as for a
        model, plus what was asked of which endpoint and how its outputs were paired)."""
        return {"model": self.url, "format": f"endpoint ({self.protocol or 'unknown'})",
                "runtime": self.batch.runtime, "elapsed_ms": self.latency_ms, "endpoint": self.url,
                "protocol": self.protocol, "transport": self.transport, "served_model": self.model,
                "version": self.version, "signature": self.signature, "request_url": self.request_url,
                "outputs": sorted(self.outputs), "paired": dict(self.paired),
                "unpaired": [dict(u) for u in self.unpaired]}


def endpoint_predictions(url: str, frame: Any, *, model: str | None = None, version: int | str | None = None,
                         signature: str | None = None, grpc: str | None = None,
                         headers: dict[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT,
                         verify: bool | str = True, reference: PredictionBatch | None = None) -> EndpointAnswer:
    """Send `frame` to the endpoint (over gRPC when `grpc` HOST:PORT is given; the REST URL is probed too)
    and read its answer as a batch whose roles are paired with `reference`'s (see the module doc)."""
    from workbench.core.serving.probe import ProbeOptions, run_probe

    opts = ProbeOptions(url=url, model=model, version=version, signature=signature, rows=frame, grpc=grpc,
                        timeout=timeout, headers=dict(headers or {}), verify=verify)
    report = run_probe(opts)
    failures = [(report.error, url)] if report.error else []
    if report.grpc is not None and report.grpc.error:
        failures.append((report.grpc.error, f"gRPC {grpc}"))
    if failures:
        # an unreachable part decides the exit code (2), as `workbench probe` does
        diag, where = next(((d, w) for d, w in failures if not d.reachable), failures[0])
        raise EndpointError(diag, where)
    part = report.grpc if grpc and report.grpc is not None else report
    transport = "grpc" if part is report.grpc or url.lower().startswith("grpc") else "rest"
    n = len(frame)
    if part.predictions is None:
        raise EndpointError(Diagnosis("invalid-answer", "the endpoint answered without predictions",
                                      "see `workbench probe` on the same URL", status=200), url)
    sig = part.signatures.get(part.signature) if part.signature else None
    outputs, notes = named_outputs(part.predictions, sig, n, url)
    answer = EndpointAnswer(batch=PredictionBatch(runtime=f"endpoint {part.protocol or ''} {transport}".strip()),
                            url=url, protocol=part.protocol, transport=transport, model=part.model,
                            version=part.version, signature=part.signature, outputs=outputs, notes=notes,
                            latency_ms=float(sum(part.latency_ms)),
                            request_url=part.request.url if part.request is not None else None)
    answer.notes.extend(n for n in part.notes if n not in answer.notes)
    pair_outputs(answer, reference)
    answer.batch.elapsed_ms = answer.latency_ms
    return answer


# ---------------------------------------------------------------------------------------- outputs

def named_outputs(predictions: list[Any], sig: Any, n: int, url: str = "") -> tuple[dict[str, np.ndarray], list[str]]:
    """The endpoint's per-row predictions as {output name: array with one row per input row}."""
    notes: list[str] = []
    if len(predictions) != n:
        raise EndpointError(Diagnosis("invalid-answer", f"the endpoint answered {len(predictions)} prediction(s) "
                                      f"for {n} row(s)", "each row sent must get one prediction", status=200),
                            url)
    sig_outputs = list(getattr(sig, "outputs", {}) or {})
    if n and all(isinstance(row, dict) for row in predictions):
        names = list(predictions[0])
        return {str(k): _array([row.get(k) for row in predictions]) for k in names}, notes
    if n and getattr(sig, "takes_examples", False) and all(_is_pairs(row) for row in predictions):
        # a :classify answer: per row [[label, score], ...]
        classes = _array([[p[0] for p in row] for row in predictions], text=True)
        scores = _array([[p[1] for p in row] for row in predictions])
        return {"classes": classes, "scores": scores}, notes
    if len(sig_outputs) == 1:
        name = sig_outputs[0]
    elif getattr(sig, "takes_examples", False):
        name = "outputs"                  # a :regress answer: one value per row
    else:
        name = "output"
        if sig_outputs:
            notes.append(f"the endpoint answered one unnamed output although its signature lists "
                         f"{', '.join(sig_outputs)}: read as 'output'")
    return {name: _array(predictions)}, notes


def _is_pairs(row: Any) -> bool:
    return isinstance(row, list) and bool(row) and all(isinstance(p, list | tuple) and len(p) == 2 for p in row)


def _array(values: list[Any], text: bool = False) -> np.ndarray:
    """Numbers as a numeric array (one row per input row); anything else as an object array."""
    if not text:
        try:
            arr = np.asarray(values)
            if arr.dtype.kind in "fiub":
                return arr
        except (ValueError, TypeError):
            pass
    try:
        return np.asarray(values, dtype=object)
    except (ValueError, TypeError):  # ragged rows
        out = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            out[i] = v
        return out


def _numeric(arr: np.ndarray) -> bool:
    return arr.dtype.kind in "fiub"


def _rows2d(arr: np.ndarray) -> np.ndarray:
    return arr.reshape(len(arr), -1)


def _width(arr: np.ndarray) -> int:
    return int(_rows2d(arr).shape[1]) if len(arr) else 0


# ---------------------------------------------------------------------------------------- pairing

def pair_outputs(answer: EndpointAnswer, reference: PredictionBatch | None) -> None:
    """Fill answer.batch's roles from answer.outputs, paired with `reference`'s roles; record the rest."""
    batch, outputs = answer.batch, answer.outputs
    left = dict(outputs)
    lower = {k.lower(): k for k in left}

    def named(candidates: tuple[str, ...] | list[str]) -> str | None:
        for c in candidates:
            key = lower.get(c.lower())
            if key is not None and key in left:
                return key
        return None

    if reference is None:  # no local side: read what is recognisable by name, else the first output
        reference = PredictionBatch(runtime="", values=np.zeros((len(next(iter(outputs.values()), [])), 1)))
    n_classes = len(reference.classes) if reference.classes is not None else (
        reference.probabilities.shape[1] if reference.probabilities is not None else None)
    local_names = list(reference.outputs)

    # probabilities
    if reference.probabilities is not None:
        name = named(PROBABILITY_NAMES)
        if name is not None and not _numeric(left[name]):
            name = None
        if name is None:
            wide = [k for k, a in left.items() if _numeric(a) and a.dtype.kind == "f" and _width(a) == n_classes
                    and k.lower() not in LABEL_NAMES]
            if len(wide) == 1:
                name = wide[0]
                answer.notes.append(f"endpoint output {name!r} read as probabilities: its only output of "
                                    f"{n_classes} numbers per row")
            elif n_classes == 2:
                ones = [k for k, a in left.items() if _numeric(a) and a.dtype.kind == "f" and _width(a) == 1
                        and k.lower() not in LABEL_NAMES]
                if len(ones) == 1:
                    name = ones[0]
                    probs = binary_to_two_columns(left.pop(name))
                    batch.probabilities, batch.classes = probs, list(reference.classes or [0, 1])
                    answer.paired["probabilities"] = name
                    answer.notes.append(f"endpoint output {name!r} (one number per row) read as the probability "
                                        f"of class {canonical_label(batch.classes[1])}")
                    name = None
        if name is not None:
            probs = _rows2d(left.pop(name)).astype(np.float64)
            answer.paired["probabilities"] = name
            classes_name = named(("classes",)) if name.lower() == "scores" else None
            if classes_name is not None and _width(left[classes_name]) == probs.shape[1]:
                cls = _rows2d(left.pop(classes_name))
                answer.paired["probabilities"] = f"{name} (by {classes_name})"
                maps = [dict(zip(cls[i], probs[i], strict=True)) for i in range(len(probs))]
                probs, classes = probabilities_from_maps(maps, list(cls[0]) if len(cls) else [])
                batch.probabilities, batch.classes = probs, classes
            else:
                if reference.classes is not None and probs.shape[1] == len(reference.classes):
                    batch.classes = list(reference.classes)
                else:
                    batch.classes = list(range(probs.shape[1]))
                batch.probabilities = probs
        if batch.probabilities is None:
            answer.unpaired.append({"role": "probabilities", "reason": _missing_reason(outputs, "probabilities",
                                                                                       n_classes)})

    # labels
    if reference.labels is not None:
        name = named([*LABEL_NAMES, *(k for k in local_names if k.lower() in ("label", "output_label"))])
        if name is not None and _width(left[name]) == 1:
            batch.labels = _rows2d(left.pop(name))[:, 0]
            answer.paired["label"] = name
        elif batch.probabilities is not None and batch.classes:
            batch.labels = labels_from_probabilities(batch.probabilities, batch.classes)
            answer.paired["label"] = f"argmax({answer.paired['probabilities']})"
            answer.notes.append("the endpoint gives no labels: its labels are the arg-max of its probabilities")
        else:
            answer.unpaired.append({"role": "label", "reason": _missing_reason(outputs, "labels", None)})

    # values
    if reference.values is not None:
        width = _width(np.asarray(reference.values))
        name = named([*local_names, *VALUE_NAMES])
        if name is not None and not (_numeric(left[name]) and _width(left[name]) == width):
            name = None
        if name is None:
            fits = [k for k, a in left.items() if _numeric(a) and _width(a) == width]
            if len(fits) == 1:
                name = fits[0]
                if len(outputs) > 1:
                    answer.notes.append(f"endpoint output {name!r} read as the value: its only output of "
                                        f"{width} number(s) per row")
        if name is not None:
            values = _rows2d(left.pop(name)).astype(np.float64)
            batch.values = values[:, 0] if width == 1 and np.asarray(reference.values).ndim == 1 else values
            answer.paired["value"] = name
        else:
            answer.unpaired.append({"role": "value", "reason": _missing_reason(outputs, "values", width)})

    for name in left:
        answer.unpaired.append({"output": name, "reason": "no role of the local model matches it (not compared)"})
    batch.outputs = dict(outputs)
    for item in answer.unpaired:
        what = f"local {item['role']}" if "role" in item else f"endpoint output {item['output']!r}"
        answer.notes.append(f"not compared: {what}: {item['reason']}")


def _missing_reason(outputs: dict[str, np.ndarray], what: str, width: int | None) -> str:
    listed = ", ".join(f"{k} ({_width(a)} per row, {a.dtype})" for k, a in outputs.items()) or "none"
    want = f" ({width} per row)" if width else ""
    return f"the endpoint's answer has no output for the {what}{want}; its outputs: {listed}"
