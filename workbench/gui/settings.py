"""Versioned application settings stored with QSettings (INI text, readable and diffable).

Complex values (lists, dicts) are stored as JSON strings so that every platform backend
round-trips them the same way. ``SCHEMA_VERSION`` is bumped (minor when a default changes,
major when a key is renamed or removed) and `MIGRATIONS` turn an older file into the current one.

The location is swappable for tests: pass a path to `AppSettings`, or set the
``WORKBENCH_SETTINGS`` environment variable to an INI file path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

SCHEMA_VERSION = "1.0"
MAX_RECENT = 12


@dataclass
class Endpoint:
    """A saved serving endpoint."""

    name: str
    url: str
    model: str = ""
    protocol: str = "tfserving"  # or "v2"
    grpc_target: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    verify_tls: bool = True
    ca_file: str = ""
    timeout_s: float = 10.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Endpoint:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _major(version: str) -> int:
    return int(str(version).split(".")[0] or 0)


def _migrate_0_to_1(store: QSettings) -> None:
    """0.x kept recent files under `recent` as a plain list; 1.0 keeps JSON under `files/recent`."""
    old = store.value("recent")
    if old is not None:
        items = old if isinstance(old, list) else [old]
        store.setValue("files/recent", json.dumps([str(p) for p in items]))
        store.remove("recent")


#: major version it upgrades from -> migration
MIGRATIONS: dict[int, Callable[[QSettings], None]] = {0: _migrate_0_to_1}


def default_path() -> str | None:
    return os.environ.get("WORKBENCH_SETTINGS") or None


class AppSettings:
    """Typed accessors over a QSettings store."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        path = path if path is not None else default_path()
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.store = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            self.store = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                                   "model-serving-workbench", "workbench")
        self._migrate()

    @property
    def path(self) -> str:
        return self.store.fileName()

    # -- schema ---------------------------------------------------------------------------

    def _migrate(self) -> None:
        found = self.store.value("schema_version")
        if found is None and not self.store.allKeys():
            self.store.setValue("schema_version", SCHEMA_VERSION)
            return
        version = str(found or "0.0")
        major = _major(version)
        while major < _major(SCHEMA_VERSION):
            step = MIGRATIONS.get(major)
            if step is not None:
                step(self.store)
            major += 1
        self.store.setValue("schema_version", SCHEMA_VERSION)

    @property
    def schema_version(self) -> str:
        return str(self.store.value("schema_version"))

    def sync(self) -> None:
        self.store.sync()

    # -- helpers --------------------------------------------------------------------------

    def _get_json(self, key: str, default: Any) -> Any:
        raw = self.store.value(key)
        if raw is None:
            return default
        try:
            return json.loads(raw)
        except (TypeError, ValueError):
            return default

    def _set_json(self, key: str, value: Any) -> None:
        self.store.setValue(key, json.dumps(value))

    # -- recent files -----------------------------------------------------------------------

    def recent_files(self) -> list[str]:
        return [str(p) for p in self._get_json("files/recent", [])]

    def add_recent_file(self, path: str | os.PathLike[str]) -> list[str]:
        path = str(Path(path).resolve())
        items = [p for p in self.recent_files() if p != path]
        items.insert(0, path)
        del items[MAX_RECENT:]
        self._set_json("files/recent", items)
        return items

    def remove_recent_file(self, path: str) -> None:
        self._set_json("files/recent", [p for p in self.recent_files() if p != path])

    def clear_recent_files(self) -> None:
        self._set_json("files/recent", [])

    # -- last folders -----------------------------------------------------------------------

    def last_folder(self, purpose: str) -> str:
        """The folder last used for `purpose` ("open", "export", "rows", "charts")."""
        return str(self._get_json("files/last_folders", {}).get(purpose, ""))

    def set_last_folder(self, purpose: str, folder: str | os.PathLike[str]) -> None:
        folders = self._get_json("files/last_folders", {})
        folders[purpose] = str(folder)
        self._set_json("files/last_folders", folders)

    # -- endpoints --------------------------------------------------------------------------

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint.from_json(d) for d in self._get_json("serving/endpoints", [])]

    def set_endpoints(self, endpoints: list[Endpoint]) -> None:
        self._set_json("serving/endpoints", [asdict(e) for e in endpoints])

    def save_endpoint(self, endpoint: Endpoint) -> None:
        items = [e for e in self.endpoints() if e.name != endpoint.name]
        items.append(endpoint)
        self.set_endpoints(items)

    def remove_endpoint(self, name: str) -> None:
        self.set_endpoints([e for e in self.endpoints() if e.name != name])

    # -- window -----------------------------------------------------------------------------

    def geometry(self) -> QByteArray | None:
        value = self.store.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, data: QByteArray) -> None:
        self.store.setValue("window/geometry", data)

    def window_state(self) -> QByteArray | None:
        value = self.store.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_window_state(self, data: QByteArray) -> None:
        self.store.setValue("window/state", data)

    # -- appearance -------------------------------------------------------------------------

    def theme(self) -> str:
        return str(self.store.value("appearance/theme", "system"))

    def set_theme(self, theme: str) -> None:
        self.store.setValue("appearance/theme", theme)


def recent_labels(paths: list[str]) -> list[str]:
    """What the recent-files list shows for each path, as editors do: the file name; a SavedModel version
    folder with its model folder ("model/1", not "1"); and, when two entries would read the same, each
    followed by as much of its parent folders as tells them apart ("model.onnx — a", "model.onnx — b")."""

    def parts(path: str) -> list[str]:
        return [x for x in Path(path).parts if x not in ("/", "\\")] or [path]

    def base(path: str) -> str:
        p = parts(path)
        if len(p) >= 2 and p[-1].isdigit():   # a TF Serving version folder: name it by its model
            return f"{p[-2]}/{p[-1]}"
        return p[-1]

    names = [base(x) for x in paths]
    labels = list(names)
    for name in set(names):
        same = [i for i, n in enumerate(names) if n == name]
        if len(same) < 2:
            continue
        skip = name.count("/") + 1
        parents = {i: parts(paths[i])[:-skip] for i in same}
        depth = 1
        while depth <= max(len(v) for v in parents.values()):
            tails = {i: "/".join(parents[i][-depth:]) for i in same}
            if len(set(tails.values())) == len(same):
                break
            depth += 1
        for i in same:
            tail = "/".join(parents[i][-depth:]) or "/"
            labels[i] = f"{name} — {tail}"
    return labels

