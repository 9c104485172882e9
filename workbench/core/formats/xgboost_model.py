"""Format `xgboost`: an XGBoost Booster saved as JSON or UBJSON (`booster.save_model('m.json'|'m.ubj')`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.core import limits
from workbench.core.errors import CorruptModel
from workbench.core.formats.base import ModelFormat, Probe, one_load_at_a_time
from workbench.core.formats import ubjson
from workbench.core.formats.common import damaged, file_facts, read_model_bytes
from workbench.core.formats.value_facts import newer_file_warning, version_tuple, widen, xgboost_split_thresholds
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


def _read_document(path: Path, raw: bytes) -> dict[str, Any]:
    if is_ubj(raw[:64]):
        try:
            doc = ubjson.loads(raw)
        except (ubjson.UBJError, UnicodeDecodeError, ValueError) as exc:
            raise CorruptModel(str(path), f"{path.name}: an XGBoost UBJSON model that cannot be read ({exc}): "
                               "truncated or damaged") from None
    else:
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CorruptModel(str(path), f"{path.name}: an XGBoost JSON model that is not valid JSON "
                               f"({exc.msg} at line {exc.lineno}): truncated or damaged") from None
        except (ValueError, RecursionError) as exc:  # bad UTF-8, a 4300-digit number, [[[[... nesting
            raise damaged(path, "XGBoost", f"not readable JSON ({type(exc).__name__}: {_first_line(exc)})") from None
    if not isinstance(doc, dict):
        raise damaged(path, "XGBoost", f"the document is a {type(doc).__name__}, not an object")
    return doc


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:200]


def _section(holder: dict[str, Any], key: str, path: Path, where: str) -> dict[str, Any]:
    """`holder[key]` when it is an object ({} when absent)."""
    value = holder.get(key, {})
    if not isinstance(value, dict):
        raise damaged(path, "XGBoost", f"'{where}{key}' is a {type(value).__name__}, not an object")
    return value


def _count(params: dict[str, Any], key: str, limit: limits.Limit, path: Path) -> int:
    """A count from learner_model_param (XGBoost writes them as strings), believed up to `limit`."""
    raw = params.get(key, 0) or 0
    try:
        if isinstance(raw, str):
            text = raw.strip()
            if len(text) > 30:
                raise ValueError("too long")
            try:
                value = int(text or 0)
            except ValueError:
                value = int(float(text))  # "3.0"; nan and inf raise
        elif isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise ValueError(type(raw).__name__)
        else:
            value = int(raw)
            if value != raw:
                raise ValueError("not whole")
    except (ValueError, OverflowError):
        raise damaged(path, "XGBoost", f"learner_model_param {key}={str(raw)[:40]!r} is not a whole number") from None
    return limit.check(value, source=f"{path.name}: {key}")


def _names(learner: dict[str, Any], key: str, path: Path) -> list[str] | None:
    value = learner.get(key)
    if not value:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise damaged(path, "XGBoost", f"'learner/{key}' is not a list of strings")
    limits.FEATURES.check(len(value), source=f"{path.name}: {key}")
    return value


def inspect(path: Path, trust: bool) -> ModelInfo:
    raw = read_model_bytes(path)
    doc = _read_document(path, raw)
    learner = doc.get("learner")
    if not isinstance(learner, dict):
        raise CorruptModel(str(path), f"{path.name}: XGBoost model without a 'learner' section")
    params = _section(learner, "learner_model_param", path, "learner/")
    objective = _section(learner, "objective", path, "learner/").get("name", "")
    if not isinstance(objective, str):
        raise damaged(path, "XGBoost", "the objective's name is not a string")
    n_features = _count(params, "num_feature", limits.FEATURES, path)
    names = _names(learner, "feature_names", path) or [f"f{i}" for i in range(n_features)]
    types = _names(learner, "feature_types", path) or ["float"] * len(names)
    try:  # value ranges for generated rows, from the trees' split conditions
        ranges = {i: widen(v) for i, v in xgboost_split_thresholds(doc).items()}
    except (IndexError, ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise damaged(path, "XGBoost", f"a tree's split arrays do not fit together ({type(exc).__name__}: "
                      f"{_first_line(exc)})") from None
    _section(_section(learner, "gradient_booster", path, "learner/"), "model", path,  # an object, or damaged
             "learner/gradient_booster/")
    cats = recorded_categories(_gbtree_model(learner), len(names), path)
    inputs = []
    warnings = []
    for i, (n, t) in enumerate(zip(names, types)):
        if t == "c":
            levels = cats[i] if cats is not None and i < len(cats) else None
            if levels:
                inputs.append(TensorSpec(str(n), _category_dtype(levels), (None,), categories=tuple(levels),
                                         accepts_missing=True, description="category"))
                continue
            inputs.append(TensorSpec(str(n), "float32", (None,), accepts_missing=True, description="category codes"))
            warnings.append(f"input {str(n)!r} is categorical but the file does not record its categories "
                            "(XGBoost before 3.1 did not): give the category codes (0, 1, ...) the model was "
                            "trained on, not the values")
            continue
        inputs.append(TensorSpec(str(n), "float32" if t in ("float", "q") else ("int64" if t == "int" else "float32"),
                                 (None,), accepts_missing=True, value_range=ranges.get(i), range_from_splits=True))
    num_class = _count(params, "num_class", limits.CLASSES, path)
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
    if not learner.get("feature_names"):
        warnings.insert(0, "the booster has no feature names: inputs are f0..fN-1 in column order")
    warnings.extend(version_warnings(doc, path))
    trees = _gbtree_model(learner).get("trees", [])
    if not isinstance(trees, list):
        raise damaged(path, "XGBoost", "'learner/gradient_booster/model/trees' is not a list")
    metadata: dict[str, Any] = {"objective": objective, "num_class": num_class, "feature_count": len(inputs),
                                "num_trees": len(trees), "base_score": params.get("base_score"),
                                "encoding": "ubj" if is_ubj(raw[:64]) else "json"}
    booster_name = _section(learner, "gradient_booster", path, "learner/").get("name")
    if isinstance(booster_name, str):
        metadata["booster"] = booster_name
    categorical = [spec.name for spec in inputs if spec.description == "category"]
    if categorical:
        metadata["categorical_inputs"] = categorical
    metadata.update(file_facts(path))
    return ModelInfo(path=str(path), format="xgboost", framework="xgboost",
                     framework_version=".".join(str(v) for v in version) if isinstance(version, list) else None,
                     task=task, inputs=inputs, outputs=outputs, classes=classes, metadata=metadata,
                     warnings=warnings, loaded=True)


def _gbtree_model(learner: dict[str, Any]) -> dict[str, Any]:
    """The tree model of a gbtree booster, or of a DART booster's inner gbtree ({} otherwise)."""
    booster = learner.get("gradient_booster")
    if not isinstance(booster, dict):
        return {}
    model = booster.get("model")
    if not isinstance(model, dict):
        inner = booster.get("gbtree")
        model = inner.get("model") if isinstance(inner, dict) else None
    return model if isinstance(model, dict) else {}


def recorded_categories(model: dict[str, Any], n_features: int, path: Path) -> list[list[Any] | None] | None:
    """The training categories XGBoost (3.1+) records per feature in `model/cats/enc`: numbers as a
    list, strings as Arrow-style offsets into UTF-8 bytes; None per numeric feature, None overall when
    the file records none. A value is fed as its index in its feature's list."""
    cats = model.get("cats")
    enc = cats.get("enc") if isinstance(cats, dict) else None
    if not isinstance(enc, list) or not enc:
        return None
    if len(enc) > n_features:
        raise damaged(path, "XGBoost", f"'cats/enc' has {len(enc)} entries for {n_features} features")
    out: list[list[Any] | None] = []
    for i, entry in enumerate(enc):
        if not isinstance(entry, dict):
            raise damaged(path, "XGBoost", f"'cats/enc' entry {i} is not an object")
        values, offsets = entry.get("values"), entry.get("offsets")
        if isinstance(values, bytes | bytearray):
            values = list(values)
        if not isinstance(values, list) or not values:
            out.append(None)
            continue
        limits.CLASSES.check(len(values), source=f"{path.name}: categories of feature {i}")
        try:
            if isinstance(offsets, list) and offsets:  # strings: values[offsets[k]:offsets[k+1]] is category k
                data = bytes(values)
                ends = [int(o) for o in offsets]
                if any(b < a for a, b in zip(ends, ends[1:])) or ends[0] < 0 or ends[-1] > len(data):
                    raise ValueError("offsets out of order or beyond the data")
                out.append([data[a:b].decode("utf-8") for a, b in zip(ends, ends[1:])])
            else:
                if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
                    raise ValueError("a numeric category that is not a number")
                out.append(list(values))
        except (ValueError, TypeError, UnicodeDecodeError, OverflowError) as exc:
            raise damaged(path, "XGBoost", f"the categories of feature {i} cannot be read ({_first_line(exc)})") from None
    return out


def _category_dtype(levels: list[Any]) -> str:
    if all(isinstance(v, str) for v in levels):
        return "string"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in levels):
        return "int64"
    return "float64"


#: top-level document keys of the booster kinds the installed XGBoost may not know
_DART_KEYS = ("weight_drop",)


def version_warnings(doc: dict[str, Any], path: Path) -> list[str]:
    """Version skew: the file was written by a newer XGBoost than the installed one; then also the
    model's parts the installed XGBoost does not keep when it reads the file (it ignores them)."""
    version = doc.get("version")
    skew = newer_file_warning("XGBoost", "xgboost", version)
    if skew is None:
        return []
    out = [skew]
    learner = doc.get("learner") if isinstance(doc.get("learner"), dict) else {}
    booster = learner.get("gradient_booster") if isinstance(learner.get("gradient_booster"), dict) else {}
    if booster.get("name") == "dart":
        out.append("a DART booster written by a newer XGBoost: its tree weights (weight_drop) are applied as the "
                   "installed XGBoost reads them, which may not be how the newer one meant them")
    dropped = _unknown_keys(doc, path)
    if dropped:
        shown = ", ".join(dropped[:5]) + (f" and {len(dropped) - 5} more" if len(dropped) > 5 else "")
        out.append(f"the installed XGBoost does not know parts of this file and ignores them: {shown}")
    return out


def _key_paths(value: Any, prefix: str, out: set[str], depth: int = 0) -> None:
    if depth > 12:
        return
    if isinstance(value, dict):
        for key, inner in value.items():
            _key_paths(inner, f"{prefix}/{key}" if prefix else str(key), out, depth + 1)
    elif isinstance(value, list) and value and isinstance(value[0], dict | list):
        for inner in value[:64]:
            _key_paths(inner, prefix + "[]", out, depth + 1)
    if prefix:
        out.add(prefix)


def _unknown_keys(doc: dict[str, Any], path: Path) -> list[str]:
    """Key paths of the file that the installed XGBoost drops when it loads and saves the model again."""
    try:
        import xgboost
    except ImportError:
        return []
    try:
        booster = xgboost.Booster(model_file=str(path))
        again = json.loads(bytes(booster.save_raw(raw_format="json")))
    except Exception:  # noqa: BLE001 -- an unreadable file is reported when it is loaded
        return []
    mine: set[str] = set()
    theirs: set[str] = set()
    _key_paths(doc, "", mine)
    _key_paths(again, "", theirs)
    dropped = sorted(mine - theirs)
    return [k for k in dropped if not any(k.startswith(d + "/") or k.startswith(d + "[]") for d in dropped if d != k)]


@one_load_at_a_time
def load(path: Path, trust: bool) -> Any:
    import xgboost

    try:
        return xgboost.Booster(model_file=str(path))
    except xgboost.core.XGBoostError as exc:
        raise CorruptModel(str(path), f"{path.name}: XGBoost cannot read it: {str(exc).splitlines()[0]}") from None


FORMAT = ModelFormat(name="xgboost", title="XGBoost Booster (JSON/UBJSON)", extensions=(".json", ".ubj"),
                     match=match, inspect=inspect, load=load, priority=30, frameworks=("xgboost",))
