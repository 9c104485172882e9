"""To SavedModel: compile fitted scikit-learn / LightGBM / XGBoost models into TF ops; export Keras.

No tool converts scikit-learn to a SavedModel, so this package compiles the fitted estimator: each
family has a module (preprocessing, linear, mlp, trees, boosters) registering build functions in
`registry.COMPILERS`; `compile.compile_model` assembles them into a tf.Module whose
`serving_default` signature takes one input per original column (strings as tf.string) and returns
`label`/`probabilities` (classifiers) or `value` (regressors). Keras goes through `keras.export`.

Importing this package registers the ``savedmodel`` converters; it never imports TensorFlow.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from workbench.core.converters.base import ConversionRequest, Converter, register_converter
from workbench.core.converters.to_savedmodel import boosters, linear, mlp, preprocessing, trees  # noqa: F401
from workbench.core.converters.to_savedmodel.compile import (
    METADATA_FILE,
    CompiledModel,
    InputColumn,
    check_model,
    compile_model,
    input_columns,
    read_metadata,
    save_compiled,
    save_savedmodel,
)
from workbench.core.converters.to_savedmodel.graph import CompileError
from workbench.core.converters.to_savedmodel.registry import COMPILERS, supported_classes, unsupported_reason
from workbench.core.types import ModelInfo

TITLE = "SavedModel"


def _tensorflow_missing() -> str | None:
    if importlib.util.find_spec("tensorflow") is None:
        return (
            f"{TITLE}: needs TensorFlow, which is not installed (pip install 'model-serving-workbench[tf]')"
        )
    return None


def _check(info: ModelInfo, model: Any) -> str | None:
    missing = _tensorflow_missing()
    if missing:
        return missing
    if model is None:
        return f"{TITLE}: the model was not loaded"
    why = check_model(model)
    return f"{TITLE}: not supported: {why}" if why else None


def _check_keras(info: ModelInfo, model: Any) -> str | None:
    missing = _tensorflow_missing()
    if missing:
        return missing
    if importlib.util.find_spec("keras") is None:
        return f"{TITLE}: needs Keras, which is not installed (pip install 'model-serving-workbench[tf]')"
    return None


def _convert(request: ConversionRequest) -> Path:
    request.report(0.05, "compiling the model into TensorFlow ops")
    request.check_cancelled()
    compiled = compile_model(request.model, request.info.inputs or None)
    request.check_cancelled()
    request.report(0.6, "writing the SavedModel")
    save_compiled(compiled, request.output)
    request.notes.update({k: v for k, v in compiled.notes.items() if isinstance(v, str | int | float | bool)})
    request.notes["tool"] = "workbench to_savedmodel (scikit-learn compiled to TF ops)"
    request.notes["signature_inputs"] = ", ".join(f"{c.alias}:{c.dtype}" for c in compiled.inputs)
    request.report(1.0, "SavedModel written")
    return request.output


def _convert_keras(request: ConversionRequest) -> Path:
    from workbench.core.converters.to_savedmodel.keras_export import export_keras

    request.report(0.1, "exporting the Keras model")
    request.check_cancelled()
    export_keras(request.model, request.output)
    request.notes["tool"] = "keras.export.ExportArchive"
    request.notes["float32"] = True
    request.report(1.0, "SavedModel written")
    return request.output


COMPILED = register_converter(
    Converter(
        key="compiled-savedmodel",
        target="savedmodel",
        sources=("sklearn", "lightgbm", "xgboost"),
        title="scikit-learn / LightGBM / XGBoost -> SavedModel (compiled TF ops)",
        check=_check,
        convert=_convert,
        output_format="savedmodel",
        output_is_dir=True,
        tool="workbench to_savedmodel + tensorflow",
    )
)

KERAS = register_converter(
    Converter(
        key="keras-savedmodel",
        target="savedmodel",
        sources=("keras",),
        title="Keras -> SavedModel (keras export)",
        check=_check_keras,
        convert=_convert_keras,
        output_format="savedmodel",
        output_is_dir=True,
        tool="keras.export",
    )
)

__all__ = [
    "COMPILERS",
    "METADATA_FILE",
    "CompileError",
    "CompiledModel",
    "InputColumn",
    "check_model",
    "compile_model",
    "input_columns",
    "read_metadata",
    "save_compiled",
    "save_savedmodel",
    "supported_classes",
    "unsupported_reason",
]
