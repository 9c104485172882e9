"""Hostile model files (issue 12, items 4, 5 and 10): each is built here at run time, and each test
asserts the one-line contract: a WorkbenchError naming what is wrong (a limit, or `damaged <format>
file: <what>`), never a hang, a gigabyte allocation or an `unexpected` error.

Inputs that would hang or allocate without their guard run through the CLI in a subprocess with an
address-space cap and a deadline, so a regression fails the test instead of the machine.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import SAMPLES_DIR
from workbench.core.errors import CorruptModel, WorkbenchError
from workbench.core.limits import LimitExceeded
from workbench.core.models import inspect_model

REPO = Path(__file__).resolve().parents[2]
#: address space of a subprocess (Python + numpy + onnx/sklearn imports fit well under it)
MEMORY_CAP = 3 << 30
#: a subprocess that has not answered by then is hung
DEADLINE_S = 60


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def cli_capped(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    """`workbench ARGS --json` in a subprocess under MEMORY_CAP and DEADLINE_S: (exit code, the JSON on
    stdout, stderr)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1", **(env or {})}
    try:
        result = subprocess.run([sys.executable, "-m", "workbench", *args, "--json"], capture_output=True,
                                text=True, timeout=DEADLINE_S, env=full_env, preexec_fn=_cap_memory, cwd=REPO)
    except subprocess.TimeoutExpired:
        pytest.fail(f"workbench {' '.join(args)} did not finish within {DEADLINE_S} s (hang)")
    try:
        payload = json.loads(result.stdout) if result.stdout.strip() else {}
    except json.JSONDecodeError:
        payload = {"stdout": result.stdout}
    return result.returncode, payload, result.stderr


def assert_refused(code: int, payload: dict, err: str, kind: str, *needles: str) -> None:
    assert code == 2, (code, payload, err[-2000:])
    assert payload.get("kind") == kind, (payload, err[-2000:])
    for needle in needles:
        assert needle in payload["error"], payload
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-2000:]


# ---- item 4: UBJSON counts, links and FIFOs ----------------------------------------------------------

def _ubj_key(name: bytes) -> bytes:
    return b"i" + bytes([len(name)]) + name


def test_ubj_zero_width_typed_array_with_a_huge_count_is_refused_at_once(tmp_path: Path) -> None:
    # `[$Z#L 2**62`: 2**62 nulls that take no bytes; the decoder used to loop forever, growing a list
    data = b"{" + _ubj_key(b"learner") + b"[$Z#L" + struct.pack(">q", 2**62) + b"}"
    assert len(data) == 24
    path = tmp_path / "model.ubj"
    path.write_bytes(data)
    code, payload, err = cli_capped("inspect", str(path))
    assert_refused(code, payload, err, "corrupt", "zero-width elements ($Z)", "model.ubj")


def test_ubj_count_beyond_the_bytes_left_is_refused(tmp_path: Path) -> None:
    # an object declaring 2**29 keys in 40 bytes: refused before the first key, not after reading on
    data = b"{" + _ubj_key(b"learner") + b"{#L" + struct.pack(">q", 2**29) + _ubj_key(b"a") + b"Z" * 16
    path = tmp_path / "model.ubj"
    path.write_bytes(data)
    with pytest.raises(CorruptModel, match=r"declares 536870912 elements but only 19 bytes are left"):
        inspect_model(path)


def test_ubj_nesting_is_bounded(tmp_path: Path) -> None:
    data = b"{" + _ubj_key(b"learner") + b"[" * 100_000
    path = tmp_path / "model.ubj"
    path.write_bytes(data)
    with pytest.raises(LimitExceeded, match=r"the nesting depth is 201, over the limit of 200 \(nesting\)"):
        inspect_model(path)


def _savedmodel_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    shutil.copytree(SAMPLES_DIR / "keras_mlp_savedmodel", folder)
    return folder


def test_a_symlink_out_of_the_model_folder_is_not_hashed(tmp_path: Path) -> None:
    folder = _savedmodel_copy(tmp_path)
    clean = inspect_model(folder).metadata
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"s3cret\n" * 1000)
    (folder / "assets").mkdir(exist_ok=True)
    (folder / "assets" / "secret.txt").symlink_to(outside)
    (folder / "etc").symlink_to("/etc", target_is_directory=True)
    facts = inspect_model(folder).metadata
    assert facts["file_size"] == clean["file_size"]
    assert facts["sha256"] == clean["sha256"]
    assert facts["skipped_files"] == ["assets/secret.txt", "etc"]


def test_a_symlink_inside_the_model_folder_still_counts(tmp_path: Path) -> None:
    folder = _savedmodel_copy(tmp_path)
    clean = inspect_model(folder).metadata
    (folder / "saved_model_link.pb").symlink_to("saved_model.pb")
    facts = inspect_model(folder).metadata
    assert facts["file_size"] == clean["file_size"] + (folder / "saved_model.pb").stat().st_size
    assert "skipped_files" not in facts


def test_a_fifo_inside_the_model_folder_is_not_opened(tmp_path: Path) -> None:
    folder = _savedmodel_copy(tmp_path)
    os.mkfifo(folder / "variables" / "pipe")
    code, payload, err = cli_capped("inspect", str(folder))
    assert code == 0, err[-2000:]
    assert payload["metadata"]["skipped_files"] == ["variables/pipe"]


def test_a_fifo_given_as_the_model_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)
    code, payload, err = cli_capped("inspect", str(fifo))
    assert_refused(code, payload, err, "model-file", "not a regular file")


# ---- item 5: declared sizes ------------------------------------------------------------------------

def _lightgbm_text(**header: str) -> str:
    text = (SAMPLES_DIR / "lgbm_classifier.txt").read_text()
    for key, value in header.items():
        lines = text.split("\n")
        at = next(i for i, line in enumerate(lines) if line.startswith(f"{key}="))
        lines[at] = f"{key}={value}"
        text = "\n".join(lines)
    return text


def test_lightgbm_num_class_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "model.txt"
    path.write_text(_lightgbm_text(num_class="300000000", objective="multiclass num_class:300000000"))
    code, payload, err = cli_capped("inspect", str(path))
    assert_refused(code, payload, err, "limit", "num_class", "300000000", "(classes)")


def _xgboost_doc() -> dict:
    return json.loads((SAMPLES_DIR / "xgb_classifier.json").read_text())


def _write_json(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_xgboost_num_feature_is_bounded(tmp_path: Path) -> None:
    doc = _xgboost_doc()
    doc["learner"]["learner_model_param"]["num_feature"] = "300000000"
    doc["learner"].pop("feature_names", None)
    doc["learner"].pop("feature_types", None)
    code, payload, err = cli_capped("inspect", str(_write_json(tmp_path / "model.json", doc)))
    assert_refused(code, payload, err, "limit", "num_feature", "300000000", "(features)")


def test_xgboost_num_class_is_bounded(tmp_path: Path) -> None:
    doc = _xgboost_doc()
    doc["learner"]["learner_model_param"]["num_class"] = "300000000"
    code, payload, err = cli_capped("inspect", str(_write_json(tmp_path / "model.json", doc)))
    assert_refused(code, payload, err, "limit", "num_class", "(classes)")


def _skops_with(path: Path, extra: dict[str, bytes] | None = None, schema_padding: int = 0,
                replace: dict[str, bytes] | None = None) -> Path:
    src = zipfile.ZipFile(SAMPLES_DIR / "iris_logreg.skops")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for info in src.infolist():
            data = (replace or {}).get(info.filename, src.read(info))
            if info.filename == "schema.json" and schema_padding:
                data = data + b" " * schema_padding  # still valid JSON: trailing whitespace
            zf.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def test_skops_member_inflating_over_the_decompressed_limit_is_refused(tmp_path: Path) -> None:
    # the bomb is 2.4 MB inflating to 2.5 GB; the same shape at a lowered limit builds in a second
    path = _skops_with(tmp_path / "bomb.skops", schema_padding=64 << 20)
    assert path.stat().st_size < 200_000
    code, payload, err = cli_capped("inspect", str(path), env={"WORKBENCH_LIMIT_DECOMPRESSED_BYTES": str(32 << 20)})
    assert_refused(code, payload, err, "limit", "schema.json", "(decompressed_bytes)")


def test_skops_member_over_the_compression_ratio_is_refused(tmp_path: Path) -> None:
    path = _skops_with(tmp_path / "bomb.skops", schema_padding=128 << 20)  # deflate's best is ~1030:1
    code, payload, err = cli_capped("inspect", str(path))
    assert_refused(code, payload, err, "limit", "schema.json", "(compression_ratio)")


def test_skops_array_declaring_more_than_it_holds_is_refused(tmp_path: Path) -> None:
    src = zipfile.ZipFile(SAMPLES_DIR / "iris_logreg.skops")
    name = next(n for n in src.namelist() if n.endswith(".npy"))
    original = src.read(name)
    header_end = original.index(b"\n") + 1
    header = original[10:header_end].decode("latin-1")
    start, end = header.index("'shape': (") + len("'shape': ("), header.index(")")
    hostile_header = (header[:start] + str(2**33) + ",)" + header[end + 1:]).rstrip("\n ")
    hostile_header = hostile_header.ljust(header_end - 10 - 1) + "\n"
    assert len(hostile_header) == header_end - 10
    hostile = original[:10] + hostile_header.encode("latin-1") + original[header_end:]
    path = _skops_with(tmp_path / "model.skops", replace={name: hostile})
    code, payload, err = cli_capped("inspect", str(path))
    assert_refused(code, payload, err, "limit", "(array_elements)", name)


def _onnx_identity(path: Path, dims: list, elem_type: int = 1, **props: str) -> Path:
    import onnx
    from onnx import helper

    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, dims)
    x.type.tensor_type.elem_type = elem_type
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    path.write_bytes(model.SerializeToString())
    return path


def test_generating_rows_for_a_huge_declared_width_is_bounded(tmp_path: Path) -> None:
    path = _onnx_identity(tmp_path / "wide.onnx", [None, 2**40])
    code, payload, err = cli_capped("predict", str(path), "--generate", "5")
    assert_refused(code, payload, err, "limit", "5 rows x 1099511627776 columns", "(generated_cells)")


def test_generating_rows_within_the_limit_still_works(tmp_path: Path) -> None:
    from workbench.core.rows import generate_rows

    info = inspect_model(_onnx_identity(tmp_path / "m.onnx", [None, 3]))
    assert generate_rows(info, 4).shape == (4, 3)


# ---- item 10: a library's error is a diagnosis ---------------------------------------------------------

@pytest.mark.parametrize("header,needle", [
    ({"num_class": "three"}, "damaged LightGBM file: num_class='three' is not a whole number"),
    ({"feature_infos": "[a:b] [0:1] [0:1] [0:1] [0:1] [0:1]"},
     "damaged LightGBM file: feature_infos of 'mean_radius' is not a range or category list"),
    ({"feature_infos": "1" * 5000 + ":2 [0:1] [0:1] [0:1] [0:1] [0:1]"},
     "damaged LightGBM file: feature_infos of 'mean_radius' is not a range or category list"),
], ids=["num_class-not-a-number", "feature_infos-not-floats", "feature_infos-5000-digit-category"])
def test_lightgbm_header_errors_are_damaged_file(tmp_path: Path, header: dict, needle: str) -> None:
    path = tmp_path / "model.txt"
    path.write_text(_lightgbm_text(**header))
    with pytest.raises(CorruptModel, match="^model.txt: ") as caught:
        inspect_model(path)
    assert needle in caught.value.message


def test_xgboost_split_arrays_that_do_not_fit_are_damaged_file(tmp_path: Path) -> None:
    doc = _xgboost_doc()
    tree = doc["learner"]["gradient_booster"]["model"]["trees"][0]
    tree["split_indices"] = tree["split_indices"][:-1]  # numpy: IndexError (boolean index did not match)
    with pytest.raises(CorruptModel, match=r"damaged XGBoost file: a tree's split arrays do not fit together "
                                           r"\(IndexError"):
        inspect_model(_write_json(tmp_path / "model.json", doc))


@pytest.mark.parametrize("mutate,needle", [
    (lambda d: d["learner"].__setitem__("objective", "multi:softprob"),
     "'learner/objective' is a str, not an object"),
    (lambda d: d["learner"]["learner_model_param"].__setitem__("num_feature", "four"),
     "learner_model_param num_feature='four' is not a whole number"),
    (lambda d: d["learner"].__setitem__("feature_names", [1, 2, 3, 4]),
     "'learner/feature_names' is not a list of strings"),
], ids=["objective-a-string", "num_feature-not-a-number", "feature_names-not-strings"])
def test_xgboost_document_errors_are_damaged_file(tmp_path: Path, mutate, needle: str) -> None:
    doc = _xgboost_doc()
    mutate(doc)
    with pytest.raises(CorruptModel, match="damaged XGBoost file: ") as caught:
        inspect_model(_write_json(tmp_path / "model.json", doc))
    assert needle in caught.value.message


def test_xgboost_json_with_a_5000_digit_number_is_damaged_file(tmp_path: Path) -> None:
    raw = (SAMPLES_DIR / "xgb_classifier.json").read_text().rstrip()
    raw = raw[:-1] + ',"n":' + "7" * 5000 + "}"
    path = tmp_path / "model.json"
    path.write_text(raw)
    with pytest.raises(CorruptModel, match="damaged XGBoost file: not readable JSON \\(ValueError: Exceeds"):
        inspect_model(path)


def test_onnx_unknown_element_type_is_damaged_file(tmp_path: Path) -> None:
    path = _onnx_identity(tmp_path / "m.onnx", [None, 4], elem_type=99)
    with pytest.raises(CorruptModel, match="m.onnx: damaged ONNX file: 'x' has an unknown element type 99"):
        inspect_model(path)


def test_onnx_class_label_that_is_not_utf8_is_damaged_file(tmp_path: Path) -> None:
    import onnx

    model = onnx.load(str(SAMPLES_DIR / "iris_logreg.onnx"))
    node = next(n for n in model.graph.node if n.op_type == "LinearClassifier")
    attribute = next(a for a in node.attribute if a.name.startswith("classlabels"))
    node.attribute.remove(attribute)
    node.attribute.append(onnx.helper.make_attribute("classlabels_strings", [b"ok", b"\xff\xfe", b"c"]))
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(CorruptModel, match="damaged ONNX file: a class label of LinearClassifier is not UTF-8 "
                                           r"text \(invalid start byte at byte 0\)"):
        inspect_model(path)


def test_onnx_classes_with_5000_digits_or_unicode_digits_stay_strings(tmp_path: Path) -> None:
    huge = "9" * 5000
    path = _onnx_identity(tmp_path / "m.onnx", [None, 4], **{
        "workbench.task": "classification", "workbench.classes": json.dumps([huge, "\u00b2"])})
    info = inspect_model(path)
    assert info.task == "classification" and info.classes == [huge, "\u00b2"]


def test_onnx_negative_dimension_is_damaged_file(tmp_path: Path) -> None:
    path = _onnx_identity(tmp_path / "m.onnx", [None, -3])
    with pytest.raises(CorruptModel, match=r"damaged ONNX file: 'x' has a negative dimension in its shape \[None, -3\]"):
        inspect_model(path)


@pytest.mark.parametrize("mutate,needle", [
    (lambda s: s["content"].__setitem__("content", 5), "AttributeError: 'int' object has no attribute 'items'"),
    (lambda s: s["content"]["content"].__setitem__("classes_", 5),
     "AttributeError: 'int' object has no attribute 'get'"),
    (lambda s: s["content"].__setitem__("__loader__", "ListNode"), "AttributeError"),
], ids=["content-an-int", "attribute-an-int", "dict-loaded-as-list"])
def test_skops_schema_errors_are_damaged_file(tmp_path: Path, mutate, needle: str) -> None:
    src = zipfile.ZipFile(SAMPLES_DIR / "iris_logreg.skops")
    schema = json.loads(src.read("schema.json"))
    mutate(schema)
    path = _skops_with(tmp_path / "model.skops", replace={"schema.json": json.dumps(schema).encode()})
    with pytest.raises(CorruptModel, match="model.skops: damaged skops file: skops cannot read its schema") as caught:
        inspect_model(path)
    assert needle in caught.value.message


def test_every_hostile_outcome_is_a_workbench_error() -> None:
    """The kinds these tests expect are the CLI's exit-2 kinds, never `unexpected`."""
    assert issubclass(LimitExceeded, WorkbenchError) and LimitExceeded.kind == "limit"
    assert CorruptModel.kind == "corrupt"


# ---- found by the fuzzer (tests/fuzz) -----------------------------------------------------------------

@pytest.mark.parametrize("field,needle", [
    ("input", "damaged ONNX file: an input or output name is not UTF-8 text"),
    ("op_type", "damaged ONNX file: an operator name is not UTF-8 text"),
])
def test_onnx_names_that_are_not_utf8_are_damaged_file(tmp_path: Path, field: str, needle: str) -> None:
    # protobuf hands back `bytes` for a proto2 string that is not UTF-8: rows generation and the sorted
    # operator list raised TypeError
    import onnx

    model = onnx.load(str(SAMPLES_DIR / "iris_logreg.onnx"))
    data = model.SerializeToString()
    name = (model.graph.input[0].name if field == "input" else model.graph.node[0].op_type).encode()
    path = tmp_path / "m.onnx"
    path.write_bytes(data.replace(name, b"\xff" + name[1:]))
    with pytest.raises(CorruptModel, match=needle):
        inspect_model(path)


def test_skops_npy_header_that_numpy_cannot_tokenize_is_damaged_file(tmp_path: Path) -> None:
    src = zipfile.ZipFile(SAMPLES_DIR / "iris_logreg.skops")
    name = next(n for n in src.namelist() if n.endswith(".npy"))
    raw = src.read(name)
    end = raw.index(b"\n") + 1
    path = _skops_with(tmp_path / "model.skops", replace={name: raw[:10] + raw[10:end].replace(b"}", b"(", 1)
                                                              + raw[end:]})
    with pytest.raises(CorruptModel, match=f"damaged skops file: array {name} has a bad .npy header "
                                           r"\(TokenError"):
        inspect_model(path)
