"""Runtimes: every sample model through every runtime that runs its format, against the native model.

Also: availability messages, trust for pickles, and that no JVM outlives the workbench.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO, SAMPLES_DIR, sample_entries
from workbench.core.compare import compare_batches
from workbench.core.errors import BackendUnavailable, UntrustedPickle, WorkbenchError
from workbench.core.models import inspect_model
from workbench.core.predictions import PredictionBatch
from workbench.core.rows import generate_rows, prepare_rows, read_rows
from workbench.core.runtimes import (
    RUNTIMES,
    default_runtime,
    open_session,
    predict_rows,
    prepare_call,
    runtimes_for,
)
from workbench.core.runtimes import java as java_module
from workbench.core.types import ModelInfo

SAMPLES = sample_entries()
BY_NAME = {s["name"]: s for s in SAMPLES}
#: a sample named <base>_<suffix> is the same model as sample <base>, in another format
DERIVED_SUFFIXES = ("_onnx", "_pmml", "_skops", "_native", "_savedmodel")
TF_FORMATS = ("keras", "savedmodel")


def reference_of(sample: dict) -> dict:
    """The sample whose native model is the reference for `sample` (itself unless derived)."""
    for suffix in DERIVED_SUFFIXES:
        base = sample["name"][: -len(suffix)]
        if sample["name"].endswith(suffix) and base in BY_NAME:
            return BY_NAME[base]
    return sample


def marks_for(fmt: str, runtime: str) -> list[pytest.MarkDecorator]:
    marks = []
    if fmt in TF_FORMATS or runtime == "tensorflow":
        marks.append(pytest.mark.tf)
    if fmt == "pmml":
        marks.append(pytest.mark.java)
    return marks


CASES = [pytest.param(s, rt.name, id=f"{s['name']}-{rt.name}", marks=marks_for(s["format"], rt.name))
         for s in SAMPLES for rt in runtimes_for(s["format"])]


@functools.cache
def _rows(rows_file: str) -> pd.DataFrame:
    return read_rows(SAMPLES_DIR / rows_file)


def loads_with_trust(sample: dict) -> bool:
    """Pickles, and SavedModels (loading runs their graph's initializers), load only with trust."""
    return bool(sample["trust"]) or sample["format"] == "savedmodel"


def run_sample(sample: dict, runtime: str, rows: pd.DataFrame) -> PredictionBatch:
    path = SAMPLES_DIR / sample["file"]
    info = inspect_model(path, trust=sample["trust"])
    session = open_session(path, info, runtime, trust=loads_with_trust(sample))
    return session.predict(prepare_rows(rows, info))


@functools.cache
def native_reference(name: str, rows_file: str) -> PredictionBatch:
    """The native model's predictions; for a format the native runtime does not run (MLeap bundles), its
    default runtime's (checked against scikit-learn in that runtime's own tests)."""
    sample = BY_NAME[name]
    native = "native" in [rt.name for rt in runtimes_for(sample["format"])]
    return run_sample(sample, "native" if native else default_runtime(sample["format"]), _rows(rows_file))


def test_samples_exist() -> None:
    assert len(SAMPLES) >= 10, "sample_models/samples.json is missing or nearly empty"
    assert {"onnx", "pmml", "sklearn", "keras", "savedmodel"} <= {s["format"] for s in SAMPLES}


@pytest.mark.parametrize("sample, runtime", CASES)
def test_sample_in_runtime_agrees_with_native_model(sample: dict, runtime: str) -> None:
    reference = reference_of(sample)
    rows = _rows(sample["rows"])
    expected = native_reference(reference["name"], sample["rows"])
    got = run_sample(sample, runtime, rows)
    assert got.runtime == runtime
    assert got.rows == len(rows)
    report = compare_batches(expected, got, atol=1e-6, rtol=0.0, frame=rows)
    assert report.passed, report.to_json()
    if reference["task"] == "classification":
        assert report.label_agreement == 1.0
        assert "probabilities" in report.roles
        if got.probabilities is None:  # a SavedModel signature does not say it classifies: plain values
            assert got.values.shape == (len(rows), len(reference["classes"]))
            assert any("compared them as probabilities" in note for note in report.notes)
        else:
            assert [str(c) for c in got.classes] == [str(c) for c in reference["classes"]]
            np.testing.assert_allclose(got.probabilities.sum(axis=1), 1.0, atol=1e-5)
    else:
        assert "value" in report.roles


@pytest.mark.parametrize("sample, runtime", CASES)
def test_prepared_call_runs_the_backend_alone_and_finishes_like_predict(sample: dict, runtime: str) -> None:
    """`prepare(frame)` converts the rows once; `run()` gives the backend's own result, again and again;
    `finish(raw)` is exactly what `predict(frame)` returns."""
    path = SAMPLES_DIR / sample["file"]
    info = inspect_model(path, trust=sample["trust"])
    session = open_session(path, info, runtime, trust=loads_with_trust(sample))
    prepared = prepare_rows(_rows(sample["rows"]), info)
    call = prepare_call(session, prepared)
    assert call.rows == len(prepared)
    first, second = call.run(), call.run()
    assert not isinstance(first, PredictionBatch)        # the backend's own result, not ours
    expected = session.predict(prepared)
    for raw in (first, second):
        got = call.finish(raw)
        assert compare_batches(expected, got, atol=1e-9, rtol=0.0, frame=prepared).passed
        assert got.labels is None or list(map(str, got.labels)) == list(map(str, expected.labels))
    assert call.predict().elapsed_ms > 0


def test_prepared_call_of_a_session_without_prepare_runs_its_predict() -> None:
    info = inspect_model(SAMPLES_DIR / "iris_logreg.onnx")
    session = open_session(SAMPLES_DIR / "iris_logreg.onnx", info, "onnxruntime")
    frame = prepare_rows(_rows("iris_logreg_onnx.rows.csv"), info)

    class PredictOnly:  # another program's session: the Session protocol before `prepare`
        runtime, info = "custom", session.info

        def predict(self, frame: pd.DataFrame) -> PredictionBatch:
            return session.predict(frame)

    call = prepare_call(PredictOnly(), frame)
    batch = call.run()
    assert isinstance(batch, PredictionBatch) and call.finish(batch) is batch
    assert batch.labels.tolist() == session.predict(frame).labels.tolist()


def test_onnx_prepared_call_returns_what_inference_session_run_returns() -> None:
    import onnxruntime as ort

    path = SAMPLES_DIR / "iris_logreg.onnx"
    info = inspect_model(path)
    session = open_session(path, info, "onnxruntime")
    frame = prepare_rows(_rows("iris_logreg_onnx.rows.csv"), info)
    bare = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    raw = prepare_call(session, frame).run()
    expected = bare.run(None, {n.name: frame[[n.name]].to_numpy(np.float32) for n in bare.get_inputs()})
    assert isinstance(raw, list) and len(raw) == len(expected)
    for got, want in zip(raw, expected, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.java
@pytest.mark.parametrize("runtime", ["jpmml", "pmml4s"])
def test_pmml_engines_batch_of_a_thousand_generated_rows(runtime: str) -> None:
    """A big batch goes through in one call and agrees with scikit-learn row for row."""
    pmml = BY_NAME["iris_logreg_pmml"]
    info = inspect_model(SAMPLES_DIR / pmml["file"])
    rows = generate_rows(info, 1000, seed=7)
    expected = run_sample(BY_NAME["iris_logreg"], "native", rows)
    got = run_sample(pmml, runtime, rows)
    report = compare_batches(expected, got, atol=1e-9, rtol=0.0)
    assert report.passed and report.rows == 1000, report.to_json()
    assert got.elapsed_ms < 20_000


@pytest.mark.java
def test_pmml_string_labels_line_up_with_onnx_int_labels() -> None:
    onnx = run_sample(BY_NAME["iris_logreg_onnx"], "onnxruntime", _rows("iris_logreg.rows.csv"))
    jpmml = run_sample(BY_NAME["iris_logreg_pmml"], "jpmml", _rows("iris_logreg.rows.csv"))
    pmml4s = run_sample(BY_NAME["iris_logreg_pmml"], "pmml4s", _rows("iris_logreg.rows.csv"))
    assert onnx.labels.dtype == np.int64
    for other in (jpmml, pmml4s):
        report = compare_batches(onnx, other, atol=1e-6, rtol=0)
        assert report.passed and report.label_agreement == 1.0
        assert [r["probabilities"].keys() for r in other.to_records()][0] == {"0", "1", "2"}


# ---------------------------------------------------------------------------------- registry

def test_importing_the_runtimes_imports_no_backend() -> None:
    code = ("import sys, workbench.core.runtimes, workbench.commands.predict, workbench.commands.compare; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'onnxruntime', 'jpype', 'pypmml', 'py4j', "
            "'jpmml_evaluator', 'sklearn', 'lightgbm', 'xgboost') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert proc.stdout.strip() == "[]"


def test_registry_names_formats_and_defaults() -> None:
    assert RUNTIMES.keys() == ["native", "onnxruntime", "pmml4s", "jpmml", "tensorflow", "mleap"]
    assert {fmt: default_runtime(fmt) for fmt in ("sklearn", "skops", "lightgbm", "xgboost", "keras", "onnx",
                                                  "pmml", "savedmodel", "mleap")} == {
        "sklearn": "native", "skops": "native", "lightgbm": "native", "xgboost": "native", "keras": "native",
        "onnx": "onnxruntime", "pmml": "jpmml", "savedmodel": "tensorflow", "mleap": "mleap"}
    assert [r.name for r in runtimes_for("pmml")] == ["jpmml", "pmml4s"]
    assert [r.name for r in runtimes_for("keras")] == ["native", "tensorflow"]
    with pytest.raises(WorkbenchError, match="no runtime runs tflite models"):
        default_runtime("tflite")


def test_runtime_that_cannot_run_the_format() -> None:
    sample = BY_NAME["iris_logreg_onnx"]
    with pytest.raises(WorkbenchError) as err:
        predict_rows(SAMPLES_DIR / sample["file"], _rows(sample["rows"]), runtime="jpmml")
    assert str(err.value) == "runtime 'jpmml' cannot run onnx models (runtimes for onnx: onnxruntime)"
    with pytest.raises(WorkbenchError, match="unknown runtime 'spark'"):
        predict_rows(SAMPLES_DIR / sample["file"], _rows(sample["rows"]), runtime="spark")


def test_all_runtimes_available_here() -> None:
    for runtime in RUNTIMES.values():
        assert runtime.availability().ok, (runtime.name, runtime.availability())


@pytest.fixture
def no_java(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    java_module.find_java.cache_clear()
    java_module.java_availability.cache_clear()
    yield
    java_module.find_java.cache_clear()
    java_module.java_availability.cache_clear()


@pytest.mark.parametrize("runtime", ["jpmml", "pmml4s"])
def test_pmml_runtimes_without_java_say_what_to_install(no_java: None, runtime: str) -> None:
    avail = RUNTIMES.get(runtime).availability()
    assert not avail.ok
    assert avail.message() == "Java not found: install a JRE 11 or newer, e.g. apt-get install default-jre-headless"
    sample = BY_NAME["iris_logreg_pmml"]
    info = inspect_model(SAMPLES_DIR / sample["file"])
    with pytest.raises(BackendUnavailable) as err:
        RUNTIMES.get(runtime).load(SAMPLES_DIR / sample["file"], info)
    assert str(err.value) == (f"runtime '{runtime}' is not available here: Java not found: install a JRE 11 or "
                              "newer, e.g. apt-get install default-jre-headless")


def test_tensorflow_missing_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # what `import tensorflow` sees when it is absent
    avail = RUNTIMES.get("tensorflow").availability()
    assert avail.message() == "TensorFlow not installed: pip install 'model-serving-workbench[tf]'"
    assert RUNTIMES.get("native").availability("keras").message() == avail.message()
    assert RUNTIMES.get("native").availability("sklearn").ok


def test_pickles_need_trust_in_the_native_runtime() -> None:
    sample = BY_NAME["iris_logreg"]
    info = inspect_model(SAMPLES_DIR / sample["file"])
    with pytest.raises(UntrustedPickle) as err:
        RUNTIMES.get("native").load(SAMPLES_DIR / sample["file"], info, trust=False)
    assert "--trust" in str(err.value)
    with pytest.raises(UntrustedPickle, match="--trust"):
        predict_rows(SAMPLES_DIR / sample["file"], _rows(sample["rows"]))


def test_skops_runs_without_trust() -> None:
    sample = BY_NAME["iris_logreg_skops"]
    _, _, batch = predict_rows(SAMPLES_DIR / sample["file"], _rows(sample["rows"]))
    assert batch.rows == len(_rows(sample["rows"])) and batch.classes == [0, 1, 2]


def test_regression_values_and_records() -> None:
    sample = BY_NAME["diabetes_rf"]
    info, prepared, batch = predict_rows(SAMPLES_DIR / sample["file"], _rows(sample["rows"]), trust=True)
    import joblib

    model = joblib.load(SAMPLES_DIR / sample["file"])
    expected = model.predict(_rows(sample["rows"]).astype(float))
    np.testing.assert_array_equal(batch.values, expected)
    record = batch.to_records()[0]
    assert record["label"] is None and record["probabilities"] is None
    assert record["value"] == pytest.approx(float(expected[0]))


# ------------------------------------------------------------------------------- JVM lifetime

JVM_SCRIPT = textwrap.dedent("""
    import json, os, sys
    from workbench.core.runtimes import predict_rows
    from workbench.core.rows import read_rows

    rows = read_rows(sys.argv[1])
    out = {}

    def work():
        for runtime in ("jpmml", "pmml4s", "jpmml", "pmml4s"):  # each JVM starts once, then is reused
            _, _, batch = predict_rows(sys.argv[2], rows, runtime=runtime)
            out[runtime] = [str(x) for x in batch.labels]

    if sys.argv[3] == "worker-thread":  # as the GUI does: the JVMs start on a worker thread
        import threading

        worker = threading.Thread(target=work)
        worker.start()
        worker.join()
    else:
        work()

    def children():
        found = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    stat = open(f"/proc/{pid}/stat").read()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                    found.append(int(pid))
        return found

    out["children"] = children()
    out["jvm_in_process"] = "libjvm" in open("/proc/self/maps").read()
    print(json.dumps(out), flush=True)
    if sys.argv[3] == "kill":
        sys.stdin.read()  # wait to be killed
""")


def _alive_java(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z" and b"java" in cmdline


@pytest.mark.java
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("ending", ["exit", "kill", "worker-thread"])
def test_no_jvm_outlives_the_workbench(tmp_path: Path, ending: str) -> None:
    """Both PMML engines in one process; it exits promptly (also when the JVMs were started on a
    worker thread, which used to hang JPype's shutdown) or is killed, and no java process is left."""
    script = tmp_path / "both_engines.py"
    script.write_text(JVM_SCRIPT)
    sample = BY_NAME["iris_logreg_pmml"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(script), str(SAMPLES_DIR / sample["rows"]),
                             str(SAMPLES_DIR / sample["file"]), ending], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        report = json.loads(line)
        assert report["jpmml"] == report["pmml4s"] and len(report["jpmml"]) == len(_rows(sample["rows"]))
        assert report["jvm_in_process"], "jpmml runs its JVM in-process through JPype"
        java_children = [pid for pid in report["children"] if _alive_java(pid)]
        assert len(java_children) == 1, "pypmml runs PMML4S in one java child process (py4j)"
        if ending == "kill":
            proc.kill()
        else:
            proc.stdin.close()
        proc.wait(timeout=60)  # a JVM shutdown that hangs fails here
        if ending != "kill":
            assert proc.returncode == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    for pid in java_children:  # the orphaned java is not our child: wait on a pidfd for its exit
        _wait_for_exit(pid, timeout=30)
    assert not any(_alive_java(pid) for pid in java_children), f"java process(es) {java_children} outlived python"


def _wait_for_exit(pid: int, timeout: float) -> None:
    """Block until process `pid` exits (or `timeout` passes), without polling."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # already gone
    try:
        select.select([fd], [], [], timeout)  # a pidfd becomes readable when the process exits
    finally:
        os.close(fd)


# ------------------------------------------------------- ONNX output conventions (skl2onnx defaults)

@pytest.fixture(scope="module")
def skl2onnx_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """skl2onnx with its defaults: a ZipMap classifier and a regressor, each with one [None, k] input."""
    import joblib
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("onnx")
    iris = _rows("iris_logreg.rows.csv").astype(np.float32)
    out = {}
    logreg = joblib.load(SAMPLES_DIR / "iris_logreg.joblib")
    out["zipmap"] = folder / "iris_zipmap.onnx"
    out["zipmap"].write_bytes(to_onnx(logreg, iris.values[:1]).SerializeToString())
    names = np.array(["setosa", "versicolor", "virginica"])[logreg.predict(iris)]
    named = LogisticRegression(max_iter=500).fit(iris.values, names)
    joblib.dump(named, folder / "iris_names.joblib")
    out["names"] = folder / "iris_names.onnx"
    out["names"].write_bytes(to_onnx(named, iris.values[:1]).SerializeToString())
    forest = joblib.load(SAMPLES_DIR / "diabetes_rf.joblib")
    diabetes = _rows("diabetes_rf.rows.csv").astype(np.float32)
    out["regression"] = folder / "diabetes.onnx"
    out["regression"].write_bytes(to_onnx(forest, diabetes.values[:1]).SerializeToString())
    return out


def test_onnx_zipmap_classifier(skl2onnx_models: dict[str, Path]) -> None:
    rows = _rows("iris_logreg.rows.csv")
    info, _, batch = predict_rows(skl2onnx_models["zipmap"], rows)
    assert [s.shape for s in info.inputs] == [(None, 4)]
    assert isinstance(batch.outputs["output_probability"][0], dict)  # the raw ZipMap list of dicts
    expected = native_reference("iris_logreg", "iris_logreg.rows.csv")
    assert batch.classes == [0, 1, 2]
    np.testing.assert_allclose(batch.probabilities, expected.probabilities, atol=1e-6)
    assert batch.labels.tolist() == expected.labels.tolist()


def test_onnx_string_class_labels(skl2onnx_models: dict[str, Path]) -> None:
    import joblib

    rows = _rows("iris_logreg.rows.csv")
    _, _, batch = predict_rows(skl2onnx_models["names"], rows)
    model = joblib.load(skl2onnx_models["names"].with_suffix(".joblib"))
    X = rows.astype(np.float32).values
    assert batch.classes == ["setosa", "versicolor", "virginica"]
    assert batch.labels.tolist() == model.predict(X).tolist()
    np.testing.assert_allclose(batch.probabilities, model.predict_proba(X), atol=1e-6)
    assert set(batch.to_records()[0]["probabilities"]) == {"setosa", "versicolor", "virginica"}


def test_onnx_regressor(skl2onnx_models: dict[str, Path]) -> None:
    rows = _rows("diabetes_rf.rows.csv")
    _, _, batch = predict_rows(skl2onnx_models["regression"], rows)
    expected = native_reference("diabetes_rf", "diabetes_rf.rows.csv")
    assert batch.outputs["variable"].shape == (len(rows), 1) and batch.values.shape == (len(rows),)
    # float32 trees vs scikit-learn's float32-cast inputs and float64 thresholds: same leaves here
    report = compare_batches(expected, batch, atol=1e-3, rtol=1e-6)
    assert report.passed, report.to_json()


# ------------------------------------------------------------------ TF Serving's own test SavedModels

@pytest.mark.tf
@pytest.mark.parametrize("folder, offset", [
    ("saved_model_half_plus_two_tf2_cpu", 2.0),        # TF2 export
    ("saved_model_half_plus_two_cpu/00000123", 2.0),   # TF1 export, a version folder
    ("saved_model_half_plus_two_2_versions", 2.0),     # base folder: the highest version runs
    ("saved_model_half_plus_three", 3.0),              # TF1 with tf.Example signatures: runs in a v1 session
])
def test_tfserving_savedmodels(tfserving_testdata: Path, tmp_path: Path, folder: str, offset: float) -> None:
    rows_file = tmp_path / "x.csv"
    rows_file.write_text("x\n1\n2.5\n-4\n")
    # the project's own committed models (sample_models/tfserving): trusted, as loading a SavedModel needs
    _, _, batch = predict_rows(tfserving_testdata / folder, read_rows(rows_file), trust=True)
    assert batch.runtime == "tensorflow"
    np.testing.assert_allclose(batch.values, [0.5 * x + offset for x in (1.0, 2.5, -4.0)], rtol=1e-6)
    assert batch.to_records()[0]["value"] == pytest.approx(0.5 + offset)


@pytest.mark.parametrize("name", ["lgbm_classifier_native", "xgb_classifier_native"])
def test_missing_values_reach_models_that_accept_them(tmp_path: Path, name: str) -> None:
    sample = BY_NAME[name]
    lines = (SAMPLES_DIR / sample["rows"]).read_text().splitlines()
    cells = lines[1].split(",")
    cells[1] = ""
    rows_file = tmp_path / "rows.csv"
    rows_file.write_text("\n".join([lines[0], ",".join(cells), lines[2]]) + "\n")
    info, prepared, batch = predict_rows(SAMPLES_DIR / sample["file"], read_rows(rows_file))
    assert np.isnan(prepared.iloc[0, 1])
    X = np.array([[float(c) if c else np.nan for c in line.split(",")] for line in (",".join(cells), lines[2])])
    if sample["format"] == "lightgbm":
        import lightgbm

        p1 = lightgbm.Booster(model_file=str(SAMPLES_DIR / sample["file"])).predict(X)
        expected = np.column_stack([1 - p1, p1])
    else:
        import xgboost

        booster = xgboost.Booster(model_file=str(SAMPLES_DIR / sample["file"]))
        expected = booster.predict(xgboost.DMatrix(X.astype(np.float32), feature_names=booster.feature_names))
    np.testing.assert_allclose(batch.probabilities, expected, rtol=1e-6)


# ------------------------------------------------------------------ naming conventions of raw outputs

def _info(task: str = "other", classes: list | None = None) -> ModelInfo:
    return ModelInfo(path="m", format="savedmodel", framework="tensorflow", task=task, classes=classes)


def test_tfserving_classes_and_scores_outputs() -> None:
    from workbench.core.runtimes.outputs import interpret_outputs

    batch = interpret_outputs("tensorflow", {
        "classes": np.array([[b"cat", b"dog"], [b"cat", b"dog"]]),
        "scores": np.array([[0.2, 0.8], [0.9, 0.1]], dtype=np.float32)}, _info())
    assert batch.classes == ["cat", "dog"]
    assert batch.labels.tolist() == ["dog", "cat"]
    np.testing.assert_allclose(batch.probabilities, [[0.2, 0.8], [0.9, 0.1]], rtol=1e-6)


def test_sigmoid_output_of_a_binary_classifier() -> None:
    from workbench.core.runtimes.outputs import interpret_outputs

    batch = interpret_outputs("native", {"dense_1": np.array([[0.25], [0.75]], dtype=np.float32)},
                              _info("classification", ["no", "yes"]))
    assert batch.classes == ["no", "yes"] and batch.labels.tolist() == ["no", "yes"]
    np.testing.assert_allclose(batch.probabilities, [[0.75, 0.25], [0.25, 0.75]])


def test_label_and_probability_tensors() -> None:
    from workbench.core.runtimes.outputs import interpret_outputs

    batch = interpret_outputs("onnxruntime", {"label": np.array([1, 0], dtype=np.int64),
                                              "probabilities": np.array([[0.4, 0.6], [0.7, 0.3]],
                                                                        dtype=np.float32)},
                              _info("classification", [0, 1]))
    assert batch.labels.tolist() == [1, 0] and batch.classes == [0, 1]
    assert batch.values is None and set(batch.outputs) == {"label", "probabilities"}


def test_unknown_task_gives_values() -> None:
    from workbench.core.runtimes.outputs import interpret_outputs

    batch = interpret_outputs("tensorflow", {"y": np.array([[2.5], [3.0]], dtype=np.float32)}, _info())
    assert batch.labels is None and batch.probabilities is None
    assert batch.values.tolist() == [2.5, 3.0]


def test_class_order_from_labels_when_the_model_does_not_list_classes() -> None:
    from workbench.core.runtimes.outputs import interpret_outputs

    raw = {"label": np.array([b"virginica", b"setosa", b"versicolor"]),
           "probabilities": np.array([[0.1, 0.2, 0.7], [0.8, 0.1, 0.1], [0.2, 0.6, 0.2]])}
    batch = interpret_outputs("tensorflow", raw, _info("classification"))
    assert batch.classes == ["setosa", "versicolor", "virginica"]
    assert batch.labels.tolist() == ["virginica", "setosa", "versicolor"]
    assert batch.to_records()[0]["probabilities"] == {"setosa": 0.1, "versicolor": 0.2, "virginica": 0.7}


@pytest.mark.java
def test_pmml_without_output_fields(tmp_path: Path) -> None:
    """No <Output>: PMML4S makes its own predicted/probability_N columns; JPMML gives the label only."""
    import re

    text = (SAMPLES_DIR / "iris_logreg.pmml").read_text()
    stripped = tmp_path / "no_output.pmml"
    stripped.write_text(re.sub(r"<Output>.*?</Output>", "", text, flags=re.DOTALL))
    rows = _rows("iris_logreg.rows.csv")
    expected = native_reference("iris_logreg", "iris_logreg.rows.csv")
    _, _, pmml4s = predict_rows(stripped, rows, runtime="pmml4s")
    assert compare_batches(expected, pmml4s, atol=1e-9, rtol=0).passed
    _, _, jpmml = predict_rows(stripped, rows, runtime="jpmml")
    assert jpmml.probabilities is None and jpmml.roles == ["label"]
    assert jpmml.labels.tolist() == expected.labels.tolist()
    assert "the PMML file declares no probability output fields: JPMML reports labels only" in jpmml.warnings


# --------------------------------------------------------------- the single-row predict path (issue 6)

def _same_batch(a: PredictionBatch, b: PredictionBatch) -> None:
    assert a.classes == b.classes and a.roles == b.roles and a.warnings == b.warnings
    for name in ("labels", "probabilities", "values"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and x.tolist() == y.tolist(), name
    assert list(a.outputs) == list(b.outputs)


def test_onnx_feeds_from_the_value_matrix_equal_column_by_column_feeds() -> None:
    sample = BY_NAME["iris_logreg_onnx"]
    path = SAMPLES_DIR / sample["file"]
    info = inspect_model(path)
    session = open_session(path, info)
    rows = _rows(sample["rows"])
    prepared = prepare_rows(rows, info)
    whole = session.predict(prepared)
    mixed = prepared.astype({"sepal_width": np.float64})  # two dtypes: a new value matrix, cast per input
    shuffled = prepare_rows(rows[list(reversed(rows.columns))], info)
    for frame in (prepared, mixed, shuffled, prepared.iloc[[3]], prepared.iloc[5:9]):
        plan = session._plans.plan(frame)
        fast, slow = session.feeds(frame), session._feeds_by_column(plan, frame)
        assert list(fast) == list(slow)
        for name in fast:
            assert fast[name].dtype == slow[name].dtype and fast[name].shape == slow[name].shape
            np.testing.assert_array_equal(fast[name], slow[name])
    import onnxruntime as ort

    bare = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for i in range(len(prepared)):  # one row per call, as the GUI and the benchmark call it
        one = session.predict(prepared.iloc[[i]])
        labels, probabilities = bare.run(["label", "probabilities"], {
            c: rows[[c]].iloc[[i]].to_numpy(np.float32) for c in rows.columns})
        assert one.labels.tolist() == labels.tolist() == whole.labels[i:i + 1].tolist()
        np.testing.assert_array_equal(one.probabilities, probabilities.astype(np.float64))
    assert prepared.to_numpy().flags.writeable is False  # the caller's rows were only read


def test_output_interpreter_equals_interpret_outputs_call_after_call() -> None:
    from workbench.core.runtimes.outputs import OutputInterpreter, interpret_outputs

    info = _info("classification", [0, 1, 2])
    dense = {"label": np.array([2, 0]), "probabilities": np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]],
                                                                     dtype=np.float32)}
    narrow = {"label": np.array([1]), "probabilities": np.array([[0.4, 0.6]], dtype=np.float32)}
    zipmap = {"label": np.array([1]), "probabilities": [{0: 0.2, 1: 0.7, 2: 0.1}]}
    tf = {"classes": np.array([[b"a", b"b", b"c"]]), "scores": np.array([[0.3, 0.3, 0.4]])}
    value = {"y": np.array([[2.5], [3.0]], dtype=np.float32)}
    for fixed in (False, True):  # fixed_outputs: a promise broken here on purpose, still answered right
        interpreter = OutputInterpreter("onnxruntime", info, fixed_outputs=fixed)
        for outputs in (dense, dense, narrow, dense, zipmap, dense, tf, tf, value, value, dense, dense):
            _same_batch(interpreter(outputs), interpret_outputs("onnxruntime", outputs, info))
    unknown = OutputInterpreter("tensorflow", _info("classification"))
    raw = {"label": np.array([b"virginica", b"setosa", b"versicolor"]),
           "probabilities": np.array([[0.1, 0.2, 0.7], [0.8, 0.1, 0.1], [0.2, 0.6, 0.2]])}
    for _ in range(2):
        _same_batch(unknown(raw), interpret_outputs("tensorflow", raw, _info("classification")))


def test_predict_rows_unpickles_a_trusted_pickle_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import joblib

    loads: list[str] = []
    real_load = joblib.load

    def counting_load(path, *args, **kwargs):
        loads.append(str(path))
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(joblib, "load", counting_load)
    sample = BY_NAME["ctr_pipeline"]
    info, prepared, batch = predict_rows(SAMPLES_DIR / sample["file"], _rows(sample["rows"]), trust=True)
    assert len(loads) == 1
    assert info.loaded and info.path == str(SAMPLES_DIR / sample["file"])
    model = real_load(SAMPLES_DIR / sample["file"])
    np.testing.assert_allclose(batch.probabilities, model.predict_proba(prepared), rtol=1e-12)
    with pytest.raises(UntrustedPickle):
        predict_rows(SAMPLES_DIR / sample["file"], _rows(sample["rows"]))
    assert len(loads) == 1


# ----------------------------------------------------------------------------- unknown categories

def _device_pipeline(handle_unknown: str):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X = pd.DataFrame({"device": ["ios", "android", "web", "ios", "web", "android"],
                      "age": [20.0, 35.0, 50.0, 28.0, 61.0, 44.0]})
    y = [0, 1, 1, 0, 1, 0]
    return make_pipeline(ColumnTransformer([("onehot", OneHotEncoder(handle_unknown=handle_unknown), ["device"]),
                                            ("scale", StandardScaler(), ["age"])]),
                         LogisticRegression()).fit(X, y)


def test_unknown_categories_reach_the_batch_warnings_and_predict_like_the_model() -> None:
    sample = BY_NAME["ctr_pipeline"]
    rows = _rows(sample["rows"]).head(4).copy()
    rows.loc[1, "device"] = "blackberry"
    _, _, batch = predict_rows(SAMPLES_DIR / sample["file"], rows, trust=True)
    assert batch.warnings[0] == ("row 2, column 'device': 'blackberry' is not a known category (known: 'android', "
                                 "'ios', 'web'): the model will treat it as unknown (an all-zero one-hot encoding)")
    import joblib

    model = joblib.load(SAMPLES_DIR / sample["file"])  # handle_unknown='ignore': it predicts the row
    np.testing.assert_allclose(batch.probabilities, model.predict_proba(rows.astype(
        {c: float for c in ("age", "hour", "price", "user_ctr_7d", "item_popularity")})), rtol=1e-12)


def test_a_model_that_refuses_unknown_categories_gets_a_row_error(tmp_path: Path) -> None:
    import joblib

    from workbench.core.errors import InputRowsError
    from workbench.core.runtimes.native import rejecting_category_columns

    strict, lenient = _device_pipeline("error"), _device_pipeline("ignore")
    assert rejecting_category_columns(strict) == ["device"] and rejecting_category_columns(lenient) == []
    path = tmp_path / "strict.joblib"
    joblib.dump(strict, path)
    rows = pd.DataFrame({"device": ["ios", "nokia"], "age": ["30", "40"]}, dtype=object)
    with pytest.raises(InputRowsError) as caught:
        predict_rows(path, rows, trust=True)
    assert caught.value.problems == [("row 2, column 'device': 'nokia' is not a known category (known: "
                                      "'android', 'ios', 'web'): the model rejects unknown categories")]
    with pytest.raises(ValueError, match="unknown categor"):  # what the model itself would have said
        strict.predict(rows.astype({"age": float}))


def test_an_xgboost_booster_predicts_anew_on_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """XGBoost caches predictions per DMatrix: running the same one again would time a copy of the cache."""
    import xgboost

    made = []
    original = xgboost.DMatrix.__init__

    def counting_init(self, *args, **kwargs):
        made.append(1)
        original(self, *args, **kwargs)

    path = SAMPLES_DIR / "xgb_classifier.json"
    info = inspect_model(path)
    session = open_session(path, info, "native")
    call = prepare_call(session, prepare_rows(_rows("xgb_classifier_native.rows.csv"), info))
    monkeypatch.setattr(xgboost.DMatrix, "__init__", counting_init)
    first, second = call.run(), call.run()
    assert len(made) == 2
    np.testing.assert_array_equal(first, second)
