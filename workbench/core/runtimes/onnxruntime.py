"""Runtime `onnxruntime`: ONNX models on ONNX Runtime's CPU provider."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.errors import CorruptModel, WorkbenchError
from workbench.core.predictions import PredictionBatch
from workbench.core.rows import input_arrays
from workbench.core.runtimes.base import Availability, Runtime, Timer, first_line, missing_module
from workbench.core.runtimes.outputs import interpret_outputs
from workbench.core.types import ModelInfo

#: ONNX Runtime type strings -> numpy dtypes for feeding
ORT_TYPES: dict[str, Any] = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int16)": np.int16, "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8, "tensor(uint16)": np.uint16, "tensor(uint32)": np.uint32,
    "tensor(uint64)": np.uint64, "tensor(bool)": np.bool_, "tensor(string)": object,
}


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


class OnnxSession:
    """An onnxruntime.InferenceSession; the whole batch goes in one `run`."""

    runtime = "onnxruntime"

    def __init__(self, info: ModelInfo, session: Any) -> None:
        self.info = info
        self.session = session

    def feeds(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The input arrays as the graph declares them (dtype and rank)."""
        arrays = input_arrays(frame, self.info)
        feeds: dict[str, np.ndarray] = {}
        for node in self.session.get_inputs():
            if node.name not in arrays:
                raise WorkbenchError(f"the ONNX graph input {node.name!r} is not among the model's described "
                                     f"inputs ({', '.join(arrays) or 'none'})")
            dtype = ORT_TYPES.get(node.type)
            if dtype is None:
                raise WorkbenchError(f"ONNX input {node.name!r} has type {node.type}, which rows cannot feed")
            arr = np.asarray(arrays[node.name])
            if dtype is object:
                arr = np.asarray([str(v) for v in arr.reshape(-1)], dtype=object).reshape(arr.shape)
            else:
                arr = arr.astype(dtype)
            rank = len(node.shape) if node.shape is not None else arr.ndim
            if rank == 2 and arr.ndim == 1:
                arr = arr.reshape(-1, 1)
            elif rank == 1 and arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr.reshape(-1)
            feeds[node.name] = arr
        return feeds

    def predict(self, frame: pd.DataFrame) -> PredictionBatch:
        with Timer() as timer:
            feeds = self.feeds(frame)
            names = [o.name for o in self.session.get_outputs()]
            results = self.session.run(names, feeds)
            batch = interpret_outputs(self.runtime, dict(zip(names, results, strict=True)), self.info)
        batch.elapsed_ms = timer.ms
        return batch


RUNTIME = OnnxRuntime()
