"""A small UBJSON decoder (the subset XGBoost writes), so .ubj boosters and pickled XGBoost
wrappers can be inspected without importing xgboost.

Nothing a file declares is believed: every length and count is checked against the bytes that are
left (each element takes at least one byte) and against `limits.DECLARED_BYTES`, typed containers of
zero-width elements (`$Z`, `$T`, `$F`, `$N`, which XGBoost never writes) are refused, and nesting is
bounded by `limits.NESTING`, so every step of every loop consumes input.
"""

from __future__ import annotations

import struct
from typing import Any

from workbench.core import limits

_INTS = {b"i": ">b", b"U": ">B", b"I": ">h", b"l": ">i", b"L": ">q", b"d": ">f", b"D": ">d"}
#: element types that take no bytes: a typed container of them would be a count with no data
_ZERO_WIDTH = (b"Z", b"T", b"F", b"N")


class UBJError(ValueError):
    """Not well-formed UBJSON."""


def loads(data: bytes | bytearray) -> Any:
    value, pos = _value(bytes(data), 0, 0)
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
    if marker not in _INTS or marker in (b"d", b"D"):
        raise UBJError(f"a UBJSON length must be an integer (marker {marker!r})")
    value, pos = _scalar(data, pos + 1, marker)
    if value < 0:
        raise UBJError(f"negative UBJSON length {value}")
    limits.DECLARED_BYTES.check(value, source="UBJSON length")
    return value, pos


def _value(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    _need(data, pos, 1)
    marker = data[pos:pos + 1]
    pos += 1
    if marker == b"{":
        return _container(data, pos, True, depth + 1)
    if marker == b"[":
        return _container(data, pos, False, depth + 1)
    return _scalar(data, pos, marker)


def _container(data: bytes, pos: int, is_object: bool, depth: int) -> tuple[Any, int]:
    limits.NESTING.check(depth, source="UBJSON")
    typ = None
    count = None
    if data[pos:pos + 1] == b"$":
        _need(data, pos, 2)
        typ = data[pos + 1:pos + 2]
        pos += 2
        if typ in _ZERO_WIDTH:
            raise UBJError(f"a UBJSON container of zero-width elements (${typ.decode('latin-1')})")
        if data[pos:pos + 1] != b"#":
            raise UBJError("a typed UBJSON container without a count")
    if data[pos:pos + 1] == b"#":
        count, pos = _length(data, pos + 1)
        # every element (or key) takes at least one byte: a count beyond what is left is a lie
        width = struct.calcsize(_INTS[typ]) if typ in _INTS else 1
        if count * width > len(data) - pos:
            raise UBJError(f"a UBJSON container declares {count} elements but only {len(data) - pos} bytes "
                           "are left: truncated or damaged")
        if typ in _INTS and not is_object:  # a packed numeric array: one unpack, no per-item loop
            fmt = _INTS[typ]
            values = list(struct.unpack_from(f">{count}{fmt[1:]}", data, pos))
            return values, pos + count * width
    out_obj: dict[str, Any] = {}
    out_list: list[Any] = []
    index = 0
    while True:
        if count is not None and index >= count:
            break
        start = pos
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
            item, pos = _value(data, pos, depth)
        if pos <= start:  # cannot happen with the checks above; a loop that eats nothing must not run
            raise UBJError("a UBJSON element that takes no bytes")
        if is_object:
            out_obj[key] = item
        else:
            out_list.append(item)
        index += 1
    return (out_obj if is_object else out_list), pos
