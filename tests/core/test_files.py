"""Atomic writes leave the old file or the whole new one, never a partial one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbench.core.files import atomic_write_bytes, atomic_write_text
from workbench.core.types import finite


def test_atomic_write_replaces_whole_file_with_normal_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out" / "result.json"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second")
    assert target.read_text() == "second"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    atomic_write_bytes(target, b"old")

    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]


def test_finite_replaces_nan_and_infinities_recursively() -> None:
    assert finite({"a": [1.0, float("nan")], "b": float("inf"), "c": "x"}) == {"a": [1.0, None], "b": None, "c": "x"}
