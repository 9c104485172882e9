"""Runtime `pmml4s`: PMML models on PMML4S through pypmml, over pypmml's py4j bridge.

pypmml runs PMML4S in a separate `java` process (py4j gateway), started once per workbench
process on first use and stopped at exit (it also dies with its parent: py4j's die_on_exit).
It must not use its JPype bridge: JPype allows one JVM per process, and that one belongs to the
`jpmml` runtime (see STACK.md). A whole batch goes to Java as one JSON document.
"""

from __future__ import annotations

import atexit
import json
import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.errors import BackendUnavailable, CorruptModel
from workbench.core.predictions import PredictionBatch, canonical_label, labels_from_probabilities
from workbench.core.runtimes.base import Availability, Runtime, Timer, missing_module, named_columns
from workbench.core.runtimes.java import find_java, java_availability
from workbench.core.types import ModelInfo

_lock = threading.Lock()
_PROB_COLUMN = re.compile(r"^probability[(_](.+?)\)?$")


_java_process: Any = None


def ensure_gateway() -> None:
    """Start pypmml's py4j gateway (a `java` child process) once; it is stopped at exit."""
    global _java_process
    from pypmml.base import PMMLContext

    with _lock:
        if PMMLContext._gateway is None:
            from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway
            from pypmml.jvm import Py4jGateway

            java = find_java()
            gateway = Py4jGateway()
            # launched here rather than by pypmml, to keep the process handle and end it ourselves
            port, _java_process = launch_gateway(classpath=gateway.classpath, javaopts=gateway.java_opts,
                                                 java_path=java.executable if java else None,
                                                 die_on_exit=True, return_proc=True)
            params = GatewayParameters(port=port, auto_convert=True)
            Py4jGateway._gateway = JavaGateway(gateway_parameters=params)
            Py4jGateway._jvm = Py4jGateway._gateway.jvm
            PMMLContext(gateway_instance=gateway)
            atexit.register(shutdown_gateway)
        elif PMMLContext.gateway() != "Py4j":
            raise BackendUnavailable(f"pypmml already runs on its {PMMLContext.gateway()} bridge in this "
                                     "process; the pmml4s runtime needs its py4j bridge (JPype allows one "
                                     "JVM per process)")


def shutdown_gateway() -> None:
    """Stop pypmml's py4j gateway and end its `java` process, if it runs."""
    global _java_process
    from pypmml.base import PMMLContext

    with _lock:
        if PMMLContext._gateway is not None:
            PMMLContext.shutdown()
        proc, _java_process = _java_process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def java_process_id() -> int | None:
    """PID of the gateway's `java` process while it runs (diagnostics and tests)."""
    proc = _java_process
    return proc.pid if proc is not None and proc.poll() is None else None


class Pmml4sRuntime(Runtime):
    name = "pmml4s"
    title = "PMML4S (pypmml, py4j bridge)"
    formats = ("pmml",)

    def availability(self, fmt: str | None = None) -> Availability:
        avail = missing_module("pypmml", "pypmml", "pip install pypmml")
        if not avail.ok:
            return avail
        avail = missing_module("py4j", "py4j", "pip install py4j")
        return avail if not avail.ok else java_availability()

    def _load(self, path: Path, info: ModelInfo, trust: bool) -> Pmml4sSession:
        ensure_gateway()
        from pypmml import Model
        from pypmml.jvm import PMMLError

        try:
            model = Model.fromFile(str(path))
        except PMMLError as exc:
            reason = " ".join(map(str, exc.args))
            raise CorruptModel(str(path), f"{path.name}: PMML4S cannot load it: {reason}") from None
        except Exception as exc:  # py4j.protocol.Py4JJavaError and friends
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CorruptModel(str(path), f"{path.name}: PMML4S cannot load it: {first}") from None
        return Pmml4sSession(info, model)


class Pmml4sSession:
    """A pypmml Model; `predict` sends the whole frame as one JSON (split) document."""

    runtime = "pmml4s"

    def __init__(self, info: ModelInfo, model: Any) -> None:
        self.info = info
        self.model = model
        self.function = str(model.functionName)
        self.target = model.targetName
        self.classes = list(model.classes) if self.function == "classification" else None
        self.output_fields = [(f.name, str(f.feature), f.value) for f in model.outputFields]

    def predict(self, frame: pd.DataFrame) -> PredictionBatch:
        with Timer() as timer:
            named = named_columns(frame, self.info)
            payload = json.dumps({"columns": list(named.columns), "data": _json_rows(named)}, allow_nan=False)
            result = json.loads(self.model.call("predict", payload))
            columns = {c: [row[i] for row in result["data"]] for i, c in enumerate(result["columns"])}
            batch = self._batch(columns, len(frame))
        batch.elapsed_ms = timer.ms
        return batch

    def _batch(self, columns: dict[str, list[Any]], n: int) -> PredictionBatch:
        outputs = {name: np.asarray(values, dtype=object) for name, values in columns.items()}
        predicted = next((name for name, feature, _ in self.output_fields
                          if feature.lower() == "predictedvalue" and name in columns), None)
        batch = PredictionBatch(runtime=self.runtime, outputs=outputs)
        if self.function == "classification":
            prob_cols = {canonical_label(value): name for name, feature, value in self.output_fields
                         if feature.lower() == "probability" and value is not None and name in columns}
            if not prob_cols:
                for name in columns:
                    m = _PROB_COLUMN.match(name)
                    if m:
                        prob_cols[canonical_label(m.group(1))] = name
            classes = self.classes or list(prob_cols)
            probs = np.full((n, len(classes)), np.nan)
            for j, cls in enumerate(classes):
                col = prob_cols.get(canonical_label(cls))
                if col is not None:
                    probs[:, j] = _floats(columns[col])
            batch.classes = classes
            if prob_cols:
                batch.probabilities = probs
            if predicted is not None:
                batch.labels = _labels_like(columns[predicted], classes)
            elif prob_cols:
                batch.labels = _argmax_labels(probs, classes)
            return batch
        candidates = (f"predicted_{self.target}", self.target)
        value_col = predicted or next((c for c in candidates if c in columns), None)
        if value_col is None and columns:
            value_col = next(iter(columns))
        if value_col is not None:
            batch.values = _floats(columns[value_col])
        return batch


def _json_rows(frame: pd.DataFrame) -> list[list[Any]]:
    rows = frame.astype(object).where(frame.notna(), None).values.tolist()
    return [[v.item() if isinstance(v, np.generic) else v for v in row] for row in rows]


def _floats(values: list[Any]) -> np.ndarray:
    return np.asarray([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _labels_like(values: list[Any], classes: list[Any]) -> np.ndarray:
    """Labels as the model's typed class values where they match (PMML engines often give text)."""
    by_label = {canonical_label(c): c for c in classes}
    return np.asarray([by_label.get(canonical_label(v), v) if v is not None else None for v in values],
                      dtype=object)


def _argmax_labels(probs: np.ndarray, classes: list[Any]) -> np.ndarray:
    labels = labels_from_probabilities(np.nan_to_num(probs, nan=-1.0), classes)
    labels[np.isnan(probs).all(axis=1)] = None
    return labels


RUNTIME = Pmml4sRuntime()
