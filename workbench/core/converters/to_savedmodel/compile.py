"""Compile a fitted model into a tf.Module with a `serving_default` signature, and save it.

The signature takes one input per original feature column ([None], its own dtype: numbers as
float64/int64, string columns as tf.string), so a TF Serving request is the CSV row as an object:
``{"instances": [{"age": 31, "device": "ios"}]}``. Outputs: `label` and `probabilities` for
classifiers, `value` for regressors. TensorFlow is imported inside functions only.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.converters.to_savedmodel.graph import NUMBER, STRING, CompileError, Context, Frame, Head
from workbench.core.converters.to_savedmodel.registry import build_step, class_key, unsupported_reason
from workbench.core.types import TensorSpec

#: metadata written beside the SavedModel (TF Serving ignores assets.extra apart from warmup requests)
METADATA_FILE = "assets.extra/workbench_model.json"

_VALID_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class InputColumn:
    """One signature input: the original column `name`, its signature key `alias` and dtype."""

    name: str
    alias: str
    dtype: str  # float64 | int64 | string | bool


@dataclass
class CompiledModel:
    """The result of `compile_model`: the tf.Module, its serving function and what it takes/gives."""

    module: Any
    serve: Any
    inputs: list[InputColumn]
    task: str
    classes: list[Any] | None
    outputs: dict[str, str] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    estimator: str = ""

    def metadata(self) -> dict[str, Any]:
        return {
            "producer": "workbench to_savedmodel",
            "estimator": self.estimator,
            "task": self.task,
            "classes": [_plain(c) for c in self.classes] if self.classes is not None else None,
            "inputs": [{"name": c.name, "alias": c.alias, "dtype": c.dtype} for c in self.inputs],
            "outputs": self.outputs,
            "signature": "serving_default",
            "notes": _jsonable(self.notes),
        }


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return _plain(value)


def check_model(model: Any) -> str | None:
    """None when `model` compiles to TF ops, else a one-line reason naming the unsupported step."""
    if _is_keras(model):
        return None
    if class_key(model).startswith("sklearn."):
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        try:
            check_is_fitted(model)
        except NotFittedError:
            return f"{type(model).__name__} is not fitted: fit it before converting"
        except TypeError:
            pass
    return unsupported_reason(model)


def _is_keras(model: Any) -> bool:
    return any(c.__module__.split(".")[0] in ("keras", "tf_keras") for c in type(model).__mro__)


def feature_names(model: Any) -> list[str]:
    """The original feature column names (x0.. when the model was fitted on an array)."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    pkg = class_key(model).split(".")[0]
    if pkg == "lightgbm":
        booster = model.booster_ if hasattr(model, "booster_") else model
        return [str(n) for n in booster.feature_name()]
    if pkg == "xgboost":
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        if booster.feature_names:
            return [str(n) for n in booster.feature_names]
        return [f"f{i}" for i in range(booster.num_features())]
    n = getattr(model, "n_features_in_", None)
    if n is None:
        raise CompileError(f"{type(model).__name__}: cannot tell how many input columns it takes")
    return [f"x{i}" for i in range(int(n))]


def signature_alias(name: str, taken: set[str]) -> str:
    """A valid TF tensor name for a column (the column name itself when it is valid)."""
    alias = name if _VALID_NAME.match(name) else re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not _VALID_NAME.match(alias):
        alias = f"f{alias}"
    base, i = alias, 1
    while alias in taken:
        i += 1
        alias = f"{base}_{i}"
    taken.add(alias)
    return alias


def input_columns(model: Any, specs: Sequence[TensorSpec] | None = None) -> list[InputColumn]:
    """The signature inputs: names from the model (or `specs` when they match), dtypes per column."""
    from workbench.core.converters.to_savedmodel.preprocessing import string_columns

    names = feature_names(model)
    spec_by_name = {s.name: s for s in specs or ()}
    if specs and len(specs) == len(names) and not all(n in spec_by_name for n in names):
        # the model knows no names (fitted on an array): use the inspected ones, in order
        if all(re.fullmatch(r"(x|f|Column_)\d+", n) for n in names):
            names = [s.name for s in specs]
            spec_by_name = {s.name: s for s in specs}
    strings = (
        string_columns(model, len(names)) if class_key(model).startswith(("sklearn.", "lightgbm.")) else set()
    )
    taken: set[str] = set()
    out = []
    for i, name in enumerate(names):
        spec = spec_by_name.get(name)
        if i in strings or (spec is not None and spec.dtype in ("string", "object")):
            dtype = "string"
        elif spec is not None and spec.dtype.startswith(("int", "uint")):
            dtype = "int64"
        elif spec is not None and spec.dtype == "bool":
            dtype = "bool"
        else:
            dtype = "float64"
        out.append(InputColumn(name, signature_alias(name, taken), dtype))
    return out


def _tf_dtype(name: str) -> Any:
    import tensorflow as tf

    return {"float64": tf.float64, "int64": tf.int64, "string": tf.string, "bool": tf.bool}[name]


def _classes_tensor(classes: np.ndarray, ctx: Context) -> tuple[Any, str]:
    if classes.dtype.kind in "iu":
        return ctx.const(classes.astype(np.int64), "int64", "classes"), "int64"
    if classes.dtype.kind == "f":
        return ctx.const(classes.astype(np.float64), "float64", "classes"), "float64"
    if classes.dtype.kind == "b":
        return ctx.const(classes.astype(bool), "bool", "classes"), "bool"
    return ctx.const(np.array([str(c) for c in classes], dtype=object), None, "classes"), "string"


def compile_model(model: Any, specs: Sequence[TensorSpec] | None = None) -> CompiledModel:
    """Compile a fitted scikit-learn / LightGBM / XGBoost model into a tf.Module (see module doc)."""
    import tensorflow as tf

    why = check_model(model)
    if why:
        raise CompileError(f"SavedModel: not supported: {why}")
    columns = input_columns(model, specs)
    ctx = Context()
    step = build_step(model, ctx)

    # trace once in a scratch graph to learn the task and the label dtype
    probe_result: dict[str, Any] = {}

    def body(inputs: dict[str, Any]) -> dict[str, Any]:
        cols, kinds = [], []
        for col in columns:
            t = inputs[col.alias]
            if col.dtype == "string":
                kinds.append(STRING)
            else:
                t = tf.cast(t, tf.float64)
                kinds.append(NUMBER)
            cols.append(t)
        head = step(Frame(columns=cols, kinds=kinds, names=[c.name for c in columns]))
        if not isinstance(head, Head):
            raise CompileError(f"{type(model).__name__}: the last step is a transformer, not a predictor")
        probe_result["head"] = head
        if head.task == "classification":
            if "classes" not in probe_result:
                with tf.init_scope():  # a variable is created eagerly, outside the trace
                    probe_result["classes"] = _classes_tensor(np.asarray(head.classes), ctx)
            classes_var, _ = probe_result["classes"]
            proba = tf.cast(head.probabilities, tf.float64)
            label = tf.gather(classes_var, tf.argmax(proba, axis=1))
            return {
                "label": tf.identity(label, name="label"),
                "probabilities": tf.identity(proba, name="probabilities"),
            }
        return {"value": tf.identity(tf.cast(head.value, tf.float64), name="value")}

    signature = {c.alias: tf.TensorSpec([None], _tf_dtype(c.dtype), name=c.alias) for c in columns}
    serve = tf.function(body, input_signature=[signature])
    concrete = serve.get_concrete_function()
    module = tf.Module()
    module.model_variables = list(ctx.variables)
    module.serve = serve
    head: Head = probe_result["head"]
    outputs = {name: spec.dtype.name for name, spec in concrete.structured_outputs.items()}
    classes = [_plain(c) for c in np.asarray(head.classes)] if head.task == "classification" else None
    return CompiledModel(
        module=module,
        serve=serve,
        inputs=columns,
        task=head.task,
        classes=classes,
        outputs=outputs,
        notes=dict(ctx.notes),
        estimator=type(model).__name__,
    )


def save_compiled(compiled: CompiledModel, out_dir: Path | str) -> Path:
    """Write the SavedModel (serving_default) and its workbench metadata into `out_dir`."""
    import tensorflow as tf

    out = Path(out_dir)
    tf.saved_model.save(
        compiled.module, str(out), signatures={"serving_default": compiled.serve.get_concrete_function()}
    )
    meta = out / METADATA_FILE
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps(compiled.metadata(), indent=2))
    return out


def save_savedmodel(
    model: Any, out_dir: Path | str, specs: Sequence[TensorSpec] | None = None
) -> dict[str, Any]:
    """Compile (or, for Keras, export) `model` into a SavedModel folder; return its metadata."""
    if _is_keras(model):
        from workbench.core.converters.to_savedmodel.keras_export import export_keras

        return export_keras(model, out_dir)
    compiled = compile_model(model, specs)
    save_compiled(compiled, out_dir)
    return compiled.metadata()


def read_metadata(savedmodel_dir: Path | str) -> dict[str, Any] | None:
    """The workbench metadata of a SavedModel written here (None for other SavedModels)."""
    from workbench.core import limits
    from workbench.core.errors import ModelFileError
    from workbench.core.formats.savedmodel import read_small_file

    root = Path(savedmodel_dir)
    path = root / METADATA_FILE
    if not os.path.lexists(path):
        return None
    try:  # a regular file inside the folder (no link out of it, no FIFO), at most METADATA_FILE_BYTES
        data = json.loads(read_small_file(path, root, limits.METADATA_FILE_BYTES))
    except (OSError, ValueError, RecursionError, ModelFileError, limits.LimitExceeded):
        return None
    return data if isinstance(data, dict) else None
