"""The pieces every compiler shares: the tabular `Frame` flowing between steps, the `Context`
that turns fitted numpy arrays into TF variables, and the `Head` a final estimator returns.

Compilers run in two phases: `build(estimator, ctx)` reads the fitted attributes (numpy only, no TF
ops) and returns a step function; the step function runs later while the serving function is
traced, and emits the TF ops. TensorFlow is imported inside functions only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.core.errors import ConversionFailed

#: kinds of a frame column
NUMBER = "number"
STRING = "string"


class CompileError(ConversionFailed):
    """The estimator (or one of its steps) cannot be compiled to TF ops; the message names it."""

    kind = "not-compilable"


class Frame:
    """Columns flowing through a pipeline while the serving function is traced.

    Either a list of 1-D column tensors (each a number column in float64, or a string column), or one
    float64 matrix [N, k] (after a numeric transformer). Column names are kept where known.
    """

    def __init__(
        self,
        columns: Sequence[Any] | None = None,
        kinds: Sequence[str] | None = None,
        names: Sequence[str] | None = None,
        matrix: Any = None,
    ) -> None:
        if (columns is None) == (matrix is None):
            raise ValueError("give either columns or a matrix")
        self._columns = list(columns) if columns is not None else None
        self._matrix = matrix
        if self._columns is not None:
            self.kinds = list(kinds or [NUMBER] * len(self._columns))
        else:
            self.kinds = [NUMBER] * int(matrix.shape[1])
        self.names = list(names) if names is not None else None

    @property
    def width(self) -> int:
        return len(self.kinds)

    def column(self, i: int) -> Any:
        """Column `i` as a 1-D tensor (float64 for numbers, tf.string for strings)."""
        if self._columns is not None:
            return self._columns[i]
        return self._matrix[:, i]

    def select(self, indices: Sequence[int]) -> Frame:
        """A frame of the given column indices (a matrix slice when this frame is a matrix)."""
        import tensorflow as tf

        indices = [int(i) for i in indices]
        names = [self.names[i] for i in indices] if self.names else None
        if self._matrix is not None:
            if indices == list(range(self.width)):
                return self
            return Frame(matrix=tf.gather(self._matrix, indices, axis=1), names=names)
        return Frame(
            columns=[self._columns[i] for i in indices], kinds=[self.kinds[i] for i in indices], names=names
        )

    def numeric(self, step: str) -> Any:
        """The frame as a float64 matrix [N, k]; a string column here is a compile error."""
        import tensorflow as tf

        if self._matrix is not None:
            return self._matrix
        bad = [self.label(i) for i, kind in enumerate(self.kinds) if kind == STRING]
        if bad:
            raise CompileError(
                f"{step} receives string column(s) {', '.join(bad)}: encode them first "
                "(OneHotEncoder/OrdinalEncoder in a ColumnTransformer)"
            )
        if not self._columns:
            raise CompileError(f"{step} receives no columns")
        return tf.stack(self._columns, axis=1)

    def label(self, i: int) -> str:
        return repr(self.names[i]) if self.names else f"#{i}"

    @staticmethod
    def concat(frames: Sequence[Frame]) -> Frame:
        """Side by side, as ColumnTransformer's hstack."""
        import tensorflow as tf

        frames = [f for f in frames if f.width]
        if not frames:
            raise CompileError("the ColumnTransformer produces no columns")
        if all(f._matrix is not None or STRING not in f.kinds for f in frames):
            return Frame(matrix=tf.concat([f.numeric("ColumnTransformer") for f in frames], axis=1))
        columns: list[Any] = []
        kinds: list[str] = []
        for f in frames:
            columns.extend(f.column(i) for i in range(f.width))
            kinds.extend(f.kinds)
        return Frame(columns=columns, kinds=kinds)


@dataclass
class Head:
    """What a final estimator returns: labels+probabilities (classifier) or values (regressor)."""

    task: str  # "classification" | "regression"
    probabilities: Any = None
    value: Any = None
    classes: np.ndarray | None = None


#: a step function: called while tracing with a Frame, returns a Frame (transformer) or a Head
Step = Callable[[Frame], "Frame | Head"]


@dataclass
class Context:
    """Collects the fitted arrays of one compilation as TF variables (saved under variables/)."""

    variables: list[Any] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def const(self, array: Any, dtype: str | None = None, name: str = "w") -> Any:
        """A non-trainable tf.Variable holding `array` (kept by the module, saved with it)."""
        import tensorflow as tf

        value = np.asarray(array, dtype=dtype) if dtype else np.asarray(array)
        if value.dtype == object or value.dtype.kind == "U":
            value = np.array([str(v).encode("utf-8") for v in value.ravel()], dtype=object).reshape(
                value.shape
            )
            var = tf.Variable(value, dtype=tf.string, trainable=False, name=_safe(name))
        else:
            var = tf.Variable(value, trainable=False, name=_safe(name))
        self.variables.append(var)
        return var


def _safe(name: str) -> str:
    out = "".join(c if c.isalnum() or c in "_." else "_" for c in name)
    return out or "w"


def sigmoid(x: Any) -> Any:
    """expit as scipy computes it (float64)."""
    import tensorflow as tf

    return tf.math.sigmoid(x)


def softmax(x: Any) -> Any:
    """Row softmax with the max subtracted first, as sklearn.utils.extmath.softmax."""
    import tensorflow as tf

    shifted = x - tf.reduce_max(x, axis=1, keepdims=True)
    e = tf.exp(shifted)
    return e / tf.reduce_sum(e, axis=1, keepdims=True)


def binary_probabilities(p: Any) -> Any:
    """[N] positive-class probability -> [N, 2] as sklearn stacks [1 - p, p]."""
    import tensorflow as tf

    return tf.stack([1.0 - p, p], axis=1)
