"""Runtime `onnxruntime`: ONNX models on ONNX Runtime's CPU provider."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.errors import CorruptModel, WorkbenchError
from workbench.core.predictions import PredictionBatch
from workbench.core.rows import FeedPlan, FeedPlans
from workbench.core.runtimes.base import Availability, PreparedCall, Runtime, first_line, missing_module
from workbench.core.runtimes.outputs import OutputInterpreter
from workbench.core.types import ModelInfo, TensorSpec

#: ONNX Runtime type strings -> numpy dtypes for feeding
ORT_TYPES: dict[str, Any] = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int16)": np.int16, "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8, "tensor(uint16)": np.uint16, "tensor(uint32)": np.uint32,
    "tensor(uint64)": np.uint64, "tensor(bool)": np.bool_, "tensor(string)": object,
}

#: workbench dtype names -> ONNX tensor type names, where they differ
_ONNX_NAMES = {"float32": "float", "float64": "double", "string": "string", "object": "string"}


class OnnxRuntime(Runtime):
    name = "onnxruntime"
    title = "ONNX Runtime (CPU)"
    formats = ("onnx",)

    def availability(self, fmt: str | None = None) -> Availability:
        return missing_module("onnxruntime", "ONNX Runtime", "pip install onnxruntime")

    def _load(self, path: Path, info: ModelInfo, trust: bool) -> OnnxSession:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(path), sess_options=options,
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
            first = first_line(exc)
            raise CorruptModel(str(path), f"{path.name}: ONNX Runtime cannot load it: {first}") from None
        return OnnxSession(info, session)


@dataclass(frozen=True)
class _NodeFeed:
    """How one graph input is fed: its numpy dtype (object for strings) and rank."""

    name: str
    dtype: Any
    rank: int | None


@dataclass(frozen=True)
class _MatrixPlan:
    """Graph inputs read from a frame's value matrix: (name, dtype, index) each; `view_dtype` is the
    matrix dtype for which every feed is a column view as it is (one column per input, no cast)."""

    entries: list[tuple[str, np.dtype, Any]]
    view_dtype: np.dtype | None


class OnnxSession:
    """An onnxruntime.InferenceSession; the whole batch goes in one `run`.

    Everything that does not depend on the rows is decided once: the graph's inputs and outputs,
    which frame columns feed which input (per column set, see `FeedPlans`) and which output is
    the label or the probabilities (`OutputInterpreter`). A call then costs a few array views
    around `InferenceSession.run` (benchmarks/bench_predict_overhead.py measures it).
    """

    runtime = "onnxruntime"

    def __init__(self, info: ModelInfo, session: Any) -> None:
        self.info = info
        self.session = session
        self.output_names = [o.name for o in session.get_outputs()]
        self._nodes = [_NodeFeed(node.name, ORT_TYPES.get(node.type),
                                 len(node.shape) if node.shape is not None else None)
                       for node in session.get_inputs()]
        self._types = {node.name: node.type for node in session.get_inputs()}
        self._plans = FeedPlans(info)
        self._slices: tuple[FeedPlan, _MatrixPlan | None] | None = None
        self._numeric = all(node.dtype is not None and node.dtype is not object for node in self._nodes)
        self._integers = any(node.dtype is not None and node.dtype is not object
                             and np.dtype(node.dtype).kind in "iu" for node in self._nodes)
        self._interpret = OutputInterpreter(self.runtime, info, fixed_outputs=True)  # the graph's outputs

    def _matrix_plan(self, plan: FeedPlan) -> _MatrixPlan | None:
        """Per graph input: (name, dtype, index into the frame's value matrix); None when some input
        cannot be read from that matrix exactly as column by column (vector inputs of another dtype)."""
        entries = []
        single = True
        for node, (spec, positions, tensor) in self._check(plan):
            if not positions:
                return None
            if not tensor or (node.rank == 1 and len(positions) == 1):
                j = positions[0]
                index: Any = (slice(None), slice(j, j + 1) if node.rank == 2 else j)
            elif ORT_TYPES.get(f"tensor({_ONNX_NAMES.get(spec.dtype, spec.dtype)})") is not node.dtype:
                return None
            elif list(positions) == list(range(positions[0], positions[-1] + 1)):
                index = (slice(None), slice(positions[0], positions[-1] + 1))
                single = single and len(positions) == 1
            else:
                index = (slice(None), np.asarray(positions, dtype=np.intp))
                single = False
            entries.append((node.name, np.dtype(node.dtype), index))
        dtypes = {want for _, want, _ in entries}
        view_dtype = next(iter(dtypes)) if single and len(dtypes) == 1 else None
        return _MatrixPlan(entries, view_dtype)

    def _check(self, plan: FeedPlan) -> list[tuple[_NodeFeed, tuple[TensorSpec, tuple[int, ...], bool]]]:
        by_name = {spec.name: (spec, positions, tensor) for spec, positions, tensor in plan.inputs}
        pairs = []
        for node in self._nodes:
            if node.name not in by_name:
                raise WorkbenchError(f"the ONNX graph input {node.name!r} is not among the model's described "
                                     f"inputs ({', '.join(by_name) or 'none'})")
            if node.dtype is None:
                raise WorkbenchError(f"ONNX input {node.name!r} has type {self._types[node.name]}, "
                                     "which rows cannot feed")
            pairs.append((node, by_name[node.name]))
        return pairs

    def feeds(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The input arrays as the graph declares them (dtype and rank)."""
        plan = self._plans.plan(frame)
        if self._numeric:
            cached = self._slices  # one read: another thread may swap it for other columns
            if cached is None or cached[0] is not plan:
                cached = self._slices = (plan, self._matrix_plan(plan))
            slices = cached[1]
            if slices is not None:
                values = frame.to_numpy()  # one pandas call: a view when the frame has one dtype
                kind = values.dtype.kind
                # a common dtype of floats: exact for float and bool inputs, not for int64 beyond 2**53
                if kind in "iub" or kind == "f" and not self._integers:
                    return self._feeds_from_matrix(slices, values)
        return self._feeds_by_column(plan, frame)

    @staticmethod
    def _feeds_from_matrix(slices: _MatrixPlan, values: np.ndarray) -> dict[str, np.ndarray]:
        if values.dtype is slices.view_dtype and values.flags.f_contiguous:
            # one typed column per input: the column views of pandas' (column-major) block are the feeds
            return {name: values[index] for name, _, index in slices.entries}
        feeds: dict[str, np.ndarray] = {}
        for name, want, index in slices.entries:
            arr = values[index]
            if arr.dtype is not want:
                arr = arr.astype(want)
            feeds[name] = np.ascontiguousarray(arr)
        return feeds

    def _feeds_by_column(self, plan: FeedPlan, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        arrays = plan.arrays(frame)
        feeds: dict[str, np.ndarray] = {}
        for node, _ in self._check(plan):
            arr = np.asarray(arrays[node.name])
            if node.dtype is object:
                arr = np.asarray([str(v) for v in arr.reshape(-1)], dtype=object).reshape(arr.shape)
            else:
                arr = arr.astype(node.dtype)
            rank = node.rank if node.rank is not None else arr.ndim
            if rank == 2 and arr.ndim == 1:
                arr = arr.reshape(-1, 1)
            elif rank == 1 and arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr.reshape(-1)
            feeds[node.name] = arr
        return feeds

    def prepare(self, frame: pd.DataFrame) -> PreparedCall:
        """The feeds built once; `run()` is `InferenceSession.run` on them, returning its list of arrays."""
        return PreparedCall(len(frame), partial(self.session.run, self.output_names, self.feeds(frame)),
                            self.finish)

    def finish(self, results: list[Any]) -> PredictionBatch:
        """`InferenceSession.run`'s results (one per output name) as a PredictionBatch."""
        return self._interpret(dict(zip(self.output_names, results)))

    def predict(self, frame: pd.DataFrame) -> PredictionBatch:
        # prepare -> run -> finish inlined (no PreparedCall object): the single-row path stays short
        start = time.perf_counter()
        names = self.output_names
        batch = self._interpret(dict(zip(names, self.session.run(names, self.feeds(frame)))))
        batch.elapsed_ms = (time.perf_counter() - start) * 1000.0
        return batch


RUNTIME = OnnxRuntime()
