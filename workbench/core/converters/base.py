"""The converter protocol and its registry.

How to register a converter
---------------------------
A converter module (``workbench/core/converters/to_<target>.py``) imports nothing heavy at module
level and, at import time, registers one `Converter` per source kind it handles::

    from workbench.core.converters.base import Converter, ConversionRequest, register_converter

    def _check(info: ModelInfo, model: object | None) -> str | None:
        return None  # possible; otherwise the precise reason, e.g. "SavedModel: ... not supported: ..."

    def _convert(request: ConversionRequest) -> Path:
        request.report(0.1, "compiling")      # progress (0..1, message)
        request.check_cancelled()             # raises ConversionCancelled when the user cancelled
        ...write into request.output (a temporary path; file or folder)...
        request.notes["float32"] = True       # the converted model computes in float32 (wider tolerance)
        return request.output

    register_converter(Converter(key="sklearn-savedmodel", target="savedmodel", sources=("sklearn",),
                                 title="scikit-learn -> SavedModel (compiled TF ops)",
                                 check=_check, convert=_convert, output_format="savedmodel",
                                 output_is_dir=True, options={"float64_thresholds": True}))

Then add the module name to `BUILTIN_MODULES` in ``workbench/core/converters/__init__.py``
(``to_onnx``, ``to_pmml`` and ``to_savedmodel`` are already listed; a missing module is skipped).

Source kind
-----------
The registry is keyed by ``(source kind, target)``. The *source kind* is the model file's format name
(`ModelInfo.format`) with the two scikit-learn serialisations folded into one: ``sklearn``
(joblib/pickle and skops files: any scikit-learn-API object, including pipelines and the
``LGBMClassifier``/``XGBClassifier`` wrappers), ``lightgbm`` (a native Booster text/model file),
``xgboost`` (a native Booster JSON/UBJ file), ``keras``, ``savedmodel``, ``onnx``, ``pmml``.
What is inside (which estimator, which pipeline steps) is for `Converter.check` to judge.

Targets are ``onnx``, ``pmml``, ``savedmodel`` and ``tfserving``. ``tfserving`` needs no converter of
its own: `workbench.core.conversion` converts to a SavedModel, proves it, then installs the bundle; so
its status is the ``savedmodel`` status (a SavedModel source only needs the bundle). A converter
registered for ``(kind, "tfserving")`` overrides this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.errors import WorkbenchError
from workbench.core.registry import Registry
from workbench.core.types import ModelInfo

if TYPE_CHECKING:  # pandas is cheap enough, but keep module import free of it
    import pandas as pd

#: every conversion target, in the order the CLI and the export dialog list them
TARGETS: tuple[str, ...] = ("onnx", "pmml", "savedmodel", "tfserving")

#: the source kinds (see module docstring)
SOURCE_KINDS: tuple[str, ...] = ("sklearn", "lightgbm", "xgboost", "keras", "savedmodel", "onnx", "pmml", "mleap")

#: output format produced by each target (what the converted model is loaded as to prove it)
TARGET_FORMATS: dict[str, str] = {"onnx": "onnx", "pmml": "pmml", "savedmodel": "savedmodel",
                                  "tfserving": "savedmodel"}

TARGET_TITLES: dict[str, str] = {"onnx": "ONNX", "pmml": "PMML", "savedmodel": "SavedModel",
                                 "tfserving": "TF Serving bundle"}
#: file endings of the single-file targets, the usual one first (the folder targets have none)
TARGET_ENDINGS: dict[str, tuple[str, ...]] = {"onnx": (".onnx",), "pmml": (".pmml", ".xml")}

_KIND_OF_FORMAT = {"skops": "sklearn"}


class ConversionCancelled(WorkbenchError):
    """The user cancelled a running conversion (nothing was written in place)."""

    kind = "cancelled"


#: check(info, model_or_None) -> None when possible, else the precise one-line reason
CheckFn = Callable[[ModelInfo, Any], "str | None"]
#: progress(fraction 0..1, message)
ProgressFn = Callable[[float, str], None]


@dataclass
class ConversionRequest:
    """Everything a converter gets. It writes only into `output` (a temporary path)."""

    source: Path
    info: ModelInfo
    #: the native model object (estimator, Booster, keras.Model ...) or None when not loaded
    model: Any
    #: temporary file or folder path to write; the caller renames it into place after proving it
    output: Path
    #: sample rows (original feature columns), used e.g. for PMML ModelVerification or warmup requests
    rows: pd.DataFrame | None = None
    name: str | None = None
    version: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    progress: ProgressFn | None = None
    cancelled: Callable[[], bool] | None = None
    #: what the converter wants the caller to know: {"float32": bool, "tool": "skl2onnx 1.20.0", ...}
    notes: dict[str, Any] = field(default_factory=dict)

    def report(self, fraction: float, message: str) -> None:
        """Send progress to the caller (CLI prints nothing, the GUI shows a bar)."""
        if self.progress is not None:
            self.progress(max(0.0, min(1.0, float(fraction))), message)

    def check_cancelled(self) -> None:
        """Raise ConversionCancelled when the caller asked to stop."""
        if self.cancelled is not None and self.cancelled():
            raise ConversionCancelled("conversion cancelled")

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


@dataclass(frozen=True)
class Converter:
    """One way of turning a model of some source kinds into a target format."""

    key: str
    target: str
    sources: tuple[str, ...]
    title: str
    check: CheckFn
    convert: Callable[[ConversionRequest], Path]
    #: option name -> default value (the CLI/GUI may override them)
    options: dict[str, Any] = field(default_factory=dict)
    #: format of what `convert` writes (how the result is loaded to prove it)
    output_format: str = ""
    output_is_dir: bool = False
    #: needs the native model object (for pickles that means --trust)
    needs_model: bool = True
    #: one line: which package does the work (shown in reports)
    tool: str = ""

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"unknown conversion target {self.target!r}; targets: {', '.join(TARGETS)}")
        unknown = [s for s in self.sources if s not in SOURCE_KINDS]
        if unknown:
            raise ValueError(f"unknown source kind(s) {unknown}; kinds: {', '.join(SOURCE_KINDS)}")

    def merged_options(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """Defaults updated with the caller's options."""
        merged = dict(self.options)
        merged.update(overrides or {})
        return merged


@dataclass(frozen=True)
class TargetStatus:
    """Whether a loaded model can go to `target`, and if not, why."""

    target: str
    possible: bool
    reason: str | None = None
    converter_key: str | None = None
    title: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "possible": self.possible, "reason": self.reason,
                "converter": self.converter_key, "title": self.title}


CONVERTERS: Registry[tuple[str, str], Converter] = Registry("converter")


def register_converter(converter: Converter, *, overwrite: bool = False) -> Converter:
    """Register `converter` under (kind, target) for each of its source kinds."""
    for kind in converter.sources:
        CONVERTERS.register((kind, converter.target), converter, overwrite=overwrite)
    return converter


def source_kind(info: ModelInfo) -> str:
    """The registry's source kind of a model (its format, skops folded into sklearn)."""
    return _KIND_OF_FORMAT.get(info.format, info.format)


def find_converter(info: ModelInfo, target: str) -> Converter | None:
    """The converter registered for this model's kind and `target`, or None."""
    key = (source_kind(info), target)
    return CONVERTERS.get(key) if key in CONVERTERS else None


def model_label(info: ModelInfo, model: Any) -> str:
    """A short name of what is converted: the estimator class name or the format."""
    if model is not None:
        return type(model).__name__
    est = info.metadata.get("estimator") if isinstance(info.metadata, dict) else None
    return str(est) if est else f"{info.format} model"


def target_status(info: ModelInfo, model: Any, target: str) -> TargetStatus:
    """The status of one target for a model (see `conversion_targets`)."""
    from workbench.core.converters import load_builtin_converters

    load_builtin_converters()
    title = TARGET_TITLES.get(target, target)
    if target not in TARGETS:
        return TargetStatus(target, False, f"unknown target {target!r}; targets: {', '.join(TARGETS)}",
                            None, title)
    kind = source_kind(info)
    if target == "tfserving" and (kind, "tfserving") not in CONVERTERS:
        if kind == "savedmodel":
            return TargetStatus(target, True, None, "savedmodel-bundle", title)
        inner = target_status(info, model, "savedmodel")
        if not inner.possible:
            reason = f"TF Serving bundle: needs a SavedModel first; {inner.reason}"
            return TargetStatus(target, False, reason, inner.converter_key, title)
        return TargetStatus(target, True, None, f"{inner.converter_key}+bundle", title)
    if kind == TARGET_FORMATS.get(target) and (kind, target) not in CONVERTERS:
        hint = " (use --to tfserving to install it as a TF Serving bundle)" if target == "savedmodel" else ""
        return TargetStatus(target, False, f"{title}: the model is already in {title} format{hint}", None, title)
    converter = find_converter(info, target)
    if converter is None:
        return TargetStatus(target, False, _no_converter_reason(kind, target, title), None, title)
    if converter.needs_model and model is None:
        return TargetStatus(
            target, False,
            f"{title}: the model was not loaded (a pickle runs code when loaded): pass --trust if you trust it",
            converter.key, title)
    try:
        reason = converter.check(info, model)
    except WorkbenchError as exc:
        reason = f"{title}: {exc}"
    except Exception as exc:  # noqa: BLE001 - a check must never crash the dialog: report it as the reason
        reason = f"{title}: cannot check this model ({type(exc).__name__}: {exc})"
    return TargetStatus(target, reason is None, reason, converter.key, title)


def conversion_targets(info: ModelInfo, model: Any) -> list[TargetStatus]:
    """Every target (onnx, pmml, savedmodel, tfserving) with "possible" or the precise reason why not."""
    return [target_status(info, model, target) for target in TARGETS]


_NOT_SUPPORTED = {
    ("onnx", "savedmodel"): "SavedModel from ONNX: not supported: onnx2tf lacks the ai.onnx.ml operators "
                            "(LinearClassifier, TreeEnsemble...) and onnx-tensorflow is unmaintained; "
                            "convert the original model instead",
    ("onnx", "pmml"): "PMML from ONNX: not supported: no ONNX-to-PMML converter exists; convert the "
                      "original model instead",
    ("pmml", "onnx"): "ONNX from PMML: not supported: no PMML-to-ONNX converter exists; convert the "
                      "original model instead",
    ("pmml", "savedmodel"): "SavedModel from PMML: not supported: no PMML-to-TensorFlow converter exists; "
                            "convert the original model instead",
    ("keras", "pmml"): "PMML from Keras: not supported: sklearn2pmml/JPMML have no Keras converter "
                       "(PMML's NeuralNetwork model cannot express Keras layers in general)",
    ("savedmodel", "pmml"): "PMML from SavedModel: not supported: no TensorFlow-to-PMML converter exists",
}


def _no_converter_reason(kind: str, target: str, title: str) -> str:
    known = _NOT_SUPPORTED.get((kind, target))
    if known:
        return known
    return f"{title} from {kind}: not supported: no converter is registered for {kind} -> {target}"
