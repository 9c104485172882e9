"""Hostile SavedModels, built at test time: loading runs code only with trust, reading never blocks,
never follows links out of the model folder, never allocates what a header declares, and damage is a
'damaged SavedModel file' (exit 2), never an unexpected error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLES_DIR
from workbench.cli import main

SAMPLE = SAMPLES_DIR / "keras_mlp_savedmodel"
#: a hang or a runaway read fails the test after this long instead of blocking the suite
DEADLINE_S = 90


def run_cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, dict, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    try:
        payload = json.loads(out) if out.strip() else {}
    except json.JSONDecodeError:
        payload = {}
    return code, payload, err


def run_isolated(*argv: object) -> tuple[int, dict, str, int]:
    """`workbench ARGV` in a child process with a deadline: (exit code, JSON, stderr, peak RSS in KiB of the
    child's own image)."""
    script = textwrap.dedent("""
        import sys
        from workbench.cli import main
        try:
            code = main(sys.argv[1:])
        finally:  # this process image's peak (VmHWM; ru_maxrss would count the forked parent too)
            peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM"))
            sys.stderr.write(f"\\nmaxrss={peak}\\n")
        sys.exit(code)
    """)
    proc = subprocess.run([sys.executable, "-c", script, *map(str, argv)], cwd=REPO, capture_output=True,
                          text=True, timeout=DEADLINE_S, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    rss = int(proc.stderr.rsplit("maxrss=", 1)[1].split()[0]) if "maxrss=" in proc.stderr else -1
    payload = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
    return proc.returncode, payload, proc.stderr, rss


# ---- a SavedModel whose resource initializer writes a file -----------------------------------------------

BUILD = textwrap.dedent("""
    import sys
    import tensorflow as tf

    out, canary, handle = sys.argv[1], sys.argv[2], sys.argv[3]

    class Canary(tf.saved_model.experimental.TrackableResource):
        '''A resource whose initializer, run by tf.saved_model.load, writes a file.'''

        def _create_resource(self):
            return tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=[], shared_name=handle)

        def _initialize(self):
            tf.io.write_file(canary, "the initializer ran")
            tf.raw_ops.AssignVariableOp(resource=self.resource_handle, value=tf.constant(2.0))

    class Model(tf.Module):
        def __init__(self):
            super().__init__()
            self.canary = Canary()

        @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
        def serve(self, x):
            return {"value": x * 2.0}

    model = Model()
    tf.saved_model.save(model, out, signatures={"serving_default": model.serve})
""")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{'model': SavedModel folder, 'canary': the file its initializer writes, 'rows': rows CSV}."""
    pytest.importorskip("tensorflow")
    folder = tmp_path_factory.mktemp("hostile-savedmodel")
    model, canary = folder / "writes_canary", folder / "canary.txt"
    subprocess.run([sys.executable, "-c", BUILD, str(model), str(canary), f"canary_{uuid.uuid4().hex}"],
                   check=True, capture_output=True, timeout=300)
    assert model.is_dir() and not canary.exists()  # saving traced the initializer, it did not run it
    rows = folder / "rows.csv"
    rows.write_text("x\n1\n2\n")
    return {"model": model, "canary": canary, "rows": rows}


@pytest.fixture()
def no_canary(hostile: dict[str, Path]) -> Path:
    hostile["canary"].unlink(missing_ok=True)
    return hostile["canary"]


@pytest.mark.tf
@pytest.mark.parametrize("command", [
    ("predict", "{model}", "--rows", "{rows}", "--json"),
    ("predict", "{model}", "--rows", "{rows}", "--runtime", "tensorflow", "--json"),
    ("convert", "{model}", "--to", "onnx", "--out", "{tmp}/out.onnx", "--json"),
    ("convert", "{model}", "--to", "tfserving", "--out", "{tmp}/serving", "--json"),
    ("compare", "{model}", "{model}", "--rows", "{rows}", "--json"),
    ("bench", "{model}", "--rows", "{rows}", "--json"),
], ids=["predict", "predict-tensorflow", "convert-onnx", "convert-tfserving", "compare", "bench"])
def test_loading_without_trust_is_refused_and_runs_nothing(capsys, hostile, no_canary, tmp_path, command) -> None:
    argv = [part.format(model=hostile["model"], rows=hostile["rows"], tmp=tmp_path) for part in command]
    code, payload, err = run_cli(capsys, *argv)
    assert code == 2, err
    assert payload.get("kind", "untrusted") == "untrusted"
    message = payload["error"]
    assert "TensorFlow SavedModel" in message and "runs code from the file" in message
    assert "WriteFile" in message and "--trust" in message
    assert "pickle" not in message
    assert not no_canary.exists(), "the SavedModel's initializer ran without trust"


@pytest.mark.tf
def test_the_refusal_is_kind_untrusted_in_json(capsys, hostile, no_canary) -> None:
    code, payload, _ = run_cli(capsys, "predict", hostile["model"], "--rows", hostile["rows"], "--json")
    assert (code, payload["kind"]) == (2, "untrusted")


@pytest.mark.tf
def test_with_trust_it_loads_and_predicts(capsys, hostile, no_canary) -> None:
    code, payload, err = run_cli(capsys, "predict", hostile["model"], "--rows", hostile["rows"], "--trust", "--json")
    assert code == 0, err
    assert [row["value"] for row in payload["predictions"]] == [2.0, 4.0]
    assert no_canary.read_text() == "the initializer ran"  # trusted: the file's code ran, as asked


@pytest.mark.tf
def test_inspection_reads_signatures_and_names_the_file_ops_without_loading(capsys, hostile, no_canary) -> None:
    code, payload, err = run_cli(capsys, "inspect", hostile["model"], "--json")
    assert code == 0, err
    assert [i["name"] for i in payload["inputs"]] == ["x"]
    assert payload["metadata"]["file_ops"] == ["WriteFile"]
    assert any("WriteFile" in w for w in payload["warnings"])
    assert not no_canary.exists()


def test_core_load_needs_trust_and_the_old_name_still_imports() -> None:
    from workbench.core.errors import UntrustedModel, UntrustedPickle
    from workbench.core.models import load_model

    assert UntrustedPickle is UntrustedModel and UntrustedPickle.kind == "untrusted"
    with pytest.raises(UntrustedPickle, match="no op that touches files or the network"):
        load_model(SAMPLE)


# ---- the graph scanner ---------------------------------------------------------------------------------

def test_file_ops_of_an_ordinary_export_are_none() -> None:
    from workbench.core.formats.savedmodel import file_ops

    assert file_ops(SAMPLE) == []  # SaveV2/RestoreV2 fed the variables/ prefix by the loader are not listed


@pytest.mark.parametrize("op, risky", [("ReadFile", True), ("WriteFile", True), ("MatchingFiles", True),
                                       ("EagerPyFunc", True), ("TFRecordDatasetV2", True),
                                       ("FixedLengthRecordDatasetV2", True), ("WholeFileReaderV2", True),
                                       ("RpcCall", True), ("CSVDatasetV2", True), ("MatMul", False),
                                       ("VarHandleOp", False), ("TensorSliceDataset", False)])
def test_file_op_names(op: str, risky: bool) -> None:
    from workbench.core.formats.savedmodel import is_file_op

    assert is_file_op(op) is risky


# ---- reading the folder: FIFO, links, sizes --------------------------------------------------------------

def copy_sample(tmp_path: Path, name: str = "model") -> Path:
    target = tmp_path / name
    shutil.copytree(SAMPLE, target)
    return target


def test_metadata_fifo_does_not_block_inspect(tmp_path: Path) -> None:
    model = copy_sample(tmp_path)
    meta = model / "assets.extra" / "workbench_model.json"
    meta.unlink()
    os.mkfifo(meta)  # nobody ever writes to it: a blocking open or read waits forever
    code, payload, err, _ = run_isolated("inspect", model, "--json")
    assert code == 0, err
    assert any("workbench_model.json ignored" in w and "FIFO" in w for w in payload["warnings"])


def test_metadata_link_to_dev_zero_is_not_read(tmp_path: Path) -> None:
    model = copy_sample(tmp_path)
    meta = model / "assets.extra" / "workbench_model.json"
    meta.unlink()
    meta.symlink_to("/dev/zero")
    code, payload, err, rss = run_isolated("inspect", model, "--json")
    assert code == 0, err
    assert any("workbench_model.json ignored" in w and "symbolic link" in w for w in payload["warnings"])
    assert rss < 1_000_000  # KiB: nothing read from /dev/zero


def test_metadata_link_out_of_the_model_folder_is_not_followed(tmp_path: Path, capsys) -> None:
    model = copy_sample(tmp_path)
    outside = tmp_path / "someone_elses.json"
    outside.write_text(json.dumps({"task": "regression", "classes": ["leaked"]}))
    meta = model / "assets.extra" / "workbench_model.json"
    meta.unlink()
    meta.symlink_to(outside)
    code, payload, err = run_cli(capsys, "inspect", model, "--json")
    assert code == 0, err
    assert payload["classes"] != ["leaked"] and payload["task"] != "regression"
    assert any("workbench_model.json ignored" in w for w in payload["warnings"])


def test_metadata_folder_linked_out_of_the_model_folder_is_not_followed(tmp_path: Path, capsys) -> None:
    model = copy_sample(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "workbench_model.json").write_text(json.dumps({"classes": ["leaked"]}))
    shutil.rmtree(model / "assets.extra")
    (model / "assets.extra").symlink_to(elsewhere, target_is_directory=True)
    code, payload, err = run_cli(capsys, "inspect", model, "--json")
    assert code == 0, err
    assert payload["classes"] != ["leaked"]
    assert any("link out of the model folder" in w for w in payload["warnings"])


def test_oversized_metadata_is_ignored(tmp_path: Path, capsys, monkeypatch) -> None:
    model = copy_sample(tmp_path)
    monkeypatch.setenv("WORKBENCH_LIMIT_METADATA_FILE_BYTES", "64")
    code, payload, err = run_cli(capsys, "inspect", model, "--json")
    assert code == 0, err
    assert any("METADATA_FILE_BYTES".lower() in w.lower() for w in payload["warnings"])


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes, wire: int = 2) -> bytes:
    return _varint(number << 3 | wire) + (_varint(len(payload)) + payload if wire == 2 else payload)


def _model_with_pb(tmp_path: Path, pb: bytes) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "saved_model.pb").write_bytes(pb)
    return model


def test_a_declared_two_gigabyte_name_is_refused_without_reading_it(tmp_path: Path) -> None:
    """A 2e9-byte tag in a (sparse) 2 GB saved_model.pb: refused by DECLARED_BYTES before anything is read."""
    size = 2_000_000_000
    tag_head = _varint(4 << 3 | 2) + _varint(size)                   # MetaInfoDef.tags: 2e9 bytes
    info_head = _varint(1 << 3 | 2) + _varint(len(tag_head) + size)  # MetaGraphDef.meta_info_def
    graph_head = _varint(2 << 3 | 2) + _varint(len(info_head) + len(tag_head) + size)  # SavedModel.meta_graphs
    model = tmp_path / "model"
    model.mkdir()
    with open(model / "saved_model.pb", "wb") as fh:
        fh.write(graph_head + info_head + tag_head)
        fh.truncate(len(graph_head + info_head + tag_head) + size)  # sparse: no disk used
    code, payload, err, rss = run_isolated("inspect", model, "--json")
    assert code == 2, err
    assert payload["kind"] == "limit" and "declared length" in payload["error"]
    assert "DECLARED_BYTES".lower() in payload["error"].lower()
    assert rss < 1_000_000, f"peak memory {rss} KiB: the file was read"


def test_a_declared_length_past_the_end_is_damage(tmp_path: Path, capsys) -> None:
    model = _model_with_pb(tmp_path, _varint(2 << 3 | 2) + _varint(1_999_999_999) + b"\x0a\x00")
    code, payload, err = run_cli(capsys, "inspect", model, "--json")
    assert (code, payload["kind"]) == (2, "corrupt"), err
    assert "damaged SavedModel file" in payload["error"] and "only 2 are left" in payload["error"]


@pytest.mark.parametrize("pb", [
    _field(2, _varint(7), wire=0),                                          # a MetaGraphDef as a varint
    _field(2, _field(1, _varint(1), wire=0)),                                # a MetaInfoDef as a varint
    _field(2, _field(5, _field(1, b"serving_default") + _field(2, _varint(3), wire=0))),  # a SignatureDef
    _field(2, _field(5, _field(1, b"s") + _field(2, _field(1, _field(1, b"x") + _field(2, _field(
        2, b"float")))))),                                                   # a dtype as bytes
    _field(2, _field(1, _field(4, b"\xff\xfe"))),                             # a tag that is not UTF-8
], ids=["metagraph-varint", "metainfo-varint", "signature-varint", "dtype-bytes", "tag-not-utf8"])
def test_wire_type_confusion_is_damage(tmp_path: Path, capsys, pb: bytes) -> None:
    model = _model_with_pb(tmp_path, pb)
    code, payload, err = run_cli(capsys, "inspect", model, "--json")
    assert (code, payload["kind"]) == (2, "corrupt"), err
    assert "damaged SavedModel file" in payload["error"]


def test_a_version_folder_named_superscript_two_is_not_a_version(tmp_path: Path, capsys) -> None:
    base = tmp_path / "base"
    base.mkdir()
    shutil.copytree(SAMPLE, base / "²")  # str.isdigit accepts it, int() does not
    code, payload, err = run_cli(capsys, "inspect", base, "--json")
    assert code == 2, err
    assert payload["kind"] in ("model-file", "unknown-format")
    assert "unexpected" not in err


def test_a_version_folder_named_superscript_two_opened_directly(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "²"
    shutil.copytree(SAMPLE, folder)
    code, payload, err = run_cli(capsys, "inspect", folder, "--json")
    assert code == 0, err
    assert payload["metadata"]["versions"] == []
