"""Small helpers shared by the format modules."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

from workbench.core import limits
from workbench.core.errors import CorruptModel, ModelFileError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def damaged(path: Path, fmt: str, what: str, *, hint: str | None = None) -> CorruptModel:
    """The one error for a file of a known format whose content its reader cannot make sense of:
    `<name>: damaged <format> file: <what>` (kind `corrupt`, exit 2)."""
    return CorruptModel(str(path), f"{path.name}: damaged {fmt} file: {what}", hint=hint)


def read_model_bytes(path: Path, *, limit: limits.Limit = limits.MODEL_FILE_BYTES) -> bytes:
    """The whole content of a regular file, refusing FIFOs and devices and files over `limit`."""
    fd = _open_regular(path, follow=True)
    if fd is None:
        raise ModelFileError(str(path), f"{path.name}: not a regular file (a FIFO, socket or device)")
    with os.fdopen(fd, "rb") as fh:
        limit.check(os.fstat(fh.fileno()).st_size, source=path.name)
        data = fh.read(limit.value + 1)
    limit.check(len(data), source=path.name)  # the file grew while it was read
    return data


def file_facts(path: Path) -> dict[str, Any]:
    """File size and sha256 (for a folder: total size, and the hash of its sorted file contents).

    Only regular files are read (never a FIFO or device, which would block or never end). Inside a
    folder, a symbolic link counts only when it points at a regular file inside the same folder: links
    out of it (to /etc/passwd, another model) and entries that are not regular files are skipped and
    listed under `skipped_files`.
    """
    digest = hashlib.sha256()
    if path.is_dir():
        root = path.resolve()
        size = 0
        skipped: list[str] = []
        for rel in _folder_files(path):
            item = path / rel
            if item.is_symlink():
                try:
                    target = item.resolve(strict=True)
                except (OSError, RuntimeError):  # dangling link or a loop
                    skipped.append(rel)
                    continue
                if not target.is_relative_to(root):
                    skipped.append(rel)
                    continue
                fd = _open_regular(target, follow=False)
            else:
                fd = _open_regular(item, follow=False)
            if fd is None:
                skipped.append(rel)
                continue
            with os.fdopen(fd, "rb") as fh:
                size += os.fstat(fh.fileno()).st_size
                digest.update(rel.encode("utf-8", "surrogateescape"))
                _hash_into(digest, fh)
        facts: dict[str, Any] = {"file_size": size, "sha256": digest.hexdigest()}
        if skipped:
            facts["skipped_files"] = skipped
        return facts
    fd = _open_regular(path, follow=True)
    if fd is None:
        raise ModelFileError(str(path), f"{path.name}: not a regular file (a FIFO, socket or device)")
    with os.fdopen(fd, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        _hash_into(digest, fh)
    return {"file_size": size, "sha256": digest.hexdigest()}


def _folder_files(root: Path) -> list[str]:
    """Relative paths of everything under `root` that is not a folder, sorted; never descends into a
    symlinked folder."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath).relative_to(root)
        for name in filenames:
            found.append(str(base / name))
        for name in dirnames:  # a link to a folder is listed in dirnames but not walked
            if os.path.islink(os.path.join(dirpath, name)):
                found.append(str(base / name))
    return sorted(found, key=Path)  # the order Path.rglob gave (the folder hash stays the same)


def _open_regular(path: Path, *, follow: bool) -> int | None:
    """A read-only descriptor of `path` when it is a regular file, else None. Opened without blocking
    (a FIFO would wait for a writer) and, unless `follow`, without following a final symlink."""
    flags = os.O_RDONLY | _NONBLOCK | getattr(os, "O_CLOEXEC", 0) | (0 if follow else _NOFOLLOW)
    try:
        st = os.stat(path, follow_symlinks=follow)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between the stat and the open
        os.close(fd)
        return None
    if _NONBLOCK:
        os.set_blocking(fd, True)
    return fd


def _hash_into(digest: Any, fh: Any) -> None:
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        digest.update(chunk)


def numpy_dtype_name(dtype: Any) -> str:
    """numpy-style dtype name; text and object columns become 'string'."""
    import numpy as np

    dt = np.dtype(dtype)
    if dt.kind in ("U", "S", "O"):
        return "string"
    return dt.name
