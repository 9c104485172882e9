"""What a conversion proof compares: the output roles of a task, mapped on both sides.

Classifiers and regressors are compared as label / probabilities / value (`compare_batches`). Models
without a target are not: an anomaly detector (IsolationForest, OneClassSVM, EllipticEnvelope,
LocalOutlierFactor(novelty=True)) predicts +1/-1 and scores with `decision_function`; a clustering
model (KMeans, MiniBatchKMeans) predicts a cluster id and has distances to the centres. The converted
models name those differently:

* skl2onnx: `label` (+1/-1 or the cluster id) and `scores` (the decision function, or the Euclidean
  distances to the centres, [N, k]);
* PMML (JPMML-SkLearn): anomaly models have `decisionFunction` (equal to scikit-learn's),
  `rawAnomalyScore`/`normalizedAnomalyScore` (IsolationForest's path lengths: not scikit-learn's scale)
  and `predict(outlier)` (+1/-1); clustering models have `cluster` and `affinity(i)`, the *squared*
  Euclidean distance to centre i.

`task_roles` returns, for such a model, a pair of `PredictionBatch` built from the same roles on
both sides (labels = predict, values = decision function or distances) and the names of what was
compared or why not; for other models it returns None and the ordinary comparison applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ANOMALY = ("IsolationForest", "OneClassSVM", "EllipticEnvelope", "LocalOutlierFactor", "SGDOneClassSVM")
CLUSTER = ("KMeans", "MiniBatchKMeans", "BisectingKMeans")


def _final(obj: Any) -> Any:
    steps = getattr(obj, "steps", None)
    return _final(steps[-1][1]) if isinstance(steps, list) and steps else obj


def unsupervised_task(model: Any) -> str | None:
    """"anomaly", "cluster" or None (the model has a target: classifier or regressor)."""
    if model is None:
        return None
    name = type(_final(model)).__name__
    if name in ANOMALY:
        return "anomaly"
    if name in CLUSTER:
        return "cluster"
    return None


@dataclass
class TaskRoles:
    task: str
    #: PredictionBatch of the original and of the converted model, with matching roles
    original: Any
    converted: Any
    #: what the compare engine's "label" and "value" roles stand for here
    role_names: dict[str, str]
    #: outputs that could not be compared: {output: reason}
    not_compared: dict[str, str] = field(default_factory=dict)


def _column(outputs: dict[str, Any], *names: str) -> tuple[str, np.ndarray] | None:
    for name in names:
        if name in outputs:
            return name, np.asarray(outputs[name])
    return None


def _labels(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    return arr.reshape(-1) if arr.ndim == 2 and arr.shape[1] == 1 else arr


def _outlier_labels(arr: np.ndarray) -> np.ndarray:
    """PMML's boolean `outlier` (True = outlier) as scikit-learn's -1/+1."""
    flat = _labels(arr)
    return np.asarray([-1 if str(v).lower() in ("true", "1") else 1 for v in flat.tolist()], dtype=np.int64)


def task_roles(task: str, model: Any, native_input: Any, converted: Any, converted_format: str) -> TaskRoles:
    """Both sides of an anomaly or clustering model in matching roles (see module docstring)."""
    from workbench.core.predictions import PredictionBatch

    outputs = {str(k): v for k, v in (converted.outputs or {}).items()}
    pmml = converted_format == "pmml"
    not_compared: dict[str, str] = {}
    labels_a = np.asarray(model.predict(native_input)).reshape(-1)
    a = PredictionBatch("native", labels=labels_a, outputs={"predict": labels_a})
    b = PredictionBatch(converted.runtime, outputs=converted.outputs, warnings=list(converted.warnings))
    if task == "anomaly":
        role_names = {"label": "predict (+1 inlier / -1 outlier)", "value": "decision_function"}
        found = _column(outputs, "predict(outlier)", "label")
        if found is not None:
            b.labels = _labels(found[1]).astype(np.int64)
        elif "outlier" in outputs:
            b.labels = _outlier_labels(outputs["outlier"])
        else:
            not_compared["predict"] = f"the {converted_format.upper()} model has no outlier label output"
        score = _column(outputs, "decisionFunction", "scores")
        if hasattr(model, "decision_function"):
            a.values = np.asarray(model.decision_function(native_input), np.float64).reshape(-1)
            if score is not None:
                b.values = np.asarray(score[1], np.float64).reshape(-1)
            else:
                raw = [n for n in outputs if re.search(r"anomaly", n, re.IGNORECASE)]
                extra = (f" (it has {', '.join(raw)}: {'IsolationForest path-length scores' if raw else ''}, "
                         "not on scikit-learn's scale)") if raw else ""
                not_compared["decision_function"] = (f"the {converted_format.upper()} model has no decision "
                                                     f"function output{extra}")
        else:
            not_compared["decision_function"] = f"{type(_final(model)).__name__} has no decision_function"
    else:
        role_names = {"label": "cluster id (predict)", "value": "distances to the cluster centres"}
        found = _column(outputs, "cluster", "label")
        if found is not None:
            b.labels = _labels(found[1])
        else:
            not_compared["cluster"] = f"the {converted_format.upper()} model has no cluster output"
        distances = np.asarray(model.transform(native_input), np.float64)
        affinity = sorted((n for n in outputs if re.fullmatch(r"affinity\((\d+)\)", n)),
                          key=lambda n: int(n[9:-1]))
        if pmml and affinity:
            role_names["value"] = "squared distances to the cluster centres (PMML affinity)"
            a.values = distances ** 2
            b.values = np.column_stack([np.asarray(outputs[n], np.float64) for n in affinity])
        elif not pmml and "scores" in outputs:
            a.values = distances
            b.values = np.asarray(outputs["scores"], np.float64).reshape(len(distances), -1)
        else:
            not_compared["distances"] = f"the {converted_format.upper()} model has no distance output"
    return TaskRoles(task, a, b, role_names, not_compared)
