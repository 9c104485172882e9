"""Format `skops`: a skops.io zip (schema.json + arrays). Loads through skops' trusted-types
mechanism: types skops trusts by default load without the user's trust; others are listed."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from workbench.core.errors import CorruptModel, UntrustedPickle
from workbench.core.formats import sklearn_introspect as ski
from workbench.core.formats.base import ModelFormat, Probe, one_load_at_a_time
from workbench.core.formats.common import file_facts
from workbench.core.types import ModelInfo


def match(probe: Probe) -> bool:
    return not probe.is_dir and "schema.json" in probe.names and not any(
        n in probe.names for n in ("config.json", "metadata.json"))


@one_load_at_a_time
def untrusted_types(path: Path) -> list[str]:
    import skops.io as sio

    try:
        return list(sio.get_untrusted_types(file=path))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, ValueError) as exc:
        raise CorruptModel(str(path), f"{path.name}: a skops file that cannot be read ({exc})") from None


@one_load_at_a_time
def load(path: Path, trust: bool) -> Any:
    import skops.io as sio

    untrusted = untrusted_types(path)
    if untrusted and not trust:
        raise UntrustedPickle(f"{path.name} contains types skops does not trust by default: "
                              f"{', '.join(untrusted)}; pass --trust to load it if you trust the file")
    try:
        return sio.load(path, trusted=untrusted or None)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, ValueError) as exc:
        raise CorruptModel(str(path), f"{path.name}: skops cannot load it ({exc})") from None


def _schema_root(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("schema.json"))


def inspect(path: Path, trust: bool) -> ModelInfo:
    untrusted = untrusted_types(path)
    warnings: list[str] = []
    schema = _schema_root(path)
    if untrusted and not trust:
        warnings.append("not loaded: it contains types skops does not trust by default: " + ", ".join(untrusted))
        cls = f"{schema.get('__module__', '')}.{schema.get('__class__', '')}"
        metadata: dict[str, Any] = {"estimator": cls, "untrusted_types": untrusted,
                                    "skops_protocol": schema.get("protocol")}
        metadata.update(file_facts(path))
        return ModelInfo(path=str(path), format="skops", framework="scikit-learn", task="other",
                         metadata=metadata, warnings=warnings, loaded=False)
    model = load(path, trust)
    inputs, input_warnings = ski.input_specs(model)
    metadata = {"estimator": ski.qualified_name(ski.final_estimator(model)), "steps": ski.describe_steps(model),
                "feature_count": len(inputs), "untrusted_types": untrusted, "skops_protocol": schema.get("protocol"),
                "sklearn_version": ski.sklearn_version(model)}
    metadata.update(file_facts(path))
    return ModelInfo(path=str(path), format="skops", framework=ski.framework_of(model),
                     framework_version=_sklearn_version_in_schema(schema),
                     task=ski.task_of(model), inputs=inputs, outputs=ski.output_specs(model),
                     classes=ski.classes_of(model), metadata=metadata, warnings=warnings + input_warnings,
                     loaded=True)


def _sklearn_version_in_schema(schema: dict[str, Any]) -> str | None:
    """skops keeps the estimator's pickled state as JSON; `_sklearn_version` sits in its content."""
    content = schema.get("content", {})
    state = content.get("content", {}) if isinstance(content, dict) else {}
    version = state.get("_sklearn_version") if isinstance(state, dict) else None
    if isinstance(version, dict):
        version = version.get("content")
    if isinstance(version, str) and version.startswith('"'):
        version = json.loads(version)  # skops stores JSON-encoded strings
    return version if isinstance(version, str) else None


FORMAT = ModelFormat(name="skops", title="skops model", extensions=(".skops",), match=match, inspect=inspect,
                     load=load, priority=30, frameworks=("scikit-learn",))
