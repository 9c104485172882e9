"""models.config: parse a text-format ModelServerConfig (model_config_list) and merge a model into it,
keeping the other entries verbatim.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.tfserving.layout import CONFIG_FILE, CONTAINER_ROOT, BundleError, _write_atomic

_POLICY_CHOICES = {"latest": {"num_versions"}, "all": set(), "specific": {"versions"}}


@dataclass(frozen=True)
class VersionPolicy:
    """A model's model_version_policy (tensorflow/serving FileSystemStoragePathSourceConfig.
    ServableVersionPolicy: a oneof of latest {num_versions}, all {}, specific {versions}).
    With no model_version_policy TF Serving uses latest with one version."""

    kind: str = "latest"  # "latest" | "all" | "specific"
    num_versions: int = 0  # latest: as written (0 when unset; TF Serving serves max(num_versions, 1))
    versions: tuple[int, ...] = ()  # specific: as written
    explicit: bool = False  # False when the config entry has no model_version_policy

    @property
    def latest_count(self) -> int:
        return max(self.num_versions, 1)

    def served(self, on_disk: Iterable[int]) -> list[int]:
        """The versions TF Serving aspires to serve, given the version numbers on disk (ascending)."""
        disk = sorted(set(on_disk))
        if self.kind == "all":
            return disk
        if self.kind == "specific":
            wanted = set(self.versions)
            return [v for v in disk if v in wanted]
        return disk[-self.latest_count :] if disk else []

    def describe(self) -> str:
        """Text-format-like summary: latest, latest {num_versions: 2}, all, specific {versions: [1, 2]}."""
        if self.kind == "specific":
            vs = sorted(set(self.versions))
            if not vs:
                return "specific {}"
            inner = str(vs[0]) if len(vs) == 1 else f"[{', '.join(map(str, vs))}]"
            return f"specific {{versions: {inner}}}"
        if self.kind == "latest" and self.num_versions:
            return f"latest {{num_versions: {self.num_versions}}}"
        return self.kind


@dataclass
class ConfigEntry:
    name: str
    base_path: str
    platform: str
    text: str  # the block as written (kept verbatim when merging)
    policy: VersionPolicy = field(default_factory=VersionPolicy)
    labels: dict[str, int] = field(default_factory=dict)  # version_labels: label -> version
    problems: list[str] = field(default_factory=list)  # policy/label text TF Serving would not parse


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


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"' r"|'(?:[^'\\]|\\.)*'" r"|[{}\[\]]|[A-Za-z_][A-Za-z0-9_]*")


def _top_level_names(body: str) -> list[str]:
    """Field names at the top level of a message body (nested blocks, quoted strings and values after
    `name:` skipped)."""
    depth, out = 0, []
    for m in _TOKEN.finditer(body):
        tok = m.group()
        if tok in "{[":
            depth += 1
        elif tok in "}]":
            depth -= 1
        elif depth == 0 and tok[0] not in "\"'" and not body[: m.start()].rstrip().endswith(":"):
            out.append(tok)
    return out


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text, 0)
    except ValueError:
        try:
            return int(text, 10)
        except ValueError:
            return None


def _message_bodies(text: str, keyword: str) -> list[str]:
    """Bodies of `keyword { ... }`, `keyword: { ... }` and `keyword: [{ ... }, { ... }]` (any depth)."""
    bodies = [body for _, _, body in _blocks(text, keyword)]
    for match in re.finditer(rf"\b{keyword}\s*:?\s*\[", text):
        depth, i = 1, match.end()
        while i < len(text) and depth:
            depth += {"[": 1, "]": -1}.get(text[i], 0)
            i += 1
        listed = text[match.end() : i - 1]
        depth, start = 0, 0
        for j, ch in enumerate(listed):
            if ch == "{":
                depth += 1
                if depth == 1:
                    start = j + 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    bodies.append(listed[start:j])
    return bodies


def _parse_policy(inner: str, problems: list[str]) -> VersionPolicy:
    blocks = _message_bodies(inner, "model_version_policy")
    if not blocks:
        return VersionPolicy()
    if len(blocks) > 1:
        problems.append("model_version_policy is given more than once")
    body = blocks[0]
    names = _top_level_names(body)
    unknown = [n for n in names if n not in _POLICY_CHOICES]
    if unknown:
        problems.append(
            f"model_version_policy has unknown field(s) {', '.join(unknown)} (TF Serving knows latest, all, specific)"
        )
    chosen = [n for n in names if n in _POLICY_CHOICES]
    if len(chosen) > 1:
        problems.append(
            f"model_version_policy sets {' and '.join(chosen)}; it takes only one of latest, all, specific"
        )
    if not chosen:
        return VersionPolicy(explicit=True)
    kind = chosen[0]
    sub = _message_bodies(body, kind)
    sub_body = sub[0] if sub else ""
    extra = [n for n in _top_level_names(sub_body) if n not in _POLICY_CHOICES[kind]]
    if extra:
        problems.append(f"model_version_policy {kind} has unknown field(s) {', '.join(extra)}")
    if kind == "latest":
        raw = _field(sub_body, "num_versions")
        num = _int(raw) if raw is not None else 0
        if num is None or num < 0:
            problems.append(f"model_version_policy latest num_versions {raw!r} is not a non-negative integer")
            num = 0
        return VersionPolicy("latest", num_versions=num, explicit=True)
    if kind == "specific":
        versions: list[int] = []
        for m in re.finditer(r"(?<![A-Za-z_])versions\s*:\s*(\[[^\]]*\]|[^\s,;}]+)", sub_body):
            raw_values = m.group(1).strip("[]").split(",") if m.group(1).startswith("[") else [m.group(1)]
            for raw in (r.strip() for r in raw_values):
                if not raw:
                    continue
                value = _int(raw)
                if value is None:
                    problems.append(f"model_version_policy specific version {raw!r} is not an integer")
                else:
                    versions.append(value)
        return VersionPolicy("specific", versions=tuple(versions), explicit=True)
    return VersionPolicy(kind, explicit=True)


def _parse_labels(inner: str, problems: list[str]) -> dict[str, int]:
    labels: dict[str, int] = {}
    for body in _message_bodies(inner, "version_labels"):
        key = _field(body, "key")
        raw = _field(body, "value")
        value = _int(raw) if raw is not None else 0  # proto3 map value default
        if not key:
            problems.append("a version_labels entry has no key")
            continue
        if value is None:
            problems.append(f"version_labels {key!r} value {raw!r} is not an integer version")
            continue
        labels[key] = value  # a repeated key: the last entry wins, as for a proto map
    return labels


def _without_comment(line: str) -> str:
    """`line` up to a `#` that is outside quotes (text-format protobuf comments run to the line's end)."""
    quote = ""
    escaped = False
    for i, ch in enumerate(line):
        if escaped:
            escaped = False
        elif quote and ch == "\\":
            escaped = True
        elif quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def parse_model_config(text: str) -> list[ConfigEntry]:
    """The `config` entries of a text-format ModelServerConfig (model_config_list)."""
    stripped = "\n".join(_without_comment(line) for line in text.splitlines())
    lists = _blocks(stripped, "model_config_list")
    if not lists and stripped.strip():
        raise BundleError(
            f"{CONFIG_FILE}: no model_config_list block (TF Serving would fail with "
            "'Error parsing text-format tensorflow.serving.ModelServerConfig')"
        )
    entries = []
    for _, _, body in lists:
        for start, end, inner in _blocks(body, "config"):
            problems: list[str] = []
            policy = _parse_policy(inner, problems)
            labels = _parse_labels(inner, problems)
            entries.append(
                ConfigEntry(
                    _field(inner, "name") or "",
                    _field(inner, "base_path") or "",
                    _field(inner, "model_platform") or "",
                    body[start:end],
                    policy,
                    labels,
                    problems,
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
