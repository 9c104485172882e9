"""`bench` / `load` check what they can before running: rows against the served signature, --out and
--baseline, runtimes without Java; and print tables with one precision per column."""

from __future__ import annotations

import json
import math
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import pytest

from tests.conftest import SAMPLES_DIR
from tests.core.bench_servers import ScriptedServer
from workbench.cli import main

ONNX = SAMPLES_DIR / "iris_logreg.onnx"
ONNX_ROWS = SAMPLES_DIR / "iris_logreg_onnx.rows.csv"
JAVA_HINT = "install a JRE 11 or newer, e.g. apt-get install default-jre-headless"


# ---- a served signature: TF Serving REST metadata and v2 model metadata on 127.0.0.1 -------------------

def _tensor(dtype: str) -> dict[str, Any]:
    return {"dtype": dtype, "name": "x:0", "tensor_shape": {"dim": [{"size": "-1", "name": ""}],
                                                           "unknown_rank": False}}


CTR_INPUTS = {"price": "DT_FLOAT", "age": "DT_INT64", "city": "DT_STRING"}
TFS_METADATA = {
    "model_spec": {"name": "ctr", "signature_name": "", "version": "1"},
    "metadata": {"signature_def": {"signature_def": {"serving_default": {
        "inputs": {alias: _tensor(dt) for alias, dt in CTR_INPUTS.items()},
        "outputs": {"p": _tensor("DT_FLOAT")}, "method_name": "tensorflow/serving/predict"}}}}}
V2_METADATA = {"name": "ctr", "versions": ["1"], "platform": "test",
               "inputs": [{"name": "price", "datatype": "FP32", "shape": [-1]},
                          {"name": "age", "datatype": "INT64", "shape": [-1]},
                          {"name": "city", "datatype": "BYTES", "shape": [-1]}],
               "outputs": [{"name": "p", "datatype": "FP32", "shape": [-1]}]}


class SignatureServer:
    """Serves the ctr metadata (TF Serving REST and v2) and answers every POST, keeping the bodies."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/v1/models/ctr/metadata":
                    self._answer(200, TFS_METADATA)
                elif self.path == "/v2/models/ctr":
                    self._answer(200, V2_METADATA)
                else:
                    self._answer(404, {"error": "not found"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                with owner.lock:
                    owner.posts.append(body)
                n = len(body.get("instances", [])) or 1
                self._answer(200, {"predictions": [0.5] * n})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def ctr_server():
    with SignatureServer() as srv:
        yield srv


def _csv(tmp_path: Path, text: str, name: str = "ctr_text.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_checks_every_cell_against_the_served_signature_and_sends_nothing(tmp_path, capsys,
                                                                                 ctr_server) -> None:
    rows = _csv(tmp_path, "price,age,city\n1.5,30,paris\nabc,41,rome\n2.0,thirty,oslo\n")
    code = main(["load", ctr_server.base, "--model", "ctr", "--rows", str(rows), "--count", "5", "--warmup", "0"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "error: the rows do not fit the served signature 'serving_default' of model 'ctr': "
        "row 2, column 'price': 'abc' is not a number (input 'price' is DT_FLOAT); "
        "row 3, column 'age': 'thirty' is not a number (input 'age' is DT_INT64) "
        "(nothing was sent; rows are counted from 1, header excluded)")
    assert ctr_server.posts == []     # not even the preflight request


def test_load_names_an_input_without_a_column(tmp_path, capsys, ctr_server) -> None:
    rows = _csv(tmp_path, "price,city\n1.5,paris\n")
    code = main(["load", ctr_server.base, "--model", "ctr", "--rows", str(rows), "--count", "5", "--warmup", "0"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "error: the rows do not fit the served signature 'serving_default' of model 'ctr': "
        "input 'age' (DT_INT64) has no column; columns are: price, city (nothing was sent)")
    assert ctr_server.posts == []


def test_load_checks_rows_against_v2_model_metadata(tmp_path, capsys, ctr_server) -> None:
    rows = _csv(tmp_path, "price,age,city\n1.5,30,paris\nabc,41,rome\n")
    code = main(["load", f"{ctr_server.base}/v2/models/ctr/infer", "--model", "ctr", "--rows", str(rows),
                 "--count", "5", "--warmup", "0"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: the rows do not fit the inputs of model 'ctr': "
                          "row 2, column 'price': 'abc' is not a number (input 'price' is FP32)")
    assert err.endswith("(nothing was sent; rows are counted from 1, header excluded)")
    assert ctr_server.posts == []


def test_load_sends_values_typed_by_the_signature(tmp_path, capsys, ctr_server) -> None:
    # text cells from the CSV go out as the signature says: price float, age integer, city string
    # (the zip-code-like city "0042" stays text); the extra column is not sent
    rows = _csv(tmp_path, "city,age,price,note\nparis,30,1.5,x\n0042,41,2,y\n")
    code = main(["load", ctr_server.base, "--model", "ctr", "--rows", str(rows), "--batch-size", "2",
                 "--concurrency", "1", "--count", "3", "--warmup", "0"])
    capsys.readouterr()
    assert code == 0
    expected = {"instances": [{"price": 1.5, "age": 30, "city": "paris"},
                              {"price": 2.0, "age": 41, "city": "0042"}]}
    assert ctr_server.posts == [expected] * 4          # the preflight request and 3 measured ones
    assert all(isinstance(i["age"], int) for i in ctr_server.posts[0]["instances"])


def test_grpc_target_checks_rows_against_the_served_signature() -> None:
    from concurrent import futures

    import grpc
    import pandas as pd

    from workbench.core.bench.requests import build_grpc_target
    from workbench.core.errors import InputRowsError
    from workbench.core.serving.protos import tfserving_pb2 as pb
    from workbench.core.serving.tensors import from_tensor_proto

    sig = pb.SignatureDef(method_name="tensorflow/serving/predict")
    for alias, dt in CTR_INPUTS.items():
        info = sig.inputs[alias]
        info.dtype = getattr(pb, dt)
        info.name = f"{alias}:0"
        info.tensor_shape.dim.add().size = -1
    sig_map = pb.SignatureDefMap()
    sig_map.signature_def["serving_default"].CopyFrom(sig)

    def metadata(request: bytes, context: grpc.ServicerContext) -> bytes:
        resp = pb.GetModelMetadataResponse()
        resp.model_spec.name = "ctr"
        resp.metadata["signature_def"].Pack(sig_map)
        return resp.SerializeToString()

    class Generic(grpc.GenericRpcHandler):
        def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
            if details.method.endswith("/GetModelMetadata"):
                return grpc.unary_unary_rpc_method_handler(metadata)
            return None

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[Generic()])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        address = f"127.0.0.1:{port}"
        bad = pd.DataFrame({"price": ["1.5", "2"], "age": ["30", "4.5"], "city": ["paris", "rome"]})
        with pytest.raises(InputRowsError) as err:
            build_grpc_target(address, "ctr", bad)
        assert err.value.message == ("the rows do not fit the served signature 'serving_default' of model 'ctr': "
                                     "row 2, column 'age': 4.5 is not an integer (input 'age' is DT_INT64)")
        good = pd.DataFrame({"price": ["1.5", "2"], "age": ["30", "41"], "city": ["paris", "0042"]})
        target = build_grpc_target(address, "ctr", good, batch_size=2)
    finally:
        server.stop(grace=None).wait()
    req = pb.PredictRequest.FromString(target.payloads[0])
    assert req.inputs["price"].dtype == pb.DT_FLOAT and req.inputs["age"].dtype == pb.DT_INT64
    assert from_tensor_proto(req.inputs["age"]).tolist() == [30, 41]
    assert from_tensor_proto(req.inputs["price"]).tolist() == [1.5, 2.0]
    assert [v.decode() for v in from_tensor_proto(req.inputs["city"]).tolist()] == ["paris", "0042"]


# ---- --out and --baseline are checked before anything runs -----------------------------------------

def _bench(*extra: str) -> list[str]:
    return ["bench", str(ONNX), "--rows", str(ONNX_ROWS), "--runtime", "onnxruntime", "--batch-sizes", "1",
            "--count", "3", "--warmup", "0", *extra]


def test_bench_missing_baseline_fails_before_measuring(tmp_path, capsys) -> None:
    missing = tmp_path / "nothere.json"
    assert main(_bench("--baseline", str(missing))) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: --baseline: {missing}: no such file or folder\n"  # no progress line: nothing ran
    assert captured.out == ""


@pytest.mark.parametrize("content,message", [
    ("a,b\n1,2\n", "not_a_result.csv is not a workbench result CSV (no 'kind' column)"),
    ("kind,runtime,batch_size\nlocal,native,abc\n",
     "not_a_result.csv is not a workbench result CSV: line 2, column 'batch_size': 'abc' is not a valid value"),
    ("kind,x\nsomething,1\n",
     "not_a_result.csv is not a workbench result CSV (kind 'something', expected local or load on every row)"),
])
def test_bench_baseline_that_is_not_a_result_fails_before_measuring(tmp_path, capsys, content: str,
                                                                    message: str) -> None:
    path = _csv(tmp_path, content, "not_a_result.csv")
    assert main(_bench("--baseline", str(path))) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: --baseline: {message}\n"
    assert captured.out == ""


def test_bench_baseline_of_the_other_kind(tmp_path, capsys) -> None:
    path = tmp_path / "load.json"
    path.write_text(json.dumps({"schema": "workbench-bench-result", "schema_version": 1, "kind": "load",
                                "rows": []}))
    assert main(_bench("--baseline", str(path))) == 2
    assert capsys.readouterr().err == (f"error: --baseline {path} is a load result; compare with a local result "
                                       "(give a file saved by `workbench bench` --out)\n")


@pytest.mark.parametrize("name,message", [
    ("missing/r.json", "--out {p}: folder {d} does not exist (create it first)"),
    ("r.txt", "--out {p}: cannot save results as 'r.txt' (use a .json or .csv file name)"),
    ("file.csv/r.json", "--out {p}: {d} is not a folder"),
])
def test_bench_unwritable_out_fails_before_measuring(tmp_path, capsys, name: str, message: str) -> None:
    (tmp_path / "file.csv").write_text("x\n")
    out = tmp_path / name
    assert main(_bench("--out", str(out))) == 2
    captured = capsys.readouterr()
    assert captured.err == "error: " + message.format(p=out, d=out.parent) + "\n"
    assert not out.exists()


def test_load_checks_out_and_baseline_before_contacting_the_endpoint(tmp_path, capsys) -> None:
    rows = _csv(tmp_path, "x\n1.0\n", "rows.csv")
    local = tmp_path / "local.json"
    local.write_text(json.dumps({"schema": "workbench-bench-result", "schema_version": 1, "kind": "local",
                                 "rows": []}))
    with ScriptedServer() as srv:
        base = ["load", srv.url, "--model", "m", "--rows", str(rows), "--count", "3", "--warmup", "0"]
        assert main([*base, "--baseline", str(tmp_path / "nothere.json")]) == 2
        assert capsys.readouterr().err == f"error: --baseline: {tmp_path / 'nothere.json'}: no such file or folder\n"
        assert main([*base, "--baseline", str(local)]) == 2
        assert capsys.readouterr().err.startswith(f"error: --baseline {local} is a local result; compare with a "
                                                  "load result")
        assert main([*base, "--out", str(tmp_path / "no" / "l.json")]) == 2
        assert "does not exist" in capsys.readouterr().err
        served = srv.count
    assert served == 0


# ---- runtimes that cannot run here say why ----------------------------------------------------------

@pytest.fixture
def no_java(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from workbench.core.runtimes import java as java_module

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    java_module.find_java.cache_clear()
    java_module.java_availability.cache_clear()
    yield
    java_module.find_java.cache_clear()
    java_module.java_availability.cache_clear()


def test_bench_pmml_without_java_gives_each_runtimes_reason(no_java, capsys) -> None:
    code = main(["bench", str(SAMPLES_DIR / "iris_logreg.pmml"), "--count", "1", "--warmup", "0"])
    assert code == 2
    assert capsys.readouterr().err == ("error: no runtime available here runs pmml models -- jpmml, pmml4s: "
                                       f"Java not found: {JAVA_HINT}\n")


def test_unavailable_reasons_group_runtimes_by_reason() -> None:
    from workbench.core.bench.local import unavailable_reasons
    from workbench.core.runtimes import Availability

    checked = [("jpmml", Availability(False, "Java not found", JAVA_HINT)),
               ("pmml4s", Availability(False, "pypmml not installed", "pip install pypmml")),
               ("other", Availability(True)),
               ("third", Availability(False, "Java not found", JAVA_HINT))]
    assert unavailable_reasons(checked) == (f"jpmml, third: Java not found: {JAVA_HINT}; "
                                            "pmml4s: pypmml not installed: pip install pypmml")


# ---- table readability --------------------------------------------------------------------------------

def test_number_formats_keep_one_precision_per_column() -> None:
    from workbench.commands._benchcli import integer, megabytes, ratio, sig

    assert [sig(v) for v in (4.21, 2.068, 0.000951, 0.951, 12.34, 9.996, 99.96, 304.224, 1450.2, -0.0421)] == [
        "4.21", "2.07", "0.000951", "0.951", "12.3", "10.0", "100", "304", "1,450", "-0.0421"]
    assert [sig(v) for v in (None, math.nan, 0.0, 2.0)] == ["-", "-", "0", "2.00"]
    assert [integer(v) for v in (304.224, 1450.2, 4_100_730.4, None)] == ["304", "1,450", "4,100,730", "-"]
    assert [ratio(v) for v in (1.0, 2.3456, None)] == ["1.00", "2.35", "-"]
    assert [megabytes(v) for v in (28.13, 0.0273, -1.26, None)] == ["28.1", "0.0", "-1.3", "-"]


def _significant(cell: str) -> int:
    digits = cell.replace(",", "").replace("-", "")
    if "." not in digits:
        return len(digits)
    return len(digits.replace(".", "").lstrip("0"))


def _parse_table(lines: list[str]) -> list[dict[str, str]]:
    header, rule, *body = lines
    spans = [m.span() for m in re.finditer(r"-+", rule)]
    names = [header[a:b].strip() for a, b in spans]
    # every cell lies within its column's rule (left- or right-aligned)
    return [{n: line[a:b].strip() for n, (a, b) in zip(names, spans)} for line in body]


@pytest.mark.parametrize("with_rows", [False, True])
def test_bench_table_header_and_columns(tmp_path, capsys, with_rows: bool) -> None:
    args = ["bench", str(ONNX), "--runtime", "onnxruntime", "--batch-sizes", "1,16", "--count", "20",
            "--warmup", "0"]
    if with_rows:
        args += ["--rows", str(ONNX_ROWS)]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    if with_rows:
        n = len([line for line in ONNX_ROWS.read_text().splitlines() if line.strip()]) - 1
        assert lines[0] == f"{ONNX} (onnx), {n} rows from {ONNX_ROWS}"
    else:
        assert lines[0] == f"{ONNX} (onnx), 64 generated rows"
    rows = _parse_table(lines[1:5])
    assert len(rows) == 2 and [r["batch"] for r in rows] == ["1", "16"]
    assert "load ms" in rows[0] and "load s" not in rows[0]
    for row in rows:
        for col in ("p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "mean ms", "load ms"):
            value = float(row[col].replace(",", ""))
            assert _significant(row[col]) == 3 or value >= 100, (col, row[col])
        assert re.fullmatch(r"\d{1,3}(,\d{3})*", row["rows/s"]), row["rows/s"]
        assert re.fullmatch(r"\d+\.\d\d", row["x best p50"]) and row["x best p50"] == "1.00"
        for col in ("load MB", "peak MB"):
            assert re.fullmatch(r"-?\d[\d,]*\.\d", row[col]), (col, row[col])
        for col in ("prep us", "finish us"):  # conversions measured apart from the timed runtime call
            value = float(row[col].replace(",", ""))
            assert value > 0 and (_significant(row[col]) == 3 or value >= 100), (col, row[col])
    assert lines[5].startswith("latency: the runtime's own call on inputs converted beforehand;")


@pytest.mark.parametrize("args, message", [
    (["bench", str(ONNX), "--warmup", "-1"],
     "error: argument --warmup: expected a finite number of seconds, zero or more, got -1 "
     "(see `workbench bench --help`)"),
    (["bench", str(ONNX), "--count", "0"], "error: argument --count: expected 1 or more, got 0 "
     "(see `workbench bench --help`)"),
    (["load", "http://127.0.0.1:9/", "--model", "m", "--rows", str(ONNX_ROWS), "--count", "0"],
     "error: argument --count: expected 1 or more, got 0 (see `workbench load --help`)"),
    (["load", "http://127.0.0.1:9/", "--model", "m", "--rows", str(ONNX_ROWS), "--warmup", "nan"],
     "error: argument --warmup: expected a finite number of seconds, zero or more, got nan "
     "(see `workbench load --help`)"),
    (["compare", str(ONNX), str(ONNX), "--rows", str(ONNX_ROWS), "--worst", "-1"],
     "error: argument --worst: expected 0 or more, got -1 (see `workbench compare --help`)"),
    (["probe", "http://127.0.0.1:9", "--model", "m", "--columnar"],
     "error: --columnar shapes the rows sent for prediction: give --rows or --generate N too"),
    (["probe", "http://127.0.0.1:9", "--model", "m", "--rows", str(ONNX_ROWS), "--generate", "3"],
     "error: give --rows or --generate, not both"),
    (["bench", str(ONNX), "--duration", "nan"], "error: --duration must be a positive number of seconds, got nan"),
    (["load", "http://127.0.0.1:9/", "--model", "m", "--rows", str(ONNX_ROWS), "--duration", "inf"],
     "error: --duration must be a positive number of seconds, got inf"),
    (["convert", str(ONNX)], "error: --to TARGET and --out PATH are required (or --list to see the possible "
     "targets)"),
])
def test_out_of_range_arguments_are_refused_before_any_work(capsys, args: list[str], message: str) -> None:
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own refusals exit from inside main
        code = exc.code
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == message
    # with --json the same refusal is an object on stdout too
    try:
        code = main([*args, "--json"])
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    assert code == 2
    payload = json.loads(captured.out)  # probe prints its whole report, with the error in it
    error = payload["error"] if isinstance(payload["error"], str) else payload["error"]["message"]
    assert {"error", "kind", "hint"} <= set(payload) or "protocol" in payload
    assert captured.err.startswith(f"error: {error}")
