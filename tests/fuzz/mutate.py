"""Deterministic mutations of model files (bit flips, byte insert/delete, truncation, integer field
bumps, splices; for zips also the same inside one member), made from a seed so a case is reproducible
from (sample, seed, index) alone."""

from __future__ import annotations

import io
import random
import re
import struct
import zipfile

#: numbers a hostile file likes to declare
INTERESTING_TEXT = [b"0", b"-1", b"1", b"300000000", b"4294967296", b"9223372036854775808", b"1e309", b"nan",
                    b"-9999999999", b"9" * 4400, b"\xd9\xa3"]  # the last: an Arabic-Indic digit
INTERESTING_INTS = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                    2**62, 2**63 - 1, 2**64 - 1]
_DIGITS = re.compile(rb"-?\d+(\.\d+)?")


def bit_flip(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def insert_bytes(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    at = rng.randint(0, len(data))
    return data[:at] + rng.randbytes(rng.randint(1, 8)) + data[at:]


def delete_bytes(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    if len(data) < 2:
        return data
    at = rng.randrange(len(data))
    return data[:at] + data[at + rng.randint(1, 16):]


def truncate(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    return data[:rng.randint(0, max(len(data) - 1, 0))]


def bump_integer(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    """Replace a written number (text formats) or a 1/2/4/8-byte field (binary) with an interesting one."""
    numbers = list(_DIGITS.finditer(data[:1 << 20]))
    if numbers and rng.random() < 0.7:
        m = rng.choice(numbers)
        return data[:m.start()] + rng.choice(INTERESTING_TEXT) + data[m.end():]
    if len(data) < 8:
        return data
    width = rng.choice([1, 2, 4, 8])
    value = rng.choice(INTERESTING_INTS) & ((1 << (8 * width)) - 1)
    at = rng.randrange(len(data) - width + 1)
    fmt = {1: "B", 2: "H", 4: "I", 8: "Q"}[width]
    packed = struct.pack(("<" if rng.random() < 0.5 else ">") + fmt, value)
    if rng.random() < 0.3:  # a protobuf varint
        packed = _varint(value)
    return data[:at] + packed + data[at + width:]


def splice(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    donor = rng.choice(others + [data]) if others else data
    if not donor or not data:
        return data
    start = rng.randrange(len(donor))
    chunk = donor[start:start + rng.randint(1, 256)]
    at = rng.randint(0, len(data))
    if rng.random() < 0.5:
        return data[:at] + chunk + data[at:]
    return data[:at] + chunk + data[at + len(chunk):]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


MUTATORS = [bit_flip, insert_bytes, delete_bytes, truncate, bump_integer, splice]


def mutate_bytes(data: bytes, rng: random.Random, others: list[bytes]) -> tuple[bytes, list[str]]:
    """One to three stacked mutations; returns the bytes and the mutators' names."""
    names = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        mutator = rng.choice(MUTATORS)
        data = mutator(data, rng, others)
        names.append(mutator.__name__)
    return data, names


def mutate_zip(data: bytes, rng: random.Random, others: list[bytes]) -> tuple[bytes, list[str]]:
    """Mutate one member's content and zip again (a raw byte mutation mostly just breaks the CRC)."""
    try:
        src = zipfile.ZipFile(io.BytesIO(data))
        members = [(info, src.read(info)) for info in src.infolist()]
    except Exception:  # noqa: BLE001 - a seed that is not a zip: mutate the bytes
        return mutate_bytes(data, rng, others)
    index = rng.randrange(len(members))
    content, names = mutate_bytes(members[index][1], rng, [m[1] for m in members])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for i, (info, member) in enumerate(members):
            zf.writestr(info, content if i == index else member)
    return out.getvalue(), [f"member {members[index][0].filename}: " + "+".join(names)]


def make_case(seed_bytes: bytes, is_zip: bool, seed: int, index: int,
              others: list[bytes]) -> tuple[bytes, str]:
    """Case `index` of a sample: its bytes and a description of the mutations."""
    rng = random.Random(f"{seed}:{index}")
    if is_zip and rng.random() < 0.6:
        data, names = mutate_zip(seed_bytes, rng, others)
    else:
        data, names = mutate_bytes(seed_bytes, rng, others)
    return data, "+".join(names)
