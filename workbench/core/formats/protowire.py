"""A minimal protobuf wire-format reader, enough to read SavedModel signatures without TensorFlow.

Only the fields we need are decoded (see savedmodel.py for the field numbers, from
tensorflow/core/protobuf/{saved_model,meta_graph}.proto); everything else is skipped unparsed.
"""

from __future__ import annotations

from collections.abc import Iterator


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
            if pos + length > len(view):
                raise WireError("truncated length-delimited field")
            yield number, wire, view[pos:pos + length]
            pos += length
        elif wire == 5:
            if pos + 4 > len(view):
                raise WireError("truncated fixed32")
            yield number, wire, int.from_bytes(view[pos:pos + 4], "little")
            pos += 4
        else:
            raise WireError(f"unsupported wire type {wire}")


def signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value
