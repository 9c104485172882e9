"""MLPClassifier / MLPRegressor: the forward pass of sklearn's _forward_pass_fast in float64."""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.core.converters.to_savedmodel.graph import Context, Frame, Head, Step, binary_probabilities
from workbench.core.converters.to_savedmodel.registry import register

_ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "softmax", "exp")


def _activate(name: str, x: Any) -> Any:
    import tensorflow as tf

    if name == "identity":
        return x
    if name == "logistic":
        return tf.math.sigmoid(x)
    if name == "tanh":
        return tf.math.tanh(x)
    if name == "relu":
        return tf.maximum(x, tf.constant(0.0, x.dtype))
    if name == "exp":
        return tf.exp(x)
    if name == "softmax":
        shifted = x - tf.reduce_max(x, axis=1, keepdims=True)
        e = tf.exp(shifted)
        return e / tf.reduce_sum(e, axis=1, keepdims=True)
    raise ValueError(name)


def _check_mlp(est: Any) -> str | None:
    if est.activation not in _ACTIVATIONS or est.out_activation_ not in _ACTIVATIONS:
        return f"activation {est.activation!r}/{est.out_activation_!r} is not supported"
    if (
        type(est).__name__ == "MLPClassifier"
        and getattr(est, "_label_binarizer", None) is not None
        and est._label_binarizer.y_type_ == "multilabel-indicator"
    ):
        return "multi-label targets are not supported"
    return None


@register("sklearn", "MLPClassifier", "classifier", _check_mlp)
@register("sklearn", "MLPRegressor", "regressor", _check_mlp)
def _mlp(est: Any, ctx: Context) -> Step:
    dtype = str(np.asarray(est.coefs_[0]).dtype)
    weights = [ctx.const(w, dtype, f"coef_{i}") for i, w in enumerate(est.coefs_)]
    biases = [ctx.const(b, dtype, f"intercept_{i}") for i, b in enumerate(est.intercepts_)]
    hidden, out_act = est.activation, est.out_activation_
    is_classifier = type(est).__name__ == "MLPClassifier"
    classes = np.asarray(est.classes_) if is_classifier else None

    def run(frame: Frame) -> Head:
        import tensorflow as tf

        x = frame.numeric(type(est).__name__)
        if x.dtype != weights[0].dtype:
            x = tf.cast(x, weights[0].dtype)
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            x = tf.matmul(x, w) + b
            x = _activate(hidden if i < len(weights) - 1 else out_act, x)
        x = tf.cast(x, tf.float64)
        if not is_classifier:
            return Head("regression", value=x[:, 0] if x.shape[1] == 1 else x)
        proba = binary_probabilities(x[:, 0]) if x.shape[1] == 1 else x
        return Head("classification", probabilities=proba, classes=classes)

    return run
