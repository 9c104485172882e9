"""Tree split thresholds: rows placed on them, and explanations of float32 threshold flips.

A tree model compares a feature with a split threshold; the original runtime and a converted one can
disagree about a value sitting exactly on it: scikit-learn casts X to float32 and compares with float64
thresholds, LightGBM and HistGradientBoosting compare in float64, XGBoost in float32, ONNX tree
ensembles in float32 (and a float32 StandardScaler before them shifts values by an ulp). These
functions find the thresholds, place rows on them to stress a conversion, and explain a differing row
when one of its features (as the trees see it) lies within float32 rounding of a threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.core.types import ModelInfo

#: at most this many rows placed on split thresholds
MAX_THRESHOLD_ROWS = 200

def _final(obj: Any) -> Any:
    steps = getattr(obj, "steps", None)
    return _final(steps[-1][1]) if isinstance(steps, list) and steps else obj


def _sklearn_trees(est: Any) -> list[Any]:
    if hasattr(est, "tree_"):
        return [est.tree_]
    estimators = getattr(est, "estimators_", None)
    if estimators is None:
        return []
    flat = np.asarray(estimators, dtype=object).ravel().tolist()
    return [t.tree_ for t in flat if hasattr(t, "tree_")]


def split_thresholds(model: Any) -> tuple[dict[int, np.ndarray], str] | None:
    """{feature index: sorted unique split thresholds} of a tree model (its final estimator) and how
    it compares ("float32 x vs float64 threshold" ...), or None when the model has no trees."""
    est = _final(model)
    name = type(est).__name__
    found: dict[int, set[float]] = {}

    def add(feature: int, value: float) -> None:
        if feature >= 0 and np.isfinite(value):
            found.setdefault(int(feature), set()).add(float(value))

    trees = _sklearn_trees(est)
    if trees:
        for tree in trees:
            for f, t in zip(tree.feature, tree.threshold, strict=False):
                add(int(f), float(t))
        how = "scikit-learn casts X to float32 and compares with float64 thresholds"
    elif hasattr(est, "_predictors"):
        for per_iter in est._predictors:
            for predictor in per_iter:
                nodes = predictor.nodes
                for node in nodes[~nodes["is_leaf"].astype(bool)]:
                    add(int(node["feature_idx"]), float(node["num_threshold"]))
        how = "HistGradientBoosting compares float64 X with float64 thresholds"
    elif name.startswith("LGBM") or type(est).__module__.startswith("lightgbm"):
        booster = est.booster_ if hasattr(est, "booster_") else est
        frame = booster.trees_to_dataframe()
        names = booster.feature_name()
        splits = frame[frame["split_feature"].notna()]
        for feat, thr in zip(splits["split_feature"], splits["threshold"], strict=False):
            add(names.index(feat), float(thr))
        how = "LightGBM compares float64 X with float64 thresholds (converted runtimes use float32)"
    elif name.startswith("XGB") or type(est).__module__.startswith("xgboost"):
        booster = est.get_booster() if hasattr(est, "get_booster") else est
        frame = booster.trees_to_dataframe()
        names = booster.feature_names
        splits = frame[frame["Feature"] != "Leaf"]
        for feat, thr in zip(splits["Feature"], splits["Split"], strict=False):
            if names is not None and feat in names:
                idx = names.index(feat)
            else:
                idx = int(str(feat).lstrip("f"))
            add(idx, float(thr))
        how = "XGBoost casts X to float32 and compares with float32 thresholds (x < t)"
    else:
        return None
    return {f: np.asarray(sorted(v)) for f, v in found.items()}, how


def _preprocessor(model: Any) -> Any | None:
    """The steps before the final estimator of a Pipeline (None for a bare estimator)."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and len(steps) > 1:
        return model[:-1]
    return None


def _model_space(model: Any, frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, list[str]] | None:
    """Rows as the final estimator sees them (float64), with feature names; None if not computable."""
    pre = _preprocessor(model)
    data = frame.loc[:, columns]
    try:
        if pre is None:
            return data.to_numpy(dtype=np.float64), list(columns)
        names_in = getattr(model, "feature_names_in_", None)
        arr = pre.transform(data if names_in is not None else data.to_numpy())
        arr = arr.toarray() if hasattr(arr, "toarray") else np.asarray(arr, dtype=np.float64)
        try:
            names = [str(n) for n in pre.get_feature_names_out()]
        except Exception:  # noqa: BLE001 - older transformers
            names = [f"x{i}" for i in range(arr.shape[1])]
        return arr.astype(np.float64), names
    except Exception:  # noqa: BLE001 - cannot transform: no explanation, never a crash
        return None


def threshold_rows(model: Any, info: ModelInfo, base: pd.DataFrame, limit: int = MAX_THRESHOLD_ROWS
                   ) -> pd.DataFrame | None:
    """Rows equal to a base row except one feature placed exactly on a split threshold.

    For a pipeline, thresholds are mapped back through the preprocessing when it can be inverted
    (scalers); otherwise no rows are made. The value placed is the float32 of the threshold (what a
    float32 runtime stores), as float64.
    """
    found = split_thresholds(model)
    if not found or len(base) == 0:
        return None
    thresholds, _ = found
    columns = [s.name for s in info.inputs]
    if any(c not in base.columns for c in columns):
        return None
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(base[c])]
    if len(numeric) != len(columns):
        return None
    pre = _preprocessor(model)
    space = _model_space(model, base, columns)
    if space is None:
        return None
    arr, _ = space
    if arr.shape[1] != len(columns):
        return None
    center = np.median(arr, axis=0)
    picks: list[tuple[int, float]] = []
    per_feature = max(1, limit // max(1, len(thresholds)))
    for f, values in sorted(thresholds.items()):
        if f >= arr.shape[1]:
            continue
        idx = np.unique(np.linspace(0, len(values) - 1, min(per_feature, len(values))).round().astype(int))
        picks.extend((f, float(values[i])) for i in idx)
    picks = picks[:limit]
    if not picks:
        return None
    rows = np.tile(center, (len(picks), 1))
    for r, (f, t) in enumerate(picks):
        rows[r, f] = float(np.float32(t))
    if pre is not None:
        if not hasattr(pre, "inverse_transform"):
            return None
        try:
            rows = np.asarray(pre.inverse_transform(rows), dtype=np.float64)
        except Exception:  # noqa: BLE001
            return None
    return pd.DataFrame(rows, columns=columns)


def explain_threshold_flips(model: Any, info: ModelInfo, frame: pd.DataFrame, rows: list[int],
                            ulps: int = 2) -> dict[int, str]:
    """For each row index in `rows`, an explanation when a feature (as the trees see it) lies within
    `ulps` float32 steps of a split threshold, or its float32 cast equals one."""
    found = split_thresholds(model)
    if not found or not rows:
        return {}
    thresholds, how = found
    columns = [s.name for s in info.inputs]
    if any(c not in frame.columns for c in columns):
        return {}
    subset = frame.iloc[rows]
    space = _model_space(model, subset, columns)
    if space is None:
        return {}
    arr, names = space
    transformed = _preprocessor(model) is not None
    out: dict[int, str] = {}
    for k, row in enumerate(rows):
        hits = []
        for f, values in thresholds.items():
            if f >= arr.shape[1]:
                continue
            x = float(arr[k, f])
            x32 = np.float32(x)
            t32 = values.astype(np.float32)
            step = np.spacing(np.abs(t32)).astype(np.float64)
            near = (t32 == x32) | (np.abs(values - x) <= ulps * step)
            # identical float32 numbers on both sides (a one-hot 1.0 against a threshold 1.0) cannot flip
            exact = (np.float64(x32) == x) & (t32.astype(np.float64) == values)
            for t, s in zip(values[near & ~exact][:1], step[near & ~exact][:1], strict=False):
                hits.append((abs(t - x) / s, names[f] if f < len(names) else f"x{f}", x, float(t)))
        if hits:
            hits.sort(key=lambda h: h[0])
            _, feat, x, t = hits[0]
            where = "after the preprocessing steps, " if transformed else ""
            text = (f"{where}feature {feat!r} = {x!r} (float32 {float(np.float32(x))!r}) sits on split "
                    f"threshold {t!r} (float32 {float(np.float32(t))!r}): {how}; float32 arithmetic in the "
                    "converted runtime sends this row to the other branch. A float32 rounding effect, "
                    "not a conversion error")
            if len(hits) > 1:
                text += f" ({len(hits) - 1} more feature(s) on a threshold)"
            out[row] = text
    return out


