"""A small UBJSON decoder (the subset XGBoost writes), so .ubj boosters and pickled XGBoost
wrappers can be inspected without importing xgboost."""

from __future__ import annotations

import struct
from typing import Any

_INTS = {b"i": ">b", b"U": ">B", b"I": ">h", b"l": ">i", b"L": ">q", b"d": ">f", b"D": ">d"}


class UBJError(ValueError):
    """Not well-formed UBJSON."""


def loads(data: bytes | bytearray) -> Any:
    value, pos = _value(bytes(data), 0)
    return value


def _need(data: bytes, pos: int, n: int) -> None:
    if pos + n > len(data):
        raise UBJError("truncated UBJSON")


def _scalar(data: bytes, pos: int, marker: bytes) -> tuple[Any, int]:
    if marker in _INTS:
        fmt = _INTS[marker]
        size = struct.calcsize(fmt)
        _need(data, pos, size)
        return struct.unpack_from(fmt, data, pos)[0], pos + size
    if marker == b"S" or marker == b"H":
        length, pos = _length(data, pos)
        _need(data, pos, length)
        return data[pos:pos + length].decode("utf-8"), pos + length
    if marker == b"T":
        return True, pos
    if marker == b"F":
        return False, pos
    if marker == b"Z":
        return None, pos
    if marker == b"C":
        _need(data, pos, 1)
        return chr(data[pos]), pos + 1
    raise UBJError(f"unknown UBJSON marker {marker!r}")


def _length(data: bytes, pos: int) -> tuple[int, int]:
    _need(data, pos, 1)
    marker = data[pos:pos + 1]
    value, pos = _scalar(data, pos + 1, marker)
    if not isinstance(value, int) or value < 0:
        raise UBJError("bad UBJSON length")
    return value, pos


def _value(data: bytes, pos: int) -> tuple[Any, int]:
    _need(data, pos, 1)
    marker = data[pos:pos + 1]
    pos += 1
    if marker == b"{":
        return _container(data, pos, is_object=True)
    if marker == b"[":
        return _container(data, pos, is_object=False)
    return _scalar(data, pos, marker)


def _container(data: bytes, pos: int, is_object: bool) -> tuple[Any, int]:
    typ = None
    count = None
    if data[pos:pos + 1] == b"$":
        typ = data[pos + 1:pos + 2]
        pos += 2
    if data[pos:pos + 1] == b"#":
        count, pos = _length(data, pos + 1)
    out_obj: dict[str, Any] = {}
    out_list: list[Any] = []
    index = 0
    while True:
        if count is not None and index >= count:
            break
        if count is None:
            _need(data, pos, 1)
            if data[pos:pos + 1] == (b"}" if is_object else b"]"):
                pos += 1
                break
        if is_object:
            key_len, pos = _length(data, pos)
            _need(data, pos, key_len)
            key = data[pos:pos + key_len].decode("utf-8")
            pos += key_len
        if typ is not None:
            item, pos = _scalar(data, pos, typ)
        else:
            item, pos = _value(data, pos)
        if is_object:
            out_obj[key] = item
        else:
            out_list.append(item)
        index += 1
    return (out_obj if is_object else out_list), pos
