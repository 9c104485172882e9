"""What a fitted model knows about the values of its raw input columns, for plausible generated rows.

Fitted scikit-learn steps remember the training data they saw: a StandardScaler its mean and
standard deviation, a RobustScaler its median and interquartile range, a MinMaxScaler its minimum
and maximum, a SimpleImputer its mean or median, a tree ensemble its split thresholds (which lie
between observed values), LightGBM its `feature_infos` ([min:max] per feature), XGBoost its split
conditions. `column_facts(obj, names)` collects those facts per input column, from a real
estimator or from a `pickle_scan` Stub alike (both expose the fitted attributes).

Only steps that see the raw values are used: the first steps of a pipeline (or of each
ColumnTransformer branch) up to the first step that changes the values; imputers keep them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: fraction of the span of the split thresholds added on each side (data lies beyond the outer splits)
THRESHOLD_WIDENING = 0.1
#: a RobustScaler's default interquartile range is 1.349 standard deviations of a normal
_IQR_PER_STD = 1.349

_KEEPS_VALUES = ("SimpleImputer", "KNNImputer", "IterativeImputer", "MissingIndicator")


@dataclass
class ColumnFacts:
    """Known facts about one raw input column: (min, max) and (mean, std), each where known."""

    value_range: tuple[float, float] | None = None
    typical: tuple[float, float] | None = None
    #: `value_range` spans split thresholds (widened), not the data
    range_from_splits: bool = False


def column_facts(obj: Any, names: Sequence[str]) -> dict[str, ColumnFacts]:
    """Facts per raw input column of the estimator or pipeline `obj` whose inputs are `names`."""
    facts: dict[str, ColumnFacts] = {}
    try:
        _walk(obj, list(names), facts)
    except Exception:  # noqa: BLE001 -- facts are a bonus: an odd or half-restored estimator gives none
        return {}
    return {name: f for name, f in facts.items() if f.value_range is not None or f.typical is not None}


def _attr(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name)
    except Exception:  # noqa: BLE001 -- a property of a real estimator may raise on odd state
        return None


def _class_name(obj: Any) -> str:
    from workbench.core.formats.pickle_scan import qualified_name

    return qualified_name(obj).rsplit(".", 1)[-1]


def _steps(obj: Any) -> list[Any]:
    steps = _attr(obj, "steps")
    if isinstance(steps, list) and all(isinstance(s, tuple) and len(s) == 2 for s in steps):
        return [est for _, est in steps]
    return []


def _floats(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None
    return arr


def _walk(obj: Any, names: list[str], facts: dict[str, ColumnFacts]) -> None:
    """Gather facts from the steps that see `names` as raw values, in order."""
    chain = _steps(obj) or [obj]
    for step in chain:
        if isinstance(step, str):  # "passthrough" / "drop"
            continue
        transformers = _attr(step, "transformers_")
        if isinstance(transformers, list):
            for item in transformers:
                if isinstance(item, tuple) and len(item) >= 3 and not isinstance(item[1], str):
                    columns = _column_names(item[2], names)
                    if columns:
                        _walk(item[1], columns, facts)
            return
        _learn(step, names, facts)
        if _class_name(step) not in _KEEPS_VALUES:
            return


def _column_names(columns: Any, names: list[str]) -> list[str]:
    if columns is None or isinstance(columns, str | slice):
        return [str(columns)] if isinstance(columns, str) else []
    out = []
    for c in np.asarray(columns, dtype=object).reshape(-1).tolist():
        if isinstance(c, bool | np.bool_):
            return []  # boolean masks: not worth resolving
        out.append(names[c] if isinstance(c, int | np.integer) and 0 <= c < len(names) else str(c))
    return out


def _entry(facts: dict[str, ColumnFacts], name: str) -> ColumnFacts:
    return facts.setdefault(name, ColumnFacts())


def _learn(step: Any, names: list[str], facts: dict[str, ColumnFacts]) -> None:
    """Facts from one step that sees the raw columns `names` (in its input order)."""
    kind = _class_name(step)
    if kind == "StandardScaler":
        mean, scale = _floats(_attr(step, "mean_")), _floats(_attr(step, "scale_"))
        if scale is None and _floats(_attr(step, "var_")) is not None:
            scale = np.sqrt(_floats(_attr(step, "var_")))
        _set_typical(facts, names, mean, scale)
    elif kind == "RobustScaler":
        center, scale = _floats(_attr(step, "center_")), _floats(_attr(step, "scale_"))
        lo, hi = _attr(step, "quantile_range") or (25.0, 75.0)
        if scale is not None and (float(lo), float(hi)) == (25.0, 75.0):
            scale = scale / _IQR_PER_STD
        else:
            scale = None
        _set_typical(facts, names, center, scale)
    elif kind == "MinMaxScaler":
        lo, hi = _floats(_attr(step, "data_min_")), _floats(_attr(step, "data_max_"))
        if lo is not None and hi is not None and len(lo) == len(hi) == len(names):
            for name, a, b in zip(names, lo, hi, strict=True):
                if np.isfinite(a) and np.isfinite(b):
                    _entry(facts, name).value_range = (float(a), float(b))
    elif kind == "SimpleImputer" and str(_attr(step, "strategy")) in ("mean", "median"):
        stats = _floats(_attr(step, "statistics_"))
        if stats is not None and len(stats) == len(names):
            for name, value in zip(names, stats, strict=True):
                entry = _entry(facts, name)
                if np.isfinite(value) and entry.typical is None and entry.value_range is None:
                    # a centre only: spread guessed as half its size (1 around zero)
                    entry.typical = (float(value), abs(float(value)) / 2 or 1.0)
    else:
        ranges, from_splits = _split_ranges(step)
        for index, (lo, hi) in ranges.items():
            if 0 <= index < len(names):
                entry = _entry(facts, names[index])
                if entry.value_range is None:
                    entry.value_range, entry.range_from_splits = (lo, hi), from_splits


def _set_typical(facts: dict[str, ColumnFacts], names: list[str], center: np.ndarray | None,
                 spread: np.ndarray | None) -> None:
    if center is None or spread is None or len(center) != len(names) or len(spread) != len(names):
        return
    for name, m, s in zip(names, center, spread, strict=True):
        if np.isfinite(m) and np.isfinite(s) and s > 0:
            _entry(facts, name).typical = (float(m), float(s))


# ------------------------------------------------------------------------------ tree ensembles

def _split_ranges(est: Any) -> tuple[dict[int, tuple[float, float]], bool]:
    """Feature index -> plausible (min, max) from LightGBM's recorded feature ranges (the training
    data's) or else a tree model's split thresholds; {} for models without either. The flag is True
    when the ranges come from split thresholds."""
    lightgbm = _lightgbm_ranges(est)
    if lightgbm:
        return lightgbm, False
    thresholds: dict[int, list[float]] = {}
    for tree in _trees(est):
        for feature, threshold in tree:
            thresholds.setdefault(int(feature), []).append(float(threshold))
    for feature, values in _hist_thresholds(est).items():
        thresholds.setdefault(feature, []).extend(values)
    for feature, values in _xgboost_thresholds(est).items():
        thresholds.setdefault(feature, []).extend(values)
    return {feature: widen(values) for feature, values in thresholds.items() if values}, True


def widen(thresholds: Sequence[float]) -> tuple[float, float]:
    """(min, max) of split thresholds widened by `THRESHOLD_WIDENING` of their span on each side, not
    below 0 when every threshold is >= 0 (counts, prices); a single threshold t gives (t - |t|, t + |t|)
    ((0, 1) for the 0.5 split of a 0/1 feature; -0.5..0.5 around 0)."""
    lo, hi = float(min(thresholds)), float(max(thresholds))
    if hi == lo:
        pad = abs(lo) or 0.5
        return (lo - pad, hi + pad)
    pad = (hi - lo) * THRESHOLD_WIDENING
    return (max(lo - pad, 0.0) if lo >= 0 else lo - pad, hi + pad)


def _trees(est: Any) -> list[list[tuple[int, float]]]:
    """(feature, threshold) of the split nodes of each scikit-learn tree in `est`."""
    members = _attr(est, "estimators_")
    candidates = [est] if members is None else np.asarray(members, dtype=object).reshape(-1).tolist()
    out = []
    for member in candidates:
        tree = _attr(member, "tree_")
        if tree is None:
            continue
        feature, threshold = _attr(tree, "feature"), _attr(tree, "threshold")
        if feature is None or threshold is None:  # a pickle_scan Stub: the pickled node table
            nodes = _attr(tree, "nodes")
            if not isinstance(nodes, np.ndarray) or "feature" not in (nodes.dtype.names or ()):
                continue
            feature, threshold = nodes["feature"], nodes["threshold"]
        feature = np.asarray(feature).reshape(-1)
        threshold = np.asarray(threshold, dtype=np.float64).reshape(-1)
        split = feature >= 0  # leaves have feature -2
        out.append(list(zip(feature[split].tolist(), threshold[split].tolist(), strict=True)))
    return out


def _hist_thresholds(est: Any) -> dict[int, list[float]]:
    """HistGradientBoosting: the bin edges of each numeric feature."""
    mapper = _attr(est, "_bin_mapper")
    edges = _attr(mapper, "bin_thresholds_") if mapper is not None else None
    if not isinstance(edges, list):
        return {}
    out = {}
    for i, values in enumerate(edges):
        arr = _floats(values)
        if arr is not None and arr.size and np.isfinite(arr).all():
            out[i] = arr.tolist()
    return out


_LGB_RANGE = re.compile(r"^\[(.+):(.+)\]$")


def _lightgbm_ranges(est: Any) -> dict[int, tuple[float, float]]:
    """LightGBM sklearn wrapper: `feature_infos` [min:max] of each numeric feature (training data)."""
    from workbench.core.formats.sklearn_introspect import booster_document

    booster = _attr(est, "_Booster")
    if booster is None:
        return {}
    doc = (booster_document(est) or {}).get("lightgbm") or {}
    if not doc and hasattr(booster, "model_to_string"):  # a real (trusted, loaded) Booster
        from workbench.core.formats.lightgbm_text import parse_header

        doc = parse_header(booster.model_to_string(num_iteration=0))
    out = {}
    for i, info in enumerate(str(doc.get("feature_infos", "")).split()):
        match = _LGB_RANGE.match(info)
        if match:
            try:
                lo, hi = float(match.group(1)), float(match.group(2))
            except ValueError:
                continue
            if np.isfinite(lo) and np.isfinite(hi):
                out[i] = (lo, hi)
    return out


def _xgboost_thresholds(est: Any) -> dict[int, list[float]]:
    """XGBoost sklearn wrapper: split conditions of the pickled booster's trees."""
    from workbench.core.formats.sklearn_introspect import booster_document

    booster = _attr(est, "_Booster")
    if booster is None:
        return {}
    doc = (booster_document(est) or {}).get("xgboost")
    if doc is None and hasattr(booster, "save_raw"):  # a real (trusted, loaded) Booster
        import json

        doc = json.loads(bytes(booster.save_raw(raw_format="json")))
    return xgboost_split_thresholds(doc) if isinstance(doc, dict) else {}


def xgboost_split_thresholds(learner_doc: dict[str, Any]) -> dict[int, list[float]]:
    """Feature index -> split conditions from an XGBoost model document (the `learner` holder)."""
    learner = learner_doc.get("learner", learner_doc)
    booster = (learner.get("gradient_booster") or {}) if isinstance(learner, dict) else {}
    model = booster.get("model") or (booster.get("gbtree") or {}).get("model") or {}
    out: dict[int, list[float]] = {}
    for tree in model.get("trees") or []:
        try:
            left = np.asarray(tree["left_children"]).reshape(-1)
            index = np.asarray(tree["split_indices"]).reshape(-1)
            condition = np.asarray(tree["split_conditions"], dtype=np.float64).reshape(-1)
        except (KeyError, TypeError, ValueError):
            continue
        split = left != -1
        kinds = tree.get("split_type") if isinstance(tree, dict) else None
        if isinstance(kinds, list | bytes | np.ndarray) and len(kinds) == len(split):
            split &= np.asarray(list(kinds)).reshape(-1) == 0  # categorical splits hold no threshold
        for feature, value in zip(index[split].tolist(), condition[split].tolist(), strict=True):
            out.setdefault(int(feature), []).append(float(value))
    return out


# ------------------------------------------------------------------------------ producer versions

def version_tuple(text: Any) -> tuple[int, ...] | None:
    """(major, minor, patch...) of a version string or list ("3.4.1", "v4", [3, 4, 1], "1.5.0rc1");
    None when it holds no number."""
    if isinstance(text, list | tuple):
        parts = [p for p in text if isinstance(p, int) and not isinstance(p, bool)]
        return tuple(parts) if parts and len(parts) == len(text) else None
    found = re.match(r"\s*v?(\d+(?:\.\d+)*)", str(text or ""))
    return tuple(int(p) for p in found.group(1).split(".")[:4]) if found else None


def installed_version(module: str) -> str | None:
    """The installed version of a library by its import name (read without importing it)."""
    return _installed(module)[1]


def _installed(module: str) -> tuple[str, str | None]:
    """(distribution name, version) of the installed library `module` ((name, None) when absent)."""
    from importlib import metadata

    names = {"xgboost": ("xgboost", "xgboost-cpu"), "sklearn": ("scikit-learn",),
             "tensorflow": ("tensorflow", "tensorflow-cpu")}.get(module, (module,))
    for dist in names:
        try:
            return dist, metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return names[0], None


def newer_file_warning(library: str, module: str, file_version: Any, *, subject: str | None = None,
                       depth: int = 3) -> str | None:
    """A warning when the file was written by a newer `library` than the one installed (compared
    on the first `depth` parts of the versions), else None. `subject` replaces "the file was
    written by <library> <version>"."""
    written, installed = version_tuple(file_version), version_tuple(installed_version(module))
    if written is None or installed is None or written[:depth] <= installed[:depth]:
        return None
    shown = ".".join(map(str, written)) if isinstance(file_version, list | tuple) else str(file_version)
    package = _installed(module)[0]
    return (f"version skew: {subject or f'the file was written by {library} {shown}'}, newer than the installed "
            f"{library} {installed_version(module)}: its predictions may differ from the library that wrote "
            f"the file (pip install -U {package} to match)")


# ------------------------------------------------------------------------------ missing values

#: ONNX tree ensemble operators: they send a NaN feature down a branch (missing_value_tracks_true)
ONNX_TREE_OPS = frozenset({"TreeEnsembleClassifier", "TreeEnsembleRegressor", "TreeEnsemble"})
#: ONNX operators that turn a NaN input into a NaN result (nothing after them can treat it as missing)
_ONNX_NAN_SPREADING = frozenset({"LinearClassifier", "LinearRegressor", "SVMClassifier", "SVMRegressor", "MatMul",
                                 "Gemm", "Conv", "LSTM", "GRU", "RNN", "Einsum"})


def onnx_takes_missing(ops: Sequence[str]) -> bool:
    """True when an ONNX graph with these operators is a tree ensemble that takes NaN features (as the
    tree models converted to it do), with no operator that would spread NaN instead."""
    return bool(ONNX_TREE_OPS & set(ops)) and not _ONNX_NAN_SPREADING & set(ops)


#: scikit-learn trees that take NaN features, from the version that added it (for estimators read
#: from a pickle without loading it; a loaded estimator says it itself, in its tags)
_SKLEARN_NAN_TREES = {"DecisionTreeClassifier": (1, 3), "DecisionTreeRegressor": (1, 3),
                      "RandomForestClassifier": (1, 4), "RandomForestRegressor": (1, 4),
                      "ExtraTreeClassifier": (1, 6), "ExtraTreeRegressor": (1, 6),
                      "ExtraTreesClassifier": (1, 6), "ExtraTreesRegressor": (1, 6)}


def sklearn_takes_missing(est: Any) -> bool:
    """True when the scikit-learn-API estimator `est` predicts rows with NaN features itself:
    HistGradientBoosting, LightGBM and XGBoost models, and the trees and forests of scikit-learn 1.3+
    (per the installed scikit-learn, which is the one that predicts). A loaded estimator answers
    from its own tags (`input_tags.allow_nan`)."""
    name = _class_name(est)
    if name.startswith(("HistGradientBoosting", "LGBM", "XGB")):
        return True
    module = type(est).__module__
    if module.startswith("sklearn.") and hasattr(est, "__sklearn_tags__"):
        try:
            return bool(est.__sklearn_tags__().input_tags.allow_nan)
        except Exception:  # noqa: BLE001 -- an odd or half-restored estimator: judge by its class
            pass
    since = _SKLEARN_NAN_TREES.get(name)
    installed = version_tuple(installed_version("sklearn"))
    if since is None or installed is None or installed[:2] < since:
        return False
    return _attr(est, "monotonic_cst") is None and str(_attr(est, "splitter") or "best") in ("best", "random")
