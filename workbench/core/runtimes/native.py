"""Runtime `native`: the model's own framework (scikit-learn, skops, LightGBM, XGBoost, Keras).

Pickles (`sklearn` format) load only with trust: they run code from the file.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.errors import BackendUnavailable, UntrustedPickle, WorkbenchError
from workbench.core.formats.sklearn_pickle import TRUST_HINT
from workbench.core.predictions import (
    PredictionBatch,
    binary_to_two_columns,
    labels_from_probabilities,
    natural_label,
)
from workbench.core.rows import FeedPlans, is_tensor_input
from workbench.core.rows.feeds import categorical_frame
from workbench.core.runtimes.base import (
    TF_HINT,
    Availability,
    PreparedCall,
    PreparingSession,
    Runtime,
    feature_matrix,
    missing_module,
)
from workbench.core.runtimes.outputs import interpret_outputs, named_outputs
from workbench.core.types import ModelInfo

#: inspection warnings that every prediction repeats: the installed library is not the one that wrote the file
SKEW_WARNINGS = ("version skew:", "a DART booster written by a newer", "the installed XGBoost does not know")

_NEEDS = {
    "sklearn": ("sklearn", "scikit-learn", "pip install scikit-learn"),
    "skops": ("skops", "skops", "pip install skops"),
    "lightgbm": ("lightgbm", "LightGBM", "pip install lightgbm"),
    "xgboost": ("xgboost", "XGBoost", "pip install xgboost-cpu"),
    "keras": ("keras", "Keras", TF_HINT),
}


def load_native_object(path: Path, info: ModelInfo, trust: bool) -> Any:
    """The framework's own model object for `path`, through the format registry."""
    from workbench.core import models
    from workbench.core.detect import normalise_path

    fmt = models.model_format(info.format)
    if fmt.runs_code and not trust:
        raise UntrustedPickle(f"{path.name} is a pickle: loading it runs code from the file; {TRUST_HINT}")
    if fmt.load is None:
        _, obj = models.load_model(str(path), trust=trust)
        return obj
    try:
        return fmt.load(normalise_path(path), trust)
    except ImportError as exc:
        raise BackendUnavailable(f"loading {fmt.title} needs the Python package '{exc.name}'",
                                 hint=f"pip install {exc.name}") from None


def inspect_loaded(path: Path, fmt: Any) -> tuple[ModelInfo, Any]:
    """Load a trusted pickle once and inspect the loaded object: (info, model).

    `fmt.inspect` would otherwise unpickle the file a second time to describe it; formats whose
    inspect cannot take the loaded object are inspected the ordinary way.
    """
    import inspect as pyinspect

    try:
        model = fmt.load(path, True)
    except ImportError as exc:
        raise BackendUnavailable(f"loading {fmt.title} needs the Python package '{exc.name}'",
                                 hint=f"pip install {exc.name}") from None
    if "model" in pyinspect.signature(fmt.inspect).parameters:
        info = fmt.inspect(path, True, model=model)
    else:
        info = fmt.inspect(path, True)
    rejecting = rejecting_category_columns(model)
    if rejecting:
        info.metadata["rejects_unknown_categories"] = rejecting
    return info, model


def rejecting_category_columns(model: Any) -> list[str]:
    """Input columns whose scikit-learn encoder refuses unknown categories (handle_unknown='error').

    Looks into pipelines and ColumnTransformers; empty for other models.
    """
    from workbench.core.formats.sklearn_introspect import attr, class_name, pipeline_steps

    found: list[str] = []

    def visit(step: Any, columns: Any) -> None:
        for inner in [step, *[s for _, s in pipeline_steps(step)]]:
            if class_name(inner) in ("OneHotEncoder", "OrdinalEncoder") and \
                    attr(inner, "handle_unknown") == "error":
                names = columns if columns is not None else attr(inner, "feature_names_in_")
                if names is not None:
                    found.extend(str(c) for c in np.asarray(names).reshape(-1).tolist() if str(c) not in found)

    for _, step in pipeline_steps(model) or [("", model)]:
        transformers = attr(step, "transformers_")
        if isinstance(transformers, list):
            for item in transformers:
                if isinstance(item, tuple) and len(item) >= 3 and isinstance(item[2], list | tuple | np.ndarray):
                    visit(item[1], item[2])
        else:
            visit(step, None)
    return found


class NativeRuntime(Runtime):
    name = "native"
    title = "Native framework (scikit-learn, LightGBM, XGBoost, Keras)"
    formats = ("sklearn", "skops", "lightgbm", "xgboost", "keras")

    def availability(self, fmt: str | None = None) -> Availability:
        for f in [fmt] if fmt else ["sklearn"]:
            if f not in _NEEDS:
                continue
            module, what, hint = _NEEDS[f]
            avail = missing_module(module, what, hint)
            if not avail.ok:
                return avail
            if f == "keras":
                return missing_module("tensorflow", "TensorFlow", TF_HINT)
        return Availability(True)

    def _load(self, path: Path, info: ModelInfo, trust: bool) -> NativeSession:
        model = load_native_object(path, info, trust)
        return NativeSession(info, model)

    def session_for(self, info: ModelInfo, model: Any) -> NativeSession:
        """A session around a model object loaded already (checked like `load`)."""
        self.check_format(info.format)
        avail = self.availability(info.format)
        if not avail.ok:
            raise BackendUnavailable(f"runtime {self.name!r} is not available here: {avail.message()}")
        return NativeSession(info, model)


class NativeSession(PreparingSession):
    """A model object of its own framework, predicting whole batches."""

    runtime = "native"

    def __init__(self, info: ModelInfo, model: Any) -> None:
        self.info = info
        self.model = model
        self.kind = _kind_of(model)
        self._plans = FeedPlans(info)

    def prepare(self, frame: pd.DataFrame) -> PreparedCall:
        """The framework's own input built once (matrix, DataFrame, DMatrix); `run()` is its predict."""
        call = getattr(self, f"_prepare_{self.kind}")(frame)
        skew = [w for w in self.info.warnings if w.startswith(SKEW_WARNINGS)]
        if not skew:
            return call
        finish = call.finish

        def finish_with_skew(raw: Any) -> PredictionBatch:
            batch = finish(raw)
            batch.warnings.extend(w for w in skew if w not in batch.warnings)
            return batch

        return PreparedCall(call.rows, call.run, finish_with_skew)

    # -- scikit-learn API (also LGBMClassifier, XGBClassifier, pipelines) --------------------
    def _sklearn_input(self, frame: pd.DataFrame) -> Any:
        """A DataFrame named like `feature_names_in_` when the model has it, else a matrix in input order."""
        names = getattr(self.model, "feature_names_in_", None)
        if names is None and _selects_columns_by_name(self.model):
            names = [s.name for s in self.info.inputs]  # sklearn2pmml's PMMLPipeline, sklearn-pandas mapper
        if names is None or any(is_tensor_input(s) for s in self.info.inputs):
            return feature_matrix(frame, self.info, dtype=object if _has_text(self.info) else np.float64)
        if any(s.description == "category" for s in self.info.inputs):
            # a LightGBM wrapper fitted on pandas categoricals takes them with the training categories only
            categorical = categorical_frame(frame, self.info)
            return categorical.loc[:, [str(n) for n in names]]
        arrays = self._plans.arrays(frame)
        return pd.DataFrame({str(n): arrays[str(n)] for n in names}, index=frame.index)

    def _prepare_sklearn(self, frame: pd.DataFrame) -> PreparedCall:
        X = self._sklearn_input(frame)
        model = self.model
        classes = getattr(model, "classes_", None)
        if classes is not None and hasattr(model, "predict_proba"):
            return PreparedCall(len(frame), lambda: (model.predict_proba(X), model.predict(X)), self._proba_batch)
        return PreparedCall(len(frame), partial(model.predict, X), self._predict_batch)

    def _classes(self) -> list[Any]:
        return [natural_label(c) for c in self.model.classes_]

    def _proba_batch(self, raw: tuple[Any, Any]) -> PredictionBatch:
        probs, labels = np.asarray(raw[0], dtype=np.float64), np.asarray(raw[1])
        return PredictionBatch("native", classes=self._classes(), labels=labels, probabilities=probs,
                               outputs={"label": labels, "probabilities": probs})

    def _predict_batch(self, raw: Any) -> PredictionBatch:
        pred = np.asarray(raw)
        if getattr(self.model, "classes_", None) is not None:
            return PredictionBatch("native", classes=self._classes(), labels=pred, outputs={"label": pred})
        values = pred.reshape(-1) if pred.ndim == 2 and pred.shape[1] == 1 else pred
        return PredictionBatch("native", values=values.astype(np.float64), outputs={"value": pred})

    # -- LightGBM Booster ------------------------------------------------------------------
    def _prepare_lightgbm(self, frame: pd.DataFrame) -> PreparedCall:
        if getattr(self.model, "pandas_categorical", None) and self.info.metadata.get("categorical_inputs"):
            # trained on a DataFrame with categorical columns: LightGBM maps each value to its index in the
            # training categories (pandas_categorical) only when given a DataFrame of pandas Categoricals
            X: Any = categorical_frame(frame, self.info)
        else:
            X = feature_matrix(frame, self.info)
        return PreparedCall(len(frame), partial(self.model.predict, X), self._booster_batch)

    # -- XGBoost Booster -------------------------------------------------------------------
    def _prepare_xgboost(self, frame: pd.DataFrame) -> PreparedCall:
        import xgboost

        model, names = self.model, self.model.feature_names
        if self.info.metadata.get("categorical_inputs"):
            # categories recorded in the model (XGBoost 3.1+): a DataFrame of pandas Categoricals with the
            # training categories, which XGBoost maps to the codes it was trained on
            X: Any = categorical_frame(frame, self.info, np.float32)
            kwargs: dict[str, Any] = {"enable_categorical": True}
        else:
            X = feature_matrix(frame, self.info, np.float32)
            kwargs = {"feature_names": names}
            types = getattr(model, "feature_types", None)
            if types and "c" in types:  # categorical without recorded categories: the values are the codes
                kwargs.update(feature_types=types, enable_categorical=True)

        def run() -> Any:
            # a new DMatrix per call: XGBoost caches predictions per DMatrix object, so predicting the same
            # one again only copies the cached answer (a benchmark would time nothing)
            return model.predict(xgboost.DMatrix(X, missing=np.nan, **kwargs))

        return PreparedCall(len(frame), run, self._xgboost_batch)

    def _xgboost_batch(self, raw: Any) -> PredictionBatch:
        raw = np.asarray(raw)
        if str(self.info.metadata.get("objective", "")) == "multi:softmax":
            labels = raw.astype(np.int64)
            return PredictionBatch("native", classes=self.info.classes, labels=labels, outputs={"label": labels})
        return self._booster_batch(raw)

    def _booster_batch(self, raw: Any) -> PredictionBatch:
        raw = np.asarray(raw)
        if self.info.task == "classification":
            probs = binary_to_two_columns(raw) if raw.ndim == 1 else raw.astype(np.float64)
            classes = list(self.info.classes) if self.info.classes else list(range(probs.shape[1]))
            labels = labels_from_probabilities(probs, classes)
            return PredictionBatch("native", classes=classes, labels=labels, probabilities=probs,
                                   outputs={"raw": raw})
        values = raw.reshape(-1) if raw.ndim == 2 and raw.shape[1] == 1 else raw
        return PredictionBatch("native", values=values.astype(np.float64), outputs={"raw": raw})

    # -- Keras -----------------------------------------------------------------------------
    def _prepare_keras(self, frame: pd.DataFrame) -> PreparedCall:
        arrays = self._plans.arrays(frame)
        specs = {s.name: s for s in self.info.inputs}
        feeds = {name: _float_or_keep(arr, specs[name].dtype) for name, arr in arrays.items()}
        x: Any = next(iter(feeds.values())) if len(feeds) == 1 else feeds
        run = partial(self.model.predict, x, verbose=0, batch_size=max(len(frame), 1))
        return PreparedCall(len(frame), run, self._keras_batch)

    def _keras_batch(self, out: Any) -> PredictionBatch:
        outputs = named_outputs(out, list(getattr(self.model, "output_names", None) or []))
        return interpret_outputs("native", outputs, self.info)


def _selects_columns_by_name(model: Any) -> bool:
    """True for a model that picks its input columns by name from a DataFrame but has no
    `feature_names_in_`: sklearn2pmml's PMMLPipeline (`active_fields`), a leading DataFrameMapper."""
    from workbench.core.formats.sklearn_introspect import attr, class_name, first_step

    return attr(model, "active_fields") is not None or class_name(first_step(model)) == "DataFrameMapper"


def _has_text(info: ModelInfo) -> bool:
    return any(s.dtype in ("string", "object") for s in info.inputs)


def _float_or_keep(arr: np.ndarray, dtype: str) -> np.ndarray:
    if dtype in ("string", "object"):
        return np.asarray(arr, dtype=object)
    return np.asarray(arr, dtype=dtype if dtype != "float64" else np.float32)


def _kind_of(model: Any) -> str:
    module = type(model).__module__
    name = type(model).__name__
    if module.startswith("lightgbm") and name == "Booster":
        return "lightgbm"
    if module.startswith("xgboost") and name == "Booster":
        return "xgboost"
    if module.startswith(("keras", "tf_keras", "tensorflow")) or hasattr(model, "get_config") and hasattr(
            model, "layers"):
        return "keras"
    if hasattr(model, "predict"):
        return "sklearn"
    raise WorkbenchError(f"the native runtime does not know how to predict with a {module}.{name}")


RUNTIME = NativeRuntime()
