"""Pipeline, ColumnTransformer and the preprocessing transformers as TF ops (float64, as sklearn)."""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.core.converters.to_savedmodel.graph import (
    NUMBER,
    STRING,
    CompileError,
    Context,
    Frame,
    Head,
    Step,
)
from workbench.core.converters.to_savedmodel.registry import build_step, register, role_of, unsupported_reason

# ---------------------------------------------------------------- composition


def _check_pipeline(pipe: Any) -> str | None:
    steps = [(name, est) for name, est in pipe.steps if est not in (None, "passthrough")]
    for i, (name, est) in enumerate(steps):
        why = unsupported_reason(est, name)
        if why:
            return why
        if i < len(steps) - 1 and role_of(est) not in ("transformer", "pipeline"):
            return f"Pipeline step {name!r} ({type(est).__name__}) is not a transformer but is not last"
    return None


@register("sklearn", "Pipeline", "pipeline", _check_pipeline)
def _pipeline(pipe: Any, ctx: Context) -> Step:
    steps = [build_step(est, ctx, name) for name, est in pipe.steps if est not in (None, "passthrough")]

    def run(frame: Frame) -> Frame | Head:
        out: Frame | Head = frame
        for step in steps:
            assert isinstance(out, Frame)
            out = step(out)
        return out

    return run


def _ct_parts(ct: Any) -> list[tuple[str, Any, list[int], float]]:
    weights = ct.transformer_weights or {}
    parts = []
    for name, trans, _cols in ct.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        indices = [int(i) for i in ct._transformer_to_input_indices[name]]
        if not indices:
            continue
        parts.append((name, trans, indices, float(weights.get(name, 1.0))))
    return parts


def _check_ct(ct: Any) -> str | None:
    if getattr(ct, "sparse_output_", False):
        pass  # dense in TF, same values
    for name, trans, _indices, _w in _ct_parts(ct):
        if isinstance(trans, str):
            if trans != "passthrough":
                return f"ColumnTransformer: unknown transformer {trans!r} in {name!r}"
            continue
        why = unsupported_reason(trans, name)
        if why:
            return why
        if role_of(trans) not in ("transformer", "pipeline"):
            return f"ColumnTransformer part {name!r} ({type(trans).__name__}) is not a transformer"
    return None


@register("sklearn", "ColumnTransformer", "transformer", _check_ct)
def _column_transformer(ct: Any, ctx: Context) -> Step:
    import tensorflow as tf  # noqa: F401  (ops are emitted by the parts)

    parts = []
    for name, trans, indices, weight in _ct_parts(ct):
        step = None if isinstance(trans, str) else build_step(trans, ctx, name)
        parts.append((step, indices, weight))

    def run(frame: Frame) -> Frame:
        outs = []
        for step, indices, weight in parts:
            sub = frame.select(indices)
            out = sub if step is None else step(sub)
            if not isinstance(out, Frame):
                raise CompileError("a ColumnTransformer part returned predictions")
            if weight != 1.0:
                out = Frame(matrix=out.numeric("ColumnTransformer") * weight)
            outs.append(out)
        return Frame.concat(outs)

    return run


def _check_function_transformer(ft: Any) -> str | None:
    if ft.func is not None:
        return "only the identity FunctionTransformer (func=None) can be compiled; a Python function cannot"
    return None


@register("sklearn", "FunctionTransformer", "transformer", _check_function_transformer)
def _function_transformer(ft: Any, ctx: Context) -> Step:
    return lambda frame: frame


# ---------------------------------------------------------------- scalers


def _numeric_step(fn: Any, step: str) -> Step:
    def run(frame: Frame) -> Frame:
        return Frame(matrix=fn(frame.numeric(step)))

    return run


@register("sklearn", "StandardScaler", "transformer")
def _standard_scaler(sc: Any, ctx: Context) -> Step:
    mean = ctx.const(sc.mean_, "float64", "mean") if sc.with_mean and sc.mean_ is not None else None
    scale = ctx.const(sc.scale_, "float64", "scale") if sc.with_std and sc.scale_ is not None else None

    def fn(x: Any) -> Any:
        if mean is not None:
            x = x - mean
        if scale is not None:
            x = x / scale
        return x

    return _numeric_step(fn, "StandardScaler")


@register("sklearn", "MinMaxScaler", "transformer")
def _minmax_scaler(sc: Any, ctx: Context) -> Step:
    import tensorflow as tf  # noqa: F401

    scale = ctx.const(sc.scale_, "float64", "scale")
    shift = ctx.const(sc.min_, "float64", "min")
    lo, hi = (float(v) for v in sc.feature_range)
    clip = bool(getattr(sc, "clip", False))

    def fn(x: Any) -> Any:

        x = x * scale
        x = x + shift
        return tf.clip_by_value(x, lo, hi) if clip else x

    return _numeric_step(fn, "MinMaxScaler")


@register("sklearn", "MaxAbsScaler", "transformer")
def _maxabs_scaler(sc: Any, ctx: Context) -> Step:
    scale = ctx.const(sc.scale_, "float64", "scale")
    return _numeric_step(lambda x: x / scale, "MaxAbsScaler")


@register("sklearn", "RobustScaler", "transformer")
def _robust_scaler(sc: Any, ctx: Context) -> Step:
    center = ctx.const(sc.center_, "float64", "center") if sc.with_centering else None
    scale = ctx.const(sc.scale_, "float64", "scale") if sc.with_scaling else None

    def fn(x: Any) -> Any:
        if center is not None:
            x = x - center
        if scale is not None:
            x = x / scale
        return x

    return _numeric_step(fn, "RobustScaler")


# ---------------------------------------------------------------- imputation


def _is_nan_marker(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _check_imputer(imp: Any) -> str | None:
    if getattr(imp, "add_indicator", False):
        return "add_indicator=True is not supported"
    stats = np.asarray(imp.statistics_)
    if (
        stats.dtype != object
        and not _is_nan_marker(imp.missing_values)
        and not isinstance(imp.missing_values, int | float)
    ):
        return f"missing_values={imp.missing_values!r} is not supported"
    return None


@register("sklearn", "SimpleImputer", "transformer", _check_imputer)
def _simple_imputer(imp: Any, ctx: Context) -> Step:
    stats = np.asarray(imp.statistics_)
    marker = imp.missing_values
    if stats.dtype == object:
        keep = [i for i, s in enumerate(stats) if not _is_nan_marker(s)]
        if getattr(imp, "keep_empty_features", False):
            keep = list(range(len(stats)))
        fills = [stats[i] for i in keep]

        def run_object(frame: Frame) -> Frame:
            import tensorflow as tf

            cols, kinds = [], []
            for pos, i in enumerate(keep):
                col, fill = frame.column(i), fills[pos]
                if frame.kinds[i] == STRING:
                    missing = tf.equal(col, "")
                    if isinstance(marker, str):
                        missing = missing | tf.equal(col, marker)
                    cols.append(tf.where(missing, tf.constant(str(fill)), col))
                    kinds.append(STRING)
                else:
                    missing = tf.math.is_nan(col) if _is_nan_marker(marker) else tf.equal(col, float(marker))
                    cols.append(tf.where(missing, tf.constant(float(fill), tf.float64), col))
                    kinds.append(NUMBER)
            names = [frame.names[i] for i in keep] if frame.names else None
            return Frame(columns=cols, kinds=kinds, names=names)

        return run_object

    keep = (
        np.arange(len(stats))
        if getattr(imp, "keep_empty_features", False)
        else np.flatnonzero(~np.isnan(stats))
    )
    fill_values = np.where(np.isnan(stats), 0.0, stats)[keep] if len(keep) else np.zeros(0)
    fill = ctx.const(fill_values, "float64", "statistics")
    keep_list = [int(i) for i in keep]

    def run(frame: Frame) -> Frame:
        import tensorflow as tf

        x = frame.numeric("SimpleImputer")
        if len(keep_list) != frame.width:
            x = tf.gather(x, keep_list, axis=1)
        if _is_nan_marker(marker):
            missing = tf.math.is_nan(x)
        else:
            missing = tf.equal(x, tf.constant(float(marker), tf.float64))
        return Frame(matrix=tf.where(missing, tf.broadcast_to(fill, tf.shape(x)), x))

    return run


# ---------------------------------------------------------------- categorical encoders


def _category_values(cats: np.ndarray) -> tuple[str, list[Any]]:
    """('string', [str...]) or ('number', [float...]); a missing category (None/NaN) becomes '' / NaN."""
    if cats.dtype == object or cats.dtype.kind in "US":
        return STRING, ["" if _is_nan_marker(c) else str(c) for c in cats]
    return NUMBER, [float(c) for c in cats]


def _match_matrix(col: Any, kind: str, values: list[Any], where: str) -> Any:
    """[N, len(values)] bool: col == each category (NaN matches a NaN category)."""
    import tensorflow as tf

    if kind == STRING:
        if col.dtype != tf.string:
            raise CompileError(f"{where}: categories are strings but the column is numeric")
        cats = tf.constant(values, tf.string)
        return tf.equal(col[:, None], cats[None, :])
    if col.dtype == tf.string:
        raise CompileError(f"{where}: categories are numbers but the column holds strings")
    cats = tf.constant(values, tf.float64)
    eq = tf.equal(col[:, None], cats[None, :])
    nan_cat = np.isnan(np.asarray(values, dtype=float))
    if nan_cat.any():
        eq = eq | (tf.math.is_nan(col)[:, None] & tf.constant(nan_cat)[None, :])
    return eq


def _check_onehot(enc: Any) -> str | None:
    infrequent = getattr(enc, "_infrequent_enabled", False)
    if infrequent:
        return "infrequent categories (min_frequency/max_categories) are not supported"
    return None


@register("sklearn", "OneHotEncoder", "transformer", _check_onehot)
def _onehot(enc: Any, ctx: Context) -> Step:
    drop_idx = getattr(enc, "drop_idx_", None)
    plans = []
    for j, cats in enumerate(enc.categories_):
        kind, values = _category_values(np.asarray(cats))
        keep = list(range(len(values)))
        if drop_idx is not None and drop_idx[j] is not None:
            keep.remove(int(drop_idx[j]))
        plans.append((kind, values, keep))
    if getattr(enc, "handle_unknown", "error") == "error":
        ctx.notes["unknown_categories"] = "all-zero one-hot rows (sklearn raises with handle_unknown='error')"

    def run(frame: Frame) -> Frame:
        import tensorflow as tf

        if frame.width != len(plans):
            raise CompileError(f"OneHotEncoder expects {len(plans)} columns, gets {frame.width}")
        blocks = []
        for j, (kind, values, keep) in enumerate(plans):
            eq = _match_matrix(frame.column(j), kind, values, f"OneHotEncoder column {frame.label(j)}")
            if len(keep) != len(values):
                eq = tf.gather(eq, keep, axis=1)
            blocks.append(tf.cast(eq, tf.float64))
        return Frame(matrix=tf.concat(blocks, axis=1))

    return run


def _check_ordinal(enc: Any) -> str | None:
    if getattr(enc, "_infrequent_enabled", False):
        return "infrequent categories (min_frequency/max_categories) are not supported"
    return None


@register("sklearn", "OrdinalEncoder", "transformer", _check_ordinal)
def _ordinal(enc: Any, ctx: Context) -> Step:
    unknown = (
        float(enc.unknown_value) if getattr(enc, "handle_unknown", "error") == "use_encoded_value" else np.nan
    )
    encoded_missing = getattr(enc, "encoded_missing_value", np.nan)
    plans = [_category_values(np.asarray(cats)) for cats in enc.categories_]

    def run(frame: Frame) -> Frame:
        import tensorflow as tf

        cols = []
        for j, (kind, values) in enumerate(plans):
            col = frame.column(j)
            eq = _match_matrix(col, kind, values, f"OrdinalEncoder column {frame.label(j)}")
            found = tf.reduce_any(eq, axis=1)
            code = tf.cast(tf.argmax(tf.cast(eq, tf.int32), axis=1), tf.float64)
            code = tf.where(found, code, tf.constant(unknown, tf.float64))
            is_missing_value = (
                np.isnan(np.asarray(values, dtype=float))
                if kind == NUMBER
                else np.array([v == "" for v in values])
            )
            if is_missing_value.any():
                missing_code = int(np.flatnonzero(is_missing_value)[0])
                code = tf.where(
                    tf.equal(code, float(missing_code)), tf.constant(float(encoded_missing), tf.float64), code
                )
            cols.append(code)
        return Frame(matrix=tf.stack(cols, axis=1))

    return run


def string_columns(estimator: Any, width: int) -> set[int]:
    """Input column indices that must be strings (fed to string-category encoders/imputers)."""
    return _string_cols(estimator, list(range(width)))


def _string_cols(est: Any, indices: list[int]) -> set[int]:
    name = type(est).__name__
    if name == "Pipeline":
        steps = [e for _, e in est.steps if e not in (None, "passthrough")]
        return _string_cols(steps[0], indices) if steps else set()
    if name == "ColumnTransformer":
        out: set[int] = set()
        for _n, trans, sub, _w in _ct_parts(est):
            mapped = [indices[i] for i in sub]
            if isinstance(trans, str):
                continue
            out |= _string_cols(trans, mapped)
        return out
    if name in ("OneHotEncoder", "OrdinalEncoder"):
        return {
            indices[j]
            for j, cats in enumerate(est.categories_)
            if np.asarray(cats).dtype == object or np.asarray(cats).dtype.kind in "US"
        }
    if type(est).__module__.startswith("lightgbm."):
        from workbench.core.converters.to_savedmodel.boosters import lgb_string_inputs

        return {indices[j] for j in lgb_string_inputs(est)}
    if name.startswith("HistGradientBoosting") and getattr(est, "_preprocessor", None) is not None:
        return _string_cols(est._preprocessor, indices)
    if name == "SimpleImputer":
        stats = np.asarray(est.statistics_)
        if stats.dtype == object:
            return {indices[j] for j, s in enumerate(stats) if isinstance(s, str)}
    return set()
