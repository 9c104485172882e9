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
    # sklearn2pmml's PMMLPipeline records the columns it was fitted on (its PMML's active fields)
    active = attr(obj, "active_fields")
    if active is not None and not isinstance(active, str | bytes):
        found = [str(n) for n in plain_values(active, limits.FEATURES, "active_fields")]
        if found:
            return found
    for candidate in (obj, first_step(obj)):
        names = attr(candidate, "feature_names_in_")
        if names is not None:
            return [str(n) for n in plain_values(names, limits.FEATURES, "feature_names_in_")]
    mapper = first_step(obj)
    if class_name(mapper) == "DataFrameMapper":  # sklearn-pandas: the columns its features select
        found = []
        for columns, _ in _step_routes(mapper):
            found.extend(c for c in columns if c not in found)
        if found:
            return found
    names = attr(final_estimator(obj), "feature_names_in_")
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
    routed = _routed_facts(obj)  # domains, encoders, text vectorizers, imputers per input column
    booster = _lightgbm_categorical_specs(obj)  # pandas categoricals a LightGBM wrapper was fitted on
    facts = column_facts(obj, names)  # scaler statistics, split thresholds, LightGBM ranges
    specs = []
    for name in names:
        if name in booster:
            specs.append(booster[name])
            continue
        route = routed.get(name, _Route())
        levels = route.categories if route.categories is not None else categories.get(name)
        is_text = route.text or levels is not None and any(isinstance(v, str) for v in levels)
        known = facts.get(name)
        value_range = route.value_range or ranges.get(name)
        specs.append(TensorSpec(
            name=name,
            dtype="string" if is_text else "float64",
            shape=(None,),
            categories=tuple(levels) if levels is not None else None,
            value_range=value_range or (known.value_range if known and not is_text else None),
            range_from_splits=value_range is None and bool(known and not is_text and known.range_from_splits),
            accepts_missing=name in imputes or route.imputed or _handles_nan(obj),
            typical=known.typical if known and not is_text else None,
            description="text" if route.text else "",
        ))
    return specs, warnings


_TEXT_VECTORIZERS = ("TfidfVectorizer", "CountVectorizer", "HashingVectorizer")
_IMPUTERS = ("SimpleImputer", "KNNImputer", "IterativeImputer")
#: sklearn2pmml's missing-value treatments that replace a missing value (as_is and return_invalid do not)
_REPLACING = ("as_mean", "as_median", "as_mode", "as_value")


class _Route:
    """What the transformers a column goes through tell about its values."""

    def __init__(self) -> None:
        self.categories: list[Any] | None = None
        self.value_range: tuple[float, float] | None = None
        self.text = False
        self.imputed = False


def _chain(trans: Any, depth: int = 0) -> list[Any]:
    """The transformers one route applies in order (lists, sklearn-pandas TransformerPipelines and
    Pipelines flattened); nothing for 'drop', 'passthrough' or None."""
    limits.NESTING.check(depth + 1, source="the pipeline's nesting")
    if trans is None or isinstance(trans, str | bytes):
        return []
    if isinstance(trans, list | tuple):
        return [t for item in trans for t in _chain(item, depth + 1)]
    steps = pipeline_steps(trans)
    if steps:
        return [t for _, step in steps for t in _chain(step, depth + 1)]
    return [trans]


def _resolve_columns(columns: Any, known: Any) -> list[str] | None:
    """Column names a ColumnTransformer/DataFrameMapper entry selects (names, indices or a bool mask)."""
    names = plain_values(known, limits.FEATURES, "feature_names_in_") if known is not None else None
    if isinstance(columns, str | bytes):
        return [columns.decode("utf-8", "replace") if isinstance(columns, bytes) else columns]
    if isinstance(columns, bool | int | np.integer):
        columns = [columns]
    if isinstance(columns, slice):
        return [str(n) for n in names[columns]] if names is not None else None
    if not isinstance(columns, list | tuple | np.ndarray):
        return None
    values = plain_values(columns, limits.FEATURES, "columns")
    if values and all(isinstance(v, bool) for v in values):
        if names is None or len(names) != len(values):
            return None
        return [str(n) for n, keep in zip(names, values) if keep]
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        if names is None or not all(-len(names) <= v < len(names) for v in values):
            return None
        return [str(names[v]) for v in values]
    return [str(v) for v in values]


def _step_routes(step: Any, known: Any = None) -> list[tuple[list[str], list[Any]]]:
    """(columns, transformers) of each entry of a column router: a ColumnTransformer, or a
    sklearn-pandas DataFrameMapper (what sklearn2pmml's PMMLPipelines start with)."""
    routes: list[tuple[list[str], list[Any]]] = []
    transformers = attr(step, "transformers_")
    if isinstance(transformers, list):
        known = known if known is not None else attr(step, "feature_names_in_")
        for item in transformers:
            if isinstance(item, tuple) and len(item) >= 3:
                columns = _resolve_columns(item[2], known)
                if columns:
                    routes.append((columns, _chain(item[1])))
    elif class_name(step) == "DataFrameMapper":
        features = attr(step, "built_features")
        if not isinstance(features, list):
            features = attr(step, "features")
        for item in features if isinstance(features, list) else []:
            if isinstance(item, tuple | list) and len(item) >= 2:
                columns = _resolve_columns(item[0], None)
                if columns:
                    routes.append((columns, _chain(item[1])))
    return routes


def _routed_facts(obj: Any) -> dict[str, _Route]:
    """Column -> what its route's leading transformers say: sklearn2pmml domain decorators
    (CategoricalDomain's categories, ContinuousDomain's range, missing-value replacement), encoders'
    categories, a text vectorizer (the column is text), imputers. A HistGradientBoosting's own
    categorical encoder counts too."""
    routes: list[tuple[list[str], list[Any]]] = []
    for _, step in pipeline_steps(obj) or [("", obj)]:
        routes.extend(_step_routes(step))
    est = final_estimator(obj)
    pre = attr(est, "_preprocessor")
    if pre is not None and attr(est, "is_categorical_") is not None:
        routes.extend(_step_routes(pre, attr(est, "feature_names_in_")))
    found: dict[str, _Route] = {}
    for columns, chain in routes:
        for i, column in enumerate(columns):
            route = found.setdefault(column, _Route())
            for trans in chain:  # the transformers that still see the column's own values
                name = class_name(trans)
                if name.endswith("Domain"):
                    _learn_domain(route, trans, i, len(columns))
                    continue
                if name in _IMPUTERS:
                    route.imputed = True
                    continue
                if name in _ENCODERS:
                    levels = attr(trans, "categories_")
                    if isinstance(levels, list) and i < len(levels) and route.categories is None:
                        route.categories = plain_values(levels[i], limits.CLASSES, "categories_")
                elif name in _TEXT_VECTORIZERS:
                    route.text = True
                break
    return found


def _learn_domain(route: _Route, domain: Any, i: int, width: int) -> None:
    """An sklearn2pmml domain decorator's facts about its i-th column (of `width`)."""
    values = attr(domain, "data_values_")
    if values is not None:
        if width > 1 or isinstance(values, list) and values and isinstance(values[0], list | np.ndarray):
            values = values[i] if isinstance(values, list | tuple) and i < len(values) else None
        if values is not None:
            route.categories = plain_values(values, limits.CLASSES, "data_values_")
    lo, hi = attr(domain, "data_min_"), attr(domain, "data_max_")
    if lo is not None and hi is not None:
        try:
            lo_i, hi_i = np.ravel(np.asarray(lo, dtype=float)), np.ravel(np.asarray(hi, dtype=float))
            if i < len(lo_i) and i < len(hi_i) and np.isfinite([lo_i[i], hi_i[i]]).all():
                route.value_range = (float(lo_i[i]), float(hi_i[i]))
        except (TypeError, ValueError):
            pass
    treatment = attr(domain, "missing_value_treatment")
    if attr(domain, "missing_value_replacement") is not None or treatment in _REPLACING:
        route.imputed = True


def _lightgbm_categorical_specs(obj: Any) -> dict[str, TensorSpec]:
    """Inputs of a LightGBM sklearn wrapper fitted on pandas categoricals: the model text it pickles
    keeps each column's training categories (`pandas_categorical`); those inputs take the values."""
    booster = attr(final_estimator(obj), "_Booster")
    handle = attr(booster, "_handle") if booster is not None else None
    if not isinstance(handle, str) and not isinstance(booster, Stub) and attr(booster, "pandas_categorical"):
        try:  # a loaded (trusted) Booster: its model text, as the pickle keeps it
            handle = booster.model_to_string()
        except Exception:  # noqa: BLE001 -- a booster that cannot say: inputs as numbers, as before
            return {}
    if not isinstance(handle, str) or "pandas_categorical:" not in handle:
        return {}
    from pathlib import Path

    from workbench.core.formats.lightgbm_text import describe_booster_text

    try:
        _, inputs, _, _ = describe_booster_text(handle, Path("the pickled LightGBM booster"))
    except Exception:  # noqa: BLE001 -- a booster text that cannot be read: inputs as numbers, as before
        return {}
    return {s.name: s for s in inputs if s.description == "category"}


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
    from workbench.core.formats.value_facts import sklearn_takes_missing  # trees/forests of sklearn 1.3+ too

    return sklearn_takes_missing(final_estimator(obj)) and not pipeline_steps(obj)


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
