"""Format `lightgbm`: a LightGBM Booster saved as text (`booster.save_model('m.txt')`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.core import limits
from workbench.core.errors import CorruptModel
from workbench.core.formats.base import ModelFormat, Probe, one_load_at_a_time
from workbench.core.formats.common import damaged, file_facts, read_model_bytes
from workbench.core.formats.value_facts import newer_file_warning
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


def pandas_categorical(text: str, path: Path) -> list[list[Any]] | None:
    """The `pandas_categorical:` line LightGBM writes last: the categories of each pandas categorical
    column, in column order (a value is fed as its index in its list); None when absent or null."""
    at = text.rfind("\npandas_categorical:")
    if at < 0:
        return None
    line = text[at + len("\npandas_categorical:"):].split("\n", 1)[0].strip()
    try:
        value = json.loads(line) if line else None
    except (ValueError, RecursionError) as exc:
        raise damaged(path, "LightGBM", f"pandas_categorical is not readable JSON ({_short(line)}: "
                      f"{str(exc).splitlines()[0][:80]})") from None
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, list) for v in value):
        raise damaged(path, "LightGBM", f"pandas_categorical is not a list of category lists ({_short(line)})")
    for levels in value:
        limits.CLASSES.check(len(levels), source=f"{path.name}: pandas_categorical")
        if not all(isinstance(v, str | int | float | bool) for v in levels):
            raise damaged(path, "LightGBM", "pandas_categorical holds a category that is not a string or number")
    return value


def categorical_indices(text: str, names: list[str], infos: list[str]) -> list[int]:
    """Indices of the categorical features: the `[categorical_feature: ...]` parameter (indices or
    names), else the features whose feature_infos is a category list rather than a [min:max] range."""
    found = None
    at = text.rfind("\n[categorical_feature:")
    if at >= 0:
        raw = text[at + len("\n[categorical_feature:"):].split("]", 1)[0].strip()
        found = []
        for item in (p.strip() for p in raw.removeprefix("name:").split(",")):
            if _is_int(item) and 0 <= int(item) < len(names):
                found.append(int(item))
            elif item in names:
                found.append(names.index(item))
    if not found:
        found = [i for i, info in enumerate(infos) if info not in ("", "none") and not info.startswith("[")]
    return sorted(set(found))


def _category_dtype(levels: list[Any]) -> str:
    """The dtype a row value of these categories has: text, whole numbers, booleans or numbers."""
    if all(isinstance(v, str) for v in levels):
        return "string"
    if all(isinstance(v, bool) for v in levels):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in levels):
        return "int64"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in levels):
        return "float64"
    return "string"


def describe_booster_text(text: str, path: Path) -> tuple[dict[str, str], list[TensorSpec], str, list[Any] | None]:
    """Header, inputs, task and classes of a LightGBM model text.

    Features of a pandas categorical column (the file's `pandas_categorical`) take the column's
    values (3, 8, 'Private'), which LightGBM maps to their index in the training categories; other
    categorical features take the category codes themselves.
    """
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
    pandas_cats = pandas_categorical(text, path)
    if pandas_cats:
        cat_index = categorical_indices(text, names, infos)
        if len(cat_index) != len(pandas_cats):
            raise damaged(path, "LightGBM", f"pandas_categorical lists {len(pandas_cats)} categorical columns "
                          f"but the model has {len(cat_index)} categorical features")
        for index, levels in zip(cat_index, pandas_cats):
            inputs[index] = TensorSpec(names[index], _category_dtype(levels), (None,), categories=tuple(levels),
                                       accepts_missing=True, description="category")
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
    categorical = [s.name for s in inputs if s.description == "category"]
    if categorical:
        metadata["categorical_inputs"] = categorical
        metadata["pandas_categorical"] = True
    metadata.update(file_facts(path))
    warnings = []
    skew = newer_file_warning("LightGBM", "lightgbm", header.get("version"), depth=1,
                              subject=f"the file is LightGBM model format {header.get('version')} "
                                      f"(written by a LightGBM {str(header.get('version'))[1:]}.x)")
    if skew:
        warnings.append(skew)
    return ModelInfo(path=str(path), format="lightgbm", framework="lightgbm",
                     framework_version=None, task=task, inputs=inputs, outputs=outputs,
                     classes=classes, metadata=metadata, warnings=warnings, loaded=True)


@one_load_at_a_time
def load(path: Path, trust: bool) -> Any:
    import lightgbm

    try:
        return lightgbm.Booster(model_file=str(path))
    except lightgbm.basic.LightGBMError as exc:
        raise CorruptModel(str(path), f"{path.name}: LightGBM cannot read it: {exc}") from None


FORMAT = ModelFormat(name="lightgbm", title="LightGBM Booster (text)", extensions=(".txt", ".lgb", ".model"),
                     match=match, inspect=inspect, load=load, priority=30, frameworks=("lightgbm",))
