"""Describe a scikit-learn / LightGBM / XGBoost estimator, real or a pickle_scan Stub.

The same functions serve a trusted (really loaded) model and an untrusted one read by
`pickle_scan`: both expose fitted attributes (`classes_`, `feature_names_in_`, `steps`, ...)
as attributes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.core import limits
from workbench.core.formats.pickle_scan import Stub, qualified_name
from workbench.core.formats.value_facts import column_facts
from workbench.core.types import TensorSpec

#: final-estimator class names that are regressors although they have no `classes_`
_REGRESSOR_HINTS = ("Regressor", "Regression", "Ridge", "Lasso", "ElasticNet", "SVR", "Lars",
                    "TweedieRegressor", "PoissonRegressor", "KernelRidge", "IsotonicRegression")
_ENCODERS = ("OneHotEncoder", "OrdinalEncoder", "TargetEncoder")


class Damaged(ValueError):
    """The estimator's state cannot be right (a pipeline inside itself, a count that is not a number)."""


def _count(value: Any, limit: limits.Limit, what: str) -> int:
    """A count the model declares (n_features_in_, n_classes_): a whole number within `limit`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise Damaged(f"{what} is a {type(value).__name__}, not a whole number")
    return limit.check(int(value), source=what)


def plain_values(values: Any, limit: limits.Limit, what: str) -> list[Any]:
    """Values (classes, categories, names) as plain Python scalars; anything else is shown by its class
    name, never by its repr (a hostile object tree could be deep or huge)."""
    items = np.asarray(values, dtype=object).reshape(-1) if not isinstance(values, list) else values
    limit.check(len(items), source=what)
    out: list[Any] = []
    for value in items:
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or isinstance(value, bool | int | float | str):
            out.append(value)
        elif isinstance(value, bytes):
            out.append(value.decode("utf-8", "replace"))
        else:
            out.append(f"<{qualified_name(value)}>")
    return out


def class_name(obj: Any) -> str:
    return qualified_name(obj).rsplit(".", 1)[-1]


def framework_of(obj: Any) -> str:
    """'scikit-learn', 'lightgbm' or 'xgboost' from the final estimator's module."""
    module = qualified_name(final_estimator(obj)).split(".", 1)[0]
    return {"sklearn": "scikit-learn", "lightgbm": "lightgbm", "xgboost": "xgboost"}.get(module, module)


def attr(obj: Any, name: str, default: Any = None) -> Any:
    try:
        return getattr(obj, name)
    except AttributeError:
        return default
    except Exception:  # a property of a real estimator may raise on odd state
        return default


def pipeline_steps(obj: Any) -> list[tuple[str, Any]]:
    steps = attr(obj, "steps")
    if isinstance(steps, list) and all(isinstance(s, tuple) and len(s) == 2 for s in steps):
        return [(str(name), est) for name, est in steps]
    return []


def final_estimator(obj: Any) -> Any:
    return _innermost(obj, -1)


def first_step(obj: Any) -> Any:
    return _innermost(obj, 0)


def _innermost(obj: Any, index: int) -> Any:
    """The step at `index` of nested pipelines, down to one that is not a pipeline."""
    seen: set[int] = set()
    steps = pipeline_steps(obj)
    while steps:
        if id(obj) in seen:
            raise Damaged("a pipeline that contains itself")
        seen.add(id(obj))
        limits.NESTING.check(len(seen), source="the pipeline's nesting")
        obj = steps[index][1]
        steps = pipeline_steps(obj)
    return obj


def task_of(obj: Any) -> str:
    est = final_estimator(obj)
    if not isinstance(est, Stub):
        try:
            from sklearn.base import is_classifier, is_regressor

            if is_classifier(est):
                return "classification"
            if is_regressor(est):
                return "regression"
        except Exception:  # non-sklearn objects: fall through to the name-based rules
            pass
    if attr(est, "classes_") is not None or class_name(est).endswith("Classifier"):
        return "classification"
    name = class_name(est)
    if any(hint in name for hint in _REGRESSOR_HINTS) or name == "Booster":
        return "regression"
    return "other"


def classes_of(obj: Any) -> list[Any] | None:
    est = final_estimator(obj)
    classes = attr(est, "classes_")
    if classes is None:
        classes = attr(est, "_classes")  # LightGBM wrapper state
    if classes is None and attr(est, "n_classes_") is not None:  # XGBoost wrapper state
        classes = list(range(_count(attr(est, "n_classes_"), limits.CLASSES, "n_classes_")))
    if classes is None:
        return None
    return plain_values(classes, limits.CLASSES, "classes_")


def booster_document(obj: Any) -> dict[str, Any] | None:
    """The model description kept inside a pickled LightGBM/XGBoost wrapper's Booster.

    LightGBM pickles its model text (header keys returned as a dict); XGBoost pickles UBJSON.
    """
    booster = attr(final_estimator(obj), "_Booster")
    if booster is None:
        return None
    handle = attr(booster, "_handle")
    if isinstance(handle, str) and handle.startswith("tree"):
        from workbench.core.formats.lightgbm_text import parse_header

        return {"lightgbm": parse_header(handle)}
    raw = attr(booster, "handle")
    if isinstance(raw, bytes | bytearray):
        from workbench.core.formats import ubjson

        try:
            doc = ubjson.loads(raw)
        except (ubjson.UBJError, ValueError):
            return None
        return {"xgboost": doc.get("Model", doc)}
    return None


def feature_names(obj: Any) -> list[str] | None:
    for candidate in (obj, first_step(obj), final_estimator(obj)):
        names = attr(candidate, "feature_names_in_")
        if names is not None:
            return [str(n) for n in plain_values(names, limits.FEATURES, "feature_names_in_")]
    # LightGBM/XGBoost sklearn wrappers keep their names in the booster
    est = final_estimator(obj)
    names = attr(est, "feature_name_")
    if isinstance(names, list) and names and not str(names[0]).startswith("Column_"):
        return [str(n) for n in plain_values(names, limits.FEATURES, "feature_name_")]
    doc = booster_document(obj) or {}
    if "lightgbm" in doc and doc["lightgbm"].get("feature_names"):
        found = doc["lightgbm"]["feature_names"].split()
        return None if found[0].startswith("Column_") else found
    if "xgboost" in doc:
        found = doc["xgboost"].get("learner", {}).get("feature_names") or None
        return [str(n) for n in found] if found else None
    return None


def n_features(obj: Any) -> int | None:
    for candidate in (obj, first_step(obj), final_estimator(obj)):
        for name in ("n_features_in_", "_n_features_in"):
            n = attr(candidate, name)
            if n is not None:
                return _count(n, limits.FEATURES, name)
    return None


def _column_categories(obj: Any) -> dict[str, list[Any]]:
    """Column -> categories from encoders inside ColumnTransformers (or a leading encoder)."""
    found: dict[str, list[Any]] = {}
    for _, step in pipeline_steps(obj) or [("", obj)]:
        transformers = attr(step, "transformers_")
        if isinstance(transformers, list):
            for item in transformers:
                if not (isinstance(item, tuple) and len(item) >= 3):
                    continue
                _, trans, columns = item[:3]
                for inner in [trans, *[s for _, s in pipeline_steps(trans)]]:
                    cats = attr(inner, "categories_") if class_name(inner) in _ENCODERS else None
                    if isinstance(cats, list) and isinstance(columns, list | tuple | np.ndarray):
                        for col, levels in zip(plain_values(columns, limits.FEATURES, "columns"), cats):
                            found[str(col)] = plain_values(levels, limits.CLASSES, "categories_")
        elif class_name(step) in _ENCODERS:
            cats = attr(step, "categories_")
            names = attr(step, "feature_names_in_")
            if isinstance(cats, list) and names is not None:
                for col, levels in zip(plain_values(names, limits.FEATURES, "feature_names_in_"), cats):
                    found[str(col)] = plain_values(levels, limits.CLASSES, "categories_")
    return found


def _column_ranges(obj: Any) -> dict[str, tuple[float, float]]:
    """Column -> (min, max) where a MinMaxScaler saw the data."""
    ranges: dict[str, tuple[float, float]] = {}
    for _, step in pipeline_steps(obj) or [("", obj)]:
        candidates = [step]
        transformers = attr(step, "transformers_")
        if isinstance(transformers, list):
            candidates = [t[1] for t in transformers if isinstance(t, tuple) and len(t) >= 3]
        for trans in candidates:
            lo, hi = attr(trans, "data_min_"), attr(trans, "data_max_")
            names = attr(trans, "feature_names_in_")
            if lo is not None and hi is not None and names is not None:
                for col, a, b in zip(np.asarray(names).tolist(), np.ravel(lo), np.ravel(hi)):
                    ranges[str(col)] = (float(a), float(b))
    return ranges


def input_specs(obj: Any) -> tuple[list[TensorSpec], list[str]]:
    """Inputs (one per feature column) and warnings about them."""
    warnings: list[str] = []
    names = feature_names(obj)
    if names is None:
        n = n_features(obj)
        if n is None:
            return [], ["the number of input features could not be determined"]
        names = [f"x{i}" for i in range(n)]
        warnings.append("fitted without feature names: inputs are named x0..xN-1 in column order")
    categories = _column_categories(obj)
    ranges = _column_ranges(obj)
    imputes = _imputed_columns(obj)
    facts = column_facts(obj, names)  # scaler statistics, split thresholds, LightGBM ranges
    specs = []
    for name in names:
        levels = categories.get(name)
        is_text = levels is not None and any(isinstance(v, str) for v in levels)
        known = facts.get(name)
        specs.append(TensorSpec(
            name=name,
            dtype="string" if is_text else "float64",
            shape=(None,),
            categories=tuple(levels) if levels is not None else None,
            value_range=ranges.get(name) or (known.value_range if known and not is_text else None),
            range_from_splits=name not in ranges and bool(known and not is_text and known.range_from_splits),
            accepts_missing=name in imputes or _handles_nan(obj),
            typical=known.typical if known and not is_text else None,
        ))
    return specs, warnings


def _imputed_columns(obj: Any) -> set[str]:
    out: set[str] = set()
    for _, step in pipeline_steps(obj) or [("", obj)]:
        transformers = attr(step, "transformers_")
        parts = [(t[1], t[2]) for t in transformers if isinstance(t, tuple) and len(t) >= 3] \
            if isinstance(transformers, list) else [(step, attr(step, "feature_names_in_"))]
        for trans, columns in parts:
            inner = [trans, *[s for _, s in pipeline_steps(trans)]]
            if any(class_name(s) in ("SimpleImputer", "KNNImputer", "IterativeImputer") for s in inner):
                if columns is not None:
                    out.update(str(c) for c in np.asarray(columns).tolist())
    return out


def _handles_nan(obj: Any) -> bool:
    name = class_name(final_estimator(obj))
    return name.startswith(("HistGradientBoosting", "LGBM", "XGB")) and not pipeline_steps(obj)


def output_specs(obj: Any) -> list[TensorSpec]:
    task = task_of(obj)
    if task == "classification":
        classes = classes_of(obj) or []
        label_dtype = str(np.asarray(classes).dtype) if classes else "int64"
        if label_dtype.startswith("<U") or label_dtype == "object":
            label_dtype = "string"
        return [TensorSpec("label", label_dtype, (None,)),
                TensorSpec("probabilities", "float64", (None, len(classes) or None))]
    if task == "regression":
        return [TensorSpec("value", "float64", (None,))]
    return [TensorSpec("output", "float64", (None, None))]


def describe_steps(obj: Any) -> list[dict[str, Any]]:
    """Pipeline steps (or the single estimator) with their class names."""
    steps = pipeline_steps(obj)
    if not steps:
        return [{"name": class_name(obj), "class": qualified_name(obj)}]
    out = []
    for name, step in steps:
        entry: dict[str, Any] = {"name": name, "class": qualified_name(step)}
        transformers = attr(step, "transformers_")
        if isinstance(transformers, list):
            entry["transformers"] = [
                {"name": str(t[0]), "class": qualified_name(t[1]) if not isinstance(t[1], str) else t[1],
                 "columns": [str(c) for c in np.asarray(t[2]).tolist()] if t[2] is not None else []}
                for t in transformers if isinstance(t, tuple) and len(t) >= 3
            ]
        out.append(entry)
    return out


def sklearn_version(obj: Any) -> str | None:
    for candidate in (obj, final_estimator(obj), first_step(obj)):
        version = attr(candidate, "_sklearn_version")
        if isinstance(version, str):
            return version
    return None
