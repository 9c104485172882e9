"""SERVING.md: how to serve a bundle with the tensorflow/serving image and query it with curl,
with a predict body built from the first sample row when there is one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from workbench.core.errors import WorkbenchError
from workbench.core.formats.protowire import WireError
from workbench.core.tfserving.layout import CONFIG_FILE, CONTAINER_ROOT, WARMUP_FILE, version_numbers
from workbench.core.tfserving.warmup import _missing, request_inputs


def _json_row(savedmodel_dir: Path, frame: Any) -> dict[str, Any] | list[Any] | None:
    from workbench.core.converters.to_savedmodel.compile import read_metadata

    try:
        inputs = request_inputs(savedmodel_dir, frame)
    except (WorkbenchError, WireError):
        return None
    if len(inputs) == 1:
        ((alias, (values, dtype, shape)),) = inputs.items()
        if len(shape) == 2 and shape[1] != 1:
            return [_json_value(v, dtype) for v in values]
    meta = read_metadata(savedmodel_dir) or {}
    order = [item.get("alias") for item in meta.get("inputs", [])]
    aliases = sorted(inputs, key=lambda a: order.index(a) if a in order else len(order))
    return {alias: _json_value(inputs[alias][0][0], inputs[alias][1]) for alias in aliases}


def _json_value(value: Any, dtype: int) -> Any:
    """A row value as JSON of the input's dtype (CSV text '55' -> 55.0 for a float input)."""
    if hasattr(value, "item"):
        value = value.item()
    if _missing(value):
        return "" if dtype == 7 else None
    try:
        if dtype in (1, 2):
            number = float(value)
            return None if math.isnan(number) else number
        if dtype in (3, 4, 5, 6, 9):
            return int(float(value))
        if dtype == 10:
            return bool(value)
    except (TypeError, ValueError):
        return value
    return str(value)


def serving_doc(
    base: Path, name: str, version_dir: Path, row: Any = None, warmup_problem: str | None = None
) -> str:
    """SERVING.md: how to serve BASE with the tensorflow/serving image and query it with curl."""
    base_abs = Path(base).resolve()
    model_abs = (Path(base) / name).resolve()
    versions = version_numbers(Path(base) / name)
    body = None
    if row is not None:
        instance = _json_row(version_dir, row)
        if instance is not None:
            body = json.dumps({"instances": [instance]})
    lines = [
        f"# Serving `{name}` with TensorFlow Serving",
        "",
        f"Versions in this folder: {', '.join(map(str, versions))} "
        "(TF Serving serves the highest by default; "
        f"version {version_dir.name} was just added).",
        "",
        "## One model: bind-mount this folder",
        "",
        "```sh",
        "docker run --rm -p 8500:8500 -p 8501:8501 \\",
        f'  --mount type=bind,source="{model_abs}",target={CONTAINER_ROOT}/{name} \\',
        f"  -e MODEL_NAME={name} -t tensorflow/serving",
        "```",
        "",
        f"## Every model of `{base_abs}` with `{CONFIG_FILE}`",
        "",
        "```sh",
        "docker run --rm -p 8500:8500 -p 8501:8501 \\",
        f'  --mount type=bind,source="{base_abs}",target={CONTAINER_ROOT} \\',
        f"  -t tensorflow/serving --model_config_file={CONTAINER_ROOT}/{CONFIG_FILE}",
        "```",
        "",
        f"`{CONFIG_FILE}` names base paths inside the container ({CONTAINER_ROOT}/NAME): "
        "keep the mount target "
        f"`{CONTAINER_ROOT}`, and point `base_path` at the model folder, never at a version folder.",
        "Port 8500 is gRPC, 8501 REST.",
        "",
        "## Query it",
        "",
        "```sh",
        f"curl -s http://localhost:8501/v1/models/{name}",
        f"curl -s http://localhost:8501/v1/models/{name}/metadata",
    ]
    if body is not None:
        quoted = body.replace("'", "'\\''")
        lines += [
            f"curl -s -X POST http://localhost:8501/v1/models/{name}:predict -d '{quoted}'",
            f"curl -s -X POST http://localhost:8501/v1/models/{name}/versions/{version_dir.name}:predict "
            f"-d '{quoted}'",
        ]
    else:
        lines.append(
            f"curl -s -X POST http://localhost:8501/v1/models/{name}:predict "
            "-d '{\"instances\": [{...one row: input name -> value...}]}'"
        )
    lines += [
        "```",
        "",
        "Each instance is one row as an object keyed by the signature's input names "
        "(`workbench inspect` lists them).",
        "",
        f"Check the folder before serving: `workbench lint {base_abs}`.",
        "",
    ]
    if (version_dir / WARMUP_FILE).is_file():
        lines.insert(
            4, f"Warmup requests (`{WARMUP_FILE}`) are replayed by TF Serving when the version loads.\n"
        )
    elif warmup_problem:
        lines.insert(4, f"No warmup requests were written: {warmup_problem}.\n")
    return "\n".join(lines)
