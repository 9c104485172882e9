"""Runtime `pmml4s`: PMML models on PMML4S through pypmml, over pypmml's py4j bridge.

pypmml runs PMML4S in a separate `java` process (py4j gateway), started once per workbench
process on first use and stopped at exit (it also dies with its parent: py4j's die_on_exit).
It must not use its JPype bridge: JPype allows one JVM per process, and that one belongs to the
`jpmml` runtime (docs/stack-traps.md). A whole batch goes to Java as one JSON document.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.errors import BackendUnavailable, CorruptModel
from workbench.core.formats.pmml import JVM_XML_OPTIONS  # no external DTD/schema fetches
from workbench.core.predictions import PredictionBatch
from workbench.core.processes import children_die_with_us, interrupted_by
from workbench.core.runtimes.base import (
    Availability,
    PreparedCall,
    PreparingSession,
    Runtime,
    first_line,
    missing_module,
    named_columns,
)
from workbench.core.runtimes.java import find_java, java_availability
from workbench.core.runtimes.pmml_results import pmml_batch
from workbench.core.types import ModelInfo

_lock = threading.Lock()


_java_process: Any = None


def ensure_gateway() -> None:
    """Start pypmml's py4j gateway (a `java` child process) once; it is stopped at exit."""
    global _java_process
    from pypmml.base import PMMLContext

    with _lock:
        if PMMLContext._gateway is None:
            from py4j import java_gateway
            from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway
            from pypmml.jvm import Py4jGateway

            java = find_java()
            gateway = Py4jGateway()
            _quiet_py4j_interrupts()
            with interrupts_kept():
                # launched here rather than by pypmml, to keep the process handle and end it ourselves;
                # its `java` gets its own process group and dies with this process (core.processes)
                with children_die_with_us(java_gateway):
                    port, _java_process = launch_gateway(classpath=gateway.classpath,
                                                         javaopts=[*gateway.java_opts, *JVM_XML_OPTIONS],
                                                         java_path=java.executable if java else None,
                                                         die_on_exit=True, return_proc=True)
                atexit.register(shutdown_gateway)
                params = GatewayParameters(port=port, auto_convert=True)
                Py4jGateway._gateway = JavaGateway(gateway_parameters=params)
                Py4jGateway._jvm = Py4jGateway._gateway.jvm
                PMMLContext(gateway_instance=gateway)
        elif PMMLContext.gateway() != "Py4j":
            raise BackendUnavailable(f"pypmml already runs on its {PMMLContext.gateway()} bridge in this "
                                     "process; the pmml4s runtime needs its py4j bridge (JPype allows one "
                                     "JVM per process)")


@contextlib.contextmanager
def interrupts_kept() -> Iterator[None]:
    """A Ctrl-C under a py4j call stays a KeyboardInterrupt.

    py4j catches it in `send_command`, logs it with a traceback on the root logger and then fails in its
    own cleanup (AttributeError: 'GatewayConnection' object has no attribute 'shutdown_socket'), which
    would read as "cannot load it". The log record is dropped (`_quiet_py4j_interrupts`) and the error
    raised while handling the interrupt becomes the interrupt again.
    """
    try:
        yield
    except Exception as exc:
        if interrupted_by(exc):
            raise KeyboardInterrupt from None
        raise


def _drop_py4j_interrupt_record(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("KeyboardInterrupt while sending command")


def _quiet_py4j_interrupts() -> None:
    root = logging.getLogger()
    if _drop_py4j_interrupt_record not in root.filters:
        root.addFilter(_drop_py4j_interrupt_record)


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
            with interrupts_kept():
                model = Model.fromFile(str(path))
        except PMMLError as exc:
            reason = " ".join(map(str, exc.args))
            raise CorruptModel(str(path), f"{path.name}: PMML4S cannot load it: {reason}") from None
        except Exception as exc:  # py4j.protocol.Py4JJavaError and friends
            first = first_line(exc)
            raise CorruptModel(str(path), f"{path.name}: PMML4S cannot load it: {first}") from None
        return Pmml4sSession(info, model)


class Pmml4sSession(PreparingSession):
    """A pypmml Model; `predict` sends the whole frame as one JSON (split) document."""

    runtime = "pmml4s"

    def __init__(self, info: ModelInfo, model: Any) -> None:
        self.info = info
        self.model = model
        self.function = str(model.functionName)
        self.target = model.targetName
        self.classes = list(model.classes) if self.function == "classification" else None
        self.output_fields = [(f.name, str(f.feature), f.value) for f in model.outputFields]

    def prepare(self, frame: pd.DataFrame) -> PreparedCall:
        """The rows as PMML4S's JSON (split) document; `run()` sends it to the engine's `predict`."""
        named = named_columns(frame, self.info)
        payload = json.dumps({"columns": list(named.columns), "data": _json_rows(named)}, allow_nan=False)
        n = len(frame)
        return PreparedCall(n, partial(self.model.call, "predict", payload), lambda text: self.finish(text, n))

    def finish(self, text: str, n: int) -> PredictionBatch:
        """The engine's JSON answer as a PredictionBatch of `n` rows."""
        result = json.loads(text)
        columns = {c: [row[i] for row in result["data"]] for i, c in enumerate(result["columns"])}
        return self._batch(columns, n)

    def _batch(self, columns: dict[str, list[Any]], n: int) -> PredictionBatch:
        predicted = next((name for name, feature, _ in self.output_fields
                          if feature.lower() == "predictedvalue" and name in columns), None)
        return pmml_batch(self.runtime, columns, n, classification=self.function == "classification",
                          output_fields=self.output_fields, classes=self.classes, label_column=predicted,
                          value_columns=(f"predicted_{self.target}", self.target))


def _json_rows(frame: pd.DataFrame) -> list[list[Any]]:
    """One list per row, every row kept (an all-missing one is a row of nulls), None for missing.

    float32 values (PMML dataType="float") go as their shortest float32 text (1.8, not 1.7999999523):
    PMML4S reads JSON numbers as doubles, and the widened float32 lands on the other side of a split
    threshold written as 1.8."""
    columns = []
    for col, dtype in frame.dtypes.items():
        values = frame[col].to_numpy()
        missing = pd.isna(values)
        if dtype == np.float32:
            columns.append([None if m else float(str(v)) for v, m in zip(values, missing)])
        else:
            columns.append([None if m else (v.item() if isinstance(v, np.generic) else v)
                            for v, m in zip(values, missing)])
    return [list(row) for row in zip(*columns)] if columns else [[] for _ in range(len(frame))]


RUNTIME = Pmml4sRuntime()
