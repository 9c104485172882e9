"""An MLeap pipeline plan as a SavedModel, with the SavedModel compiler's pieces (to_savedmodel/).

The signature is the compiler's (`compile.CompiledModel`, `save_compiled`): one [None] input per
column (float64, or tf.string for string_indexer inputs), outputs `label` and `probabilities`
(classifiers) or `value` (regressors), the workbench metadata beside it. Weights are `Context`
variables; trees are `trees.TreeArrays` walked by `trees.PackedEnsemble` in float64 with Spark's
`x <= threshold` (NaN goes right, as NaN <= t is false in Spark); `graph.sigmoid`/`softmax`/
`binary_probabilities` finish the heads. string_indexer is a chain of tf.equal/tf.where (no lookup
table: a table's initializer would make the SavedModel need --trust to load).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.converters.from_mleap.plan import STRING, Expr, Plan


def compile_plan(plan: Plan, estimator: str = "MLeap pipeline") -> Any:
    import tensorflow as tf

    from workbench.core.converters.to_savedmodel.compile import CompiledModel, InputColumn, signature_alias
    from workbench.core.converters.to_savedmodel.graph import (
        Context,
        binary_probabilities,
        sigmoid,
        softmax,
    )
    from workbench.core.converters.to_savedmodel.trees import Ensemble, PackedEnsemble, TreeArrays

    ctx = Context()
    taken: set[str] = set()
    columns = [InputColumn(name, signature_alias(name, taken), "string" if kind == STRING else "float64")
               for name, kind in plan.columns]
    alias = {c.name: c.alias for c in columns}
    head = plan.head
    xgb_step = None
    packed = None
    if head.kind == "xgboost":
        xgb_step = xgboost_step(plan, ctx)
    elif head.kind == "linear":
        w = ctx.const(np.asarray(head.weights, np.float64).T, "float64", "weights")
        b = ctx.const(np.asarray(head.bias, np.float64), "float64", "bias")
        packed = None
    else:
        arrays = []
        for t in head.trees:
            leaf = t.is_leaf
            idx = np.arange(len(t.feature))
            arrays.append(TreeArrays(
                feature=np.where(leaf, 0, t.feature).astype(np.int64),
                threshold=np.where(leaf, 0.0, t.threshold).astype(np.float64),
                left=np.where(leaf, idx, t.left).astype(np.int64), right=np.where(leaf, idx, t.right).astype(np.int64),
                missing_left=np.zeros(len(t.feature), bool), values=np.asarray(t.values, np.float64)))
        packed = PackedEnsemble(Ensemble(arrays, input_dtype="float64", op="le"), ctx, head.op)
    classes = np.arange(head.n_classes, dtype=np.int64)

    def body(inputs: dict[str, Any]) -> dict[str, Any]:
        memo: dict[Any, Any] = {}

        def emit(e: Expr) -> Any:
            if e in memo:
                return memo[e]
            kind = e[0]
            if kind == "in":
                out = tf.cast(inputs[alias[e[1]]], tf.float64)
            elif kind == "const":
                out = tf.zeros_like(ref) + e[1]
            elif kind == "index":
                _, name, labels, unseen = e
                text = inputs[alias[name]]
                out = tf.fill(tf.shape(text), tf.constant(float(unseen), tf.float64))
                for i, label in reversed(list(enumerate(labels))):  # the first match wins, as a lookup
                    out = tf.where(tf.equal(text, label), tf.constant(float(i), tf.float64), out)
            elif kind == "scale":
                _, x, sub, div, mul, add = e
                out = emit(x)
                if sub != 0.0:
                    out = out - sub
                if div != 1.0:
                    out = out / div
                if mul != 1.0:
                    out = out * mul
                if add != 0.0:
                    out = out + add
            elif kind == "eq":
                out = tf.cast(tf.equal(emit(e[1]), e[2]), tf.float64)
            elif kind == "gt":
                out = tf.cast(emit(e[1]) > e[2], tf.float64)
            elif kind == "bucket":
                _, x, splits, nan_bucket = e
                xs = emit(x)
                out = tf.zeros_like(xs)
                for s in splits[1:-1]:
                    out = out + tf.cast(xs >= s, tf.float64)
                if nan_bucket is not None:
                    out = tf.where(tf.math.is_nan(xs), tf.constant(nan_bucket, tf.float64), out)
            elif kind == "impute":
                _, x, missing, surrogate = e
                xs = emit(x)
                cond = tf.math.is_nan(xs)
                if not np.isnan(missing):
                    cond = cond | tf.equal(xs, missing)
                out = tf.where(cond, tf.constant(surrogate, tf.float64), xs)
            elif kind == "prod":
                out = emit(e[1][0])
                for f in e[1][1:]:
                    out = out * emit(f)
            else:  # pragma: no cover
                raise ValueError(kind)
            memo[e] = out
            return out

        first = inputs[columns[0].alias]
        ref = tf.zeros(tf.shape(first), tf.float64)
        x = tf.stack([emit(e) for e in plan.features], axis=1)
        if xgb_step is not None:
            from workbench.core.converters.to_savedmodel.graph import Frame

            done = xgb_step(Frame(matrix=x))
            if head.task == "regression":
                return {"value": tf.identity(tf.reshape(done.value, [-1]), name="value")}
            proba = done.probabilities
            return {"label": tf.identity(tf.gather(classes, tf.argmax(proba, axis=1)), name="label"),
                    "probabilities": tf.identity(proba, name="probabilities")}
        if packed is None:
            scores = tf.matmul(x, w) + b
        else:
            scores = packed.total(x)
        if head.task == "regression":
            return {"value": tf.identity(scores[:, 0], name="value")}
        if head.post in ("sigmoid", "gbt"):
            margin = scores[:, 0] if head.post == "sigmoid" else 2.0 * scores[:, 0]
            p1 = sigmoid(margin)
            proba = binary_probabilities(p1)
            label = tf.cast(p1 > head.threshold, tf.int64)
        else:
            proba = softmax(scores) if head.post == "softmax" else scores / tf.reduce_sum(scores, axis=1, keepdims=True)
            label = tf.argmax(proba, axis=1)
        return {"label": tf.identity(tf.gather(classes, label), name="label"),
                "probabilities": tf.identity(proba, name="probabilities")}

    signature = {c.alias: tf.TensorSpec([None], tf.string if c.dtype == "string" else tf.float64, name=c.alias)
                 for c in columns}
    serve = tf.function(body, input_signature=[signature])
    concrete = serve.get_concrete_function()
    module = tf.Module()
    module.model_variables = list(ctx.variables)
    module.serve = serve
    outputs = {name: spec.dtype.name for name, spec in concrete.structured_outputs.items()}
    notes = dict(ctx.notes)
    notes["source"] = "mleap"
    return CompiledModel(module=module, serve=serve, inputs=columns, task=head.task,
                         classes=[int(c) for c in classes] if head.task == "classification" else None,
                         outputs=outputs, notes=notes, estimator=estimator)


def xgboost_step(plan: Plan, ctx: Any) -> Any:
    """The SavedModel compiler's XGBoost step (to_savedmodel/boosters.py: the Booster's JSON trees in
    float32, `x < split_condition`, NaN to the default child, added one by one onto the base margin, then
    XGBoost's sigmoid/softmax) on the float64 feature matrix of the plan; `Unsupported` with the compiler's
    reason when its check refuses the booster."""
    from workbench.core.converters.from_mleap.plan import Unsupported
    from workbench.core.converters.to_savedmodel import boosters

    head = plan.head
    why = boosters._check_xgb(head.booster)
    if why:
        raise Unsupported(f"SavedModel: the {head.op} node: {why}")
    objective = boosters._xgb_json(head.booster)["objective"]["name"]
    if head.task == "classification" and objective not in boosters._XGB_LOGISTIC | boosters._XGB_SOFTMAX:
        raise Unsupported(f"SavedModel: the {head.op} node: XGBoost objective {objective!r} gives no class "
                          "probabilities")
    return boosters._xgboost(head.booster, ctx)


def _walk(exprs: list[Expr]) -> list[Expr]:
    out: list[Expr] = []
    stack = list(exprs)
    while stack:
        e = stack.pop()
        out.append(e)
        if e[0] in ("scale", "eq", "gt", "bucket", "impute"):
            stack.append(e[1])
        elif e[0] == "prod":
            stack.extend(e[1])
    return out


def write_savedmodel(plan: Plan, out: Path, estimator: str = "MLeap pipeline") -> Path:
    from workbench.core.converters.to_savedmodel.compile import save_compiled

    return save_compiled(compile_plan(plan, estimator), out)
