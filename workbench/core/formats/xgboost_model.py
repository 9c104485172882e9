"""Format `xgboost`: an XGBoost Booster saved as JSON or UBJSON (`booster.save_model('m.json'|'m.ubj')`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.core.errors import CorruptModel
from workbench.core.formats.base import ModelFormat, Probe, one_load_at_a_time
from workbench.core.formats import ubjson
from workbench.core.formats.common import file_facts
from workbench.core.formats.value_facts import widen, xgboost_split_thresholds
from workbench.core.types import ModelInfo, TensorSpec

_UBJ_LENGTH_MARKERS = b"iUIlL"


def is_ubj(head: bytes) -> bool:
    return (len(head) > 3 and head[:1] == b"{" and head[1:2] in [bytes([m]) for m in _UBJ_LENGTH_MARKERS]
            and (b"learner" in head[:64] or b"version" in head[:64]))


def match(probe: Probe) -> bool:
    if probe.is_dir:
        return False
    if is_ubj(probe.head):
        return True
    text = probe.head.lstrip()[:4096]
    return text.startswith(b"{") and b'"learner"' in text and (
        b'"gradient_booster"' in text or b'"learner_model_param"' in text or b'"attributes"' in text)


def _read_document(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    if is_ubj(raw[:64]):
        try:
            return dict(ubjson.loads(raw))
        except (ubjson.UBJError, UnicodeDecodeError, ValueError) as exc:
            raise CorruptModel(str(path), f"{path.name}: an XGBoost UBJSON model that cannot be read ({exc}): "
                               "truncated or damaged") from None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CorruptModel(str(path), f"{path.name}: an XGBoost JSON model that is not valid JSON "
                           f"({exc.msg} at line {exc.lineno}): truncated or damaged") from None


def inspect(path: Path, trust: bool) -> ModelInfo:
    doc = _read_document(path)
    learner = doc.get("learner")
    if not isinstance(learner, dict):
        raise CorruptModel(str(path), f"{path.name}: XGBoost model without a 'learner' section")
    params = learner.get("learner_model_param", {})
    objective = learner.get("objective", {}).get("name", "")
    n_features = int(params.get("num_feature", 0) or 0)
    names = learner.get("feature_names") or [f"f{i}" for i in range(n_features)]
    types = learner.get("feature_types") or ["float"] * len(names)
    ranges = {i: widen(v) for i, v in xgboost_split_thresholds(doc).items()}  # for generated rows
    inputs = [TensorSpec(str(n), "float32" if t in ("float", "q") else ("int64" if t == "int" else "float32"),
                         (None,), accepts_missing=True, value_range=ranges.get(i), range_from_splits=True)
              for i, (n, t) in enumerate(zip(names, types))]
    num_class = int(params.get("num_class", 0) or 0)
    if objective.startswith("binary:"):
        task, classes = "classification", [0, 1]
    elif objective.startswith("multi:"):
        task, classes = "classification", list(range(num_class))
    elif objective.startswith(("reg:", "count:", "survival:")):
        task, classes = "regression", None
    else:
        task, classes = "other", None
    outputs = ([TensorSpec("label", "int64", (None,)), TensorSpec("probabilities", "float32",
                                                                  (None, len(classes or [])))]
               if task == "classification" else [TensorSpec("value", "float32", (None,))])
    version = doc.get("version")
    warnings = [] if learner.get("feature_names") else [
        "the booster has no feature names: inputs are f0..fN-1 in column order"]
    trees = learner.get("gradient_booster", {}).get("model", {}).get("trees", [])
    metadata: dict[str, Any] = {"objective": objective, "num_class": num_class, "feature_count": len(inputs),
                                "num_trees": len(trees), "base_score": params.get("base_score"),
                                "encoding": "ubj" if is_ubj(path.read_bytes()[:64]) else "json"}
    metadata.update(file_facts(path))
    return ModelInfo(path=str(path), format="xgboost", framework="xgboost",
                     framework_version=".".join(str(v) for v in version) if isinstance(version, list) else None,
                     task=task, inputs=inputs, outputs=outputs, classes=classes, metadata=metadata,
                     warnings=warnings, loaded=True)


@one_load_at_a_time
def load(path: Path, trust: bool) -> Any:
    import xgboost

    try:
        return xgboost.Booster(model_file=str(path))
    except xgboost.core.XGBoostError as exc:
        raise CorruptModel(str(path), f"{path.name}: XGBoost cannot read it: {str(exc).splitlines()[0]}") from None


FORMAT = ModelFormat(name="xgboost", title="XGBoost Booster (JSON/UBJSON)", extensions=(".json", ".ubj"),
                     match=match, inspect=inspect, load=load, priority=30, frameworks=("xgboost",))
