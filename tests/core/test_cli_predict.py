"""`workbench predict` and `workbench compare`: JSON contracts, tables, exit codes, error lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, SAMPLES_DIR, sample_entries
from workbench.cli import main
from workbench.core.errors import WorkbenchError

BY_NAME = {s["name"]: s for s in sample_entries()}
IRIS_ROWS = SAMPLES_DIR / "iris_logreg.rows.csv"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def sample_path(name: str) -> Path:
    return SAMPLES_DIR / BY_NAME[name]["file"]


def sklearn_iris() -> tuple[np.ndarray, np.ndarray]:
    import joblib
    import pandas as pd

    model = joblib.load(SAMPLES_DIR / "iris_logreg.joblib")
    X = pd.read_csv(IRIS_ROWS)
    return model.predict(X), model.predict_proba(X)


# ------------------------------------------------------------------------------------- predict

def test_predict_json_contract_onnx(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "predict", sample_path("iris_logreg_onnx"), "--rows", IRIS_ROWS, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert {"model", "runtime", "rows", "predictions", "elapsed_ms"} <= set(doc)
    assert doc["runtime"] == "onnxruntime" and doc["model"] == str(sample_path("iris_logreg_onnx"))
    labels, probs = sklearn_iris()
    assert doc["rows"] == len(labels) == len(doc["predictions"])
    assert [p["label"] for p in doc["predictions"]] == labels.tolist()
    for pred, expected in zip(doc["predictions"], probs, strict=True):
        assert set(pred) == {"label", "probabilities", "value", "outputs"}
        assert pred["value"] is None
        assert list(pred["probabilities"]) == ["0", "1", "2"]
        np.testing.assert_allclose(list(pred["probabilities"].values()), expected, atol=1e-6)
        assert set(pred["outputs"]) == {"label", "probabilities"}
    assert isinstance(doc["elapsed_ms"], float) and doc["elapsed_ms"] > 0


def test_predict_regression_json(capsys: pytest.CaptureFixture[str]) -> None:
    import joblib
    import pandas as pd

    rows = SAMPLES_DIR / BY_NAME["diabetes_rf"]["rows"]
    code, out, err = run_cli(capsys, "predict", sample_path("diabetes_rf"), "--rows", rows, "--trust", "--json")
    assert code == 0, err
    doc = json.loads(out)
    expected = joblib.load(sample_path("diabetes_rf")).predict(pd.read_csv(rows))
    assert [p["value"] for p in doc["predictions"]] == pytest.approx(expected.tolist(), abs=1e-12)
    assert all(p["label"] is None and p["probabilities"] is None for p in doc["predictions"])


def test_predict_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "predict", sample_path("iris_logreg_skops"), "--rows", IRIS_ROWS)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"{sample_path('iris_logreg_skops')}  (skops, runtime native): 30 rows in ")
    assert lines[1].split() == ["row", "label", "p(0)", "p(1)", "p(2)"]
    labels, probs = sklearn_iris()
    first = lines[2].split()
    assert first[0] == "1" and first[1] == str(labels[0])
    assert [float(x) for x in first[2:]] == pytest.approx(probs[0].tolist(), rel=1e-5, abs=5e-7)
    assert len(lines) == 2 + len(labels)


@pytest.mark.java
def test_predict_pmml_in_both_engines(capsys: pytest.CaptureFixture[str]) -> None:
    labels, probs = sklearn_iris()
    for runtime in ("pmml4s", "jpmml"):
        code, out, err = run_cli(capsys, "predict", sample_path("iris_logreg_pmml"), "--rows", IRIS_ROWS,
                                 "--runtime", runtime, "--json")
        assert code == 0, err
        doc = json.loads(out)
        assert doc["runtime"] == runtime
        assert [p["label"] for p in doc["predictions"]] == labels.tolist()
        got = np.array([list(p["probabilities"].values()) for p in doc["predictions"]])
        np.testing.assert_allclose(got, probs, atol=1e-9)


def test_predict_generated_rows(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "predict", sample_path("ctr_pipeline"), "--generate", "12", "--trust", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["rows"] == 12 and {p["label"] for p in doc["predictions"]} <= {0, 1}


def test_predict_pickle_needs_trust(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "predict", sample_path("iris_logreg"), "--rows", IRIS_ROWS)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and "--trust" in err and len(err.strip().splitlines()) == 1


def test_predict_wrong_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "predict", sample_path("iris_logreg_onnx"), "--rows", IRIS_ROWS,
                           "--runtime", "tensorflow")
    assert code == 2
    assert err == "error: runtime 'tensorflow' cannot run onnx models (runtimes for onnx: onnxruntime)\n"


def _bad_rows(tmp_path: Path, kind: str) -> Path:
    lines = IRIS_ROWS.read_text().splitlines()
    header, body = lines[0], lines[1:4]
    content = {
        "missing_column": "\n".join(",".join(line.split(",")[:3]) for line in [header, *body]),
        "extra_column": "\n".join([header + ",species", *(line + ",setosa" for line in body)]),
        "text_in_numeric": "\n".join([header, body[0], "five,3.0,1.4,0.2", "6.1,2.8,4.0,wide"]),
        "empty": "",
        "header_only": header + "\n",
    }[kind]
    path = tmp_path / f"{kind}.csv"
    path.write_text(content)
    return path


@pytest.mark.parametrize("kind, message", [
    ("missing_column", "error: the rows do not fit the model (1 column problem): missing column 'petal_width' "
                       "(model input, float32)"),
    ("text_in_numeric", "error: the rows do not fit the model (2 bad values): row 2, column 'sepal_length': "
                        "'five' is not a number (float32); row 3, column 'petal_width': 'wide' is not a number "
                        "(float32) (rows are counted from 1, header excluded)"),
    ("empty", "error: rows file {path} is empty (give a CSV with a header line and one row per line)"),
    ("header_only", "error: rows file {path} has a header but no rows (add at least one row)"),
])
def test_predict_bad_rows(capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str, message: str) -> None:
    rows = _bad_rows(tmp_path, kind)
    code, out, err = run_cli(capsys, "predict", sample_path("iris_logreg_onnx"), "--rows", rows)
    assert code == 2 and out == ""
    assert err == message.format(path=rows) + "\n"


def test_predict_extra_column_is_ignored_with_a_warning_unless_strict(capsys: pytest.CaptureFixture[str],
                                                                      tmp_path: Path) -> None:
    rows = _bad_rows(tmp_path, "extra_column")
    code, out, err = run_cli(capsys, "predict", sample_path("iris_logreg_onnx"), "--rows", rows, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["rows"] == 3
    assert doc["warnings"] == ["ignored 1 column the model does not take: 'species' (pass --strict to refuse them)"]
    code, out, err = run_cli(capsys, "predict", sample_path("iris_logreg_onnx"), "--rows", rows)
    assert code == 0 and "warning: ignored 1 column the model does not take: 'species'" in err
    code, out, err = run_cli(capsys, "predict", sample_path("iris_logreg_onnx"), "--rows", rows, "--strict")
    assert code == 2 and out == ""
    assert err == ("error: the rows do not fit the model (1 column problem): unexpected column 'species' "
                   "(not a model input: remove it)\n")


# ------------------------------------------------------------------------------------- compare

def test_compare_equivalent_models_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "compare", sample_path("iris_logreg"), sample_path("iris_logreg_onnx"),
                             "--rows", IRIS_ROWS, "--trust", "--atol", "1e-6", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert {"a", "b", "rows", "max_abs_diff", "max_rel_diff", "label_agreement", "passed", "worst_rows"} <= set(doc)
    assert doc["a"]["runtime"] == "native" and doc["b"]["runtime"] == "onnxruntime"
    assert doc["a"]["model"] == str(sample_path("iris_logreg"))
    assert doc["passed"] is True and doc["rows"] == 30 and doc["label_agreement"] == 1.0
    assert 0 < doc["max_abs_diff"] < 1e-6


def test_compare_tolerance_decides_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    """float32 ONNX vs float64 scikit-learn differ by ~1e-7: outside a zero tolerance."""
    code, out, _ = run_cli(capsys, "compare", sample_path("iris_logreg"), sample_path("iris_logreg_onnx"),
                           "--rows", IRIS_ROWS, "--trust", "--atol", "0", "--rtol", "0")
    assert code == 1
    assert out.splitlines()[2].startswith("FAIL: 30 rows, labels agree on 100%")


def test_compare_different_models_fail_with_worst_rows(capsys: pytest.CaptureFixture[str]) -> None:
    import joblib
    import pandas as pd

    code, out, err = run_cli(capsys, "compare", sample_path("iris_logreg"), sample_path("xgb_classifier"),
                             "--rows", IRIS_ROWS, "--trust", "--json")
    assert code == 1, err
    doc = json.loads(out)
    assert doc["passed"] is False
    X = pd.read_csv(IRIS_ROWS)
    pa = joblib.load(SAMPLES_DIR / "iris_logreg.joblib").predict_proba(X)
    pb = joblib.load(SAMPLES_DIR / "xgb_classifier.joblib").predict_proba(X)
    la, lb = pa.argmax(axis=1), pb.argmax(axis=1)
    diff = np.abs(pa - pb).max(axis=1)
    order = sorted(range(len(X)), key=lambda i: (la[i] == lb[i], -diff[i]))
    assert [w["row"] for w in doc["worst_rows"]] == [i + 1 for i in order[:5]]
    top = doc["worst_rows"][0]
    assert top["features"] == {k: float(v) for k, v in X.iloc[order[0]].items()}
    assert top["diff"] == pytest.approx(diff[order[0]], abs=1e-6)
    assert doc["max_abs_diff"] == pytest.approx(diff.max(), abs=1e-6)


def test_compare_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "compare", sample_path("iris_logreg"), sample_path("xgb_classifier"),
                           "--rows", IRIS_ROWS, "--trust")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("A  ") and lines[1].startswith("B  ") and lines[2].startswith("FAIL: 30 rows")
    assert lines[4].split()[:3] == ["role", "max", "abs"]
    assert "worst rows:" in lines and any(line.startswith("    features: sepal_length=") for line in lines)


@pytest.mark.java
def test_compare_one_model_in_two_runtimes(capsys: pytest.CaptureFixture[str]) -> None:
    pmml = sample_path("iris_logreg_pmml")
    code, out, err = run_cli(capsys, "compare", pmml, pmml, "--rows", IRIS_ROWS, "--runtime-a", "jpmml",
                             "--runtime-b", "pmml4s", "--atol", "1e-12", "--rtol", "0", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["a"]["runtime"], doc["b"]["runtime"]) == ("jpmml", "pmml4s") and doc["passed"] is True


def test_compare_bad_rows_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = _bad_rows(tmp_path, "extra_column")
    code, out, err = run_cli(capsys, "compare", sample_path("iris_logreg_skops"), sample_path("iris_logreg_onnx"),
                             "--rows", rows, "--strict")
    assert code == 2 and out == ""
    assert err.startswith("error: model A (") and "unexpected column 'species'" in err


@pytest.mark.parametrize("flag, value, shown", [("--atol", "-1", "atol -1.0"), ("--atol", "nan", "atol nan"),
                                                ("--rtol", "inf", "rtol inf")])
def test_compare_bad_tolerance_is_exit_2(capsys: pytest.CaptureFixture[str], flag: str, value: str,
                                         shown: str) -> None:
    """A NaN tolerance would pass everything (`diff > nan` is False): refused like a negative one."""
    code, out, err = run_cli(capsys, "compare", sample_path("iris_logreg_skops"), sample_path("xgb_classifier"),
                             "--rows", IRIS_ROWS, flag, value)
    assert code == 2 and out == ""
    assert err.strip() == (f"error: tolerances must be finite numbers, zero or positive: got {shown} "
                           "(e.g. --atol 1e-6 --rtol 1e-5)")


def test_compare_batches_refuses_a_nan_tolerance() -> None:
    from workbench.core.compare import compare_batches
    from workbench.core.predictions import PredictionBatch

    a = PredictionBatch("x", values=np.array([1.0, 2.0]))
    b = PredictionBatch("y", values=np.array([1.0, 9.0]))
    assert not compare_batches(a, b, atol=0.1, rtol=0.0).passed
    with pytest.raises(WorkbenchError, match="got atol nan"):
        compare_batches(a, b, atol=float("nan"), rtol=0.0)


BOTH = ("iris_logreg_onnx", "iris_logreg_skops")


@pytest.mark.parametrize("cell, reason, models", [
    ("inf", "'inf' is infinite: give a finite number", BOTH),
    ("-Infinity", "'-Infinity' is infinite: give a finite number", BOTH),
    ("1e400", "'1e400' is beyond the largest float64 (it reads as infinite): give a finite number", BOTH),
    # the ONNX graph takes float32; the scikit-learn model computes in float64, where 1e39 is a number
    ("1e39", "'1e39' is too large for float32 (largest 3.403e+38): it would become infinite", BOTH[:1]),
])
def test_infinite_cells_are_named_not_predicted(capsys: pytest.CaptureFixture[str], tmp_path: Path, cell: str,
                                                reason: str, models: tuple[str, ...]) -> None:
    """ONNX Runtime would answer NaN probabilities with a definite label; scikit-learn and XGBoost raise
    errors that name no cell: every runtime gets the same row/column error instead."""
    rows = tmp_path / "rows.csv"
    rows.write_text(f"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.0,2.8,{cell},2.4\n")
    for model in models:
        code, out, err = run_cli(capsys, "predict", sample_path(model), "--rows", str(rows))
        assert code == 2 and out == ""
        assert f"row 2, column 'petal_length': {reason}" in err, err


def test_console_entry_point_subprocess() -> None:
    """The real `python -m workbench` entry point, once, end to end."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "workbench", "compare", str(sample_path("iris_logreg_skops")),
                           str(sample_path("iris_logreg_onnx")), "--rows", str(IRIS_ROWS), "--json"],
                          capture_output=True, text=True, env=env, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["passed"] is True


# ------------------------------------------------------------------------ warnings and formatting

def test_predict_warns_about_unknown_categories(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = SAMPLES_DIR / BY_NAME["ctr_pipeline"]["rows"]
    lines = rows.read_text().splitlines()[:4]
    header = lines[0].split(",")
    cells = lines[2].split(",")
    cells[header.index("device")] = "blackberry"
    path = tmp_path / "rows.csv"
    path.write_text("\n".join([lines[0], lines[1], ",".join(cells), lines[3]]) + "\n")
    expected = ("row 2, column 'device': 'blackberry' is not a known category (known: 'android', 'ios', 'web'): "
                "the model will treat it as unknown (an all-zero one-hot encoding)")
    code, out, err = run_cli(capsys, "predict", sample_path("ctr_pipeline"), "--trust", "--rows", path)
    assert code == 0
    assert err == f"warning: {expected}\n"
    assert len(out.splitlines()) == 2 + 3  # title, header, three rows: the warning is not in the table
    code, out, err = run_cli(capsys, "predict", sample_path("ctr_pipeline"), "--trust", "--rows", path, "--json")
    doc = json.loads(out)
    assert code == 0 and err == "" and doc["warnings"] == [expected] and doc["rows"] == 3
    assert list(doc)[:7] == ["model", "format", "runtime", "rows", "classes", "predictions", "elapsed_ms"]


def test_predict_generate_shows_the_generated_rows_warning(capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.core.models import inspect_model
    from workbench.core.rows import generate_rows

    expected = generate_rows(inspect_model(sample_path("iris_logreg_onnx")), 3).attrs["warnings"]
    assert expected and "standard normal" in expected[0]
    code, out, err = run_cli(capsys, "predict", sample_path("iris_logreg_onnx"), "--generate", "3", "--json")
    assert code == 0 and json.loads(out)["warnings"] == expected
    code, out, err = run_cli(capsys, "predict", sample_path("iris_logreg_onnx"), "--generate", "3")
    assert code == 0 and err == f"warning: {expected[0]}\n" and len(out.splitlines()) == 2 + 3
    code, out, err = run_cli(capsys, "predict", sample_path("ctr_pipeline"), "--generate", "3", "--trust",
                             "--json")
    assert code == 0 and json.loads(out)["warnings"] == []  # the pipeline knows its inputs' values


def test_predict_generate_unpickles_once(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import joblib

    loads: list[str] = []
    real_load = joblib.load

    def counting_load(path, *args, **kwargs):
        loads.append(str(path))
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(joblib, "load", counting_load)
    code, out, err = run_cli(capsys, "predict", sample_path("ctr_pipeline"), "--generate", "5", "--trust",
                             "--seed", "3", "--json")
    assert code == 0, err
    assert loads == [str(sample_path("ctr_pipeline"))]
    from workbench.core.models import inspect_model
    from workbench.core.rows import generate_rows, prepare_rows

    model = real_load(sample_path("ctr_pipeline"))
    info = inspect_model(sample_path("ctr_pipeline"), trust=True)
    expected = model.predict_proba(prepare_rows(generate_rows(info, 5, seed=3), info))[:, 1]
    assert [p["probabilities"]["1"] for p in json.loads(out)["predictions"]] == pytest.approx(expected.tolist(),
                                                                                              rel=1e-12)
    code, _, err = run_cli(capsys, "predict", sample_path("ctr_pipeline"), "--generate", "5")
    assert code == 2 and "--trust" in err and len(loads) == 2  # the inspect above; no unpickling without trust


def test_table_numbers_use_one_notation_per_column() -> None:
    from workbench.commands.predict import column_formatter, render_batch
    from workbench.core.predictions import PredictionBatch

    probs = np.array([[6.897992e-05, 0.0434755, 0.95645552], [0.5, 0.25, 0.25], [1.0, 0.0, 0.0]])
    batch = PredictionBatch("native", classes=[0, 1, 2], labels=np.array([2, 0, 0]), probabilities=probs)
    lines = render_batch(batch).splitlines()
    assert lines[0].split() == ["row", "label", "p(0)", "p(1)", "p(2)"]
    assert lines[1].split() == ["1", "2", "0.000069", "0.043476", "0.956456"]  # was 6.89799e-05 and 0.0434755
    assert lines[2].split() == ["2", "0", "0.500000", "0.250000", "0.250000"]
    assert lines[3].split() == ["3", "0", "1.000000", "0.000000", "0.000000"]
    batch.probabilities[2] = [0.999999, 5e-7, 5e-7]  # one value below 1e-6: its whole column goes scientific
    lines = render_batch(batch).splitlines()
    assert [line.split()[3] for line in lines[1:]] == ["4.347550e-02", "2.500000e-01", "5.000000e-07"]
    assert [line.split()[2] for line in lines[1:]] == ["0.000069", "0.500000", "0.999999"]
    tiny = column_formatter([3e-9, 0.5, None, float("nan")])
    assert [tiny(v) for v in (3e-9, 0.5, None, float("nan"))] == ["3.000000e-09", "5.000000e-01", "-", "nan"]
    big = column_formatter([2.5e7, 12.0])
    assert big(12.0) == "1.200000e+01"
    plain = column_formatter([152.25, -3.5, 0.0])
    assert [plain(v) for v in (152.25, -3.5, 0.0)] == ["152.250000", "-3.500000", "0.000000"]
    assert column_formatter([[0.1, 2e-7], [0.3, 0.4]])([0.1, 2e-7]) == "[1.000000e-01, 2.000000e-07]"
    values = PredictionBatch("native", values=np.array([1.5, 10234.125]))
    assert [line.split() for line in render_batch(values).splitlines()] == [
        ["row", "value"], ["1", "1.500000"], ["2", "10234.125000"]]


def test_compare_reports_warnings_and_loads_a_generating_pickle_once(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import joblib

    loads: list[str] = []
    real_load = joblib.load

    def counting_load(path, *args, **kwargs):
        loads.append(str(path))
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(joblib, "load", counting_load)
    model = sample_path("ctr_pipeline")
    code, out, err = run_cli(capsys, "compare", model, model, "--generate", "6", "--trust", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["passed"] and doc["rows"] == 6 and doc["warnings"] == []
    assert loads == [str(model), str(model)]  # once per side
    code, out, err = run_cli(capsys, "compare", sample_path("iris_logreg_onnx"), sample_path("iris_logreg_skops"),
                             "--generate", "4", "--json")
    doc = json.loads(out)
    assert code == 0 and len(doc["warnings"]) == 1 and "standard normal" in doc["warnings"][0]


@pytest.mark.parametrize("argv, kind", [
    (["predict", "{onnx}", "--rows", "{missing}", "--json"], "bad-rows"),
    (["compare", "{onnx}", "{missing}", "--rows", "{rows}", "--json"], "model-file"),
    (["bench", "{onnx}", "--runtime", "bogus", "--json"], "registry"),
    (["inspect", "{missing}", "--json"], "model-file"),
])
def test_json_errors_are_json_on_stdout_too(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                            argv: list[str], kind: str) -> None:
    """Every subcommand with --json prints {"error", "kind", "hint"} on stdout when it fails (convert and
    probe always did), besides the one `error:` line on stderr."""
    values = {"onnx": str(sample_path("iris_logreg_onnx")), "missing": str(tmp_path / "nothere.csv"),
              "rows": str(IRIS_ROWS)}
    code, out, err = run_cli(capsys, *[a.format(**values) for a in argv])
    assert code == 2
    payload = json.loads(out)
    assert set(payload) == {"error", "kind", "hint"} and payload["kind"] == kind
    assert err.startswith(f"error: {payload['error']}") and len(err.strip().splitlines()) == 1
