"""Format `lightgbm`: a LightGBM Booster saved as text (`booster.save_model('m.txt')`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.core import limits
from workbench.core.errors import CorruptModel
from workbench.core.formats.base import ModelFormat, Probe, one_load_at_a_time
from workbench.core.formats.common import damaged, file_facts, read_model_bytes
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


def _feature_spec(name: str, info: str, path: Path) -> TensorSpec:
    try:
        if info.startswith("[") and info.endswith("]") and ":" in info:
            lo, hi = info[1:-1].split(":", 1)
            return TensorSpec(name, "float64", (None,), value_range=(float(lo), float(hi)), accepts_missing=True)
        if info not in ("", "none") and ":" in info or info.isdigit():
            levels = tuple(int(v) for v in info.split(":") if _is_int(v))
            limits.CLASSES.check(len(levels), source=f"{path.name}: categories of feature {name!r}")
            return TensorSpec(name, "float64", (None,), categories=levels, accepts_missing=True)
    except ValueError as exc:  # float('abc'), an int over Python's 4300-digit limit
        raise damaged(path, "LightGBM", f"feature_infos of {name!r} is not a range or category list "
                      f"({_short(info)}: {exc})") from None
    return TensorSpec(name, "float64", (None,), accepts_missing=True)


def _is_int(text: str) -> bool:
    digits = text[1:] if text.startswith("-") else text
    return digits.isascii() and digits.isdigit()


def _short(text: str, n: int = 40) -> str:
    return repr(text if len(text) <= n else text[:n] + "...")


def _header_int(header: dict[str, str], key: str, default: int, limit: limits.Limit, path: Path) -> int:
    """An integer header field, believed only up to `limit`."""
    raw = header.get(key, "") or str(default)
    if not _is_int(raw) or len(raw) > 30:
        raise damaged(path, "LightGBM", f"{key}={_short(raw)} is not a whole number")
    return limit.check(int(raw), source=f"{path.name}: {key}")


def describe_booster_text(text: str, path: Path) -> tuple[dict[str, str], list[TensorSpec], str, list[Any] | None]:
    """Header, inputs, task and classes of a LightGBM model text."""
    header = parse_header(text)
    if "feature_names" not in header or "version" not in header:
        raise CorruptModel(str(path), f"{path.name}: a LightGBM model file without its header "
                           "(feature_names/version missing): truncated or damaged")
    names = header["feature_names"].split()
    limits.FEATURES.check(len(names), source=f"{path.name}: feature_names")
    if "max_feature_idx" in header:
        _header_int(header, "max_feature_idx", 0, limits.FEATURES, path)
    infos = header.get("feature_infos", "").split()
    infos += [""] * (len(names) - len(infos))
    inputs = [_feature_spec(n, i, path) for n, i in zip(names, infos)]
    objective = header.get("objective", "")
    num_class = _header_int(header, "num_class", 1, limits.CLASSES, path)
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
    text = read_model_bytes(path).decode("utf-8", errors="replace")
    if "end of trees" not in text:
        raise CorruptModel(str(path), f"{path.name}: a LightGBM model file that ends before 'end of trees': "
                           "truncated", hint="save the model again with booster.save_model()")
    header, inputs, task, classes = describe_booster_text(text, path)
    outputs = ([TensorSpec("label", "int64", (None,)), TensorSpec("probabilities", "float64",
                                                                  (None, len(classes or [])))]
               if task == "classification" else [TensorSpec("value", "float64", (None,))])
    metadata: dict[str, Any] = {
        "objective": header.get("objective"), "num_class": _header_int(header, "num_class", 1, limits.CLASSES, path),
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
