"""Converters to PMML with sklearn2pmml (JPMML-SkLearn, -LightGBM, -XGBoost on a Java runtime).

* scikit-learn estimators and pipelines (including LGBM*/XGB* wrappers) are wrapped into a
  `PMMLPipeline` whose active fields are the model's input columns; `PMMLPipeline.verify` embeds
  ModelVerification rows computed by the original model on the sample rows.
* native LightGBM / XGBoost Boosters are given to sklearn2pmml as they are (it accepts Boosters).

Java errors: sklearn2pmml only raises "The SkLearn2PMML application has failed" and prints Java's
output; `run_sklearn2pmml` captures that output and raises `ConversionFailed` whose message is
Java's own exception line (e.g. "The XGBoost estimator object does not specify feature information")
and whose `details` hold the whole Java standard error.

Telemetry: when a conversion fails, sklearn2pmml's Java `Main` (sklearn2pmml 0.133.1) POSTs an
"incident" to https://telemetry.jpmml.org/v1/incidents: project, environment (Java, Python and
package versions from SKLEARN2PMML_ENVIRONMENT) and the exception (class, message, stack trace; the
message can name your columns and classes). There is no switch for it in sklearn2pmml. The workbench
keeps it off by default: the JVM is started with an HTTP(S) proxy on 127.0.0.1 port 1 (nothing
listens there, the connection is refused before anything leaves the machine) and an empty hosts
file (`-Djdk.net.hosts.file`, so no DNS lookup either). Option `telemetry=True` (env
WORKBENCH_PMML_TELEMETRY=1) lets it through.

Expiry: sklearn2pmml's Java `Main` refuses to run 360 days after its jar's Build-Timestamp
("The SkLearn2PMML package has expired"; 0.133.1 was built 2026-08-30, so from about 2027-08-25) and
logs a warning after 180 days. That message comes back as the ConversionFailed reason; the fix is a
newer sklearn2pmml (check its scikit-learn support first).
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import io
import os
import re
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

from workbench.core.converters.base import ConversionRequest, Converter, register_converter
from workbench.core.converters.to_onnx import final_estimator, is_classifier, iter_components
from workbench.core.errors import BackendUnavailable, ConversionFailed
from workbench.core.processes import children_die_with_us
from workbench.core.types import ModelInfo

TELEMETRY_URL = "https://telemetry.jpmml.org/v1/incidents"
#: verification rows embedded into the PMML file (the JPMML evaluator checks them on load/verify)
MAX_VERIFICATION_ROWS = 20

_SUPPORTED_MODULES = ("sklearn", "lightgbm", "xgboost", "sklearn2pmml", "sklearn_pandas", "category_encoders")
_CONTAINERS = ("Pipeline", "PMMLPipeline", "ColumnTransformer", "FeatureUnion")


def java_executable(java_home: str | None = None) -> str | None:
    """The java binary sklearn2pmml would start, or None."""
    home = java_home or os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        if candidate.exists():
            return str(candidate)
    return shutil.which("java")


def telemetry_blocking_opts(hosts_file: Path, proxy_port: int = 1) -> list[str]:
    """JVM options that keep sklearn2pmml's incident reporting from leaving the machine.

    `proxy_port` is 1 (nothing listens: connection refused); tests pass a local sink to see the attempt.
    """
    opts = []
    for scheme in ("http", "https"):
        opts += [f"-D{scheme}.proxyHost=127.0.0.1", f"-D{scheme}.proxyPort={int(proxy_port)}"]
    opts += ["-Djava.net.useSystemProxies=false", f"-Djdk.net.hosts.file={hosts_file}"]
    return opts


def telemetry_allowed(options: dict[str, Any] | None = None) -> bool:
    if options and options.get("telemetry") is not None:
        return bool(options["telemetry"])
    return os.environ.get("WORKBENCH_PMML_TELEMETRY") == "1"


def java_error_message(output: str) -> str:
    """Java's own reason from sklearn2pmml's captured output (the exception line + context)."""
    lines = [line.rstrip() for line in output.splitlines()]
    reason, context = "", ""
    for i, line in enumerate(lines):
        match = re.match(r"^\s*(?:[\w$]+\.)+[\w$]*(?:Exception|Error)\w*: (.+)$", line)
        if match and not reason:
            reason = match.group(1).strip()
            for follow in lines[i + 1:i + 4]:
                if follow.strip() == "Context:":
                    idx = lines.index(follow, i + 1)
                    if idx + 1 < len(lines):
                        context = lines[idx + 1].strip()
                    break
    if reason:  # the deepest "Caused by" says what is wrong ("Failed to convert ..." only says where)
        cause = _deepest_cause(lines)
        if cause and cause not in reason:
            reason = f"{reason}: {cause}"
    if not reason and _silent(lines):
        reason = ("Java exited with an error and printed nothing on standard output or standard error (sklearn2pmml "
                  "reports 'Standard error is empty'): the JVM was killed (out of memory, e.g. by the kernel's "
                  "OOM killer, or a signal) or could not start; try with more memory or a smaller model")
    if not reason:
        severe = [line.split("SEVERE:", 1)[1].strip() for line in lines if "SEVERE:" in line]
        reason = severe[-1] if severe else ""
    if not reason:
        tail = [line for line in lines if line.strip()]
        reason = tail[-1].strip() if tail else "no output from Java"
    return f"{reason} (in {context})" if context else reason


_EXCEPTION_LINE = re.compile(r"^\s*(?:Caused by:\s*)?(?:[\w$]+\.)+[\w$]*(?:Exception|Error)\w*: (.+)$")


def _deepest_cause(lines: list[str]) -> str:
    """The message of the last exception after a "Caused by" in Java's output, or ""."""
    cause = ""
    after_caused_by = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("Caused by"):
            after_caused_by = True
        match = _EXCEPTION_LINE.match(line)
        if match and after_caused_by:
            cause = match.group(1).strip()
            after_caused_by = False
    return cause


def _silent(lines: list[str]) -> bool:
    """sklearn2pmml's output when Java printed nothing at all."""
    text = [line.strip() for line in lines if line.strip()]
    return bool(text) and all(t in ("Standard output is empty", "Standard error is empty") for t in text)


_STDOUT_CAPTURE_LOCK = threading.Lock()


def run_sklearn2pmml(estimator: Any, pmml_path: Path, *, telemetry: bool = False,
                     java_home: str | None = None, proxy_port: int = 1) -> str:
    """Run sklearn2pmml on `estimator`, writing `pmml_path`; returns Java's output.

    Raises ConversionFailed with Java's own message when the conversion fails, BackendUnavailable
    when sklearn2pmml or Java is missing. `estimator` is passed as is (sklearn2pmml annotates it:
    give it a copy).
    """
    try:
        from sklearn2pmml import sklearn2pmml
    except ImportError as exc:
        raise BackendUnavailable("PMML: sklearn2pmml is not installed (pip install sklearn2pmml)") from exc
    if java_executable(java_home) is None:
        raise BackendUnavailable("PMML: Java is not installed; sklearn2pmml needs a Java 11+ runtime "
                                 "(apt-get install default-jre-headless, or set JAVA_HOME)")
    buffer = io.StringIO()
    with tempfile.TemporaryDirectory(prefix="wb-s2p-") as tmp:
        opts: list[str] = []
        if not telemetry:
            hosts = Path(tmp) / "hosts"
            hosts.write_text("127.0.0.1 localhost\n")
            opts = telemetry_blocking_opts(hosts, proxy_port)
        try:
            # sklearn2pmml prints Java's output: capturing it swaps the process-wide sys.stdout, and two
            # conversions doing that at once left it swapped for good (one PMML conversion at a time)
            # its `java` children go through core.processes for this call only: own process group, killed
            # with the workbench (kill -9 included) and ended when the call ends by an interrupt
            with _STDOUT_CAPTURE_LOCK, contextlib.redirect_stdout(buffer), warnings.catch_warnings(), \
                    children_die_with_us(importlib.import_module("sklearn2pmml")):
                warnings.simplefilter("ignore")
                sklearn2pmml(estimator, str(pmml_path), java_home=java_home, java_opts=opts or None)
        except RuntimeError as exc:
            output = buffer.getvalue()
            if "Java is not installed" in str(exc):
                raise BackendUnavailable(f"PMML: {exc}") from exc
            reason = java_error_message(output) if output.strip() else str(exc)
            raise ConversionFailed(f"PMML: sklearn2pmml (Java) failed: {reason}", details=output) from exc
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------
# scikit-learn


def check_sklearn(info: ModelInfo, model: Any) -> str | None:
    """None when sklearn2pmml can take `model`, else the reason."""
    try:
        import sklearn2pmml  # noqa: F401
    except ImportError:
        return "PMML: sklearn2pmml is not installed (pip install sklearn2pmml)"
    if java_executable() is None:
        return ("PMML: Java is not installed; sklearn2pmml needs a Java 11+ runtime "
                "(apt-get install default-jre-headless, or set JAVA_HOME)")
    for comp in iter_components(model):
        name = type(comp).__name__
        module = type(comp).__module__.split(".")[0]
        if name == "FunctionTransformer":
            func = getattr(comp, "func", None)
            if func is not None and getattr(func, "__module__", "").split(".")[0] not in ("numpy",):
                return (f"PMML: FunctionTransformer({getattr(func, '__name__', func)}) runs arbitrary Python; "
                        "JPMML-SkLearn converts only numpy ufuncs there (use sklearn2pmml's "
                        "ExpressionTransformer)")
        elif module not in _SUPPORTED_MODULES:
            return (f"PMML: {name} from module {type(comp).__module__} is not a scikit-learn, LightGBM or "
                    "XGBoost class: JPMML-SkLearn cannot convert user code")
    if not hasattr(final_estimator(model), "predict"):
        return f"PMML: {type(final_estimator(model)).__name__} is not a predictor (no predict method)"
    return _booster_refusal(model)


def _booster_refusal(model: Any) -> str | None:
    from workbench.core.converters.to_onnx import booster_refusal

    reason = booster_refusal(model, "JPMML-LightGBM (sklearn2pmml)")
    if reason and reason.startswith("linear trees"):
        return f"PMML: {reason}"
    # categorical splits: the PMML pipeline declares every column continuous, and JPMML then fails on the
    # split (measured with sklearn2pmml 0.133.1: LightGBM "Expected a false (off) categorical split mask for
    # continuous feature 'c'", XGBoost "Expected a discrete feature, got wildcard feature")
    onnx_reason = booster_refusal(model, "onnxmltools") or ""
    if "categorical" in onnx_reason:
        library = "LightGBM" if "LightGBM" in onnx_reason else "XGBoost"
        import re

        found = re.search(r"\((?:categorical feature\(s\) )?(.*?)(?:, pandas category columns)?\)", onnx_reason)
        columns = found.group(1) if found else "?"
        return (f"PMML: sklearn2pmml cannot convert {library} categorical splits here (categorical column(s) "
                f"{columns}): the workbench's PMML pipeline declares every column continuous and JPMML rejects a "
                f"categorical split on it; encode the categories as numbers before {library}, or convert to "
                "SavedModel")
    return None


def _columns(info: ModelInfo, model: Any) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in list(names)]
    if info.inputs:
        return [s.name for s in info.inputs]
    n = getattr(model, "n_features_in_", None) or getattr(final_estimator(model), "n_features_in_", None)
    if n is None:
        raise ConversionFailed("PMML: the number of input features of the model is unknown")
    return [f"x{i}" for i in range(int(n))]


def build_pmml_pipeline(model: Any, columns: list[str], target: str = "y") -> Any:
    """A PMMLPipeline around a *copy* of the fitted `model` (never refitted)."""
    import numpy as np
    from sklearn.pipeline import Pipeline
    from sklearn2pmml.pipeline import PMMLPipeline

    clone = copy.deepcopy(model)
    if isinstance(clone, PMMLPipeline):
        pipeline = clone
    elif isinstance(clone, Pipeline):
        pipeline = PMMLPipeline(steps=list(clone.steps))
    else:
        pipeline = PMMLPipeline([("estimator", clone)])
    if getattr(pipeline, "active_fields", None) is None:
        pipeline.active_fields = np.asarray(columns)
    if getattr(pipeline, "target_fields", None) is None:
        pipeline.target_fields = np.asarray([target])
    return pipeline


def verification_frame(rows: Any, columns: list[str], info: ModelInfo) -> Any:
    """The first sample rows, columns in model order, numbers as float64, text as str."""
    import pandas as pd

    from workbench.core.rows import prepare_rows

    head = rows.head(MAX_VERIFICATION_ROWS)
    try:
        typed = prepare_rows(head, info)
        if all(c in typed.columns for c in columns):
            head = typed
    except Exception:  # noqa: BLE001, S110 - fall back to the raw rows
        pass
    frame = head.loc[:, columns].copy()
    specs = {s.name: s for s in info.inputs}
    for col in columns:
        spec = specs.get(col)
        if spec is not None and spec.dtype in ("string", "object"):
            frame[col] = frame[col].astype(object).map(lambda v: v if pd.isna(v) else str(v))
        else:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    return frame.reset_index(drop=True)


def convert_sklearn_model(request: ConversionRequest) -> Path:
    """sklearn2pmml of a fitted estimator/pipeline, with ModelVerification rows when rows are given."""
    import sklearn2pmml

    info, model = request.info, request.model
    columns = _columns(info, model)
    pipeline = build_pmml_pipeline(model, columns, str(request.option("target_name") or "y"))
    if request.rows is not None and request.option("verification", True):
        missing = [c for c in columns if c not in request.rows.columns]
        if not missing:
            request.report(0.1, "computing verification rows")
            precision = 1e-6 if _float32_model(model) else 1e-9
            try:
                frame = verification_frame(request.rows, columns, info)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pipeline.verify(frame, precision=precision, zeroThreshold=precision)
                request.notes["verification_rows"] = len(frame)
            except Exception as exc:  # noqa: BLE001 - the PMML is still written, without verification rows
                pipeline.verification = None
                request.notes["verification_error"] = f"{type(exc).__name__}: {exc}"
    trees = nan_routed_trees(model)
    if trees is not None:  # one PMML Node per scikit-learn node (JPMML compacts trees by default)
        pipeline.configure(compact=False)
    request.check_cancelled()
    request.report(0.3, "running sklearn2pmml (Java)")
    run_sklearn2pmml(pipeline, request.output, telemetry=telemetry_allowed(request.options))
    if trees is not None:
        _route_pmml_missing(request, trees, columns)
    if request.notes.get("verification_rows") and b"<ModelVerification" not in request.output.read_bytes():
        # measured with sklearn2pmml 0.133.1: anomaly and clustering models are written without them
        request.notes["verification_rows"] = 0
        request.notes["verification_error"] = ("JPMML-SkLearn wrote no ModelVerification element for this model "
                                               "(the verification rows were dropped)")
    request.notes.update({"float32": False, "tool": f"sklearn2pmml {sklearn2pmml.__version__}",
                          "classifier": is_classifier(model)})
    return request.output


# --------------------------------------------------------------------------------------------------
# NaN routing of scikit-learn trees (tree_.missing_go_to_left)

#: scikit-learn trees and forests that route a NaN per split (scikit-learn 1.3+ / 1.4+ / 1.6+)
_NAN_TREES = ("DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier", "ExtraTreeRegressor",
              "RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier", "ExtraTreesRegressor")


class NotRouted(Exception):
    """The PMML trees do not match the scikit-learn trees node by node: the routing is not written."""


def nan_routed_trees(model: Any) -> list[Any] | None:
    """The `tree_` of each tree of a plain scikit-learn tree/forest that takes NaN rows, or None.

    Only a bare estimator: in a pipeline the tree's features are derived fields, not the input columns."""
    from workbench.core.formats.value_facts import sklearn_takes_missing

    if type(model).__name__ not in _NAN_TREES or not type(model).__module__.startswith("sklearn."):
        return None
    if getattr(model, "n_outputs_", 1) != 1 or not sklearn_takes_missing(model):
        return None
    trees = [model.tree_] if hasattr(model, "tree_") else [e.tree_ for e in getattr(model, "estimators_", [])]
    if not trees or any(getattr(t, "missing_go_to_left", None) is None for t in trees):
        return None
    return trees


def _route_pmml_missing(request: ConversionRequest, trees: list[Any], columns: list[str]) -> None:
    """Write scikit-learn's NaN routing into the PMML; the notes say what was done or why not."""
    try:
        done = route_pmml_missing_values(request.output, trees, columns)
    except NotRouted as exc:
        request.notes["missing_values_routed"] = False
        request.notes["missing_values_reason"] = (f"NaN routing of the scikit-learn trees not written: {exc}; the "
                                                  "PMML gives no prediction when a split feature is missing")
        return
    request.notes["missing_values_routed"] = True
    request.notes["missing_values_reason"] = (
        f"NaN routing of {done['trees']} scikit-learn tree(s) written (missingValueStrategy=\"defaultChild\", "
        f"defaultChild from missing_go_to_left: {done['nodes_routed_left']} of {done['splits']} split(s) send NaN "
        "left)")


def _same_threshold(text: str | None, threshold: float) -> bool:
    """JPMML writes scikit-learn's float64 threshold as the largest float32 <= it (scikit-learn compares
    float32(x) <= threshold, so that is the same split), or the threshold itself."""
    import numpy as np

    try:
        value = float(text) if text is not None else float("nan")
    except ValueError:
        return False
    if value == threshold:
        return True
    with np.errstate(over="ignore"):
        floor = np.float32(threshold)
        if float(floor) > threshold:
            floor = np.nextafter(floor, np.float32(-np.inf))
        return bool(np.float32(value) == floor)


def _missing_split(children: list[Any], goes_left: bool, q: Any) -> None:
    """scikit-learn's "missing or not" split (threshold +inf: every number goes left, NaN to its side) as
    PMML predicates every engine reads: JPMML writes `x <= INF`, which PMML4S (0.9.x) does not parse (a
    number there got no prediction). NaN left: True / False; NaN right: isNotMissing / isMissing."""
    for child, is_left in zip(children, (True, False)):
        predicate = child.find(q("SimplePredicate"))
        if goes_left:
            predicate.attrib.clear()
            predicate.tag = q("True" if is_left else "False")
        else:
            predicate.attrib.pop("value", None)
            predicate.set("operator", "isNotMissing" if is_left else "isMissing")


def route_pmml_missing_values(path: Path, trees: list[Any], columns: list[str]) -> dict[str, int]:
    """Give every TreeModel of the PMML at `path` missingValueStrategy="defaultChild" and each split Node
    the id of the child scikit-learn sends NaN to (`missing_go_to_left`); Nodes get ids (the sklearn
    node index). The PMML trees must be the sklearn trees node by node (same split field, threshold,
    children: written with compact=False), else NotRouted and the file is left as it is. The file is
    replaced atomically."""
    import xml.etree.ElementTree as ET  # noqa: S405 - only to write; parsing goes through defusedxml

    from defusedxml.ElementTree import parse

    path = Path(path)
    doc = parse(str(path), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    root = doc.getroot()
    ns = root.tag[1:root.tag.index("}")] if root.tag.startswith("{") else ""

    def q(tag: str) -> str:
        return f"{{{ns}}}{tag}" if ns else tag

    models = list(root.iter(q("TreeModel")))
    if len(models) != len(trees):
        raise NotRouted(f"the PMML has {len(models)} TreeModel(s), the scikit-learn model {len(trees)} tree(s)")
    splits = left = 0
    for i, (tree_model, tree) in enumerate(zip(models, trees)):
        top = tree_model.findall(q("Node"))
        if len(top) != 1:
            raise NotRouted(f"tree {i}: {len(top)} root Node(s)")
        stack = [(top[0], 0)]
        while stack:
            element, node = stack.pop()
            element.set("id", str(node))
            children = element.findall(q("Node"))
            lo, hi = int(tree.children_left[node]), int(tree.children_right[node])
            if lo == -1:
                if children:
                    raise NotRouted(f"tree {i} node {node}: a leaf in scikit-learn, {len(children)} child(ren) in PMML")
                continue
            field, threshold = columns[int(tree.feature[node])], float(tree.threshold[node])
            if len(children) != 2:
                raise NotRouted(f"tree {i} node {node}: 2 children in scikit-learn, {len(children)} in PMML "
                                "(compacted tree?)")
            for child, operator in zip(children, ("lessOrEqual", "greaterThan")):
                predicate = child.find(q("SimplePredicate"))
                if predicate is None or predicate.get("field") != field or predicate.get("operator") != operator \
                        or not _same_threshold(predicate.get("value"), threshold):
                    got = "no SimplePredicate" if predicate is None else \
                        f"{predicate.get('field')} {predicate.get('operator')} {predicate.get('value')}"
                    raise NotRouted(f"tree {i} node {node}: scikit-learn splits on {field} <= {threshold!r}, the "
                                    f"PMML child says {got}")
            goes_left = bool(tree.missing_go_to_left[node])
            element.set("defaultChild", str(lo if goes_left else hi))
            if threshold == float("inf"):
                _missing_split(children, goes_left, q)
            splits += 1
            left += goes_left
            stack.append((children[0], lo))
            stack.append((children[1], hi))
        tree_model.set("missingValueStrategy", "defaultChild")
    head = path.read_bytes()[:4096].decode("utf-8", "replace")
    for prefix, uri in re.findall(r'xmlns(?::([\w.-]+))?="([^"]+)"', head):
        ET.register_namespace(prefix, uri)
    tmp = path.with_name(f".{path.name}.routing.tmp")
    try:
        doc.write(str(tmp), encoding="UTF-8", xml_declaration=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return {"trees": len(trees), "splits": splits, "nodes_routed_left": left}


def _float32_model(model: Any) -> bool:
    return any(type(c).__name__.startswith(("LGBM", "XGB")) for c in iter_components(model))


# --------------------------------------------------------------------------------------------------
# native Boosters


def check_booster(info: ModelInfo, model: Any) -> str | None:
    try:
        import sklearn2pmml  # noqa: F401
    except ImportError:
        return "PMML: sklearn2pmml is not installed (pip install sklearn2pmml)"
    if java_executable() is None:
        return "PMML: Java is not installed; sklearn2pmml needs a Java 11+ runtime"
    if type(model).__name__ != "Booster":
        return f"PMML: expected a {info.format} Booster, got {type(model).__name__}"
    return _booster_refusal(model)


def convert_booster(request: ConversionRequest) -> Path:
    """sklearn2pmml of a native LightGBM/XGBoost Booster (no verification rows: no sklearn wrapper)."""
    import sklearn2pmml

    request.report(0.3, "running sklearn2pmml (Java)")
    run_sklearn2pmml(copy.deepcopy(request.model), request.output,
                     telemetry=telemetry_allowed(request.options))
    request.notes.update({"float32": True, "tool": f"sklearn2pmml {sklearn2pmml.__version__}"})
    return request.output


register_converter(Converter(
    key="sklearn-pmml", target="pmml", sources=("sklearn",),
    title="scikit-learn -> PMML (sklearn2pmml, Java)",
    check=check_sklearn, convert=convert_sklearn_model, output_format="pmml",
    options={"verification": True, "telemetry": False, "target_name": "y"}, tool="sklearn2pmml"))

register_converter(Converter(
    key="booster-pmml", target="pmml", sources=("lightgbm", "xgboost"),
    title="LightGBM/XGBoost Booster -> PMML (sklearn2pmml, Java)",
    check=check_booster, convert=convert_booster, output_format="pmml",
    options={"telemetry": False}, tool="sklearn2pmml"))
