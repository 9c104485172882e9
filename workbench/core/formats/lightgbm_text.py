"""Format `lightgbm`: a LightGBM Booster saved as text (`booster.save_model('m.txt')`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.core.errors import CorruptModel
from workbench.core.formats.base import ModelFormat, Probe, one_load_at_a_time
from workbench.core.formats.common import file_facts
from workbench.core.types import ModelInfo, TensorSpec


def match(probe: Probe) -> bool:
    return not probe.is_dir and probe.head.startswith(b"tree\n") and b"version=v" in probe.head[:64]


def parse_header(text: str) -> dict[str, str]:
    """The `key=value` lines before the first `Tree=` block."""
    header: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("Tree="):
            break
        if "=" in line:
            key, value = line.split("=", 1)
            header[key.strip()] = value.strip()
    return header


def _feature_spec(name: str, info: str) -> TensorSpec:
    if info.startswith("[") and info.endswith("]") and ":" in info:
        lo, hi = info[1:-1].split(":", 1)
        return TensorSpec(name, "float64", (None,), value_range=(float(lo), float(hi)), accepts_missing=True)
    if info not in ("", "none") and ":" in info or info.isdigit():
        levels = tuple(int(v) for v in info.split(":") if v.lstrip("-").isdigit())
        return TensorSpec(name, "float64", (None,), categories=levels, accepts_missing=True)
    return TensorSpec(name, "float64", (None,), accepts_missing=True)


def describe_booster_text(text: str, path: Path) -> tuple[dict[str, str], list[TensorSpec], str, list[Any] | None]:
    """Header, inputs, task and classes of a LightGBM model text."""
    header = parse_header(text)
    if "feature_names" not in header or "version" not in header:
        raise CorruptModel(str(path), f"{path.name}: a LightGBM model file without its header "
                           "(feature_names/version missing): truncated or damaged")
    names = header["feature_names"].split()
    infos = header.get("feature_infos", "").split()
    infos += [""] * (len(names) - len(infos))
    inputs = [_feature_spec(n, i) for n, i in zip(names, infos)]
    objective = header.get("objective", "")
    num_class = int(header.get("num_class", "1") or 1)
    if objective.startswith("binary"):
        task, classes = "classification", [0, 1]
    elif objective.startswith(("multiclass", "softmax", "multiclassova")):
        task, classes = "classification", list(range(num_class))
    elif objective.startswith(("regression", "huber", "fair", "poisson", "quantile", "mape", "gamma",
                               "tweedie", "l1", "l2")):
        task, classes = "regression", None
    else:
        task, classes = "other", None
    return header, inputs, task, classes


def inspect(path: Path, trust: bool) -> ModelInfo:
    text = path.read_text(encoding="utf-8", errors="replace")
    if "end of trees" not in text:
        raise CorruptModel(str(path), f"{path.name}: a LightGBM model file that ends before 'end of trees': "
                           "truncated", hint="save the model again with booster.save_model()")
    header, inputs, task, classes = describe_booster_text(text, path)
    outputs = ([TensorSpec("label", "int64", (None,)), TensorSpec("probabilities", "float64",
                                                                  (None, len(classes or [])))]
               if task == "classification" else [TensorSpec("value", "float64", (None,))])
    metadata: dict[str, Any] = {
        "objective": header.get("objective"), "num_class": int(header.get("num_class", "1") or 1),
        "num_trees": text.count("\nTree="), "feature_count": len(inputs),
        "booster_format_version": header.get("version"),
    }
    metadata.update(file_facts(path))
    return ModelInfo(path=str(path), format="lightgbm", framework="lightgbm",
                     framework_version=None, task=task, inputs=inputs, outputs=outputs,
                     classes=classes, metadata=metadata, loaded=True)


@one_load_at_a_time
def load(path: Path, trust: bool) -> Any:
    import lightgbm

    try:
        return lightgbm.Booster(model_file=str(path))
    except lightgbm.basic.LightGBMError as exc:
        raise CorruptModel(str(path), f"{path.name}: LightGBM cannot read it: {exc}") from None


FORMAT = ModelFormat(name="lightgbm", title="LightGBM Booster (text)", extensions=(".txt", ".lgb", ".model"),
                     match=match, inspect=inspect, load=load, priority=30, frameworks=("lightgbm",))
