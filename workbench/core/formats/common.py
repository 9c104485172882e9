"""Small helpers shared by the format modules."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any


def file_facts(path: Path) -> dict[str, Any]:
    """File size and sha256 (for a folder: total size, and the hash of its sorted file contents)."""
    digest = hashlib.sha256()
    if path.is_dir():
        size = 0
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            size += item.stat().st_size
            digest.update(str(item.relative_to(path)).encode())
            _hash_into(digest, item)
        return {"file_size": size, "sha256": digest.hexdigest()}
    _hash_into(digest, path)
    return {"file_size": path.stat().st_size, "sha256": digest.hexdigest()}


def _hash_into(digest: Any, path: Path) -> None:
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)


def numpy_dtype_name(dtype: Any) -> str:
    """numpy-style dtype name; text and object columns become 'string'."""
    import numpy as np

    dt = np.dtype(dtype)
    if dt.kind in ("U", "S", "O"):
        return "string"
    return dt.name
