"""Install a SavedModel as BASE/NAME/VERSION: next free version, warmup requests, models.config merge,
SERVING.md, and an atomic move of the version folder into place.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from workbench.core.tfserving.layout import SERVING_DOC, BundleError, _write_atomic, next_version
from workbench.core.tfserving.model_config import update_model_config
from workbench.core.tfserving.serving_doc import serving_doc
from workbench.core.tfserving.warmup import write_warmup

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def install_bundle(
    savedmodel_dir: Path | str, base: Path | str, name: str, version: int | None = None, rows: Any = None
) -> Path:
    """Install a SavedModel as BASE/NAME/VERSION (next free version unless given) and return that path.

    Also writes BASE/models.config (merged with other models), VERSION/assets.extra/
    tf_serving_warmup_requests from `rows` (a DataFrame of original columns) and BASE/NAME/SERVING.md.
    The version folder is copied into a hidden temp folder beside it and renamed into place.
    """
    source, base = Path(savedmodel_dir), Path(base)
    if not (source / "saved_model.pb").is_file():
        raise BundleError(f"{source}: not a SavedModel folder (no saved_model.pb)")
    if not _NAME_RE.match(name or ""):
        raise BundleError(
            f"model name {name!r}: use letters, digits, '_', '.', '-' (it becomes a folder and "
            "the URL /v1/models/NAME)"
        )
    model_base = base / name
    model_base.mkdir(parents=True, exist_ok=True)
    if version is None:
        version = next_version(model_base)
    version = int(version)
    if version < 0:
        raise BundleError(f"version {version}: TF Serving versions are non-negative integers")
    target = model_base / str(version)
    if target.exists():
        raise BundleError(f"{target} exists: choose another --version or leave it out for the next free one")
    tmp = model_base / f".{version}.installing-{uuid.uuid4().hex[:8]}"
    warmup_problem = None
    try:
        shutil.copytree(source, tmp)
        if rows is not None and len(rows):
            try:
                write_warmup(tmp, rows, name)
            except BundleError as exc:  # warmup is optional: install, and say why there is none
                warmup_problem = str(exc)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    update_model_config(base, name)
    first_row = rows.head(1) if rows is not None and len(rows) else None
    doc = serving_doc(base, name, target, first_row, warmup_problem)
    _write_atomic(model_base / SERVING_DOC, doc.encode())
    return target
