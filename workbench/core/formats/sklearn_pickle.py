"""Format `sklearn`: pickle or joblib files (compressed too) of scikit-learn, LightGBM and XGBoost
estimators and pipelines. Detection and untrusted inspection never unpickle (see pickle_scan)."""

from __future__ import annotations

import lzma
import pickle
import re
import struct
import zlib
from pathlib import Path
from typing import Any

from workbench.core.errors import CorruptModel, UnknownFormat, UntrustedPickle, WorkbenchError
from workbench.core.formats import sklearn_introspect as ski
from workbench.core.formats.base import ModelFormat, Probe, one_load_at_a_time
from workbench.core.formats.common import file_facts
from workbench.core.formats.pickle_scan import Damaged, compression_of, looks_like_pickle, scan_pickle
from workbench.core.types import ModelInfo

MODEL_MODULES = ("sklearn.", "lightgbm.", "xgboost.", "imblearn.", "sklearn2pmml.")
TRUST_HINT = "to load it, pass --trust (CLI) or confirm the trust dialog, only if you trust where it came from"


def match(probe: Probe) -> bool:
    """A pickle (maybe joblib-compressed) that references model classes; other pickles are refused
    with what they reference. Reads the file through the inert scanner only."""
    if probe.is_dir or not probe.head:
        return False
    if not looks_like_pickle(probe.head):
        compression = compression_of(probe.head)
        if compression is None or compression == "zlib" and probe.suffix not in _PICKLE_SUFFIXES:
            return False
    scan = _scan(probe.path)
    if not _model_globals(scan.globals):
        shown = ", ".join(scan.globals[:5]) or "only plain Python values"
        raise UnknownFormat(str(probe.path), f"{probe.path.name}: a Python pickle, but not of a scikit-learn, "
                            f"LightGBM or XGBoost model (it references {shown})")
    return True


#: globals that only rebuild data (what the scanner rebuilds itself, numpy's scalar types and random
#: states, plain containers); any other global a model pickle names is listed in a warning, builtins too
_DATA_ONLY = re.compile(
    r"^(numpy\.(_?core\.)?(multiarray\.(_reconstruct|scalar)|numeric\._frombuffer)"
    r"|numpy\.(dtype|ndarray|(float|int|uint|bool|complex|str|bytes|object|void|longdouble|half|single|double)\w*)"
    r"|numpy\.(random|dtypes)\.[\w.]+|numpy\.ma\.core\._mareconstruct"
    r"|joblib\.numpy_pickle\.NumpyArrayWrapper|_codecs\.encode|copy_?reg\.(_reconstructor|__newobj__)"
    r"|builtins\.(set|frozenset|slice|complex|bytearray|object|dict|list|tuple)"
    r"|collections\.(OrderedDict|defaultdict|deque|Counter))$")

_PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle", ".z", ".gz", ".bz2", ".xz", ".lzma", ".lz4", ".sav", "")


def _scan(path: Path) -> Any:
    try:
        return scan_pickle(path)
    except WorkbenchError:  # a declared size over a limit (LimitExceeded names it)
        raise
    except RecursionError:
        raise _damaged(path, "its objects are nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 -- the scanner reads hostile bytes: any failure is damage
        raise _damaged(path, _reason(exc)) from None


def _container(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            compressed = compression_of(fh.read(16)) is not None
    except OSError:
        compressed = False
    return "joblib" if compressed or path.suffix.lower() == ".joblib" else "pickle"


def _damaged(path: Path, what: str) -> CorruptModel:
    """`<name>: damaged pickle|joblib file: <what>` (exit 2)."""
    return CorruptModel(str(path), f"{path.name}: damaged {_container(path)} file: {what}",
                        hint="re-export the model or check the download")


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError) or "truncated" in text or "exhausted" in text:
        return "cannot be read, it ends too early (truncated)"
    if isinstance(exc, Damaged):
        return f"cannot be read, {text}"
    if isinstance(exc, zlib.error | lzma.LZMAError | OSError):
        return f"cannot be read, its compressed stream is damaged ({text})"
    if isinstance(exc, struct.error):
        return f"cannot be read, a record is cut short ({text})"
    return f"cannot be read, {type(exc).__name__}: {text}"


def _model_globals(globals_: list[str]) -> list[str]:
    return [g for g in globals_ if g.startswith(MODEL_MODULES)]


def inspect(path: Path, trust: bool, model: Any = None) -> ModelInfo:
    """Inspect a pickle/joblib model; without trust only by scanning its opcodes. A trusted caller
    that has already unpickled the file passes the object as `model` (no second unpickling)."""
    scan = _scan(path)
    referenced = _model_globals(scan.globals)
    if not referenced:
        shown = ", ".join(scan.globals[:5]) or "only plain Python values"
        raise UnknownFormat(str(path), f"{path.name}: a Python pickle, but not of a scikit-learn, LightGBM or "
                            f"XGBoost model (it references {shown})")
    root = scan.root
    warnings: list[str] = []
    others = [g for g in scan.globals if not g.startswith(MODEL_MODULES) and not _DATA_ONLY.match(g)]
    if trust:
        root = model if model is not None else load(path, trust=True)
    else:
        warnings.append("pickle not loaded (unpickling runs code from the file): inspected by scanning its "
                        f"opcodes only; {TRUST_HINT}")
    if others:
        warnings.append("the pickle references code outside scikit-learn/LightGBM/XGBoost/numpy: "
                        + ", ".join(others[:10]))
    try:
        described = _describe(scan.root, root)
    except WorkbenchError:
        raise
    except RecursionError:
        raise _damaged(path, "its objects refer to themselves (a pipeline that contains itself?)") from None
    except Exception as exc:  # noqa: BLE001 -- hostile state in any attribute: the file is damaged
        detail = str(exc) if isinstance(exc, ski.Damaged) else f"{type(exc).__name__}: {exc}"
        raise _damaged(path, f"its estimator cannot be described ({detail})") from None
    (inputs, input_warnings, framework, task, outputs, classes, estimator, model_class, steps, n_features,
     trained_with, version) = described
    warnings.extend(input_warnings)
    from workbench.core.formats.value_facts import newer_file_warning  # pickled by a newer scikit-learn?

    warnings.extend(w for w in [newer_file_warning("scikit-learn", "sklearn", trained_with)] if w)
    metadata: dict[str, Any] = {
        "estimator": estimator,
        "model_class": model_class,
        "steps": steps,
        "feature_count": len(inputs) if inputs else n_features,
        "pickle_protocol": scan.protocol,
        "compression": scan.compression,
        "container": "joblib" if "joblib.numpy_pickle.NumpyArrayWrapper" in scan.globals else "pickle",
        "referenced_classes": referenced,
        "trusted": trust,
        "sklearn_version": trained_with,
    }
    metadata.update(file_facts(path))
    return ModelInfo(
        path=str(path), format="sklearn", framework=framework, framework_version=version,
        task=task, inputs=inputs, outputs=outputs, classes=classes, metadata=metadata, warnings=warnings,
        loaded=trust,
    )


def _describe(scanned: Any, root: Any) -> tuple[Any, ...]:
    """What inspect shows of `root` (the scanned tree, or the trusted model), in one place so that any
    failure on hostile state is caught once."""
    inputs, input_warnings = ski.input_specs(root)
    n_features = None if inputs else ski.n_features(root)
    framework = ski.framework_of(root)
    trained_with = ski.sklearn_version(scanned)  # kept only in the pickled state
    version = trained_with if framework == "scikit-learn" else _wrapper_version(scanned, framework)
    return (inputs, input_warnings, framework, ski.task_of(root), ski.output_specs(root),
            ski.classes_of(root), ski.qualified_name(ski.final_estimator(root)), ski.qualified_name(root),
            ski.describe_steps(root), n_features, trained_with, version)


def _wrapper_version(root: Any, framework: str) -> str | None:
    """The version recorded in a pickled LightGBM/XGBoost booster (model format / library version)."""
    doc = ski.booster_document(root) or {}
    if "lightgbm" in doc:  # its header's "version=v4" is the model-file format, not the package
        return None
    version = doc.get("xgboost", {}).get("version")
    return ".".join(str(v) for v in version) if isinstance(version, list) else None


#: what installs the packages sklearn2pmml's pipelines (PMMLPipeline + DataFrameMapper) unpickle with
JPMML_EXTRA_HINT = "pip install model-serving-workbench[jpmml]"


def sklearn_pandas_shim() -> None:
    """sklearn-pandas 2.2 imports `sklearn.utils.tosequence`, which scikit-learn 1.7 removed; sklearn2pmml
    documents putting it back before sklearn_pandas is imported (`sklearn2pmml.sklearn_pandas.patch_sklearn`).
    The same shim here, without importing sklearn2pmml (whose import would bind a stand-in DataFrameMapper
    when sklearn_pandas does not import yet)."""
    import sklearn.utils

    if not hasattr(sklearn.utils, "tosequence"):
        def tosequence(x: Any) -> Any:
            if isinstance(x, list | tuple):
                return x
            return list(x) if hasattr(x, "__iter__") else [x]

        sklearn.utils.tosequence = tosequence  # type: ignore[attr-defined]


@one_load_at_a_time
def load(path: Path, trust: bool) -> Any:
    """Unpickle the model (runs code from the file): only with trust."""
    if not trust:
        raise UntrustedPickle(f"{path.name} is a pickle: loading it runs code from the file; {TRUST_HINT}")
    import joblib

    sklearn_pandas_shim()
    try:
        return joblib.load(path)
    except ModuleNotFoundError as exc:
        if exc.name == "sklearn_pandas" or str(exc.name).startswith("sklearn2pmml"):
            raise CorruptModel(str(path), f"{path.name} is a sklearn2pmml pipeline that needs the Python package "
                               f"'{exc.name}' to load", hint=JPMML_EXTRA_HINT) from None
        raise CorruptModel(str(path), f"{path.name} needs the Python package '{exc.name}' to load",
                           hint=f"pip install {exc.name}") from None
    except ImportError as exc:  # a package that is there but does not import with this scikit-learn
        raise CorruptModel(str(path), f"{path.name} needs '{exc.name or exc}' to import, and it does not: {exc}",
                           hint=JPMML_EXTRA_HINT if "sklearn_pandas" in str(exc.path or exc) else None) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            struct.error, zlib.error, lzma.LZMAError, OSError, RecursionError) as exc:
        raise _damaged(path, f"cannot be unpickled: {type(exc).__name__}: {exc}") from None


FORMAT = ModelFormat(
    name="sklearn", title="scikit-learn / LightGBM / XGBoost pickle",
    extensions=(".joblib", ".pkl", ".pickle", ".sav"), match=match, inspect=inspect, load=load,
    priority=40, runs_code=True, frameworks=("scikit-learn", "lightgbm", "xgboost"),
)
