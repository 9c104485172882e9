"""The public entry points for model files: detect, inspect, load."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from workbench.core.builtins import register_builtin_formats
from workbench.core.detect import detect_format as _detect
from workbench.core.detect import normalise_path
from workbench.core.errors import BackendUnavailable, ModelFileError
from workbench.core.formats.base import FORMATS, ModelFormat
from workbench.core.types import ModelInfo


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format name of a model file or folder, decided from its content.

    Raises
    ------
    UnknownFormat, CorruptModel, ModelFileError
        With a one-line message saying what the path is and what to do.
    """
    register_builtin_formats()
    return _detect(path)


def model_format(name: str) -> ModelFormat:
    register_builtin_formats()
    return FORMATS.get(name)


def inspect_model(path: str | os.PathLike[str], trust: bool = False) -> ModelInfo:
    """Detect and inspect `path`. Without `trust`, pickles are only scanned, never loaded."""
    target = normalise_path(Path(path))
    fmt = model_format(detect_format(target))
    info = fmt.inspect(target, trust)
    info.path = str(path)
    return info


def load_model(path: str | os.PathLike[str], trust: bool = False) -> tuple[ModelInfo, Any]:
    """Inspect `path` and load the framework's own model object.

    Raises UntrustedPickle for pickles without `trust`, BackendUnavailable when the framework is
    missing, and ModelFileError for formats that have no native loader (PMML runs in a PMML engine).
    """
    target = normalise_path(Path(path))
    info = inspect_model(target, trust)
    fmt = model_format(info.format)
    if fmt.load is None:
        raise ModelFileError(str(path), f"{target.name}: {fmt.title} has no native Python model object; "
                             "run it with a runtime (e.g. --runtime jpmml)")
    try:
        model = fmt.load(target, trust)
    except ImportError as exc:
        raise BackendUnavailable(f"loading {fmt.title} needs the Python package '{exc.name}'",
                                 hint=f"pip install {exc.name}") from None
    return info, model
