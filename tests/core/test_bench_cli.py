"""`workbench bench` and `workbench load` end to end (in process)."""

from __future__ import annotations

import json

from tests.conftest import SAMPLES_DIR
from tests.core.bench_servers import ScriptedServer
from workbench.cli import main
from workbench.core.bench.results import load_result


def test_bench_cli_json_and_out(tmp_path, capsys) -> None:
    out = tmp_path / "r.csv"
    code = main(["bench", str(SAMPLES_DIR / "iris_logreg.onnx"), "--rows", str(SAMPLES_DIR / "iris_logreg_onnx.rows.csv"),
                 "--runtime", "onnxruntime", "--batch-sizes", "1,4", "--count", "10", "--warmup", "0",
                 "--out", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 0
    data = json.loads(captured.out)
    assert data["kind"] == "local" and data["subject"]["format"] == "onnx"
    assert [(r["runtime"], r["batch_size"], r["calls"], r["rows"]) for r in data["rows"]] == [
        ("onnxruntime", 1, 10, 10), ("onnxruntime", 4, 10, 40)]
    assert data["plan"]["timed"] == "backend"
    assert all(r["timed"] == "backend" and r["prepare_us"] > 0 and r["finish_us"] > 0 for r in data["rows"])
    assert "[2/2] onnxruntime batch 4: 10 calls" in captured.err      # the progress line
    assert [r["calls"] for r in load_result(out).rows] == [10, 10]


def test_bench_cli_bad_batch_sizes(capsys) -> None:
    code = main(["bench", str(SAMPLES_DIR / "iris_logreg.onnx"), "--batch-sizes", "1,zero"])
    assert code == 2
    assert capsys.readouterr().err.strip() == "error: bad batch size 'zero': expected positive integers like 1,8,64"


def test_load_cli_table_and_json(tmp_path, capsys) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("x\n1.0\n2.0\n")
    with ScriptedServer(lambda i: (500 if i == 3 else 200, 0.0)) as srv:
        code = main(["load", srv.url, "--model", "m", "--rows", str(rows), "--concurrency", "1", "--count", "12",
                     "--warmup", "0", "--header", "Authorization: Bearer abc", "--out", str(tmp_path / "l.json")])
        text = capsys.readouterr().out
        assert code == 0
        assert srv.last_headers["Authorization"] == "Bearer abc"
        assert "client floor:" in text and "errors http-500: 1" in text
        code = main(["load", srv.url, "--model", "m", "--rows", str(rows), "--rate", "50", "--duration", "0.5",
                     "--warmup", "0", "--json"])
        data = json.loads(capsys.readouterr().out)
    assert code == 0
    saved = load_result(tmp_path / "l.json")
    assert saved.rows[0]["ok"] == 11 and saved.rows[0]["errors"] == {"http-500": 1}
    assert data["rows"][0]["mode"] == "open" and data["rows"][0]["level"] == 50
    assert data["summary"]["client_floor_us"] > 0
    assert 24 <= data["rows"][0]["ok"] <= 26


def test_load_cli_needs_an_endpoint(tmp_path, capsys) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("x\n1.0\n")
    assert main(["load", "--model", "m", "--rows", str(rows)]) == 2
    assert capsys.readouterr().err.strip() == "error: give the endpoint: a REST URL, or --grpc HOST:PORT"


def test_bench_cli_baseline_ratios(tmp_path, capsys) -> None:
    base = tmp_path / "base.json"
    args = ["bench", str(SAMPLES_DIR / "iris_logreg.onnx"), "--rows", str(SAMPLES_DIR / "iris_logreg_onnx.rows.csv"),
            "--batch-sizes", "2", "--count", "5", "--warmup", "0"]
    assert main([*args, "--out", str(base)]) == 0
    capsys.readouterr()
    assert main([*args, "--baseline", str(base)]) == 0
    text = capsys.readouterr().out
    assert f"vs {base} (x = this run / baseline):" in text
    assert "onnxruntime batch 2" in text
    assert "the ratios compare different things" not in text
    assert main([*args, "--baseline", str(base), "--end-to-end", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["plan"]["timed"] == "end_to_end" and data["rows"][0]["timed"] == "end_to_end"
    assert data["rows"][0]["prepare_us"] is None
    assert main([*args, "--baseline", str(base), "--end-to-end"]) == 0
    text = capsys.readouterr().out
    assert "latency: the whole predict per call (rows in, predictions out)" in text
    assert ("note: the baseline timed the runtime's call alone, this run the whole predict (rows in, results "
            "out): the ratios compare different things") in text


def test_load_cli_preflight_stops_before_loading_a_broken_endpoint(tmp_path, capsys) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("x\n1.0\n")
    with ScriptedServer(lambda i: (404, 0.0)) as srv:
        code = main(["load", srv.url, "--model", "m", "--rows", str(rows), "--duration", "30"])
        served = srv.count
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the first request failed before any load (")
    assert served == 2      # the signature look-up (GET .../metadata) and the one preflight POST: no load


def test_out_never_replaces_a_saved_result_without_force(tmp_path, capsys) -> None:
    out = tmp_path / "baseline.json"
    args = ["bench", str(SAMPLES_DIR / "iris_logreg.onnx"), "--runtime", "onnxruntime", "--batch-sizes", "1",
            "--count", "3", "--warmup", "0", "--out", str(out)]
    assert main(args) == 0
    saved = out.read_bytes()
    capsys.readouterr()
    assert main(args) == 2
    assert capsys.readouterr().err.strip() == (f"error: --out {out} exists: pass --force to overwrite it "
                                               "(nothing was measured)")
    assert out.read_bytes() == saved
    assert main([*args, "--force"]) == 0
    assert load_result(out).rows[0]["calls"] == 3 and out.read_bytes() != saved
