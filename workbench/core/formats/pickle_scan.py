"""Read a pickle or joblib file without running any code from it.

A restricted opcode interpreter (the pure-Python `pickle._Unpickler`) in which every global the
file names is replaced by an inert `Stub` that only records its arguments and state. The only real
constructors allowed are numpy's data-only array and dtype reconstructors, so arrays such as
`classes_` or `categories_` come back as real values. joblib's inline array payloads are skipped
(or read, for small arrays) the way joblib lays them out. Nothing the file references is imported
or called, so a malicious `__reduce__` cannot act. This is how Netron reads pickles, too.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

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

#: numpy callables that only rebuild data; everything else becomes a Stub
_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "dtype"): np.dtype,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy.core.multiarray", "_reconstruct"): np.ndarray.__new__,
    ("numpy._core.multiarray", "_reconstruct"): np.ndarray.__new__,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("builtins", "bytearray"): bytearray,
}
_SAFE_SCALAR = {("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")}
_SAFE_FROMBUFFER = {("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}
_JOBLIB_WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")


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


def open_decompressed(path: Path, compression: str | None) -> BinaryIO:
    """Open `path` for reading, through the decompressor joblib used."""
    if compression is None:
        return open(path, "rb")
    if compression == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if compression == "bz2":
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if compression in ("xz", "lzma"):
        return lzma.open(path, "rb")  # type: ignore[return-value]
    if compression == "zlib":
        raw = path.read_bytes()
        if raw.startswith(b"ZF"):  # joblib < 0.10: 'ZF' + 16-byte length header
            raw = raw[18:]
        return io.BytesIO(zlib.decompressobj().decompress(raw))
    if compression == "lz4":
        try:
            import lz4.frame  # type: ignore[import-not-found]
        except ImportError:
            raise ValueError("the file is lz4-compressed and the lz4 package is not installed (pip install lz4)")
        return lz4.frame.open(path, "rb")  # type: ignore[no-any-return]
    raise ValueError(f"unknown compression {compression}")


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
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], dict | type(None)):
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


class StubCallable:
    """A global that is called (REDUCE/NEWOBJ); calling it makes a Stub of its class."""

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name
        self._cls = type(name, (Stub,), {"__module_name__": module, "__class_name__": name})

    def __call__(self, *args: Any, **kwargs: Any) -> Stub:
        return self._cls(*args, **kwargs)

    def __new__stub__(self) -> Stub:  # pragma: no cover - not used by pickle
        return self._cls()

    def __repr__(self) -> str:
        return f"<global {self.module}.{self.name}>"


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


class _ScanningUnpickler(pickle._Unpickler):  # type: ignore[name-defined,misc]
    def __init__(self, file: BinaryIO, seen: list[str]) -> None:
        super().__init__(file)
        self._file = file
        self._seen = seen
        self._wrappers: set[int] = set()
        self._callables: dict[tuple[str, str], Any] = {}

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        qual = f"{module}.{name}"
        if qual not in self._seen:
            self._seen.append(qual)
        if key in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[key]
        if key in _SAFE_SCALAR:
            return _safe_scalar
        if key in _SAFE_FROMBUFFER:
            return _safe_frombuffer
        if key not in self._callables:
            self._callables[key] = _make_stub_class(module, name)
        return self._callables[key]

    # pickle calls cls.__new__(cls, *args) for NEWOBJ; Stub classes accept anything.

    def load_build(self) -> None:  # joblib arrays follow their wrapper's BUILD inline
        super().load_build()
        top = self.stack[-1]
        if isinstance(top, Stub) and (top.__module_name__, top.__class_name__) == _JOBLIB_WRAPPER:
            self.stack[-1] = self._read_joblib_array(top)

    dispatch = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]
    dispatch[pickle.BUILD[0]] = load_build

    def _read_joblib_array(self, wrapper: Stub) -> Any:
        state = wrapper.state if isinstance(wrapper.state, dict) else {}
        dtype = state.get("dtype")
        shape = tuple(int(x) for x in state.get("shape", ()))
        order = state.get("order", "C")
        if not isinstance(dtype, np.dtype):
            raise pickle.UnpicklingError("joblib array without a readable dtype")
        if dtype.hasobject:
            inner = _ScanningUnpickler(self._file, self._seen)
            return inner.load()
        alignment = state.get("numpy_array_alignment_bytes")
        if alignment is not None:
            pad = self._file.read(1)
            if len(pad) != 1:
                raise EOFError("truncated joblib array")
            if pad[0]:
                self._file.read(pad[0])
        count = int(np.prod(shape)) if shape else 1
        nbytes = count * dtype.itemsize
        data = self._file.read(nbytes)
        if len(data) != nbytes:
            raise EOFError("truncated joblib array data")
        array = np.frombuffer(data, dtype=dtype)
        return array.reshape(shape, order="F" if order == "F" else "C") if shape else array.reshape(())


def _make_stub_class(module: str, name: str) -> type[Stub]:
    return type(name, (Stub,), {"__module_name__": module, "__class_name__": name})


def _safe_scalar(dtype: np.dtype, data: bytes | None = None) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        return None
    return np.frombuffer(data or b"", dtype=dtype)[0] if data else dtype.type(0)


def _safe_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        return None
    return np.frombuffer(bytes(buf), dtype=dtype).reshape(shape, order=order)


def scan_pickle(path: Path, head: bytes | None = None) -> PickleScan:
    """Interpret the pickle/joblib file at `path` without running code from it.

    Raises `pickle.UnpicklingError`, `EOFError` or `ValueError` when the stream is damaged.
    """
    if head is None:
        with open(path, "rb") as fh:
            head = fh.read(16)
    compression = compression_of(head)
    seen: list[str] = []
    with open_decompressed(path, compression) as fh:
        first = fh.read(2)
        protocol = first[1] if len(first) == 2 and first[0] == 0x80 else 0
        fh.seek(0)
        root = _ScanningUnpickler(fh, seen).load()
    return PickleScan(globals=seen, root=root, compression=compression, protocol=protocol)
