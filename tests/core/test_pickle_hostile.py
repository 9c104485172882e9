"""Hostile pickles and joblib files, crafted here at run time, against the inert scanner.

Each one is read by `python -m workbench inspect` in a child process (a crash there must not take pytest
with it; its address space is capped at 3 GiB so a believed size cannot exhaust the machine), which must
exit 0 or 2 with one `error:` line, never `unexpected` and never a signal.
"""

from __future__ import annotations

import bz2
import json
import lzma
import os
import pickle
import resource
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from tests.conftest import REPO, SAMPLES_DIR
from workbench.core.models import inspect_model, load_model

ADDRESS_SPACE = 3 << 30


def _cap_memory() -> None:  # in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run_inspect(path: Path, *extra: str) -> tuple[int, dict, str]:
    """`workbench inspect PATH --json`: (exit code, JSON on stdout, stderr)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("WORKBENCH_RAISE_ERRORS", None)
    out = subprocess.run([sys.executable, "-m", "workbench", "inspect", str(path), "--json", *extra], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=120, preexec_fn=_cap_memory, check=False)
    assert out.returncode >= 0, f"killed by signal {-out.returncode}: {out.stderr[-500:]}"
    try:
        payload = json.loads(out.stdout)
    except json.JSONDecodeError:
        payload = {}
    return out.returncode, payload, out.stderr


def assert_refused(path: Path, *expected: str) -> str:
    """Exit 2, one `error:` line naming what is wrong (every `expected` part), never `unexpected`."""
    code, payload, err = run_inspect(path)
    lines = err.strip().splitlines()
    assert code == 2, err[-800:]
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-800:]
    assert "unexpected" not in err and payload.get("kind") != "unexpected", err
    for part in expected:
        assert part in lines[0], lines[0]
    return lines[0]


# ---- pickle opcodes, by hand ----------------------------------------------------------------------------

def glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def text(value: str) -> bytes:
    raw = value.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def data(value: bytes) -> bytes:
    return b"B" + struct.pack("<I", len(value)) + value


def number(value: int) -> bytes:
    if -(1 << 31) <= value < (1 << 31):
        return b"J" + struct.pack("<i", value)
    raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def tup(*parts: bytes) -> bytes:
    return b"(" + b"".join(parts) + b"t"


FALSE, TRUE, NONE = b"\x89", b"\x88", b"N"


def dtype(code: str, state: bytes | None = None) -> bytes:
    out = glob("numpy", "dtype") + tup(text(code), FALSE, TRUE) + b"R"
    return out + (state + b"b" if state is not None else b"")


def dtype_state(order: str, flags: int, elsize: int = -1) -> bytes:
    return tup(number(3), text(order), NONE, NONE, NONE, number(elsize), number(-1), number(flags))


def array(shape: tuple[int, ...], dtype_ops: bytes, payload: bytes) -> bytes:
    """numpy's own pickle of an array: _reconstruct(ndarray, (0,), b'b') then BUILD with its state."""
    head = glob("numpy.core.multiarray", "_reconstruct") + tup(glob("numpy", "ndarray"), tup(number(0)), data(b"b"))
    return head + b"R" + tup(number(1), tup(*(number(d) for d in shape)), dtype_ops, FALSE, payload) + b"b"


def estimator(state: dict[str, bytes], cls: tuple[str, str] = ("sklearn.linear_model._logistic",
                                                                  "LogisticRegression")) -> bytes:
    """A pickle of one estimator (NEWOBJ + BUILD with `state`)."""
    items = b"".join(text(key) + value for key, value in state.items())
    return b"\x80\x04" + glob(*cls) + b")\x81}(" + items + b"ub."


def write(tmp: Path, name: str, content: bytes) -> Path:
    path = tmp / name
    path.write_bytes(content)
    return path


# ---- 1. memory corruption: file state never reaches numpy's C code -----------------------------------

def test_object_array_shorter_than_its_shape_is_damaged_not_a_crash(tmp_path: Path) -> None:
    """The 128-byte pickle of the audit: shape (100000,) of dtype object, one item."""
    content = (b"\x80\x02" + glob("numpy.core.multiarray", "_reconstruct") + glob("numpy", "ndarray")
               + b"K\x00\x85C\x01b\x87R(K\x01J\xa0\x86\x01\x00\x85" + glob("numpy", "dtype")
               + b"X\x02\x00\x00\x00O8\x89\x88\x87R(K\x03X\x01\x00\x00\x00|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb"
               + b"\x89]K\x01atb.")
    assert len(content) == 128
    assert_refused(write(tmp_path, "model.pkl", content), "damaged pickle file",
                   "an object array of shape (100000,) (100000 items) with 1 items in the file")


def test_object_flags_on_a_float_dtype_are_ignored(tmp_path: Path) -> None:
    """dtype('f8') given the object flags (63) by its state: numpy would read the floats as pointers."""
    evil = dtype("f8", dtype_state("<", 63))
    content = estimator({"classes_": array((2,), evil, data(struct.pack("<2d", 1.5, 2.5))),
                         "n_features_in_": number(2)})
    code, payload, err = run_inspect(write(tmp_path, "model.pkl", content))
    assert code == 0, err
    assert payload["classes"] == [1.5, 2.5]
    assert [spec["name"] for spec in payload["inputs"]] == ["x0", "x1"]


@pytest.mark.parametrize("shape,payload,expected", [
    ((4,), struct.pack("<2d", 1.0, 2.0), "needs 32 bytes of data, the file gives 16"),
    ((2, -3), struct.pack("<2d", 1.0, 2.0), "negative shape (2, -3)"),
    ((300_000_000,), b"", "the number of array elements"),
], ids=["bytes-short-of-shape", "negative-shape", "shape-over-limit"])
def test_numeric_array_state_is_checked_before_numpy_sees_it(tmp_path: Path, shape, payload, expected) -> None:
    content = estimator({"classes_": array(shape, dtype("f8", dtype_state("<", 0)), data(payload))})
    assert_refused(write(tmp_path, "model.pkl", content), "damaged pickle file" if "shape" in expected
                   or "bytes" in expected else "", expected)


def test_state_given_to_a_rebuilt_array_is_refused(tmp_path: Path) -> None:
    """A second BUILD on an array already made (via the memo) would call ndarray.__setstate__ itself."""
    ok = array((1,), dtype("f8", dtype_state("<", 0)), data(struct.pack("<d", 1.0)))
    again = tup(number(1), tup(number(1000)), dtype("O8", dtype_state("|", 63)), FALSE, b"]") + b"b"
    content = estimator({"classes_": ok + b"\x94" + again})
    assert_refused(write(tmp_path, "model.pkl", content), "damaged pickle file", "state given to a ndarray")


def _object_array_joblib(tmp: Path, compress: int | tuple[str, int]) -> bytes:
    """A joblib file of a classifier with 40 string classes (an object array after its wrapper)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 2))
    y = np.array([f"c{i:02d}" for i in range(40)] * 2, dtype=object)
    model = LogisticRegression(max_iter=5).fit(x, y)
    path = tmp / "clean.joblib"
    joblib.dump(model, path, compress=compress)
    return path.read_bytes()


@pytest.mark.parametrize("compression", ["none", "bz2", "xz"])
def test_sample_with_one_changed_integer_is_damaged_not_a_crash(tmp_path: Path, compression: str) -> None:
    """The classes' object array declares 255 items instead of 40 (one byte changed, same length)."""
    packed = _object_array_joblib(tmp_path, 0 if compression == "none" else (compression, 3))
    raw = {"none": lambda b: b, "bz2": bz2.decompress, "xz": lzma.decompress}[compression](packed)
    inner = raw.index(b"_reconstruct")
    at = raw.index(b"K(\x85", inner)  # BININT1 40, TUPLE1: the inner pickle's shape (40,)
    hostile = raw[:at] + b"K\xff\x85" + raw[at + 3:]
    again = {"none": lambda b: b, "bz2": bz2.compress, "xz": lzma.compress}[compression](hostile)
    line = assert_refused(write(tmp_path, "model.joblib", again), "damaged joblib file",
                          "object array of shape (255,) (255 items) with 40 items in the file")
    clean = write(tmp_path, "clean2.joblib", packed)
    assert inspect_model(clean).classes == [f"c{i:02d}" for i in range(40)], line


def test_joblib_wrapper_shape_is_checked_before_reading(tmp_path: Path) -> None:
    """A NumpyArrayWrapper declaring 2**31 float64 (16 GiB) before 40 bytes: refused, not read."""
    wrapper = (glob("joblib.numpy_pickle", "NumpyArrayWrapper") + b")\x81}("
               + text("subclass") + glob("numpy", "ndarray") + text("shape") + tup(number(1 << 31))
               + text("order") + text("C") + text("dtype") + dtype("f8", dtype_state("<", 0))
               + text("allow_mmap") + FALSE + b"ub")
    content = (b"\x80\x04" + glob("sklearn.linear_model._logistic", "LogisticRegression") + b")\x81}("
               + text("coef_") + wrapper + b"ub." + b"\x00" * 40)
    assert_refused(write(tmp_path, "model.joblib", content), "the number of array elements", "array_elements")


# ---- 11. valid protocol 0 and 2 pickles ----------------------------------------------------------------

@pytest.mark.parametrize("protocol", [0, 1, 2])
def test_old_protocol_pickles_are_read_with_and_without_trust(tmp_path: Path, protocol: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(x, (x[:, 0] > 0).astype(int))
    path = write(tmp_path, "model.pkl", pickle.dumps(model, protocol=protocol))

    info = inspect_model(path)
    assert info.classes == [0, 1] and info.task == "classification" and info.loaded is False
    assert [s.name for s in info.inputs] == ["x0", "x1", "x2"]
    assert info.metadata["estimator"] == "sklearn.linear_model._logistic.LogisticRegression"
    mean = model.named_steps["scale"].mean_
    assert [s.typical[0] for s in info.inputs] == pytest.approx(list(mean))  # numpy bytes via _codecs.encode

    trusted, loaded = load_model(path, trust=True)
    assert trusted.loaded is True and trusted.classes == [0, 1]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_codecs_encode_is_only_latin1_text(tmp_path: Path) -> None:
    content = estimator({"classes_": array((1,), dtype("f8", dtype_state("<", 0)),
                                           glob("_codecs", "encode") + tup(text("abcdefgh"), text("rot13")) + b"R")})
    assert_refused(write(tmp_path, "model.pkl", content), "damaged pickle file", "other than latin-1")


# ---- 5. sizes the file declares are checked before anything is allocated -------------------------------

def test_twelve_byte_pickle_declaring_3_gb_is_refused_by_the_limit(tmp_path: Path) -> None:
    content = b"\x80\x05\x96" + struct.pack("<Q", 3_000_000_000) + b"."
    assert len(content) == 12
    line = assert_refused(write(tmp_path, "model.pkl", content), "BYTEARRAY8", "declared_bytes")
    assert "2.8 GiB" in line


def test_bytearray_global_of_3_gb_is_refused_by_the_limit(tmp_path: Path) -> None:
    content = estimator({"coef_": glob("builtins", "bytearray") + tup(number(3_000_000_000)) + b"R"})
    assert_refused(write(tmp_path, "model.pkl", content), "builtins.bytearray", "declared_bytes")


@pytest.mark.parametrize("attribute,cls,limit", [
    ("n_features_in_", ("sklearn.linear_model._logistic", "LogisticRegression"), "features"),
    ("n_classes_", ("xgboost.sklearn", "XGBClassifier"), "classes"),
])
def test_declared_counts_are_bounded(tmp_path: Path, attribute: str, cls: tuple[str, str], limit: str) -> None:
    content = estimator({attribute: number(300_000_000)}, cls)
    line = assert_refused(write(tmp_path, "model.pkl", content), f"({limit})", "300000000")
    assert attribute in line


def test_decompressed_size_is_bounded(tmp_path: Path) -> None:
    """A 2 MB zlib-compressed joblib that inflates past the (lowered) limit is refused while reading."""
    content = zlib.compress(b"\x80\x04(" + b"N" * 50_000_000 + b".", 9)
    path = write(tmp_path, "model.joblib", content)
    env = dict(os.environ, WORKBENCH_LIMIT_DECOMPRESSED_BYTES="10000000", OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-m", "workbench", "inspect", str(path)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120, preexec_fn=_cap_memory, check=False)
    assert out.returncode == 2, out.stderr
    assert "decompressed_bytes" in out.stderr and "unexpected" not in out.stderr


# ---- 10. damaged files are 'damaged', never 'unexpected' -----------------------------------------------

def _damage(raw: bytes) -> bytes:
    middle = len(raw) // 2
    return raw[:middle] + bytes(b ^ 0x55 for b in raw[middle:middle + 64]) + raw[middle + 64:]


@pytest.mark.parametrize("compression", ["zlib", "xz", "lzma", "bz2", "gzip"])
def test_damaged_compressed_joblib_is_damaged(tmp_path: Path, compression: str) -> None:
    packed = _object_array_joblib(tmp_path, (compression, 3))
    assert_refused(write(tmp_path, "model.joblib", _damage(packed)), "damaged joblib file")


def test_frame_cut_inside_its_length_is_damaged(tmp_path: Path) -> None:
    content = b"\x80\x04\x95\x10\x00"  # FRAME with 2 of its 8 length bytes
    assert_refused(write(tmp_path, "model.pkl", content), "damaged pickle file", "truncated")


def test_pipeline_containing_itself_is_damaged(tmp_path: Path) -> None:
    content = (b"\x80\x04" + glob("sklearn.pipeline", "Pipeline") + b")\x81\x94}(" + text("steps")
               + b"](" + text("clf") + b"h\x00\x86eu" + b"b.")
    assert_refused(write(tmp_path, "model.pkl", content), "damaged pickle file", "contains itself")


def test_deeply_nested_tuple_key_is_refused_not_a_crash(tmp_path: Path) -> None:
    """CPython hashes nested tuples recursively in C: a 200000-deep key overflowed the C stack."""
    content = estimator({"classes_": b"}" + NONE + b"\x85" * 200_000 + NONE + b"s"})
    assert_refused(write(tmp_path, "model.pkl", content), "(nesting)")


def test_new_object_of_a_real_type_is_refused(tmp_path: Path) -> None:
    content = estimator({"coef_": glob("builtins", "set") + b")\x81"})
    assert_refused(write(tmp_path, "model.pkl", content), "damaged pickle file", "NEWOBJ of a")


def test_samples_inspect_as_before() -> None:
    """The scanner still shows what it showed for the real samples: estimator, inputs, categories."""
    info = inspect_model(SAMPLES_DIR / "ctr_pipeline.joblib")
    assert info.classes == [0, 1] and info.loaded is False
    device = next(spec for spec in info.inputs if spec.categories and "ios" in spec.categories)
    assert device.dtype == "string"
    rf = inspect_model(SAMPLES_DIR / "diabetes_rf.joblib")
    assert rf.task == "regression" and rf.metadata["estimator"].endswith("RandomForestRegressor")
    assert all(spec.value_range is not None and spec.range_from_splits for spec in rf.inputs)
