"""Read a pickle or joblib file without running any code from it.

A restricted opcode interpreter (the pure-Python `pickle._Unpickler`) in which every global the
file names is replaced by an inert `Stub` that only records its arguments and state. Nothing the file
references is imported or called, so a malicious `__reduce__` cannot act. This is how Netron reads
pickles, too.

No state from the file ever reaches numpy's C code: numpy's reconstructors (`_reconstruct`, `dtype`,
`scalar`, `_frombuffer`) and joblib's `NumpyArrayWrapper` are replaced by builders that check the
declared shape, dtype and byte count first and then make the array themselves, only for plain numeric,
bool and fixed-length string dtypes (and structured dtypes of those); object arrays are filled item by
item from the (inert) objects the stream holds. Other dtypes give an `UnreadArray` placeholder.

Every length the file declares is checked against `workbench.core.limits` before anything is
allocated, reads are chunked (a declared length never becomes an allocation by itself), and the
decompressed stream of a compressed joblib is counted against `DECOMPRESSED_BYTES`.
"""

from __future__ import annotations

import _compat_pickle
import bz2
import gzip
import io
import lzma
import pickle
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from struct import unpack
from typing import Any, BinaryIO

import numpy as np

from workbench.core import limits

#: compression magic numbers joblib may use, with an opener for each
_COMPRESSORS: list[tuple[bytes, str]] = [
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x5d\x00\x00", "lzma"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"ZF", "zlib"),  # joblib's own zlib header (old joblib)
    (b"\x78\x01", "zlib"),
    (b"\x78\x5e", "zlib"),
    (b"\x78\x9c", "zlib"),
    (b"\x78\xda", "zlib"),
]

_JOBLIB_WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")
_CHUNK = 1 << 20
#: most dimensions numpy allows
_MAX_DIMS = 64
#: most fields of a structured dtype (a tree's node table has 8)
_MAX_FIELDS = 1024


class Damaged(pickle.UnpicklingError):
    """The stream is inconsistent (a size, shape, dtype or state that cannot be right)."""


def compression_of(head: bytes) -> str | None:
    """The compressor a joblib file was written with, from its first bytes, or None."""
    for magic, name in _COMPRESSORS:
        if head.startswith(magic):
            return name
    return None


def looks_like_pickle(head: bytes) -> bool:
    """True when `head` starts a pickle stream (protocol 2-5, or a protocol-0/1 global/mark)."""
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    return head[:1] in (b"(", b"c", b"}", b"]") and b"\n" in head[:200] and head[:1] != b"]"


class _ZlibStream(io.RawIOBase):
    """A zlib stream inflated as it is read (never all at once)."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self._inflate = zlib.decompressobj()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        while not self._pending:
            if self._inflate.eof:
                return 0
            source = self._inflate.unconsumed_tail or self._raw.read(64 * 1024)
            if not source:
                return 0  # ends early: the unpickler reports it as truncated
            self._pending = self._inflate.decompress(source, max(want, 64 * 1024))
        n = min(want, len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_decompressed(path: Path, compression: str | None) -> BinaryIO:
    """Open `path` for reading, through the decompressor joblib used (streaming, never all at once)."""
    if compression is None:
        return open(path, "rb")
    if compression == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if compression == "bz2":
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if compression in ("xz", "lzma"):
        return lzma.open(path, "rb")  # type: ignore[return-value]
    if compression == "zlib":
        raw = open(path, "rb")
        if raw.read(2) == b"ZF":  # joblib < 0.10: 'ZF' + 16-byte length header
            raw.read(16)
        else:
            raw.seek(0)
        return io.BufferedReader(_ZlibStream(raw))  # type: ignore[return-value]
    if compression == "lz4":
        try:
            import lz4.frame  # type: ignore[import-not-found]
        except ImportError:
            raise ValueError("the file is lz4-compressed and the lz4 package is not installed (pip install lz4)")
        return lz4.frame.open(path, "rb")  # type: ignore[no-any-return]
    raise ValueError(f"unknown compression {compression}")


class _BoundedReader:
    """What the unpickler reads through: chunked reads (a declared length is never allocated before the
    data is there), a short read is a truncated file, and the total is counted against `limit`."""

    def __init__(self, raw: BinaryIO, limit: limits.Limit | None, source: str) -> None:
        self._raw = raw
        self._limit = limit
        self._source = source
        self.total = 0

    def _count(self, n: int) -> None:
        self.total += n
        if self._limit is not None:
            self._limit.check(self.total, source=self._source)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            raise Damaged("an unbounded read")
        parts = []
        left = n
        while left:
            part = self._raw.read(min(left, _CHUNK))
            if not part:
                break
            self._count(len(part))
            parts.append(part)
            left -= len(part)
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        if len(data) < n:
            raise EOFError("truncated: the stream ends inside a declared length")
        return data

    def readline(self) -> bytes:
        parts = []
        size = 0
        while True:
            part = self._raw.readline(_CHUNK)
            self._count(len(part))
            parts.append(part)
            size += len(part)
            if not part or part.endswith(b"\n"):
                break
            limits.DECLARED_BYTES.check(size, source=self._source)
        return b"".join(parts)


class Stub:
    """Stands in for any class or function a pickle names; records what would have been done."""

    __module_name__: str = ""
    __class_name__: str = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__["_args"] = args
        self.__dict__["_kwargs"] = kwargs
        self.__dict__["_state"] = None

    def __setstate__(self, state: Any) -> None:
        self.__dict__["_state"] = state

    # pickle's BUILD falls back to __dict__.update when __setstate__ is missing; we define it so
    # the state is kept as given (dict, or (dict, slots) tuple, or anything else).

    def __getattr__(self, name: str) -> Any:
        state = self.__dict__.get("_state")
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], dict | type(None)) \
                and isinstance(state[1], dict | type(None)):
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict) and name in state:
            return state[name]
        raise AttributeError(name)

    def __setitem__(self, key: Any, value: Any) -> None:  # dict subclasses (SETITEMS)
        self.__dict__.setdefault("_items", {})[key] = value

    def append(self, value: Any) -> None:  # list subclasses (APPENDS)
        self.__dict__.setdefault("_list", []).append(value)

    def extend(self, values: Any) -> None:
        self.__dict__.setdefault("_list", []).extend(values)

    @property
    def state(self) -> Any:
        return self.__dict__.get("_state")

    @property
    def args(self) -> tuple[Any, ...]:
        return self.__dict__.get("_args", ())

    def __repr__(self) -> str:
        return f"<stub {self.__module_name__}.{self.__class_name__}>"


class UnreadArray:
    """An array the scanner does not rebuild (a dtype outside the plain ones): its shape and dtype only."""

    def __init__(self, shape: tuple[int, ...], dtype: str) -> None:
        self.shape = shape
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"<unread array {self.dtype} {self.shape}>"


def qualified_name(obj: Any) -> str:
    """'module.Class' of a real object or of a Stub standing in for one."""
    if isinstance(obj, Stub):
        return f"{obj.__module_name__}.{obj.__class_name__}"
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass
class PickleScan:
    """What a scan found: the referenced globals and the inert object tree."""

    globals: list[str] = field(default_factory=list)
    root: Any = None
    compression: str | None = None
    protocol: int | None = None


# ------------------------------------------------------------------------------ numpy, rebuilt inertly

class _NdarrayClass:
    """What `numpy.ndarray` means in a scanned pickle: a name only (never callable)."""

    def __repr__(self) -> str:
        return "<global numpy.ndarray>"


_NDARRAY = _NdarrayClass()

_DTYPE_CODE = re.compile(r"^([biufcSUVOMm])(\d*)$")
_NUMERIC_SIZES = {"b": (1,), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "f": (2, 4, 8), "c": (8, 16)}
_BYTE_ORDERS = ("<", ">", "|", "=")


class _Placeholder:
    """A numpy object being reconstructed: replaced by what it builds once its BUILD state arrives."""

    def __init__(self) -> None:
        self.memo_keys: list[int] = []


class _DtypeSpec(_Placeholder):
    """`numpy.dtype(code, align, copy)` as the pickle declares it, before its state; `resolve` makes the
    real dtype from checked parts only (numpy's dtype.__setstate__ is never called)."""

    def __init__(self, code: Any = None, *_: Any) -> None:
        super().__init__()
        if isinstance(code, bytes):
            code = code.decode("ascii", "replace")
        self.code = code if isinstance(code, str) else None
        self.state: Any = None

    def describe(self) -> str:
        return self.code or "?"

    def itemsize(self) -> int | None:
        """Bytes per item when the code tells it (also for dtypes the scanner does not rebuild)."""
        match = _DTYPE_CODE.match(self.code or "")
        if not match:
            return None
        kind, size = match.group(1), int(match.group(2) or 0)
        if kind in "Mm":
            return 8
        if kind == "O":
            return 8
        state = self.state
        if kind in "SUV" and isinstance(state, tuple) and len(state) >= 6 and _is_int(state[5]) and state[5] >= 0:
            return int(state[5])
        return size * 4 if kind == "U" else size

    def resolve(self) -> np.dtype | None:
        """The dtype, or None when it is not one the scanner rebuilds."""
        match = _DTYPE_CODE.match(self.code or "")
        if not match:
            return None
        kind, size = match.group(1), int(match.group(2) or 0)
        order = "|"
        names = fields = None
        elsize = -1
        state = self.state
        if state is not None:
            if not isinstance(state, tuple) or len(state) not in (8, 9) or state[0] not in (3, 4):
                raise Damaged(f"a numpy dtype {self.code} with an unreadable state")
            order, subarray, names, fields, elsize = state[1], state[2], state[3], state[4], state[5]
            if isinstance(order, bytes):
                order = order.decode("ascii", "replace")
            if order not in _BYTE_ORDERS or not _is_int(elsize):
                raise Damaged(f"a numpy dtype {self.code} with an unreadable state")
            if subarray is not None or len(state) == 9 and state[8] is not None:
                return None  # sub-arrays, datetimes: not rebuilt
        if kind == "O":
            return np.dtype(object)
        if kind in _NUMERIC_SIZES:
            if size not in _NUMERIC_SIZES[kind] or names is not None:
                return None
            return np.dtype(f"{'|' if size == 1 else order}{kind}{size}")
        if kind in "SUV":
            if elsize >= 0:
                size = elsize // 4 if kind == "U" else elsize
                if kind == "U" and elsize % 4:
                    raise Damaged(f"a numpy dtype {self.code} of {elsize} bytes")
            limits.DECLARED_BYTES.check(size * (4 if kind == "U" else 1), source="a numpy dtype's item size")
            if kind == "V" and names is not None:
                return _structured(names, fields, size)
            if names is not None:
                return None
            return np.dtype(f"{order if kind == 'U' else '|'}{kind}{size}")
        return None


def _structured(names: Any, fields: Any, itemsize: int) -> np.dtype:
    """A structured dtype from checked fields: each a plain dtype at an offset inside the item."""
    if not isinstance(names, tuple) or not isinstance(fields, dict) or len(names) > _MAX_FIELDS:
        raise Damaged("a structured numpy dtype with unreadable fields")
    formats, offsets = [], []
    for name in names:
        entry = fields.get(name) if isinstance(name, str) else None
        if not isinstance(entry, tuple) or len(entry) not in (2, 3) or not _is_int(entry[1]):
            raise Damaged("a structured numpy dtype with unreadable fields")
        dtype = _dtype_of(entry[0])
        offset = int(entry[1])
        if dtype is None or dtype.hasobject or dtype.names is not None:
            raise Damaged(f"a structured numpy dtype whose field {name!r} is not a plain dtype")
        if offset < 0 or offset + dtype.itemsize > itemsize:
            raise Damaged(f"a structured numpy dtype whose field {name!r} lies outside its {itemsize}-byte item")
        formats.append(dtype)
        offsets.append(offset)
    return np.dtype({"names": list(names), "formats": formats, "offsets": offsets, "itemsize": itemsize})


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _dtype_of(value: Any) -> np.dtype | None:
    """A checked dtype from the stream: one the scanner built, or a spec it can resolve."""
    if isinstance(value, np.dtype):  # only ever made by this module
        return value
    if isinstance(value, _DtypeSpec):
        return value.resolve()
    return None


def _dtype_text(value: Any) -> str:
    if isinstance(value, np.dtype):
        return str(value)
    return value.describe() if isinstance(value, _DtypeSpec) else type(value).__name__


def _checked_shape(shape: Any) -> tuple[tuple[int, ...], int]:
    """(shape, element count) of a declared shape: whole numbers >= 0, a product within the limits."""
    if _is_int(shape):
        shape = (shape,)
    if not isinstance(shape, tuple | list) or len(shape) > _MAX_DIMS or not all(_is_int(d) for d in shape):
        raise Damaged(f"an array with an unreadable shape ({type(shape).__name__})")
    dims = tuple(int(d) for d in shape)
    if any(d < 0 for d in dims):
        raise Damaged(f"an array of negative shape {dims}")
    count = 1
    for d in dims:
        count *= d
    limits.ARRAY_ELEMENTS.check(count, source=f"an array of shape {dims}")
    return dims, count


def _as_bytes(raw: Any) -> bytes | bytearray | None:
    if isinstance(raw, bytes | bytearray):
        return raw
    if isinstance(raw, str):  # protocol 0/2 pickles of Python 2 or numpy's latin-1 round trip
        limits.DECLARED_BYTES.check(len(raw), source="an array's data")
        try:
            return raw.encode("latin-1")
        except UnicodeEncodeError:
            raise Damaged("an array whose data is text that is not latin-1") from None
    if isinstance(raw, memoryview):
        return raw.tobytes()
    return None


def _array_from_bytes(raw: Any, dtype: np.dtype, shape: tuple[int, ...], count: int, fortran: bool) -> np.ndarray:
    data = _as_bytes(raw)
    if data is None:
        raise Damaged(f"an array of {dtype} whose data is a {type(raw).__name__}, not bytes")
    need = count * dtype.itemsize
    if len(data) != need:
        raise Damaged(f"an array of shape {shape} and dtype {dtype} needs {need} bytes of data, the file gives "
                      f"{len(data)}")
    flat = np.frombuffer(bytes(data), dtype=dtype, count=count)
    return flat.reshape(shape, order="F" if fortran else "C")


def _object_array(items: Any, shape: tuple[int, ...], count: int) -> np.ndarray:
    if not isinstance(items, list):
        raise Damaged(f"an object array whose items are a {type(items).__name__}, not a list")
    if len(items) != count:
        raise Damaged(f"an object array of shape {shape} ({count} items) with {len(items)} items in the file")
    flat = np.empty(count, dtype=object)
    for i, item in enumerate(items):
        flat[i] = item
    return flat.reshape(shape)


class _ArrayBuilder(_Placeholder):
    """`numpy.core.multiarray._reconstruct(cls, shape, dtype)`: nothing is made until BUILD's state."""

    def build(self, state: Any) -> Any:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise Damaged("a numpy array with an unreadable state")
        shape, dtype_value, fortran, raw = state[-4:]
        dims, count = _checked_shape(shape)
        dtype = _dtype_of(dtype_value)
        if dtype is None:
            return UnreadArray(dims, _dtype_text(dtype_value))
        if dtype.hasobject:
            return _object_array(raw, dims, count)
        return _array_from_bytes(raw, dtype, dims, count, bool(fortran))


def _reconstruct(cls: Any = None, shape: Any = None, dtype: Any = None, *_: Any) -> _ArrayBuilder:
    return _ArrayBuilder()


def _scalar(dtype_value: Any, data: Any = None) -> Any:
    dtype = _dtype_of(dtype_value)
    if dtype is None:
        return UnreadArray((), _dtype_text(dtype_value))
    if dtype.hasobject:
        return data  # numpy's object scalar is the object itself
    if data is None:
        return dtype.type(0) if dtype.names is None else None
    return _array_from_bytes(data, dtype, (1,), 1, False)[0]


def _frombuffer(buf: Any, dtype_value: Any, shape: Any, order: Any = "C") -> Any:
    dims, count = _checked_shape(shape)
    dtype = _dtype_of(dtype_value)
    if dtype is None:
        return UnreadArray(dims, _dtype_text(dtype_value))
    if dtype.hasobject:
        raise Damaged("an object array stored as a raw buffer")
    return _array_from_bytes(buf, dtype, dims, count, order == "F")


def _codecs_encode(text: Any, encoding: Any = "utf-8", errors: Any = "strict") -> bytes:
    """`_codecs.encode(str, 'latin1')`: how protocol 0-2 pickles store bytes (numpy's array data)."""
    if not isinstance(text, str) or not isinstance(encoding, str) \
            or encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1", "l1"):
        raise Damaged("_codecs.encode of something other than latin-1 text")
    limits.DECLARED_BYTES.check(len(text), source="a byte string")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        raise Damaged("latin-1 byte string with characters outside latin-1") from None


def _bytearray(source: Any = b"", encoding: Any = None, errors: Any = None) -> bytearray:
    if isinstance(source, str):
        return bytearray(_codecs_encode(source, encoding or "latin-1"))
    if isinstance(source, bytes | bytearray):
        return bytearray(source)
    if _is_int(source):
        limits.DECLARED_BYTES.check(int(source), source="builtins.bytearray")
        return bytearray(int(source))
    raise Damaged(f"builtins.bytearray of a {type(source).__name__}")


def _complex(real: Any = 0, imag: Any = 0) -> complex:
    if not isinstance(real, int | float | complex | str) or not isinstance(imag, int | float):
        raise Damaged("builtins.complex of something that is not a number")
    if isinstance(real, str):
        limits.DECLARED_BYTES.check(len(real), source="builtins.complex")
    return complex(real, imag)


def _slice(*args: Any) -> slice:
    if not 1 <= len(args) <= 3 or not all(a is None or isinstance(a, int) for a in args):
        raise Damaged("builtins.slice of something that is not whole numbers")
    return slice(*args)


# ------------------------------------------------------------------------------ the interpreter

class StubCallable:
    """A global that is called (REDUCE/NEWOBJ); calling it makes a Stub of its class."""

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name
        self._cls = _make_stub_class(module, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Stub:
        return self._cls(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<global {self.module}.{self.name}>"


def _make_stub_class(module: str, name: str) -> type[Stub]:
    return type(name, (Stub,), {"__module_name__": module, "__class_name__": name})


def _copyreg_reconstructor(cls: Any = None, base: Any = None, state: Any = None) -> Any:
    """copyreg._reconstructor(cls, object, None): protocol 0/1's way to make an instance of `cls`."""
    if isinstance(cls, type) and issubclass(cls, Stub):
        return cls()
    raise Damaged(f"copyreg._reconstructor of a {type(cls).__name__}")


def _copyreg_newobj(cls: Any = None, *args: Any) -> Any:
    if isinstance(cls, type) and issubclass(cls, Stub):
        return cls(*args)
    raise Damaged(f"copyreg.__newobj__ of a {type(cls).__name__}")


_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
_NUMERIC_MODULES = ("numpy.core.numeric", "numpy._core.numeric")


class _ScanningUnpickler(pickle._Unpickler):  # type: ignore[name-defined,misc]
    def __init__(self, file: _BoundedReader, seen: list[str], depth: int = 0) -> None:
        super().__init__(file)
        self._file = file
        self._seen = seen
        self._depth = depth
        self._callables: dict[tuple[str, str], Any] = {}
        #: id -> (object, nesting depth) of the tuples and frozensets made so far (they are hashed as keys:
        #: CPython hashes nested tuples recursively in C, so a deep one would overflow the C stack)
        self._nesting: dict[int, tuple[Any, int]] = {}
        self._safe: dict[tuple[str, str], Any] = {
            ("numpy", "ndarray"): _NDARRAY,
            ("numpy", "dtype"): _DtypeSpec,
            ("builtins", "set"): self._set,
            ("builtins", "frozenset"): self._frozenset,
            ("builtins", "slice"): _slice,
            ("builtins", "complex"): _complex,
            ("builtins", "bytearray"): _bytearray,
            ("_codecs", "encode"): _codecs_encode,
            ("copyreg", "_reconstructor"): _copyreg_reconstructor,
            ("copy_reg", "_reconstructor"): _copyreg_reconstructor,
            ("copyreg", "__newobj__"): _copyreg_newobj,
        }
        for module in _NUMPY_MODULES:
            self._safe[(module, "_reconstruct")] = _reconstruct
            self._safe[(module, "scalar")] = _scalar
        for module in _NUMERIC_MODULES:
            self._safe[(module, "_frombuffer")] = _frombuffer

    def find_class(self, module: str, name: str) -> Any:
        if self.proto < 3 and self.fix_imports:  # Python 2 names, as Python 3 writes them in protocols 0-2
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        key = (module, name)
        qual = f"{module}.{name}"
        if qual not in self._seen:
            self._seen.append(qual)
        if key in self._safe:
            return self._safe[key]
        if key not in self._callables:
            self._callables[key] = _make_stub_class(module, name)
        return self._callables[key]

    # ---- nesting: deep tuples/frozensets would crash CPython's hash; marks bound the structure depth

    def _nest(self, obj: Any, items: Any) -> Any:
        depth = 1
        for item in items:
            known = self._nesting.get(id(item))
            if known is not None and known[0] is item:
                depth = max(depth, known[1] + 1)
        limits.NESTING.check(depth, source="the pickle's tuples")
        if depth > 1 or items:
            self._nesting[id(obj)] = (obj, depth)
        return obj

    def _tuple(self, items: Any) -> tuple[Any, ...]:
        return self._nest(tuple(items), items)

    def _set(self, items: Any = ()) -> set[Any]:
        items = list(items) if isinstance(items, list | tuple | set | frozenset) else _not_iterable(items)
        self._nest((), items)
        return set(items)

    def _frozenset(self, items: Any = ()) -> frozenset[Any]:
        items = list(items) if isinstance(items, list | tuple | set | frozenset) else _not_iterable(items)
        return self._nest(frozenset(items), items)

    def load_tuple(self) -> None:
        items = self.pop_mark()  # first: it switches self.append to the outer stack
        self.append(self._tuple(items))

    def load_tuple1(self) -> None:
        self.stack[-1] = self._tuple([self.stack[-1]])

    def load_tuple2(self) -> None:
        self.stack[-2:] = [self._tuple(self.stack[-2:])]

    def load_tuple3(self) -> None:
        self.stack[-3:] = [self._tuple(self.stack[-3:])]

    def load_frozenset(self) -> None:
        items = self.pop_mark()
        self.append(self._frozenset(items))

    def load_mark(self) -> None:
        limits.NESTING.check(len(self.metastack) + 1, source="the pickle's structure")
        super().load_mark()

    # ---- declared lengths: checked before anything is read or allocated

    def _length(self, fmt: str, size: int, opcode: str) -> int:
        (n,) = unpack(fmt, self.read(size))
        if n < 0:
            raise Damaged(f"{opcode} with a negative length")
        return limits.DECLARED_BYTES.check(n, source=f"the pickle's {opcode}")

    def load_frame(self) -> None:
        self._unframer.load_frame(self._length("<Q", 8, "FRAME"))

    def load_binbytes8(self) -> None:
        self.append(self.read(self._length("<Q", 8, "BINBYTES8")))

    def load_bytearray8(self) -> None:
        self.append(bytearray(self.read(self._length("<Q", 8, "BYTEARRAY8"))))

    def load_binunicode8(self) -> None:
        self.append(str(self.read(self._length("<Q", 8, "BINUNICODE8")), "utf-8", "surrogatepass"))

    def load_binunicode(self) -> None:
        self.append(str(self.read(self._length("<I", 4, "BINUNICODE")), "utf-8", "surrogatepass"))

    def load_binbytes(self) -> None:
        self.append(self.read(self._length("<I", 4, "BINBYTES")))

    def load_binstring(self) -> None:
        self.append(self._decode_string(self.read(self._length("<i", 4, "BINSTRING"))))

    def load_long4(self) -> None:
        n = self._length("<i", 4, "LONG4")
        if n > 4096:  # 32768-bit integers: no model needs them, and they are slow to handle
            raise Damaged(f"an integer of {n} bytes")
        self.append(pickle.decode_long(self.read(n)))

    # ---- memo: a placeholder remembered before its BUILD is replaced there by what it built

    def _memo_set(self, index: int) -> None:
        obj = self.stack[-1]
        self.memo[index] = obj
        if isinstance(obj, _Placeholder):
            obj.memo_keys.append(index)

    def load_put(self) -> None:
        index = int(self.readline()[:-1])
        if index < 0:
            raise Damaged("negative PUT index")
        self._memo_set(index)

    def load_binput(self) -> None:
        self._memo_set(self.read(1)[0])

    def load_long_binput(self) -> None:
        self._memo_set(unpack("<I", self.read(4))[0])

    def load_memoize(self) -> None:
        self._memo_set(len(self.memo))

    # ---- object construction: only stub classes, never a real type from the stream

    def load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self._new(cls, args, {}))

    def load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self._new(cls, args, kwargs))

    @staticmethod
    def _new(cls: Any, args: Any, kwargs: Any) -> Stub:
        if not (isinstance(cls, type) and issubclass(cls, Stub)):
            raise Damaged(f"NEWOBJ of a {type(cls).__name__}")
        if not isinstance(args, tuple) or not isinstance(kwargs, dict):
            raise Damaged("NEWOBJ with arguments that are not a tuple")
        return cls(*args, **kwargs)

    def load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, Stub):
            inst.__setstate__(state)
            if (inst.__module_name__, inst.__class_name__) == _JOBLIB_WRAPPER:
                self.stack[-1] = self._read_joblib_array(inst)
        elif isinstance(inst, _DtypeSpec):
            inst.state = state
            self._replace(inst, inst.resolve() or inst)
        elif isinstance(inst, _ArrayBuilder):
            self._replace(inst, inst.build(state))
        else:  # a real object (an array, a set...): its own __setstate__ would take the file's state
            raise Damaged(f"state given to a {type(inst).__name__}")

    def _replace(self, placeholder: _Placeholder, built: Any) -> None:
        self.stack[-1] = built
        for key in placeholder.memo_keys:
            if self.memo.get(key) is placeholder:
                self.memo[key] = built
        placeholder.memo_keys = []

    def persistent_load(self, pid: Any) -> Any:
        raise Damaged("a persistent id (the pickle refers to objects stored elsewhere)")

    dispatch = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]
    for _opcode, _method in [
        (pickle.BUILD, load_build), (pickle.TUPLE, load_tuple), (pickle.TUPLE1, load_tuple1),
        (pickle.TUPLE2, load_tuple2), (pickle.TUPLE3, load_tuple3), (pickle.FROZENSET, load_frozenset),
        (pickle.MARK, load_mark), (pickle.FRAME, load_frame), (pickle.BINBYTES8, load_binbytes8),
        (pickle.BYTEARRAY8, load_bytearray8), (pickle.BINUNICODE8, load_binunicode8),
        (pickle.BINUNICODE, load_binunicode), (pickle.BINBYTES, load_binbytes),
        (pickle.BINSTRING, load_binstring), (pickle.LONG4, load_long4), (pickle.PUT, load_put),
        (pickle.BINPUT, load_binput), (pickle.LONG_BINPUT, load_long_binput), (pickle.MEMOIZE, load_memoize),
        (pickle.NEWOBJ, load_newobj), (pickle.NEWOBJ_EX, load_newobj_ex),
    ]:
        dispatch[_opcode[0]] = _method
    del _opcode, _method

    def load_additems(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        if not isinstance(target, set):
            raise Damaged(f"ADDITEMS to a {type(target).__name__}")
        self._nest((), items)
        target.update(items)

    def load_setitem(self) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        self._set_items(self.stack[-1], [key, value])

    def load_setitems(self) -> None:
        items = self.pop_mark()
        self._set_items(self.stack[-1], items)

    def load_dict(self) -> None:
        items = self.pop_mark()
        target: dict[Any, Any] = {}
        self._set_items(target, items)
        self.append(target)

    def _set_items(self, target: Any, items: list[Any]) -> None:
        if not isinstance(target, dict | Stub):
            raise Damaged(f"SETITEMS on a {type(target).__name__}")
        if len(items) % 2:
            raise Damaged("SETITEMS with a key without a value")
        for i in range(0, len(items), 2):
            self._nest((), [items[i]])  # keys are hashed
            target[items[i]] = items[i + 1]

    def load_reduce(self) -> None:
        args = self.stack.pop()
        func = self.stack[-1]
        if not isinstance(args, tuple):
            raise Damaged("REDUCE with arguments that are not a tuple")
        if not (callable(func) and (isinstance(func, type) and issubclass(func, Stub) or func in self._safe.values()
                                    or isinstance(func, StubCallable))):
            raise Damaged(f"a call of a {type(func).__name__}")
        self.stack[-1] = func(*args)

    def _instantiate(self, klass: Any, args: list[Any]) -> None:  # INST, OBJ (protocol 0/1)
        if not (isinstance(klass, type) and issubclass(klass, Stub) or klass in self._safe.values()):
            raise Damaged(f"an instance of a {type(klass).__name__}")
        self.append(klass(*args))

    for _opcode, _method in [
        (pickle.ADDITEMS, load_additems), (pickle.SETITEM, load_setitem), (pickle.SETITEMS, load_setitems),
        (pickle.DICT, load_dict), (pickle.REDUCE, load_reduce),
    ]:
        dispatch[_opcode[0]] = _method
    del _opcode, _method

    # ---- joblib: an array's bytes follow its wrapper's BUILD in the stream

    def _read_joblib_array(self, wrapper: Stub) -> Any:
        state = wrapper.state if isinstance(wrapper.state, dict) else {}
        dims, count = _checked_shape(state.get("shape", ()))
        order = state.get("order", "C")
        dtype_value = state.get("dtype")
        dtype = _dtype_of(dtype_value)
        if dtype is not None and dtype.hasobject or dtype is None and isinstance(dtype_value, _DtypeSpec) \
                and dtype_value.code == "O8":
            limits.NESTING.check(self._depth + 1, source="joblib's nested arrays")
            inner = _ScanningUnpickler(self._file, self._seen, self._depth + 1)
            array = inner.load()
            if isinstance(array, np.ndarray) and array.shape != dims:
                raise Damaged(f"a joblib object array of shape {array.shape}, declared {dims}")
            return array
        itemsize = dtype.itemsize if dtype is not None else \
            dtype_value.itemsize() if isinstance(dtype_value, _DtypeSpec) else None
        if itemsize is None:
            raise Damaged(f"a joblib array of an unreadable dtype ({_dtype_text(dtype_value)})")
        if state.get("numpy_array_alignment_bytes") is not None:
            pad = self._file.read(1)[0]
            if pad > 64:
                raise Damaged(f"a joblib array padded by {pad} bytes")
            self._file.read(pad)
        nbytes = limits.DECLARED_BYTES.check(count * itemsize, source=f"a joblib array of shape {dims}")
        data = self._file.read(nbytes)
        if dtype is None:
            return UnreadArray(dims, _dtype_text(dtype_value))
        return _array_from_bytes(data, dtype, dims, count, order == "F")


def _not_iterable(items: Any) -> list[Any]:
    raise Damaged(f"a set of a {type(items).__name__}")


def scan_pickle(path: Path, head: bytes | None = None) -> PickleScan:
    """Interpret the pickle/joblib file at `path` without running code from it.

    Raises `LimitExceeded` when a declared or decompressed size is over its limit, and `Damaged`
    (an `UnpicklingError`), `EOFError`, `ValueError` or another library error when the stream is damaged.
    """
    limits.MODEL_FILE_BYTES.check(path.stat().st_size, source=path.name)
    if head is None:
        with open(path, "rb") as fh:
            head = fh.read(16)
    compression = compression_of(head)
    seen: list[str] = []
    with open_decompressed(path, compression) as fh:
        limit = limits.DECOMPRESSED_BYTES if compression else None
        reader = _BoundedReader(fh, limit, f"{path.name} ({compression}-compressed)" if compression else path.name)
        first = fh.read(2)
        protocol = first[1] if len(first) == 2 and first[0] == 0x80 else 0
        reader = _BoundedReader(_Prefixed(first, fh), limit, reader._source)
        root = _ScanningUnpickler(reader, seen).load()
    return PickleScan(globals=seen, root=root, compression=compression, protocol=protocol)


class _Prefixed:
    """A stream whose first bytes were already read (no seek: decompressed streams seek slowly)."""

    def __init__(self, prefix: bytes, raw: BinaryIO) -> None:
        self._prefix = prefix
        self._raw = raw

    def read(self, n: int) -> bytes:
        if self._prefix:
            head, self._prefix = self._prefix[:n], self._prefix[n:]
            return head + (self._raw.read(n - len(head)) if n > len(head) else b"")
        return self._raw.read(n)

    def readline(self, limit: int = -1) -> bytes:
        if self._prefix:
            cut = self._prefix.find(b"\n")
            if cut >= 0:
                line, self._prefix = self._prefix[:cut + 1], self._prefix[cut + 1:]
                return line
            head, self._prefix = self._prefix, b""
            return head + self._raw.readline(limit - len(head) if limit > 0 else -1)
        return self._raw.readline(limit)
