"""Bounds on every size a model file or a server declares.

A hostile file can declare a 3 GB byte string in 12 bytes, a zip member can inflate a thousandfold, a
server can answer with a gigabyte. Nothing here trusts a declared size: readers check it against the
limit below *before* they allocate, and an over-limit input is a `LimitExceeded` error that names the
limit, so a user with a genuinely huge model knows which one to raise.

Each limit can be raised for one process with an environment variable `WORKBENCH_LIMIT_<NAME>` (bytes or
a count), e.g. `WORKBENCH_LIMIT_MODEL_FILE_BYTES=8000000000`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from workbench.core.errors import WorkbenchError

MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True)
class Limit:
    """One named bound: `value` is the default, overridable by WORKBENCH_LIMIT_<NAME>."""

    name: str
    default: int
    what: str
    #: "bytes" for sizes (shown as MiB/GiB), "count" for numbers of things
    unit: str = "bytes"

    @property
    def value(self) -> int:
        raw = os.environ.get(f"WORKBENCH_LIMIT_{self.name.upper()}")
        if raw:
            try:
                parsed = int(raw)
            except ValueError:
                return self.default
            if parsed > 0:
                return parsed
        return self.default

    def check(self, declared: int, *, source: str = "") -> int:
        """Return `declared` when it is within the limit, else raise `LimitExceeded`."""
        if declared < 0:
            raise LimitExceeded(self, declared, source, negative=True)
        if declared > self.value:
            raise LimitExceeded(self, declared, source)
        return declared


class LimitExceeded(WorkbenchError):
    """A declared or decompressed size is over one of the workbench's limits (exit 2)."""

    kind = "limit"

    def __init__(self, limit: Limit, declared: int, source: str = "", *, negative: bool = False) -> None:
        where = f"{source}: " if source else ""
        if negative:
            message = f"{where}{limit.what} is declared as {declared}, which is not a size"
            hint = "the file or answer is damaged"
        else:
            message = (f"{where}{limit.what} is {_amount(declared, limit.unit)}, over the limit of "
                       f"{_amount(limit.value, limit.unit)} ({limit.name})")
            hint = f"if this is genuine, raise it with WORKBENCH_LIMIT_{limit.name.upper()}"
        super().__init__(message, hint=hint)
        self.limit = limit
        self.declared = declared


def _amount(n: int, unit: str = "bytes") -> str:
    if unit != "bytes":
        return str(n)
    if n >= GiB:
        return f"{n / GiB:.1f} GiB ({n} bytes)"
    if n >= MiB:
        return f"{n / MiB:.1f} MiB ({n} bytes)"
    return f"{n} bytes"


# ---- files ---------------------------------------------------------------------------------------------
#: one model file (or one file inside a model folder) read into memory
MODEL_FILE_BYTES = Limit("model_file_bytes", 2 * GiB, "the model file's size")
#: what one compressed stream (joblib zlib/bz2/xz, a zip member of .keras/.skops/MLeap) may inflate to
DECOMPRESSED_BYTES = Limit("decompressed_bytes", 2 * GiB, "the decompressed size")
#: inflated / compressed: a zip member above this ratio is a bomb whatever its absolute size
COMPRESSION_RATIO = Limit("compression_ratio", 1000, "the compression ratio", "count")
#: one string, byte string or array a file declares (pickle BINBYTES8, protobuf length, UBJSON count)
DECLARED_BYTES = Limit("declared_bytes", 1 * GiB, "a declared length")
#: small metadata files (JSON sidecars, bundle.json, model.json)
METADATA_FILE_BYTES = Limit("metadata_file_bytes", 64 * MiB, "a metadata file's size")

# ---- model structure -----------------------------------------------------------------------------------
#: number of input features a model declares (n_features_in_, num_feature, max_feature_idx)
FEATURES = Limit("features", 1_000_000, "the number of features", "count")
#: number of classes a model declares (n_classes_, num_class)
CLASSES = Limit("classes", 100_000, "the number of classes", "count")
#: elements of one array a file declares (shape products)
ARRAY_ELEMENTS = Limit("array_elements", 256 * MiB, "the number of array elements", "count")
#: nesting depth of JSON, pickles and protobuf messages
NESTING = Limit("nesting", 200, "the nesting depth", "count")

# ---- rows ----------------------------------------------------------------------------------------------
#: cells made by `--generate` (rows x width of every input)
GENERATED_CELLS = Limit("generated_cells", 10_000_000, "the number of generated cells", "count")

# ---- servers -------------------------------------------------------------------------------------------
#: one HTTP or gRPC answer body (after decompression)
RESPONSE_BYTES = Limit("response_bytes", 64 * MiB, "the answer's size")
#: one response header block
RESPONSE_HEADER_BYTES = Limit("response_header_bytes", 64 * 1024, "the answer's headers")
