"""Linear and logistic models: X @ coef.T + intercept in float64, as sklearn's decision_function."""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.core.converters.to_savedmodel.graph import (
    Context,
    Frame,
    Head,
    Step,
    binary_probabilities,
    sigmoid,
    softmax,
)
from workbench.core.converters.to_savedmodel.registry import register

LINEAR_REGRESSORS = (
    "LinearRegression",
    "Ridge",
    "RidgeCV",
    "Lasso",
    "LassoCV",
    "ElasticNet",
    "ElasticNetCV",
    "SGDRegressor",
    "HuberRegressor",
    "BayesianRidge",
    "ARDRegression",
    "LassoLars",
    "Lars",
)


def _affine(est: Any, ctx: Context) -> tuple[Any, Any, int]:
    coef = np.atleast_2d(np.asarray(est.coef_, dtype=np.float64))
    intercept = np.broadcast_to(np.asarray(est.intercept_, dtype=np.float64), (coef.shape[0],)).copy()
    return ctx.const(coef.T, "float64", "coef"), ctx.const(intercept, "float64", "intercept"), coef.shape[0]


@register("sklearn", LINEAR_REGRESSORS, "regressor")
def _linear_regressor(est: Any, ctx: Context) -> Step:
    coef_t, intercept, n_out = _affine(est, ctx)
    single = np.ndim(est.coef_) == 1

    def run(frame: Frame) -> Head:
        import tensorflow as tf

        y = tf.matmul(frame.numeric(type(est).__name__), coef_t) + intercept
        return Head("regression", value=y[:, 0] if single else y)

    return run


def _check_logistic(est: Any) -> str | None:
    if np.ndim(est.classes_) != 1:
        return "multi-label targets are not supported"
    return None


@register("sklearn", ("LogisticRegression", "LogisticRegressionCV"), "classifier", _check_logistic)
def _logistic(est: Any, ctx: Context) -> Step:
    coef_t, intercept, n_out = _affine(est, ctx)
    classes = np.asarray(est.classes_)

    def run(frame: Frame) -> Head:
        import tensorflow as tf

        scores = tf.matmul(frame.numeric(type(est).__name__), coef_t) + intercept
        if len(classes) <= 2:
            proba = binary_probabilities(sigmoid(scores[:, 0]))
        else:
            proba = softmax(scores)
        return Head("classification", probabilities=proba, classes=classes)

    return run
