"""models.config: parse a text-format ModelServerConfig (model_config_list) and merge a model into it,
keeping the other entries verbatim.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from workbench.core.tfserving.layout import CONFIG_FILE, CONTAINER_ROOT, BundleError, _write_atomic


@dataclass
class ConfigEntry:
    name: str
    base_path: str
    platform: str
    text: str  # the block as written (kept verbatim when merging)


def _blocks(text: str, keyword: str) -> list[tuple[int, int, str]]:
    """(start, end, body) of each `keyword { ... }` / `keyword: { ... }` block at any depth."""
    out = []
    for match in re.finditer(rf"\b{keyword}\s*:?\s*{{", text):
        depth, i = 1, match.end()
        while i < len(text) and depth:
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
            elif text[i] in "\"'":
                quote = text[i]
                i += 1
                while i < len(text) and text[i] != quote:
                    i += 2 if text[i] == "\\" else 1
            i += 1
        if depth:
            raise BundleError(f"{CONFIG_FILE}: unbalanced braces in the {keyword!r} block")
        out.append((match.start(), i, text[match.end() : i - 1]))
    return out


def _field(body: str, name: str) -> str | None:
    m = re.search(
        rf"(?<![A-Za-z_]){name}\s*:\s*(\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)'|([A-Za-z0-9_./-]+))", body
    )
    if not m:
        return None
    return next(g for g in (m.group(2), m.group(3), m.group(4)) if g is not None)


def parse_model_config(text: str) -> list[ConfigEntry]:
    """The `config` entries of a text-format ModelServerConfig (model_config_list)."""
    stripped = "\n".join(
        line.split("#", 1)[0] if "#" in line and '"' not in line else line for line in text.splitlines()
    )
    lists = _blocks(stripped, "model_config_list")
    if not lists and stripped.strip():
        raise BundleError(
            f"{CONFIG_FILE}: no model_config_list block (TF Serving would fail with "
            "'Error parsing text-format tensorflow.serving.ModelServerConfig')"
        )
    entries = []
    for _, _, body in lists:
        for start, end, inner in _blocks(body, "config"):
            entries.append(
                ConfigEntry(
                    _field(inner, "name") or "",
                    _field(inner, "base_path") or "",
                    _field(inner, "model_platform") or "",
                    body[start:end],
                )
            )
    return entries


def _config_block(name: str, base_path: str) -> str:
    return (
        f"  config {{\n    name: {json.dumps(name)}\n    base_path: {json.dumps(base_path)}\n"
        '    model_platform: "tensorflow"\n  }'
    )


def merge_model_config(existing: str | None, name: str, base_path: str) -> str:
    """models.config text with `name` added; other models (and an existing `name` entry) kept as is."""
    entries = parse_model_config(existing) if existing and existing.strip() else []
    blocks = [e.text.strip() for e in entries]
    if not any(e.name == name for e in entries):
        blocks.append(_config_block(name, base_path).strip())
    body = "\n".join("  " + b if not b.startswith("  ") else b for b in blocks)
    return f"model_config_list {{\n{body}\n}}\n"


def update_model_config(base: Path, name: str) -> Path:
    path = Path(base) / CONFIG_FILE
    existing = path.read_text() if path.is_file() else None
    _write_atomic(path, merge_model_config(existing, name, f"{CONTAINER_ROOT}/{name}").encode())
    return path
