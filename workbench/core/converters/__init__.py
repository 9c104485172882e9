"""Model converters (to ONNX, PMML, SavedModel, TF Serving bundle), registered by (source kind, target).

See `workbench.core.converters.base` for the protocol and how to register a converter.
Converter modules import their heavy packages inside functions, so loading them is cheap.
"""

from __future__ import annotations

import importlib

from workbench.core.converters.base import (
    CONVERTERS,
    TARGETS,
    ConversionCancelled,
    ConversionRequest,
    Converter,
    TargetStatus,
    conversion_targets,
    find_converter,
    register_converter,
    source_kind,
    target_status,
)

#: converter modules under workbench.core.converters, imported on first use (missing ones skipped)
BUILTIN_MODULES: tuple[str, ...] = ("to_onnx", "to_pmml", "to_savedmodel", "from_mleap")

_loaded = False


def load_builtin_converters() -> None:
    """Import the built-in converter modules once so they register themselves."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in BUILTIN_MODULES:
        try:
            importlib.import_module(f"workbench.core.converters.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"workbench.core.converters.{name}":
                raise


__all__ = [
    "BUILTIN_MODULES",
    "CONVERTERS",
    "TARGETS",
    "ConversionCancelled",
    "ConversionRequest",
    "Converter",
    "TargetStatus",
    "conversion_targets",
    "find_converter",
    "load_builtin_converters",
    "register_converter",
    "source_kind",
    "target_status",
]
