"""`workbench probe` as a command: the exit-2 contract (one `error: ...` line on stderr, the report still
on stdout), short human diagnoses of transport failures, TLS options, v2 row checks before sending,
row numbering, and the human rendering. Real sockets on 127.0.0.1 only; no TensorFlow, no MLServer."""

from __future__ import annotations

import json
import socket
import warnings

import pandas as pd
import pytest

from workbench.cli import main
from workbench.commands.probe import render
from workbench.core.errors import InputRowsError
from workbench.core.serving.diagnosis import diagnose_http
from workbench.core.serving.http import HttpAnswer
from workbench.core.serving.request_builder import build_v2_infer
from workbench.core.serving.signatures import metadata_from_rest, metadata_from_v2
from workbench.core.serving.v2 import inference_error
from workbench.testing.endpoints import CannedHttpServer, SilentServer, refused_port

TFS_STATUS = json.dumps({"model_version_status": [
    {"version": "3", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]})
TFS_NO_MODEL = '{ "error": "Missing model name in request." }'


def probe(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:
    """Run `workbench probe ... --json`; returns (exit code, the JSON document, stderr)."""
    code = main(["probe", *args, "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory):
    from workbench.testing.tls import make_self_signed

    return make_self_signed(tmp_path_factory.mktemp("tls"))


# ---- exit 2: one line on stderr, the report on stdout ----------------------------------------------------

def test_connection_refused_is_one_short_line_on_stderr_and_json_on_stdout(capsys):
    port = refused_port()
    code, report, err = probe(capsys, f"http://127.0.0.1:{port}", "--model", "m")
    assert code == 2
    assert err == f"error: connection refused by 127.0.0.1:{port}\n"
    assert report["error"]["kind"] == "connection-refused"
    assert report["error"]["message"] == f"connection refused by 127.0.0.1:{port}"
    assert "HTTPConnectionPool" in report["error"]["details"]["raw"]  # kept, for a bug report
    # human output: the report on stdout too, the same single line on stderr
    code = main(["probe", f"http://127.0.0.1:{port}", "--model", "m"])
    out, err = capsys.readouterr()
    assert code == 2 and err == f"error: connection refused by 127.0.0.1:{port}\n"
    assert f"ERROR       [connection-refused] connection refused by 127.0.0.1:{port}" in out
    assert "Max retries" not in out and "NewConnectionError" not in out


def test_a_grpc_port_that_refuses_shows_no_protocol(capsys):
    """The gRPC probe assumes TF Serving's protocol before connecting; nothing answered, so none is shown."""
    port = refused_port()
    for url, extra in ((f"grpc://127.0.0.1:{port}", []), (f"http://127.0.0.1:{port}", ["--grpc", f"127.0.0.1:{port}"])):
        code, report, _ = probe(capsys, url, "--model", "m", *extra)
        assert code == 2
        grpc = report.get("grpc") or report
        assert grpc["error"]["kind"] == "connection-refused" and grpc["protocol"] is None


def test_timeout_names_host_and_seconds(capsys):
    with SilentServer() as silent:
        code, report, err = probe(capsys, silent.url, "--model", "m", "--timeout", "0.5")
    assert code == 2 and report["error"]["kind"] == "timeout"
    assert report["error"]["message"] == f"no answer from 127.0.0.1:{silent.port} within 0.5 s"
    assert err == f"error: no answer from 127.0.0.1:{silent.port} within 0.5 s\n"


def test_dns_failure_names_the_host(capsys, monkeypatch):
    """The resolver failure is injected at the socket level (a real lookup would leave the machine)."""
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        if str(host).endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    code, report, err = probe(capsys, "http://nope.invalid:8501", "--model", "m")
    assert code == 2 and report["error"]["kind"] == "dns-failure"
    assert report["error"]["message"] == "cannot resolve host nope.invalid"
    assert err == "error: cannot resolve host nope.invalid\n"


def test_missing_model_and_bad_rows_and_bad_arguments_use_stderr_too(capsys, tmp_path):
    with CannedHttpServer(400, TFS_NO_MODEL, "application/json") as tfs:
        code, report, err = probe(capsys, tfs.url)
        assert code == 2 and report["error"]["kind"] == "model-required"
        assert err == "error: the endpoint speaks tfserving, but no model was named: pass --model NAME\n"
        seen = len(tfs.requests)
        missing = tmp_path / "missing.csv"
        code, report, err = probe(capsys, tfs.url, "--model", "m", "--rows", str(missing))
        assert code == 2 and report["error"]["kind"] == "bad-rows"
        assert err.startswith("error: ") and str(missing) in err and err.count("\n") == 1
        code, report, err = probe(capsys, tfs.url, "--model", "m", "--header", "no-colon")
        assert code == 2 and report["error"]["kind"] == "bad-arguments"
        assert err == "error: header 'no-colon' is not of the form 'Name: value'\n"
        assert len(tfs.requests) == seen  # bad rows / arguments: nothing was sent


def test_tf_serving_version_must_be_an_integer(capsys):
    with CannedHttpServer(200, TFS_STATUS, "application/json") as tfs:
        code, report, err = probe(capsys, tfs.url, "--model", "m", "--version", "v9")
        assert code == 2 and report["protocol"] == "tfserving" and report["error"]["kind"] == "bad-arguments"
        assert err == "error: TF Serving versions are integers, not 'v9'\n"
        code, report, err = probe(capsys, tfs.url, "--model", "m", "--version", "3")
    assert code == 0 and err == "" and report["versions"][0]["version"] == 3


# ---- TLS ---------------------------------------------------------------------------------------------

def test_tls_failure_message_and_ca_file(capsys, tls_files):
    cert, key = (str(p) for p in tls_files)
    with CannedHttpServer(200, TFS_STATUS, "application/json", tls=(cert, key)) as tfs:
        code, report, err = probe(capsys, tfs.url, "--model", "m")
        assert code == 2 and report["error"]["kind"] == "tls-failure"
        expected = (f"TLS handshake with 127.0.0.1:{tfs.port} failed: certificate verify failed: "
                    "self-signed certificate")
        assert report["error"]["message"] == expected
        assert err == f"error: {expected}\n"
        code, report, err = probe(capsys, tfs.url, "--model", "m", "--ca-file", cert)
        assert code == 0 and err == "" and report["versions"][0]["version"] == 3


def test_missing_or_bad_ca_file_is_reported_before_any_network_call(capsys, tmp_path, tls_files):
    with CannedHttpServer(200, TFS_STATUS, "application/json", tls=tuple(str(p) for p in tls_files)) as tfs:
        missing = tmp_path / "nope.pem"
        code, report, err = probe(capsys, tfs.url, "--model", "m", "--ca-file", str(missing))
        assert code == 2 and report["error"]["kind"] == "bad-arguments"
        assert report["error"]["message"] == f"CA file not found: {missing}"
        assert err == f"error: CA file not found: {missing}\n"
        garbage = tmp_path / "garbage.pem"
        garbage.write_text("not a certificate\n")
        code, report, err = probe(capsys, tfs.url, "--model", "m", "--ca-file", str(garbage))
        assert code == 2 and err == f"error: CA file {garbage} holds no PEM certificate\n"
        assert tfs.requests == []  # nothing was sent


def test_insecure_warns_once_as_a_note(capsys, tls_files):
    from urllib3.exceptions import InsecureRequestWarning

    with CannedHttpServer(200, TFS_STATUS, "application/json", tls=tuple(str(p) for p in tls_files)) as tfs:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = main(["probe", tfs.url, "--model", "m", "--insecure"])
        out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert not [w for w in caught if issubclass(w.category, InsecureRequestWarning)]
    notes = [line for line in out.splitlines() if "verification is off" in line]
    assert notes == ["  note        TLS certificate verification is off (--insecure): the server's identity "
                     "is not checked"]


# ---- v2 rows checked before sending, v2 5xx ------------------------------------------------------------

def test_v2_rows_are_checked_against_the_metadata_before_sending():
    typed = metadata_from_v2({"name": "iris", "versions": ["v1"],
                              "inputs": [{"name": "x", "datatype": "FP64", "shape": [-1, 4]}]})
    frame = pd.DataFrame({"a": ["5.1", "4.9"], "b": ["3.5", "abc"], "c": ["1.4", "1.4"], "d": ["0.2", "0.2"]})
    with pytest.raises(InputRowsError) as err:
        build_v2_infer(typed.signatures["infer"], frame, "u", model="iris")
    assert err.value.problems == ["row 2, column 'b': 'abc' is not a number (input 'x' is FP64)"]
    assert err.value.message == ("1 problem(s) in the rows for model 'iris': row 2, column 'b': 'abc' is not a "
                                 "number (input 'x' is FP64)")
    # no declared inputs (mlserver-sklearn): the columns hold numbers, so a text cell is a bad row
    bare = metadata_from_v2({"name": "iris", "versions": [], "inputs": [], "outputs": []})
    with pytest.raises(InputRowsError) as err:
        build_v2_infer(bare.signatures["infer"], frame, "u", model="iris")
    assert err.value.problems == ["row 2, column 'b': 'abc' is not a number (input 'input-0' is FP64)"]
    assert "declares no inputs" in err.value.hint
    # a text model stays a text model
    text = pd.DataFrame({"city": ["Oslo", "Rome"], "zone": ["a", "b"]})
    built = build_v2_infer(bare.signatures["infer"], text, "u", model="m")
    assert built.body["inputs"][0]["datatype"] == "BYTES"


def test_v2_5xx_is_an_inference_error_with_the_servers_message():
    answer = HttpAnswer(status=500, text="Internal Server Error", content_type="text/plain; charset=utf-8",
                        elapsed_ms=1.0, url="http://127.0.0.1:8080/v2/models/iris/infer", method="POST")
    assert diagnose_http(500, answer.text, answer.content_type, answer.url).kind == "non-json-response"
    diag = inference_error(answer, "iris")
    assert (diag.kind, diag.message, diag.status) == ("inference-error", "Internal Server Error", 500)
    assert "inference error in the model server" in diag.hint and "proxy" not in diag.hint


# ---- human output -------------------------------------------------------------------------------------

def test_render_numbers_predictions_from_1_and_wraps_many_inputs():
    names = ["zeta", "age", "income", "city", "beta"]  # the model's order, not sorted
    body = {"model_spec": {"name": "m", "version": "1"}, "metadata": {"signature_def": {"signature_def": {
        "serving_default": {"method_name": "tensorflow/serving/predict",
                            "inputs": {n: {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1"}]},
                                           "name": f"{n}:0"} for n in names},
                            "outputs": {"y": {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1"}]},
                                              "name": "y:0"}}}}}}}
    meta = metadata_from_rest(json.loads(json.dumps(body)))
    assert list(meta.signatures["serving_default"].inputs) == names  # order as received
    data = {"url": "http://h:8501", "protocol": "tfserving", "model": "m", "version": 1, "versions": [],
            "signatures": {k: v.to_json() for k, v in meta.signatures.items()},
            "signature": "serving_default", "predictions": [0.5, 1.5]}
    assert list(data["signatures"]["serving_default"]["inputs"]) == names
    lines = render(data).splitlines()
    start = lines.index("  signature   serving_default (predict)")
    assert lines[start + 1:start + 7] == [f"    in        {n} DT_FLOAT [?]" for n in names] + [
        "    out       y DT_FLOAT [?]"]
    assert "    [1] 0.5" in lines and "    [2] 1.5" in lines and "    [0] 0.5" not in lines
