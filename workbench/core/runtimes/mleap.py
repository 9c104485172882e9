"""Runtime `mleap`: MLeap bundles scored natively with numpy (no JVM), op by op as Spark ML defines them.

The bundle's nodes run in order over column arrays (`workbench.core.mleap.ops`); the pipeline's last
model node (the last one writing a `prediction`) gives the batch: probabilities from its `probability`
field, labels from a later reverse_string_indexer on its prediction (IndexToString) when there is one,
else the prediction index (named by the model's classes when it knows them), and for a regressor the
prediction as the value.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.errors import WorkbenchError
from workbench.core.mleap.model import MleapBundle, MleapNode
from workbench.core.predictions import PredictionBatch
from workbench.core.rows import FeedPlans
from workbench.core.runtimes.base import Availability, PreparedCall, PreparingSession, Runtime
from workbench.core.types import ModelInfo

#: ops whose prediction is a class index
CLASSIFIER_OPS = frozenset({"logistic_regression", "decision_tree_classifier", "random_forest_classifier",
                            "gbt_classifier", "xgboost.classifier"})


class MleapRuntime(Runtime):
    name = "mleap"
    title = "MLeap (native numpy scorer)"
    formats = ("mleap",)

    def availability(self, fmt: str | None = None) -> Availability:
        return Availability(True)  # numpy only; an XGBoost node asks for xgboost when it is scored

    def _load(self, path: Path, info: ModelInfo, trust: bool) -> MleapSession:
        from workbench.core.mleap.bundle import read_bundle

        return MleapSession(info, read_bundle(path))


class MleapSession(PreparingSession):
    """A bundle's nodes, checked once to be all supported, run over each batch's column arrays."""

    runtime = "mleap"

    def __init__(self, info: ModelInfo, bundle: MleapBundle) -> None:
        from workbench.core.mleap.ops import check_supported

        self.info = info
        self.bundle = bundle
        self.nodes = tuple(bundle.nodes)
        check_supported(self.nodes)
        self._plans = FeedPlans(info)
        self.model_node = _model_node(self.nodes)
        self.prediction_field = self.model_node.output("prediction") if self.model_node else None
        self.probability_field = self.model_node.output("probability") if self.model_node else None
        self.raw_field = (self.model_node.output("raw_prediction") or self.model_node.output("rawPrediction")
                          if self.model_node else None)
        self.label_node = _label_node(self.nodes, self.prediction_field)
        self.classifier = self.model_node is not None and (self.model_node.op in CLASSIFIER_OPS
                                                           or self.probability_field is not None)

    def columns(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The rows as the bundle's input fields: float64 numbers, object arrays of text."""
        out: dict[str, np.ndarray] = {}
        for name, arr in self._plans.arrays(frame).items():
            arr = np.asarray(arr)
            if arr.dtype != object and arr.dtype.kind in "biuf" and arr.dtype != np.float64:
                arr = arr.astype(np.float64)
            out[name] = arr
        return out

    def prepare(self, frame: pd.DataFrame) -> PreparedCall:
        """The column arrays built once; `run()` is the op chain on them, returning every field."""
        from workbench.core.mleap.ops import score_nodes

        return PreparedCall(len(frame), partial(score_nodes, self.nodes, self.columns(frame)), self.finish)

    def finish(self, fields: dict[str, np.ndarray]) -> PredictionBatch:
        """The pipeline's prediction / probability / label fields as a PredictionBatch."""
        batch = PredictionBatch(runtime=self.runtime)
        if self.prediction_field is None:
            last = self.nodes[-1].outputs[0].name if self.nodes and self.nodes[-1].outputs else None
            if last is not None and last in fields:
                batch.outputs[last] = fields[last]
                values = np.asarray(fields[last])
                if values.dtype.kind == "f":
                    batch.values = values
            return batch
        prediction = np.asarray(fields[self.prediction_field])
        batch.outputs[self.prediction_field] = prediction
        for name in (self.probability_field, self.raw_field):
            if name is not None and name in fields:
                batch.outputs[name] = np.asarray(fields[name])
        if not self.classifier:
            batch.values = prediction.astype(np.float64)
            return batch
        probability = fields.get(self.probability_field) if self.probability_field else None
        count = np.asarray(probability).shape[1] if probability is not None else None
        classes, labels = self._labels(prediction, fields, count)
        batch.classes = classes
        batch.labels = labels
        if probability is not None:
            batch.probabilities = np.asarray(probability, dtype=np.float64)
        return batch

    def _labels(self, prediction: np.ndarray, fields: dict[str, np.ndarray],
                count: int | None) -> tuple[list[Any], np.ndarray]:
        index = prediction.astype(np.int64)
        if self.label_node is not None:
            names = [str(v) for v in self.label_node.attributes.get("labels", [])]
            out_field = self.label_node.output("output")
            if out_field in fields:
                return names, np.asarray(fields[out_field], dtype=object)
            return names, np.asarray([names[i] for i in index], dtype=object)
        known = list(self.info.classes) if self.info.classes else None
        if known is not None and (count is None or len(known) == count) and index.max(initial=0) < len(known):
            return known, np.asarray([known[i] for i in index], dtype=object)
        width = count if count is not None else int(index.max(initial=0)) + 1
        return list(range(width)), index


def _model_node(nodes: tuple[MleapNode, ...]) -> MleapNode | None:
    """The pipeline's last node writing a `prediction` field (its model)."""
    return next((n for n in reversed(nodes) if n.output("prediction") is not None), None)


def _label_node(nodes: tuple[MleapNode, ...], prediction_field: str | None) -> MleapNode | None:
    """A reverse_string_indexer (IndexToString) reading the model's prediction, if the pipeline has one."""
    if prediction_field is None:
        return None
    return next((n for n in nodes if n.op == "reverse_string_indexer" and n.input("input") == prediction_field),
                None)


def session_for(info: ModelInfo, bundle: MleapBundle) -> MleapSession:
    """A session on an already read bundle."""
    if not bundle.nodes:
        raise WorkbenchError(f"the MLeap bundle {bundle.path} holds no nodes")
    return MleapSession(info, bundle)


RUNTIME = MleapRuntime()
