"""Detection and inspection of every sample, every TF Serving testdata model, and of bad files."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SAMPLES_DIR, TFSERVING_TESTDATA, sample_entries
from workbench.cli import main
from workbench.core.models import detect_format, inspect_model

JSON_KEYS = {"path", "format", "framework", "framework_version", "task", "inputs", "outputs", "classes",
             "metadata", "warnings"}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# --- good models -------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", sample_entries(), ids=lambda e: e["name"])
def test_every_sample_inspects_as_its_manifest_says(entry: dict, capsys: pytest.CaptureFixture[str]) -> None:
    path = SAMPLES_DIR / entry["file"]
    assert detect_format(path) == entry["format"]
    code, out, err = run_cli(capsys, "inspect", str(path), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert JSON_KEYS <= set(doc)
    assert doc["format"] == entry["format"]
    assert doc["metadata"]["sha256"] and doc["metadata"]["file_size"] > 0
    names = [i["name"] for i in doc["inputs"]]
    if entry.get("input_tensor"):  # one tensor holding all columns (Keras)
        assert names == [entry["input_tensor"]]
        assert doc["inputs"][0]["shape"] == entry["input_shape"]
    else:
        assert names == entry["inputs"]
    assert doc["task"] == entry["task"]
    if entry.get("classes") is not None:
        assert doc["classes"] == entry["classes"]
    for spec in doc["inputs"] + doc["outputs"]:
        assert spec["dtype"] in ("float32", "float64", "int64", "int32", "string", "bool", "object")


def test_ctr_pipeline_lists_string_and_numeric_columns_with_categories() -> None:
    info = inspect_model(SAMPLES_DIR / "ctr_pipeline.joblib")
    by_name = {spec.name: spec for spec in info.inputs}
    assert by_name["device"].dtype == "string"
    assert set(by_name["device"].categories) == {"ios", "android", "web"}
    assert by_name["gender"].categories is not None and "f" in by_name["gender"].categories
    assert by_name["price"].dtype == "float64" and by_name["price"].categories is None
    steps = info.metadata["steps"]
    assert [s["class"].rsplit(".", 1)[-1] for s in steps][-1] == "LogisticRegression"
    transformer_classes = {t["class"].rsplit(".", 1)[-1] for t in steps[0]["transformers"]}
    assert {"OneHotEncoder", "StandardScaler"} <= transformer_classes
    assert info.loaded is False and any("--trust" in w for w in info.warnings)


def test_trusted_and_untrusted_inspection_agree() -> None:
    path = SAMPLES_DIR / "ctr_pipeline.joblib"
    scanned, loaded = inspect_model(path), inspect_model(path, trust=True)
    assert scanned.to_json()["inputs"] == loaded.to_json()["inputs"]
    assert scanned.classes == loaded.classes and loaded.loaded


def test_half_plus_two_2_versions(tfserving_testdata: Path) -> None:
    info = inspect_model(tfserving_testdata / "saved_model_half_plus_two_2_versions")
    assert info.format == "savedmodel"
    assert info.metadata["versions"] == [123, 124]
    sig = info.metadata["signatures"]["serving_default"]
    assert sig["method"] == "tensorflow/serving/predict"
    assert sig["inputs"] == {"x": {"dtype": "float32", "shape": [None, 1], "tensor": "x:0"}}
    assert [s.to_json() for s in info.inputs] == [{"name": "x", "dtype": "float32", "shape": [None, 1]}]
    assert info.metadata["signatures"]["classify_x_to_y"]["method"] == "tensorflow/serving/classify"
    assert info.metadata["signatures"]["classify_x_to_y"]["inputs"]["inputs"]["shape"] is None  # unknown rank
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", info.framework_version)  # the TF release that wrote it


@pytest.mark.parametrize("name,version,signatures", [
    ("saved_model_half_plus_three", [123], {"serving_default", "tensorflow/serving/regress"}),
    ("saved_model_half_plus_two_cpu", [123], {"serving_default", "classify_x_to_y", "classify_x2_to_y3",
                                              "regress_x_to_y", "regress_x_to_y2", "regress_x2_to_y3"}),
    ("saved_model_half_plus_two_tf2_cpu", [123], {"serving_default", "classify_x_to_y", "classify_x2_to_y3",
                                                  "regress_x_to_y", "regress_x_to_y2", "regress_x2_to_y3"}),
])
def test_tfserving_testdata_savedmodels(tfserving_testdata: Path, name: str, version: list[int],
                                        signatures: set[str]) -> None:
    info = inspect_model(tfserving_testdata / name)
    assert info.format == "savedmodel" and info.metadata["versions"] == version
    assert set(info.metadata["signatures"]) == signatures
    assert [s.name for s in info.inputs] == ["x"]


def test_version_folder_and_saved_model_pb_resolve_to_the_model(tfserving_testdata: Path) -> None:
    version_dir = tfserving_testdata / "saved_model_half_plus_two_2_versions" / "00000124"
    assert detect_format(version_dir) == "savedmodel"
    assert detect_format(version_dir / "saved_model.pb") == "savedmodel"
    assert inspect_model(version_dir).metadata["versions"] == [124]


def test_signatures_match_tf_serving_golden_metadata(tfserving_testdata: Path) -> None:
    golden = json.loads((tfserving_testdata / "saved_model_half_plus_two_2_versions_metadata.json").read_text())
    expected = golden["metadata"]["signature_def"]["signature_def"]
    info = inspect_model(tfserving_testdata / "saved_model_half_plus_two_2_versions")
    assert set(info.metadata["signatures"]) == set(expected)
    for name, sig in expected.items():
        ours = info.metadata["signatures"][name]
        assert ours["method"] == sig["method_name"]
        for alias, tensor in sig["inputs"].items():
            assert ours["inputs"][alias]["tensor"] == tensor["name"]


# --- bad files: each gets exit 2 and one specific line ------------------------------------------

def _sample_bytes(name: str) -> bytes:
    return (SAMPLES_DIR / name).read_bytes()


def _truncate(name: str, fraction: float) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        data = _sample_bytes(name)
        path = tmp / name
        path.write_bytes(data[: max(1, int(len(data) * fraction))])
        return path
    return make


def _write(name: str, content: bytes | str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path
    return make


def _zip(name: str, members: dict[str, bytes]) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / name
        with zipfile.ZipFile(path, "w") as zf:
            for member, data in members.items():
                zf.writestr(member, data)
        return path
    return make


def _folder(name: str, files: dict[str, bytes]) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        root = tmp / name
        root.mkdir()
        for rel, data in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return root
    return make


def _gzip_truncated(tmp: Path) -> Path:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        gz.write(_sample_bytes("iris_logreg.joblib"))
    path = tmp / "model.joblib"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return path


def _hdf5_without_config(tmp: Path) -> Path:
    h5py = pytest.importorskip("h5py")
    path = tmp / "weights.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("w", data=[1.0, 2.0])
    return path


def _pmml_doc(body: str) -> str:
    return f'<?xml version="1.0"?>\n<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">{body}</PMML>'


XXE = ('<?xml version="1.0"?><!DOCTYPE PMML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       '<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header>&xxe;</Header></PMML>')

BAD_FILES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("empty", _write("model.pkl", b""), "is empty (0 bytes)"),
    ("empty-onnx", _write("model.onnx", b""), "is empty (0 bytes)"),
    ("html-login-page", _write("model.onnx", "<!DOCTYPE html><html><body>Sign in</body></html>"), "HTML page"),
    ("html-lowercase", _write("model.pkl", "\n  <html><head><title>404</title></head></html>"), "HTML page"),
    ("git-lfs-pointer", _write("model.joblib", "version https://git-lfs.github.com/spec/v1\noid sha256:abc\n"
                                               "size 123\n"), "Git LFS pointer"),
    ("csv", _write("model.pkl", "age,device,price\n31,ios,9.5\n22,web,3.0\n"), "CSV file"),
    ("csv-semicolon", _write("rows.txt", "a;b;c\n1;2;3\n4;5;6\n"), "CSV file"),
    ("tflite", _write("model.tflite", b"\x1c\x00\x00\x00TFL3" + b"\x00" * 64), "TensorFlow Lite"),
    ("unknown-binary", _write("model.bin", bytes(range(256)) * 4), "unknown binary file"),
    ("png", _write("model.pkl", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32), "an image"),
    ("pdf", _write("model.pmml", b"%PDF-1.7\n" + b"\x00" * 32), "PDF document"),
    ("plain-text", _write("notes.txt", "this is not a model\njust notes\n"), "text file"),
    ("json-not-xgboost", _write("model.json", '{"weights": [1, 2, 3]}'), "JSON document that is not an XGBoost"),
    ("xml-not-pmml", _write("model.pmml", '<?xml version="1.0"?>\n<svg><rect/></svg>'), "root is <svg>"),
    ("pickle-of-a-dict", _write("model.pkl", pickle.dumps({"weights": [1, 2, 3]})), "not of a scikit-learn"),
    ("pickle-of-os-system", _write("model.pkl", pickle.dumps(print)), "not of a scikit-learn"),
    ("joblib-truncated-10pct", _truncate("iris_logreg.joblib", 0.1), "truncated"),
    ("joblib-truncated-90pct", _truncate("iris_logreg.joblib", 0.9), "truncated"),
    ("joblib-gzip-truncated", _gzip_truncated, "cannot be read"),
    ("ctr-joblib-truncated", _truncate("ctr_pipeline.joblib", 0.5), "truncated"),
    ("onnx-truncated", _truncate("iris_logreg.onnx", 0.5), "ONNX file that cannot be parsed"),
    ("onnx-header-only", _truncate("iris_logreg.onnx", 0.02), "ONNX"),
    ("pmml-truncated", _truncate("iris_logreg.pmml", 0.5), "malformed or truncated PMML"),
    ("pmml-without-model", _write("empty.pmml", _pmml_doc("<Header/><DataDictionary/>")), "without a model element"),
    ("pmml-xxe", _write("evil.pmml", XXE), "entities/DTDs are not allowed"),
    ("xgboost-json-truncated", _truncate("xgb_classifier.json", 0.5), "XGBoost JSON model that is not valid JSON"),
    ("lightgbm-truncated", _truncate("lgbm_classifier.txt", 0.5), "truncated"),
    ("keras-truncated", _truncate("keras_mlp.keras", 0.5), "zip archive that is damaged or truncated"),
    ("skops-truncated", _truncate("iris_logreg.skops", 0.6), "zip archive that is damaged or truncated"),
    ("zip-of-other-things", _zip("model.zip", {"readme.txt": b"hello"}), "zip archive but not a .keras"),
    ("hdf5-weights-only", _hdf5_without_config, "without a Keras model config"),
    ("empty-folder", _folder("export", {}), "empty folder"),
    ("savedmodel-missing-pb", _folder("export", {"variables/variables.index": b"x", "assets/a.txt": b"x"}),
     "saved_model.pb is missing"),
    ("base-folder-without-pb", _folder("base", {"1/variables/variables.index": b"x"}), "none holds a saved_model.pb"),
    ("folder-of-tflite", _folder("base", {"1/model.tflite": b"\x1c\x00\x00\x00TFL3"}), "TensorFlow Lite"),
    ("folder-of-csvs", _folder("data", {"a.csv": b"x,y\n1,2\n"}), "folder without saved_model.pb"),
    ("tfserving-models-root", _folder("serving", {"models.config": b"model_config_list {}\n",
                                                  "m/1/saved_model.pb": b"x"}), "serving/ is a TF Serving models root"),
    ("savedmodel-garbage-pb", _folder("sm", {"saved_model.pb": b"\x12\xff\xff\xff\xff\x0f garbage"}),
     "not a readable SavedModel protobuf"),
]


@pytest.mark.parametrize("make,expected", [(m, e) for _, m, e in BAD_FILES], ids=[n for n, _, _ in BAD_FILES])
def test_bad_file_gets_exit_2_and_one_specific_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    make: Callable[[Path], Path], expected: str) -> None:
    path = make(tmp_path)
    code, out, err = run_cli(capsys, "inspect", str(path), "--json")
    assert code == 2
    payload = json.loads(out)  # --json: scripts get an error object on stdout too
    assert set(payload) == {"error", "kind", "hint"} and expected in payload["error"]
    assert payload["kind"] in ("model-file", "unknown-format", "corrupt", "untrusted")
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert expected in lines[0]
    assert "Traceback" not in err


def test_at_least_thirty_bad_files() -> None:
    assert len(BAD_FILES) >= 30


def test_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "inspect", str(tmp_path / "nope.onnx"))
    assert code == 2 and "no such file or folder" in err


def test_console_script_reports_one_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "model.pkl"
    bad.write_text("<html><body>Sign in</body></html>")
    result = subprocess.run([sys.executable, "-m", "workbench", "inspect", str(bad)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_tflite_testdata_is_refused_with_reason(tfserving_testdata: Path) -> None:
    from workbench.core.errors import UnknownFormat

    with pytest.raises(UnknownFormat, match="TensorFlow Lite"):
        detect_format(tfserving_testdata / "saved_model_half_plus_two_tflite")


def test_savedmodel_inspection_without_tensorflow(tfserving_testdata: Path) -> None:
    """With TensorFlow absent, signatures are still read and a note says what running needs."""
    script = f"""
import sys, json
sys.modules['tensorflow'] = None  # makes `import tensorflow` fail and find_spec return None
from workbench.core.models import inspect_model
info = inspect_model({str(tfserving_testdata / 'saved_model_half_plus_two_2_versions')!r})
print(json.dumps({{'versions': info.metadata['versions'], 'sigs': sorted(info.metadata['signatures']),
                  'warnings': info.warnings, 'tf_loaded': 'tensorflow.python' in sys.modules}}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["versions"] == [123, 124] and "serving_default" in doc["sigs"] and not doc["tf_loaded"]
    assert any("TensorFlow is not installed" in w and "[tf]" in w for w in doc["warnings"])


def test_the_current_folder_is_named_by_its_name(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "notes.txt").write_text("x")
    monkeypatch.chdir(folder)
    code, _, err = run_cli(capsys, "inspect", ".")
    assert code == 2
    assert err.startswith("error: exports/ is a folder without saved_model.pb")   # was "/ is a folder"
