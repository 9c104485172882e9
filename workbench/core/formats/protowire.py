"""A minimal protobuf wire-format reader, enough to read SavedModel signatures without TensorFlow.

Only the fields we need are decoded (see savedmodel.py for the field numbers, from
tensorflow/core/protobuf/{saved_model,meta_graph}.proto); everything else is skipped unparsed.
"""

from __future__ import annotations

from collections.abc import Iterator

from workbench.core import limits


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def read_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise WireError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise WireError("varint too long")


def fields(data: bytes | memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """Yield (field number, wire type, value): ints for varint/fixed, memoryviews for bytes."""
    view = memoryview(data)
    pos = 0
    longest = limits.DECLARED_BYTES.value  # read once: the environment is not consulted per field
    while pos < len(view):
        key, pos = read_varint(view, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wire == 0:
            value, pos = read_varint(view, pos)
            yield number, wire, value
        elif wire == 1:
            if pos + 8 > len(view):
                raise WireError("truncated fixed64")
            yield number, wire, int.from_bytes(view[pos:pos + 8], "little")
            pos += 8
        elif wire == 2:
            length, pos = read_varint(view, pos)
            # every declared length is checked before it is used: against what is left of the buffer
            # (a 2 GB length in a 100-byte file is damage) and against the declared-length limit
            if length > len(view) - pos:
                raise WireError(f"field {number} declares {length} bytes, but only {len(view) - pos} are left")
            if length > longest:
                limits.DECLARED_BYTES.check(length, source=f"protobuf field {number}")
            yield number, wire, view[pos:pos + length]
            pos += length
        elif wire == 5:
            if pos + 4 > len(view):
                raise WireError("truncated fixed32")
            yield number, wire, int.from_bytes(view[pos:pos + 4], "little")
            pos += 4
        else:
            raise WireError(f"unsupported wire type {wire}")


def message(number: int, wire: int, value: int | memoryview) -> memoryview:
    """`value` of field `number` as an embedded message / bytes; WireError when the wire type is not 2
    (a hostile file can put a varint where a message belongs)."""
    if wire != 2 or not isinstance(value, memoryview):
        raise WireError(f"field {number} has wire type {wire} where a length-delimited value belongs")
    return value


def varint(number: int, wire: int, value: int | memoryview) -> int:
    """`value` of field `number` as an integer; WireError when it is length-delimited."""
    if wire == 2 or not isinstance(value, int):
        raise WireError(f"field {number} has wire type {wire} where an integer belongs")
    return value


def text(number: int, wire: int, value: int | memoryview) -> str:
    """`value` of field `number` as UTF-8 text; WireError for another wire type or invalid UTF-8."""
    raw = message(number, wire, value)
    try:
        return bytes(raw).decode()
    except UnicodeDecodeError as exc:
        raise WireError(f"field {number} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value
