"""TF Serving over REST and gRPC against the TF-Serving-compatible test server (real SavedModels).

One module-scoped server (TensorFlow is imported once, here) serves the committed TF Serving test models
(sample_models/tfserving): half_plus_two_2_versions (123, 124; label Version_Label -> 123), the TF2
half_plus_two and half_plus_three. Expected values are the models' arithmetic (y = 0.5x + 2, y2 = 0.5x + 3),
the values TF Serving's own handler tests assert, never numbers read back from this code.
Every diagnosis is provoked for real: refused ports, a silent port (timeout), a self-signed TLS server,
an HTML-answering proxy, a gateway wanting auth, DNS failure inside a private network namespace.
"""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.core.serving_fixtures import (BROKEN, HP3, HPT2, HPT2_METADATA, HPT_TF2, netns_available,
                                         run_in_netns, run_python, model_dir)
from workbench.cli import main
from workbench.core.serving.diagnosis import ServingError
from workbench.core.serving.grpc_client import TFServingGrpcClient
from workbench.core.serving.probe import ProbeOptions, run_probe
from workbench.core.serving.rest import TFServingRestClient
from workbench.testing.endpoints import CannedHttpServer, SilentServer, refused_port

pytestmark = pytest.mark.tf

PROBE_KEYS = {"protocol", "url", "model", "versions", "signatures", "predictions", "latency_ms", "error"}


def _save_multi_input_model(base: Path) -> Path:
    """A TF2 SavedModel like the workbench's own bundles: serving_default takes one named input per feature
    (int64 age, float income, string city); outputs score = 2*income + age, city_len, city_bytes (echo)."""
    import tensorflow as tf

    class Multi(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="age"),
                                      tf.TensorSpec([None], tf.float32, name="income"),
                                      tf.TensorSpec([None], tf.string, name="city")])
        def serve(self, age, income, city):
            return {"score": 2.0 * income + tf.cast(age, tf.float32),
                    "city_len": tf.strings.length(city), "city_bytes": city}

    module = Multi()
    tf.saved_model.save(module, str(base / "1"), signatures={"serving_default": module.serve})
    return base


@pytest.fixture(scope="module")
def tfs(tmp_path_factory: pytest.TempPathFactory):
    """The test server: plain REST + gRPC."""
    from workbench.testing.tfserving_server import TFServingTestServer

    multi = _save_multi_input_model(tmp_path_factory.mktemp("multi"))
    models = {HPT2: model_dir(HPT2), "tf2": model_dir(HPT_TF2), "three": model_dir(HP3), "multi": multi}
    with TFServingTestServer(models, labels={HPT2: {"Version_Label": 123}}) as server:
        yield server


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from workbench.testing.tls import make_self_signed

    return make_self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tfs_tls(tfs, tls_files):
    """A second server over TLS with a self-signed certificate that also wants an auth header."""
    from workbench.testing.tfserving_server import TFServingTestServer

    with TFServingTestServer({HPT2: model_dir(HPT2)}, tls=(str(tls_files[0]), str(tls_files[1])),
                             require_headers={"Authorization": "Bearer s3cret"}) as server:
        yield server


@pytest.fixture()
def rest(tfs):
    with TFServingRestClient(tfs.rest_url, timeout=10) as client:
        yield client


@pytest.fixture()
def grpc_client(tfs):
    with TFServingGrpcClient(tfs.grpc_target, timeout=10) as client:
        yield client


def probe_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["probe", *args, "--json"])
    out, _ = capsys.readouterr()
    return code, json.loads(out)


# ---- REST: status, metadata, predict, classify, regress ----------------------------------------------

def test_rest_status_lists_both_versions_available(tfs, rest):
    statuses = rest.model_status(HPT2)
    assert [(s.version, s.state, s.error) for s in statuses] == [(123, "AVAILABLE", None), (124, "AVAILABLE", None)]
    raw = requests.get(f"{tfs.rest_url}/v1/models/{HPT2}/versions/123", timeout=10)
    assert raw.headers["Content-Type"] == "application/json"
    # the exact body of upstream's http_rest_api_handler_test GetStatus
    assert raw.json() == {"model_version_status": [{"version": "123", "state": "AVAILABLE",
                                                    "status": {"error_code": "OK", "error_message": ""}}]}
    assert raw.text.startswith('{\n "model_version_status": [\n  {\n   "version": "123"')
    by_label = requests.get(f"{tfs.rest_url}/v1/models/{HPT2}/labels/Version_Label", timeout=10).json()
    assert by_label == raw.json()


def test_rest_metadata_matches_golden_file(tfs, rest):
    golden = json.loads(model_dir(HPT2_METADATA).read_text())
    body = requests.get(f"{tfs.rest_url}/v1/models/{HPT2}/versions/123/metadata", timeout=10).json()
    assert body == golden
    meta = rest.metadata(HPT2, label="Version_Label")
    assert meta.version == 123
    assert sorted(meta.signatures) == sorted(golden["metadata"]["signature_def"]["signature_def"])
    x = meta.signatures["serving_default"].inputs["x"]
    assert (x.dtype, x.shape, x.tensor_name) == ("DT_FLOAT", (-1, 1), "x:0")
    assert meta.signatures["classify_x_to_y"].inputs["inputs"].shape is None  # unknown rank
    assert meta.signatures["classify_x_to_y"].takes_examples
    assert rest.metadata(HPT2).version == 124  # latest


def test_rest_predict_row_and_columnar(rest):
    assert rest.predict(HPT2, instances=[1.0, 2.0, 5.0]) == {"predictions": [2.5, 3.0, 4.5]}
    assert rest.predict(HPT2, instances=[1.0, 2.0], version=123) == {"predictions": [2.5, 3.0]}
    assert rest.predict(HPT2, instances=[1.0, 2.0], label="Version_Label") == {"predictions": [2.5, 3.0]}
    assert rest.predict(HPT2, inputs=[3.0, 4.0], signature="serving_default") == {"outputs": [3.5, 4.0]}
    assert rest.predict(HPT2, instances=[[1.0, 2.0], [3.0, 4.0]]) == {"predictions": [[2.5, 3.0], [3.5, 4.0]]}
    assert rest.predict("three", instances=[1.0, 2.0, 5.0]) == {"predictions": [3.5, 4.0, 5.5]}
    assert rest.predict("tf2", instances=[1.0, 2.0, 5.0]) == {"predictions": [2.5, 3.0, 4.5]}


def test_rest_bodies_are_written_like_rapidjson_pretty_writer(tfs):
    # util/json_tensor.cc: PrettyWriter (4 spaces) with kFormatSingleLineArray on while rows are written
    url = f"{tfs.rest_url}/v1/models/{HPT2}"
    answer = requests.post(url + ":predict", json={"instances": [1.0, 2.0, 5.0]}, timeout=10)
    assert answer.text == '{\n    "predictions": [2.5, 3.0, 4.5\n    ]\n}'
    answer = requests.post(url + ":regress", json={"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]},
                           timeout=10)
    assert answer.text == '{\n    "results": [42.0]\n}'
    answer = requests.post(url + ":predict", json={"instances": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0, 7.0]]},
                           timeout=10)
    assert answer.status_code == 400
    assert answer.text == '{\n    "error": "Expecting tensor size: 2 but got: 3"\n}'


def test_rest_predict_non_finite_numbers_round_trip(tfs, rest):
    # TF Serving writes bare NaN / Infinity tokens; the client parses them
    answer = requests.post(f"{tfs.rest_url}/v1/models/{HPT2}:predict",
                           data='{"instances": [NaN, Infinity, -Infinity]}', timeout=10)
    assert "NaN" in answer.text and "Infinity" in answer.text
    preds = rest.predict(HPT2, instances=[float("nan"), float("inf"), 1.0])["predictions"]
    assert np.isnan(preds[0]) and preds[1] == float("inf") and preds[2] == 2.5


def test_rest_predict_b64_string_input(rest):
    # a serialized tf.Example as {"b64": ...} into the DT_STRING input of classify_x_to_y (via :predict)
    from workbench.core.serving.tensors import example_from_json

    blob = base64.b64encode(example_from_json({"x": [4.0]}).SerializeToString()).decode()
    answer = rest.predict(HPT2, instances=[{"b64": blob}], signature="classify_x_to_y")
    assert answer == {"predictions": [[4.0]]}


def test_rest_classify_and_regress(rest):
    # upstream handler tests: classify x=20 -> 12, label x=10 -> 7, regress x=80 -> 42
    assert rest.classify(HPT2, [{"x": 20.0}], signature="classify_x_to_y") == {"results": [[["", 12.0]]]}
    assert rest.classify(HPT2, [{"x": 10.0}], signature="classify_x_to_y",
                         label="Version_Label") == {"results": [[["", 7.0]]]}
    assert rest.regress(HPT2, [{"x": 80.0}], signature="regress_x_to_y") == {"results": [42.0]}
    assert rest.regress(HPT2, [{"x": 1.0}, {"x": 2.0}], signature="regress_x_to_y2") == {"results": [3.5, 4.0]}
    assert rest.regress("three", [{"x": 1.0}, {"x": 2.0}],
                        signature="tensorflow/serving/regress") == {"results": [3.5, 4.0]}
    assert rest.regress("tf2", [{"x": 2.0}], signature="regress_x_to_y") == {"results": [3.0]}
    # context features are shared by all examples
    assert rest.regress(HPT2, [{}, {}], context={"x": 2.0}, signature="regress_x_to_y") == {"results": [3.0, 3.0]}


def test_rest_several_named_inputs_row_and_columnar(rest, tfs, tmp_path, capsys):
    instances = [{"age": 30, "income": 1.5, "city": "Oslo"}, {"age": 40, "income": 2.0, "city": {"b64": "Um9tYQ=="}}]
    answer = rest.predict("multi", instances=instances)
    # several outputs: a list of objects in row form; *_bytes string outputs come back as b64
    assert answer == {"predictions": [{"city_bytes": {"b64": "T3Nsbw=="}, "city_len": 4, "score": 33.0},
                                      {"city_bytes": {"b64": "Um9tYQ=="}, "city_len": 4, "score": 44.0}]}
    answer = rest.predict("multi", inputs={"age": [1, 2], "income": [0.5, 0.25], "city": ["a", "bcd"]})
    assert answer == {"outputs": {"city_bytes": [{"b64": "YQ=="}, {"b64": "YmNk"}], "city_len": [1, 3],
                                  "score": [2.0, 2.5]}}
    err = _rest_error(lambda: rest.predict("multi", instances=[1.0, 2.0]))
    assert err.diagnosis.message.startswith("instances is a plain list, but expecting list of objects")
    err = _rest_error(lambda: rest.predict("multi", instances=[{"age": 3, "income": 1.0}]))
    assert err.diagnosis.kind == "bad-input-key" and "keys must be equal to: age,city,income" in err.diagnosis.message
    # the probe builds the same request from a rows file (columns in another order and case)
    rows = tmp_path / "rows.csv"
    rows.write_text("City,income,age\nOslo,1.5,30\nRoma,2.0,40\n")
    code, report = probe_cli(capsys, tfs.rest_url, "--model", "multi", "--rows", str(rows), "--grpc",
                             tfs.grpc_target)
    assert code == 0, report["error"]
    assert [p["score"] for p in report["predictions"]] == [33.0, 44.0]
    assert [p["score"] for p in report["grpc"]["predictions"]] == [33.0, 44.0]
    assert report["grpc"]["predictions"][1]["city_bytes"] == "Roma"
    assert report["request"]["body"]["instances"][0] == {"age": 30, "income": 1.5, "city": "Oslo"}


# ---- gRPC ---------------------------------------------------------------------------------------------

def test_grpc_status_metadata_predict(grpc_client):
    statuses = grpc_client.model_status(HPT2)
    assert [(s.version, s.state) for s in statuses] == [(123, "AVAILABLE"), (124, "AVAILABLE")]
    assert [s.version for s in grpc_client.model_status(HPT2, label="Version_Label")] == [123]
    meta = grpc_client.metadata(HPT2, version=123)
    assert meta.version == 123 and "classify_x2_to_y3" in meta.signatures
    assert meta.signatures["serving_default"].inputs["x"].shape == (-1, 1)
    outputs, spec = grpc_client.predict(HPT2, {"x": [[1.0], [2.0], [5.0]]})
    np.testing.assert_allclose(outputs["y"].reshape(-1), [2.5, 3.0, 4.5])
    assert outputs["y"].dtype == np.float32
    assert (spec.name, spec.version.value, spec.signature_name) == (HPT2, 124, "serving_default")
    _, spec = grpc_client.predict(HPT2, {"x": [[2.0]]}, label="Version_Label")
    assert spec.version.value == 123


def test_grpc_classify_regress(grpc_client):
    assert grpc_client.classify(HPT2, [{"x": 20.0}], signature="classify_x_to_y") == [[("", 12.0)]]
    assert grpc_client.regress(HPT2, [{"x": 80.0}, {"x": 2.0}], signature="regress_x_to_y") == [42.0, 3.0]
    assert grpc_client.regress("tf2", [{"x": 2.0}], signature="regress_x_to_y") == [3.0]


def test_grpc_errors_are_diagnosed(tfs, grpc_client):
    with pytest.raises(ServingError) as err:
        grpc_client.predict("nope", {"x": [[1.0]]}, dtypes={"x": "DT_FLOAT"})
    assert err.value.diagnosis.kind == "model-not-found"
    assert err.value.diagnosis.message == "Servable not found for request: Latest(nope)"
    assert err.value.diagnosis.status == "NOT_FOUND"
    with pytest.raises(ServingError) as err:
        grpc_client.predict(HPT2, {"x": [[1.0]]}, signature="nosuch", dtypes={"x": "DT_FLOAT"})
    assert err.value.diagnosis.kind == "unknown-signature"
    assert err.value.diagnosis.message == 'Serving signature key "nosuch" not found.'
    assert err.value.diagnosis.status == "FAILED_PRECONDITION"
    with pytest.raises(ServingError) as err:
        grpc_client.predict(HPT2, {"age": [[1.0]]}, dtypes={"age": "DT_FLOAT"})
    assert err.value.diagnosis.kind == "bad-input-key"
    assert "Sent extra: {age}. Missing but required: {x}." in err.value.diagnosis.message
    with pytest.raises(ServingError) as err:
        grpc_client.model_status(HPT2, version=999)
    assert err.value.diagnosis.kind == "version-not-found"


# ---- diagnoses over REST (each provoked for real) ------------------------------------------------------

def _rest_error(call) -> ServingError:
    with pytest.raises(ServingError) as err:
        call()
    return err.value


def test_diagnose_model_not_found(rest):
    err = _rest_error(lambda: rest.predict("half", instances=[1.0, 5.0]))
    assert err.diagnosis.kind == "model-not-found"
    assert err.diagnosis.status == 404
    assert err.diagnosis.message == "Servable not found for request: Latest(half)"
    err = _rest_error(lambda: rest.model_status("half"))
    assert err.diagnosis.message == "Could not find any versions of model half"


def test_diagnose_unknown_version_and_label_list_served_versions(rest):
    err = _rest_error(lambda: rest.model_status(HPT2, version=7))
    assert err.diagnosis.kind == "version-not-found"
    assert err.diagnosis.message == f"Could not find version 7 of model {HPT2}"
    assert [v["version"] for v in err.diagnosis.details["served_versions"]] == [123, 124]
    assert "123 (AVAILABLE), 124 (AVAILABLE)" in err.diagnosis.hint
    err = _rest_error(lambda: rest.predict(HPT2, instances=[1.0], version=7))
    assert err.diagnosis.message == f"Servable not found for request: Specific({HPT2}, 7)"
    assert err.diagnosis.kind == "version-not-found"
    err = _rest_error(lambda: rest.predict(HPT2, instances=[1.0], label="Version_Nonexistent"))
    assert err.diagnosis.kind == "label-not-found"
    assert err.diagnosis.status == 400
    assert err.diagnosis.message == "Unrecognized servable version label: Version_Nonexistent"
    assert "124 (AVAILABLE)" in err.diagnosis.hint


def test_diagnose_malformed_urls(tfs, capsys):
    for path in (f"/v1/models/{HPT2}/predict", f"/v1/models/{HPT2}/version/123", "/v1/foo"):
        code, report = probe_cli(capsys, tfs.rest_url + path)
        assert code == 1, path
        assert report["error"]["kind"] == "malformed-url"
        assert report["error"]["message"] == f"Malformed request: GET {path}"
        assert ":predict" in report["error"]["hint"]
    assert "a colon, not a slash" in probe_cli(capsys, f"{tfs.rest_url}/v1/models/{HPT2}/predict")[1]["error"]["hint"]
    # POST without a verb, straight to the server
    answer = requests.post(f"{tfs.rest_url}/v1/models/{HPT2}", json={"instances": [1.0]}, timeout=10)
    assert answer.status_code == 400
    assert answer.json() == {"error": f"Malformed request: POST /v1/models/{HPT2}"}
    assert answer.text == '{\n    "error": "Malformed request: POST /v1/models/' + HPT2 + '"\n}'


def test_diagnose_unknown_signature_lists_signatures(rest):
    err = _rest_error(lambda: rest.predict(HPT2, instances=[1.0], signature="serving_defualt"))
    assert err.diagnosis.kind == "unknown-signature"
    assert err.diagnosis.message == 'Serving signature name: "serving_defualt" not found in signature def'
    assert "serving_default" in err.diagnosis.details["signatures"]
    assert "classify_x_to_y" in err.diagnosis.hint


def test_diagnose_instance_keys_that_are_not_input_aliases(rest):
    err = _rest_error(lambda: rest.predict(HPT2, instances=[{"age": 1.0}]))
    assert err.diagnosis.kind == "bad-input-key"
    assert err.diagnosis.message == ("Failed to process element: 0 key: age of 'instances' list. Error: "
                                     "INVALID_ARGUMENT: JSON object: does not have named input: age")
    assert err.diagnosis.details["key"] == "age"
    assert "'age'" in err.diagnosis.hint


def test_diagnose_b64_to_float_input_and_web_safe_b64(rest):
    err = _rest_error(lambda: rest.predict(HPT2, instances=[{"b64": "aGVsbG8="}]))
    assert err.diagnosis.kind == "b64-to-non-string"
    assert "Type: Object is not of expected type: float" in err.diagnosis.message
    # web-safe alphabet ('-', '_') into a DT_STRING input
    web_safe = base64.urlsafe_b64encode(b"\xfb\xff\xfe hello").decode()
    assert "-" in web_safe or "_" in web_safe
    err = _rest_error(lambda: rest.predict(HPT2, instances=[{"b64": web_safe}], signature="classify_x_to_y"))
    assert err.diagnosis.kind == "bad-base64"
    assert "Unable to base64 decode" in err.diagnosis.message
    assert "urlsafe" in err.diagnosis.hint


def test_diagnose_string_example_input_fed_to_predict(rest):
    err = _rest_error(lambda: rest.predict(HPT2, instances=[1.0], signature="classify_x_to_y"))
    assert err.diagnosis.kind == "string-input"
    assert err.diagnosis.message == "JSON Value: 1.0 Type: Number is not of expected type: string"
    assert ":classify" in err.diagnosis.hint


def test_diagnose_integer_feature_for_a_float_example_feature(rest):
    err = _rest_error(lambda: rest.classify(HPT2, [{"x": 20}], signature="classify_x_to_y"))
    assert err.diagnosis.kind == "example-feature-type"
    assert "Data types don't match" in err.diagnosis.message
    assert "1.0, not 1" in err.diagnosis.hint


def test_diagnose_connection_refused_and_timeout():
    port = refused_port()
    err = _rest_error(lambda: TFServingRestClient(f"http://127.0.0.1:{port}", timeout=5).model_status("m"))
    assert err.diagnosis.kind == "connection-refused"
    assert err.diagnosis.message == f"connection refused by 127.0.0.1:{port}"
    assert not err.diagnosis.reachable
    err = _rest_error(lambda: TFServingGrpcClient(f"127.0.0.1:{port}", timeout=3).model_status("m"))
    assert err.diagnosis.kind == "connection-refused"
    assert err.diagnosis.message == f"connection refused by 127.0.0.1:{port}"
    with SilentServer() as silent:
        err = _rest_error(lambda: TFServingRestClient(silent.url, timeout=0.5).model_status("m"))
        assert err.diagnosis.kind == "timeout"
        assert "0.5 s" in err.diagnosis.hint
        assert err.diagnosis.message == f"no answer from 127.0.0.1:{silent.port} within 0.5 s"
        err = _rest_error(lambda: TFServingGrpcClient(f"127.0.0.1:{silent.port}", timeout=0.5).model_status("m"))
        assert err.diagnosis.kind == "timeout"
        assert err.diagnosis.message == f"no answer from 127.0.0.1:{silent.port} within 0.5 s"


def test_diagnose_tls_failure_and_tls_options(tfs_tls, tls_files):
    cert = str(tls_files[0])
    auth = {"Authorization": "Bearer s3cret"}
    err = _rest_error(lambda: TFServingRestClient(tfs_tls.rest_url, headers=auth).model_status(HPT2))
    assert err.diagnosis.kind == "tls-failure"
    host = tfs_tls.rest_url.split("//", 1)[1]
    assert err.diagnosis.message == (f"TLS handshake with {host} failed: certificate verify failed: "
                                     "self-signed certificate")
    assert "CERTIFICATE_VERIFY_FAILED" in err.diagnosis.details["raw"]
    assert "--ca-file" in err.diagnosis.hint
    assert TFServingRestClient(tfs_tls.rest_url, headers=auth, verify=cert).model_status(HPT2)[0].version == 123
    from urllib3.exceptions import InsecureRequestWarning

    with pytest.warns(InsecureRequestWarning):
        assert TFServingRestClient(tfs_tls.rest_url, headers=auth, verify=False).model_status(HPT2)[0].version == 123
    # plain http to a TLS port is a different failure: the server closes or answers garbage
    err = _rest_error(lambda: TFServingGrpcClient(tfs_tls.grpc_target, timeout=3, headers=auth,
                                                  tls=True).model_status(HPT2))
    assert err.diagnosis.kind == "tls-failure"
    with TFServingGrpcClient(tfs_tls.grpc_target, timeout=5, headers=auth, tls=cert) as client:
        assert client.predict(HPT2, {"x": [[1.0]]})[0]["y"].reshape(-1).tolist() == [2.5]


def test_diagnose_wrong_port_or_scheme(tfs, tfs_tls, tls_files):
    """http:// to a TLS port, https:// to a plain one, REST to the gRPC port and the other way round."""
    cases = [
        (lambda: TFServingRestClient(tfs_tls.rest_url.replace("https:", "http:"), timeout=3).model_status(HPT2),
         "protocol-mismatch", "https://"),
        (lambda: TFServingRestClient(tfs.rest_url.replace("http:", "https:"), timeout=3).model_status(HPT2),
         "tls-failure", "use http://"),
        (lambda: TFServingRestClient("http://" + tfs.grpc_target, timeout=3).model_status(HPT2),
         "protocol-mismatch", "gRPC port"),
        (lambda: TFServingGrpcClient(tfs.rest_url.split("//")[1], timeout=3).model_status(HPT2),
         "protocol-mismatch", "REST port"),
        (lambda: TFServingGrpcClient(tfs_tls.grpc_target, timeout=3).model_status(HPT2),
         "protocol-mismatch", "--grpc-tls"),
        (lambda: TFServingGrpcClient(tfs.grpc_target, timeout=3, tls=str(tls_files[0])).model_status(HPT2),
         "tls-failure", "--ca-file"),
    ]
    for call, kind, hint in cases:
        err = _rest_error(call)
        assert (err.diagnosis.kind, hint in err.diagnosis.hint) == (kind, True), err.diagnosis
        assert not err.diagnosis.reachable


def test_diagnose_auth_headers_401(tfs_tls, tls_files):
    err = _rest_error(lambda: TFServingRestClient(tfs_tls.rest_url, verify=str(tls_files[0])).model_status(HPT2))
    assert err.diagnosis.kind == "http-401"
    assert "--header" in err.diagnosis.hint
    with TFServingGrpcClient(tfs_tls.grpc_target, timeout=5, tls=str(tls_files[0])) as client:
        with pytest.raises(ServingError) as exc:
            client.model_status(HPT2)
    assert exc.value.diagnosis.status == "UNAUTHENTICATED"


def test_diagnose_html_from_a_proxy_and_status_codes():
    html = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>nginx</body></html>"
    with CannedHttpServer(502, html, "text/html") as proxy:
        err = _rest_error(lambda: TFServingRestClient(proxy.url).predict("m", instances=[1.0]))
    assert err.diagnosis.kind == "non-json-response"
    assert err.diagnosis.status == 502
    assert err.diagnosis.message == "HTTP 502: 502 Bad Gateway 502 Bad Gateway nginx"
    assert "proxy" in err.diagnosis.hint
    with CannedHttpServer(503, '{"error": "upstream overloaded"}', "application/json") as gateway:
        err = _rest_error(lambda: TFServingRestClient(gateway.url).model_status("m"))
    assert (err.diagnosis.kind, err.diagnosis.status, err.diagnosis.message) == ("http-503", 503,
                                                                                 "upstream overloaded")
    with CannedHttpServer(429, '{"error": "Too many requests"}', "application/json") as gateway:
        err = _rest_error(lambda: TFServingRestClient(gateway.url).model_status("m"))
    assert err.diagnosis.kind == "http-429" and "overloaded" in err.diagnosis.hint


def test_dns_failure_by_socket_level_resolver_failure(monkeypatch):
    """A real lookup of an unknown name would ask the configured resolver (traffic off this machine), so
    here the resolver failure is injected at the socket level; the netns test below does a real lookup."""
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        if str(host).endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    err = _rest_error(lambda: TFServingRestClient("http://tfserving.invalid:8501").model_status("m"))
    assert err.diagnosis.kind == "dns-failure"
    assert "tfserving.invalid" in err.diagnosis.hint


@pytest.mark.skipif(not netns_available(), reason="needs `unshare -n` (root) for a private network namespace")
def test_dns_failure_for_real_in_a_private_network_namespace():
    """Real lookups (REST and gRPC) inside a network namespace with no interface up: nothing can leave."""
    proc = run_in_netns(["-m", "workbench.cli", "probe", "http://tfserving.invalid:8501", "--model", "m",
                         "--grpc", "tfserving.invalid:8500", "--timeout", "5", "--json"])
    assert proc.returncode == 2, proc.stderr
    report = json.loads(proc.stdout)
    assert report["error"]["kind"] == "dns-failure"
    assert report["grpc"]["error"]["kind"] == "dns-failure"


# ---- request building and the probe ---------------------------------------------------------------------

def test_probe_reports_what_is_served(tfs):
    report = run_probe(ProbeOptions(url=tfs.rest_url, model=HPT2, grpc=tfs.grpc_target))
    data = report.to_json()
    assert report.exit_code == 0, data["error"]
    assert PROBE_KEYS <= set(data)
    assert data["protocol"] == "tfserving"
    assert data["version"] == 124
    assert data["versions"] == [{"version": 123, "state": "AVAILABLE", "error": None},
                                {"version": 124, "state": "AVAILABLE", "error": None}]
    assert data["signatures"]["serving_default"] == {
        "method": "tensorflow/serving/predict",
        "inputs": {"x": {"dtype": "DT_FLOAT", "shape": [-1, 1]}},
        "outputs": {"y": {"dtype": "DT_FLOAT", "shape": [-1, 1]}}}
    assert data["grpc"]["signatures"] == data["signatures"]
    assert data["predictions"] == [] and data["latency_ms"] == [] and data["error"] is None


def test_probe_cli_predicts_rows_over_rest_and_grpc(tfs, tmp_path, capsys):
    rows = tmp_path / "rows.csv"
    rows.write_text("x\n1.0\n2.0\n5.0\n")
    code, report = probe_cli(capsys, tfs.rest_url, "--model", HPT2, "--label", "Version_Label", "--rows",
                             str(rows), "--grpc", tfs.grpc_target)
    assert code == 0, report["error"]
    assert report["version"] == 123
    assert report["predictions"] == [[2.5], [3.0], [4.5]]
    assert report["grpc"]["predictions"] == [[2.5], [3.0], [4.5]]
    assert len(report["latency_ms"]) == 1 and report["latency_ms"][0] > 0
    assert report["request"]["body"] == {"signature_name": "serving_default", "instances": [[1.0], [2.0], [5.0]]}
    assert report["request"]["url"].endswith(f"/v1/models/{HPT2}/labels/Version_Label:predict")
    curl = report["request"]["curl"]
    assert curl.startswith("curl -sS -X POST") and '"instances": [[1.0], [2.0], [5.0]]' in curl


def test_probe_generated_rows_from_the_signature(tfs, capsys):
    code, report = probe_cli(capsys, tfs.rest_url, "--model", HPT2, "--generate", "4", "--grpc", tfs.grpc_target)
    assert code == 0, report["error"]
    xs = [row[0] for row in report["request"]["body"]["instances"]]
    assert len(xs) == 4 and len(set(xs)) == 4
    np.testing.assert_allclose(np.asarray(report["predictions"]).reshape(-1), 0.5 * np.asarray(xs) + 2, rtol=1e-6)
    np.testing.assert_allclose(report["grpc"]["predictions"], report["predictions"], rtol=1e-6)
    assert "4 row(s) generated from signature 'serving_default' (seed 0)" in report["notes"]
    code, report = probe_cli(capsys, tfs.rest_url, "--model", "multi", "--generate", "3")
    assert code == 0, report["error"]
    sent = report["request"]["body"]["instances"]
    assert [p["score"] for p in report["predictions"]] == pytest.approx(
        [2 * r["income"] + r["age"] for r in sent], rel=1e-6)
    assert [p["city_len"] for p in report["predictions"]] == [len(r["city"]) for r in sent]
    code, report = probe_cli(capsys, tfs.rest_url, "--model", HPT2, "--signature", "classify_x_to_y",
                             "--generate", "2")
    assert code == 2 and report["error"]["kind"] == "bad-rows" and "tf.Example" in report["error"]["message"]


def test_probe_examples_signature_uses_classify(tfs, tmp_path, capsys):
    rows = tmp_path / "rows.csv"
    rows.write_text("x\n20.0\n10.0\n")
    code, report = probe_cli(capsys, tfs.rest_url, "--model", HPT2, "--signature", "classify_x_to_y",
                             "--rows", str(rows), "--grpc", tfs.grpc_target)
    assert code == 0, report["error"]
    assert report["request"]["verb"] == "classify"
    assert report["predictions"] == [[["", 12.0]], [["", 7.0]]]
    assert report["grpc"]["predictions"] == [[["", 12.0]], [["", 7.0]]]


def test_probe_exit_codes(tfs, tmp_path, capsys):
    code, report = probe_cli(capsys, tfs.rest_url, "--model", "half")
    assert code == 1 and report["error"]["kind"] == "model-not-found"
    code, report = probe_cli(capsys, tfs.rest_url, "--model", HPT2, "--version", "7")
    assert code == 1 and report["error"]["kind"] == "version-not-found"
    code, report = probe_cli(capsys, tfs.rest_url)
    assert code == 2 and report["protocol"] == "tfserving" and report["error"]["kind"] == "model-required"
    code, report = probe_cli(capsys, f"http://127.0.0.1:{refused_port()}", "--model", HPT2)
    assert code == 2 and report["error"]["kind"] == "connection-refused"
    bad = tmp_path / "bad.csv"
    bad.write_text("x\n1.0\nabc\n")
    code, report = probe_cli(capsys, tfs.rest_url, "--model", HPT2, "--rows", str(bad))
    assert code == 2 and report["error"]["kind"] == "bad-rows"
    # the second data row, counted from 1 like `predict` does (workbench.core.rows)
    assert report["error"]["details"]["problems"] == [
        "row 2, column 'x': 'abc' is not a number (input 'x' is DT_FLOAT)"]
    code = main(["probe", tfs.rest_url, "--model", HPT2, "--rows", str(bad), "--grpc", tfs.grpc_target])
    out, err = capsys.readouterr()
    assert code == 2 and err == ("error: 1 problem(s) in the rows for signature 'serving_default': row 2, "
                                 "column 'x': 'abc' is not a number (input 'x' is DT_FLOAT)\n")
    assert "    - row 2, column 'x': 'abc' is not a number (input 'x' is DT_FLOAT)" in out.splitlines()
    code, report = probe_cli(capsys, tfs.rest_url, "--model", HPT2, "--signature", "nope", "--rows",
                             str(tmp_path / "bad.csv"))
    assert code == 1 and report["error"]["kind"] == "unknown-signature"
    assert main(["probe", tfs.rest_url, "--header", "no-colon"]) == 2


def test_signature_inputs_keep_one_order_over_rest_and_grpc(tfs, capsys):
    """Protobuf maps have no order: the test server sends inputs in key order every time (REST and gRPC),
    and the probe keeps the order it received (JSON objects keep theirs through json.loads)."""
    orders = set()
    for _ in range(3):
        code, report = probe_cli(capsys, tfs.rest_url, "--model", "multi", "--grpc", tfs.grpc_target)
        assert code == 0, report["error"]
        orders.add(tuple(report["signatures"]["serving_default"]["inputs"]))
        orders.add(tuple(report["grpc"]["signatures"]["serving_default"]["inputs"]))
    assert orders == {("age", "city", "income")}
    raw = requests.get(f"{tfs.rest_url}/v1/models/multi/metadata", timeout=10).text
    assert raw.index('"age"') < raw.index('"city"') < raw.index('"income"')


def test_probe_cli_human_output(tfs, capsys):
    code = main(["probe", tfs.rest_url, "--model", HPT2])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "protocol    tfserving" in out
    assert "version     123      AVAILABLE" in out
    assert "signature   serving_default (predict): x DT_FLOAT [?, 1] -> y DT_FLOAT [?, 1]" in out
    code = main(["probe", tfs.rest_url, "--model", "half"])
    out, _ = capsys.readouterr()
    assert code == 1 and "ERROR       [model-not-found] Could not find any versions of model half" in out


def test_probe_grpc_url_only(tfs, tmp_path, capsys):
    rows = tmp_path / "rows.csv"
    rows.write_text("x\n1.0\n2.0\n5.0\n")
    code, report = probe_cli(capsys, f"grpc://{tfs.grpc_target}", "--model", "tf2", "--rows", str(rows))
    assert code == 0, report["error"]
    assert report["protocol"] == "tfserving"
    assert report["predictions"] == [[2.5], [3.0], [4.5]]  # y is [-1, 1], as in the TF1 model


def test_version_chosen_by_state_not_position(tmp_path):
    """A base folder whose highest version is broken: status shows END with its error, latest = 1."""
    import shutil

    from workbench.testing.tfserving_server import TFServingTestServer

    base = tmp_path / "m"
    shutil.copytree(model_dir(HPT2) / "00000123", base / "1")
    (base / "2").mkdir()
    (base / "2" / "saved_model.pb").write_bytes(b"not a saved model")
    with TFServingTestServer({"m": base}, grpc_port=None) as server:
        report = run_probe(ProbeOptions(url=server.rest_url, model="m"))
    data = report.to_json()
    assert [(v["version"], v["state"]) for v in data["versions"]] == [(1, "AVAILABLE"), (2, "END")]
    assert data["versions"][1]["error"].startswith("UNKNOWN: ")
    assert data["version"] == 1 and report.exit_code == 0


def test_committed_base_folder_with_a_broken_version_serves_the_good_one():
    """sample_models/tfserving's broken-version folder: version 2's saved_model.pb is truncated, so it ends
    in state END with its load error while version 1 is served (latest, by number and over gRPC)."""
    from workbench.testing.tfserving_server import TFServingTestServer

    with TFServingTestServer({"m": model_dir(BROKEN)}) as server:
        with TFServingRestClient(server.rest_url, timeout=10) as client:
            statuses = client.model_status("m")
            assert [(s.version, s.state) for s in statuses] == [(1, "AVAILABLE"), (2, "END")]
            assert statuses[0].error is None
            assert statuses[1].error.startswith("UNKNOWN: ") and len(statuses[1].error) > len("UNKNOWN: ")
            assert client.metadata("m").version == 1
            assert client.predict("m", instances=[1.0, 4.0]) == {"predictions": [2.5, 4.0]}
            assert client.predict("m", instances=[6.0], version=1) == {"predictions": [5.0]}
            err = _rest_error(lambda: client.predict("m", instances=[1.0], version=2))
            assert err.diagnosis.message == "Servable not found for request: Specific(m, 2)"
        with TFServingGrpcClient(server.grpc_target, timeout=10) as grpc_client:
            outputs, spec = grpc_client.predict("m", {"x": [[2.0]]})
            assert spec.version.value == 1 and outputs["y"].reshape(-1).tolist() == [3.0]
        report = run_probe(ProbeOptions(url=server.rest_url, model="m")).to_json()
    assert [(v["version"], v["state"]) for v in report["versions"]] == [(1, "AVAILABLE"), (2, "END")]
    assert report["version"] == 1 and report["error"] is None


# ---- the client side without TensorFlow ------------------------------------------------------------------

NO_TF = r'''
import importlib.abc, sys, json
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow.") or name.startswith("tensorflow_serving"):
            raise ImportError("tensorflow is blocked in this test")
        return None
sys.meta_path.insert(0, Block())
from workbench.core.serving.probe import ProbeOptions, run_probe
import pandas as pd
r = run_probe(ProbeOptions(url=sys.argv[1], model=sys.argv[3], grpc=sys.argv[2],
                           rows=pd.DataFrame({"x": [1.0, 2.0, 5.0]})))
print(json.dumps({"report": r.to_json(), "tf_loaded": any(m.startswith("tensorflow") for m in sys.modules)}))
'''


def test_client_works_without_tensorflow(tfs, tmp_path):
    script = tmp_path / "no_tf.py"
    script.write_text(NO_TF)
    proc = run_python(f"import runpy, sys; sys.argv = ['x', {tfs.rest_url!r}, {tfs.grpc_target!r}, {HPT2!r}]; "
                      f"runpy.run_path({str(script)!r}, run_name='__main__')")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["tf_loaded"] is False
    assert out["report"]["error"] is None
    assert out["report"]["predictions"] == [[2.5], [3.0], [4.5]]
    assert out["report"]["grpc"]["predictions"] == [[2.5], [3.0], [4.5]]
