"""Runtime `jpmml`: PMML models on JPMML-Evaluator (the reference engine) through JPype.

JPype runs the JVM inside this process, so it ends with the process. JPype allows one JVM per
process with a class path fixed at start: this runtime starts it once, with JPMML's jars. pypmml
(the `pmml4s` runtime) therefore uses its py4j bridge, never JPype. A whole batch goes to Java in
one `evaluateAll` call.
"""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.core.errors import BackendUnavailable, CorruptModel
from workbench.core.formats.pmml import JVM_XML_OPTIONS  # no external DTD/schema fetches
from workbench.core.predictions import PredictionBatch, canonical_label
from workbench.core.runtimes.base import (
    Availability,
    PreparedCall,
    PreparingSession,
    Runtime,
    first_line,
    missing_module,
    named_columns,
)
from workbench.core.runtimes.java import JAVA_HINT, find_java, java_availability
from workbench.core.runtimes.pmml_results import PROB_COLUMN, pmml_batch, probability_columns
from workbench.core.types import ModelInfo

_lock = threading.Lock()
_backend: Any = None


def ensure_jvm() -> Any:
    """Start the in-process JVM with JPMML's class path once; return the jpmml_evaluator backend."""
    global _backend
    with _lock:
        if _backend is not None:
            return _backend
        import jpype
        import jpype.imports  # noqa: F401  (lets importlib import Java classes)
        from jpmml_evaluator import _classpath
        from jpmml_evaluator.jpype import JPypeBackend

        if not jpype.isJVMStarted():
            java = find_java()
            jvm_path = java.libjvm if java and java.libjvm else None
            _start_jvm_detached(jpype, jvm_path or jpype.getDefaultJVMPath(), _classpath(user_classpath=[]))
        try:
            _backend = JPypeBackend()
        except ImportError:
            raise BackendUnavailable(
                "the Java VM of this process was started by other code without JPMML's classes; JPype allows "
                "one JVM per process",
                hint="use the pmml4s runtime, or run jpmml in a fresh process") from None
        return _backend


def _start_jvm_detached(jpype: Any, jvm_path: str, classpath: list[str]) -> None:
    """Start the JVM on a short-lived thread that detaches from it before it ends.

    The thread that starts a JVM stays attached as a non-daemon Java thread; when that is a worker
    thread (the GUI's thread pool), the JVM's shutdown at interpreter exit waits for it forever and
    the process hangs. Threads that later call Java are attached by JPype as daemons, which is fine.
    """
    failure: list[BaseException] = []

    def start() -> None:
        import _jpype

        try:
            # -Xrs and interrupt=False: the JVM leaves SIGINT/SIGTERM to Python (a KeyboardInterrupt, so
            # cleanup runs); otherwise the JVM's own handler ends the process at once, silently, with 130
            jpype.startJVM(jvm_path, *JVM_XML_OPTIONS, "-Xrs", classpath=classpath, convertStrings=False,
                           interrupt=False)
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)
        finally:
            # what java.lang.Thread.detach() calls, without a Java call: a Ctrl-C during the start can make
            # startJVM raise after the JVM is up, and JPype raises it at this thread's next Java call;
            # left attached, this thread would make the JVM's shutdown at exit wait forever
            _jpype.detachThreadFromJVM()

    starter = threading.Thread(target=start, name="workbench-jvm-start", daemon=True)
    starter.start()
    interrupted = False
    while starter.is_alive():  # a Ctrl-C here waits for the start to finish (and detach), then counts
        try:
            starter.join()
        except KeyboardInterrupt:
            interrupted = True
    if interrupted:
        raise KeyboardInterrupt
    if failure:
        exc = failure[0]
        if isinstance(exc, OSError | jpype.JVMNotFoundException):
            raise BackendUnavailable(f"cannot start the Java VM for JPMML: {exc}", hint=JAVA_HINT) from None
        raise exc


class JpmmlRuntime(Runtime):
    name = "jpmml"
    title = "JPMML-Evaluator (reference PMML engine, JPype)"
    formats = ("pmml",)

    def availability(self, fmt: str | None = None) -> Availability:
        for module, what, hint in (("jpmml_evaluator", "jpmml-evaluator", "pip install jpmml-evaluator"),
                                   ("jpype", "JPype", "pip install jpype1")):
            avail = missing_module(module, what, hint)
            if not avail.ok:
                return avail
        avail = java_availability()
        if avail.ok:
            java = find_java()
            if java is not None and java.libjvm is None:
                return Availability(False,
                                    f"Java at {java.executable} has no libjvm (JPype needs a full JRE)",
                                    JAVA_HINT)
        return avail

    def _load(self, path: Path, info: ModelInfo, trust: bool) -> JpmmlSession:
        backend = ensure_jvm()
        from jpmml_evaluator import JavaError, make_evaluator

        try:
            evaluator = make_evaluator(str(path), backend=backend)
        except JavaError as exc:
            raise CorruptModel(str(path), f"{path.name}: JPMML cannot load it: {exc}") from None
        except Exception as exc:  # Java exceptions surface as jpype JException subclasses
            first = first_line(exc)
            raise CorruptModel(str(path), f"{path.name}: JPMML cannot load it: {first}") from None
        warnings: list[str] = []
        try:
            evaluator.verify()
        except Exception as exc:  # the model's own ModelVerification rows disagree with JPMML
            warnings.append(f"JPMML model verification failed: {exc}")
        return JpmmlSession(info, evaluator, warnings)


class JpmmlSession(PreparingSession):
    """A JPMML Evaluator; the whole batch goes in one `evaluateAll`."""

    runtime = "jpmml"

    def __init__(self, info: ModelInfo, evaluator: Any, warnings: list[str]) -> None:
        self.info = info
        self.evaluator = evaluator
        self.warnings = warnings
        self.targets = [f.getName() for f in evaluator.getTargetFields()]
        self.output_fields = [_describe_output(f) for f in evaluator.getOutputFields()]
        self.function = _function_name(evaluator)

    def prepare(self, frame: pd.DataFrame) -> PreparedCall:
        """The rows as the named object columns JPMML reads; `run()` is `evaluateAll` on them."""
        named = named_columns(frame, self.info)
        named = named.astype(object).where(named.notna(), None)
        n = len(frame)
        return PreparedCall(n, partial(self.evaluator.evaluateAll, named, error_col="errors"),
                            lambda result: self.finish(result, n))

    def finish(self, result: pd.DataFrame, n: int) -> PredictionBatch:
        """`evaluateAll`'s result frame (with its `errors` column) as a PredictionBatch of `n` rows."""
        return self._batch({str(c): result[c].tolist() for c in result.columns}, n)

    def _batch(self, columns: dict[str, list[Any]], n: int) -> PredictionBatch:
        errors = columns.pop("errors", None)
        target = next((t for t in self.targets if t in columns), None)
        classification = self.function == "classification"
        classes = None
        if classification:
            prob_labels = list(probability_columns(self.output_fields, list(columns)))
            classes = self._classes(prob_labels, columns.get(target) if target else None)
        batch = pmml_batch(self.runtime, columns, n, classification=classification,
                           output_fields=self.output_fields, classes=classes, label_column=target)
        batch.warnings.extend(self.warnings)
        if classification and batch.probabilities is None:
            batch.warnings.append("the PMML file declares no probability output fields: JPMML reports "
                                  "labels only")
        bad = [(i, e) for i, e in enumerate(errors or []) if isinstance(e, str) and e not in ("", "nan")]
        batch.warnings.extend(f"row {i + 1}: JPMML error: {e}" for i, e in bad[:5])
        return batch

    def _classes(self, prob_labels: list[str], target_values: list[Any] | None) -> list[Any]:
        """Typed class labels: the model's own (from inspection) when they match the engine's."""
        known = list(self.info.classes) if self.info.classes else None
        if known and {canonical_label(c) for c in known} >= set(prob_labels):
            return known
        typed = {canonical_label(v): v for v in (target_values or []) if v is not None}
        return [typed.get(lab, lab) for lab in prob_labels]


def _function_name(evaluator: Any) -> str:
    try:
        return str(evaluator.javaEvaluator.getMiningFunction().value())
    except Exception:  # older JPMML: fall back to the target field's op type
        targets = evaluator.getTargetFields()
        return "classification" if targets and targets[0].getOpType() == "categorical" else "regression"


def _describe_output(field: Any) -> tuple[str, str, Any]:
    """(name, result feature, value) of a JPMML output field."""
    name = field.getName()
    try:
        pmml_field = field.javaModelField.getField()
        feature = str(pmml_field.getResultFeature().value())
        value = pmml_field.getValue()
        return name, feature, (str(value) if value is not None else None)
    except Exception:  # not an org.jpmml.evaluator.OutputField we know: parse the name
        m = PROB_COLUMN.match(name)
        return (name, "probability", m.group(1)) if m else (name, "", None)


RUNTIME = JpmmlRuntime()
