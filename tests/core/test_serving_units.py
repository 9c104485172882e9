"""Serving pieces without any server or TensorFlow: URL parsing, diagnoses of TF Serving's own error strings
(quoted from TF Serving's sources), signature parsing of the golden metadata files (TF Serving's REST
metadata bodies of sample_models/tfserving, written by sample_models/build_tfserving.py),
the request builder, tensor and tf.Example conversions, TF Serving's number format, protocol sniffing."""

from __future__ import annotations

import json
import shlex

import numpy as np
import pandas as pd
import pytest

from tests.core.serving_fixtures import HPT2, HPT2_METADATA, HPT_TF2_METADATA, model_dir
from workbench.core.errors import InputRowsError
from workbench.core.serving.detect import KSERVE_V1, TFSERVING, detect_protocol, parse_endpoint
from workbench.core.serving.diagnosis import classify_server_message, diagnose_http
from workbench.core.serving.http import HttpAnswer, HttpSession, parse_headers
from workbench.core.serving.protos import tfserving_pb2 as pb
from workbench.core.serving.request_builder import (build_tfs_examples, build_tfs_predict, build_v2_infer,
                                                    map_columns)
from workbench.core.serving.signatures import (Signature, TensorMeta, VersionStatus, metadata_from_rest,
                                               metadata_from_v2, pick_version, statuses_from_rest)
from workbench.core.serving.tensors import example_from_json, example_to_json, from_tensor_proto, to_tensor_proto
from workbench.testing.endpoints import CannedHttpServer


# ---- URLs ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("http://h:8501", ("http://h:8501", None, None, None, True, False)),
    ("h:8501", ("http://h:8501", None, None, None, True, False)),
    ("https://h:8501/v1/models/m/versions/3", ("https://h:8501", "m", 3, None, True, False)),
    ("http://h:8501/v1/models/m/labels/stable/metadata", ("http://h:8501", "m", None, "stable", True, False)),
    ("http://h:8501/v1/models/m:predict", ("http://h:8501", "m", None, None, True, False)),
    ("http://h:8501/v1/models/m/predict", ("http://h:8501", None, None, None, False, False)),
    ("grpc://h:8500", ("http://h:8500", None, None, None, True, True)),
])
def test_parse_endpoint(url, expected):
    ep = parse_endpoint(url)
    assert (ep.base, ep.model, ep.version, ep.label, ep.path_ok, ep.grpc) == expected


def test_parse_endpoint_v2_and_bad_arguments():
    ep = parse_endpoint("http://h:8080/v2/models/iris/versions/v1/infer")
    assert (ep.protocol_hint, ep.model, ep.v2_version) == ("v2", "iris", "v1")
    from workbench.core.serving.diagnosis import ServingError

    for bad in ("ftp://h:1", "http://:8501", "http://h:port"):
        with pytest.raises(ServingError) as err:
            parse_endpoint(bad)
        assert err.value.diagnosis.kind == "bad-arguments" and not err.value.diagnosis.reachable


def test_parse_headers():
    assert parse_headers(["Authorization: Bearer a:b", "X-Id:7"]) == {"Authorization": "Bearer a:b", "X-Id": "7"}
    with pytest.raises(ValueError, match="Name: value"):
        parse_headers(["nocolon"])


# ---- diagnoses of TF Serving's own strings (as its server source writes them) -------------------------

@pytest.mark.parametrize("message, status, kind", [
    ("Servable not found for request: Latest(inception)", 404, "model-not-found"),
    ("Servable not found for request: Specific(half, 7)", 404, "version-not-found"),
    ("Could not find any versions of model half", 404, "model-not-found"),
    ("Could not find version 7 of model half", 404, "version-not-found"),
    ("Unrecognized servable version label: Version_Nonexistent", 400, "label-not-found"),
    ("Malformed request: POST /v1/models/email_sendout", 400, "malformed-url"),
    ("Missing model name in request.", 400, "malformed-url"),
    ("Failed to convert version: 18446744073709551615 to numeric.", 400, "malformed-url"),
    ('Serving signature name: "serving_default" not found in signature def', 400, "unknown-signature"),
    ('Serving signature key "serving_default" not found.', "FAILED_PRECONDITION", "unknown-signature"),
    ("No signature was found with the name: classify_it", 400, "unknown-signature"),
    ("Failed to process element: 0 key: key_name of 'instances' list. Error: Invalid argument: JSON object: "
     "does not have named input: key_name", 400, "bad-input-key"),
    ("Failed to process element: 0 of 'instances' list. Error: Invalid argument: Unable to base64 decode",
     400, "bad-base64"),
    ("Failed to process element: 0 of 'instances' list. Error: Invalid argument: JSON Value: {\"b64\":\"x\"} "
     "Type: Object is not of expected type: float", 400, "b64-to-non-string"),
    ("JSON Value: 1 Type: Number is not of expected type: string", 400, "string-input"),
    ("Missing 'inputs' or 'instances' key", 400, "bad-request-body"),
    ("In[0] is not a matrix. Instead it has shape [3]\n\t [[{{node model/outputs/BiasAdd}}]]", 400, "bad-shape"),
    ("input size does not match signature: 1!=5 len({examples}) != len({input_ids}). Sent extra: {examples}. "
     "Missing but required: {input_ids}.", "INVALID_ARGUMENT", "bad-input-key"),
    ("Model nope not found", 404, "model-not-found"),
    ("Name: <unknown>, Key: x, Index: 0.  Data types don't match. Data type: int64 but expected type: float\n"
     "\t [[{{node ParseExample/ParseExample}}]]", 400, "example-feature-type"),
    ("something else", 503, "http-503"),
    ("something else", "RESOURCE_EXHAUSTED", "grpc-resource-exhausted"),
])
def test_classify_server_messages(message, status, kind):
    assert classify_server_message(message, status)[0] == kind


def test_diagnose_http_bodies():
    d = diagnose_http(404, '{ "error": "Servable not found for request: Latest(half)" }', "application/json", "u")
    assert (d.kind, d.message, d.details) == ("model-not-found", "Servable not found for request: Latest(half)",
                                              {"model": "half"})
    d = diagnose_http(404, "", "", "http://h:8501/v2/health/live")
    assert d.kind == "non-json-response" and "(empty body)" in d.message
    d = diagnose_http(422, json.dumps({"detail": [{"loc": ["body", "inputs"], "msg": "Field required"}]}),
                      "application/json", "u")
    assert (d.kind, d.message) == ("http-422", "body.inputs: Field required")


# ---- signatures and status from the golden metadata files ----------------------------------------------

def test_metadata_from_golden_files():
    meta = metadata_from_rest(json.loads(model_dir(HPT2_METADATA).read_text()))
    assert (meta.name, meta.version) == (HPT2, 123)
    assert len(meta.signatures) == 6
    assert meta.signatures["regress_x2_to_y3"].inputs["inputs"].dtype == "DT_FLOAT"
    assert meta.signatures["regress_x_to_y"].method == "tensorflow/serving/regress"
    assert meta.default_signature().name == "serving_default"
    tf2 = metadata_from_rest(json.loads(model_dir(HPT_TF2_METADATA).read_text()))
    assert "__saved_model_init_op" in tf2.signatures
    assert tf2.signatures["serving_default"].inputs["x"].shape == (-1, 1)
    assert tf2.signatures["classify_x_to_y"].method == "tensorflow/serving/predict"
    assert tf2.signatures["classify_x_to_y"].takes_examples  # DT_STRING [-1] named inputs


def test_pick_version_by_state_not_position():
    # tensorflow/serving#1488: the list mixes END and AVAILABLE versions in any order
    body = {"model_version_status": [
        {"version": "10", "state": "END", "status": {"error_code": "UNKNOWN", "error_message": "load failed"}},
        {"version": "9", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}},
        {"version": "8", "state": "END", "status": {"error_code": "OK", "error_message": ""}}]}
    statuses = statuses_from_rest(body)
    assert pick_version(statuses).version == 9
    assert statuses[0].to_json() == {"version": 10, "state": "END", "error": "UNKNOWN: load failed"}
    assert pick_version([VersionStatus(1, "LOADING")]) is None


def test_http_answer_parses_non_finite_numbers():
    answer = HttpAnswer(200, '{ "predictions": [NaN, Infinity, -Infinity, 2.5] }', "application/json", 1.0, "u",
                        "POST")
    preds = answer.json()["predictions"]
    assert np.isnan(preds[0]) and preds[1:] == [float("inf"), float("-inf"), 2.5]


# ---- request builder ---------------------------------------------------------------------------------

def _sig(inputs: dict[str, tuple[str, tuple | None]], name: str = "serving_default") -> Signature:
    return Signature(name=name, method="tensorflow/serving/predict",
                     inputs={k: TensorMeta(k, dt, shape) for k, (dt, shape) in inputs.items()})


def test_build_predict_single_input_from_text_cells():
    meta = metadata_from_rest(json.loads(model_dir(HPT2_METADATA).read_text()))
    frame = pd.DataFrame({"x": ["1.0", "2", "5.0"]})  # read_rows keeps CSV cells as text
    built = build_tfs_predict(meta.signatures["serving_default"], frame, "http://h:8501/v1/models/m")
    assert built.url == "http://h:8501/v1/models/m:predict"
    assert built.body == {"signature_name": "serving_default", "instances": [[1.0], [2.0], [5.0]]}
    assert built.arrays["x"].shape == (3, 1)
    argv = shlex.split(built.curl({"Authorization": "Bearer t"}))
    assert argv[:5] == ["curl", "-sS", "-X", "POST", "http://h:8501/v1/models/m:predict"]
    assert "Authorization: Bearer t" in argv
    assert json.loads(argv[argv.index("-d") + 1]) == built.body
    columnar = build_tfs_predict(meta.signatures["serving_default"], frame, "u", columnar=True)
    assert columnar.body["inputs"] == {"x": [[1.0], [2.0], [5.0]]}


def test_build_predict_several_named_inputs_and_b64():
    sig = _sig({"age": ("DT_INT64", (-1,)), "city": ("DT_STRING", (-1,)), "photo": ("DT_STRING", (-1,))})
    frame = pd.DataFrame({"Age": ["31", "40"], "city": ["Oslo", "Rome"], "photo": [b"\x00\x01", b"hi"]})
    built = build_tfs_predict(sig, frame, "u")
    assert built.body["instances"] == [
        {"age": 31, "city": "Oslo", "photo": {"b64": "AAE="}},
        {"age": 40, "city": "Rome", "photo": {"b64": "aGk="}}]
    assert "column 'Age' sent as input 'age'" in built.notes


def test_build_predict_reports_every_problem_before_sending():
    sig = _sig({"age": ("DT_INT64", (-1,)), "income": ("DT_FLOAT", (-1,))})
    frame = pd.DataFrame({"age": ["31", "4.5", "x"], "income": ["1", "2", "zz"]})
    with pytest.raises(InputRowsError) as err:
        build_tfs_predict(sig, frame, "u")
    problems = err.value.problems
    # rows count from 1 and read "row N, column 'c'", like workbench.core.rows (and `predict`)
    assert "row 3, column 'age': 'x' is not a number (input 'age' is DT_INT64)" in problems
    assert "row 2, column 'age': 4.5 is not an integer (input 'age' is DT_INT64)" in problems
    assert "row 3, column 'income': 'zz' is not a number (input 'income' is DT_FLOAT)" in problems
    assert err.value.message.startswith("3 problem(s) in the rows for signature 'serving_default': row ")
    with pytest.raises(InputRowsError) as err:
        build_tfs_predict(sig, pd.DataFrame({"age": [1], "salary": [2.0]}), "u")
    assert err.value.problems == ["input 'income' (DT_FLOAT) has no column; columns are: age, salary"]


def test_build_predict_packs_columns_into_one_vector_input_and_checks_width():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0], "c": [5.0, 6.0], "d": [7.0, 8.0]})
    built = build_tfs_predict(_sig({"dense": ("DT_FLOAT", (-1, 4))}), frame, "u")
    assert built.body["instances"] == [[1.0, 3.0, 5.0, 7.0], [2.0, 4.0, 6.0, 8.0]]
    with pytest.raises(InputRowsError) as err:
        build_tfs_predict(_sig({"dense": ("DT_FLOAT", (-1, 3))}), frame, "u")
    assert err.value.problems == ["input 'dense' takes 3 values per row but the rows have 4 columns (a, b, c, d)"]
    with pytest.raises(InputRowsError):
        build_tfs_predict(_sig({"x": ("DT_FLOAT", (-1,))}), frame, "u")


def test_build_examples_follow_tf_serving_feature_rules():
    sig = Signature("classify_x_to_y", "tensorflow/serving/classify",
                    inputs={"inputs": TensorMeta("inputs", "DT_STRING", None, "tf_example:0")},
                    outputs={"scores": TensorMeta("scores", "DT_FLOAT", (-1, 1))})
    assert sig.takes_examples
    with pytest.raises(InputRowsError, match="tf.Example"):
        build_tfs_predict(sig, pd.DataFrame({"x": [1.0]}), "u")
    frame = pd.DataFrame({"x": ["2.0", "3"], "name": ["a", "b"], "count": [1, 2]})
    built = build_tfs_examples(sig, frame, "http://h/v1/models/m")
    assert built.verb == "classify" and built.url == "http://h/v1/models/m:classify"
    assert built.body["examples"] == [{"x": 2.0, "name": "a", "count": 1}, {"x": 3.0, "name": "b", "count": 2}]
    # 3.0 keeps its decimal point (float_list), the integer column stays an integer (int64_list)
    assert json.dumps(built.body["examples"][1]) == '{"x": 3.0, "name": "b", "count": 2}'


def test_build_v2_infer_from_metadata_or_without_it():
    meta = metadata_from_v2({"name": "hpt", "versions": ["123"], "platform": "",
                             "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 1]}],
                             "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 1]}]})
    assert meta.version == 123
    built = build_v2_infer(meta.signatures["infer"], pd.DataFrame({"x": ["1.0", "2.0", "5.0"]}),
                           "http://h:8080/v2/models/hpt")
    assert built.url == "http://h:8080/v2/models/hpt/infer"
    assert built.body == {"inputs": [{"name": "x", "shape": [3, 1], "datatype": "FP32", "data": [1.0, 2.0, 5.0]}]}
    bare = metadata_from_v2({"name": "iris", "versions": [], "inputs": [], "outputs": []})
    built = build_v2_infer(bare.signatures["infer"], pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}), "u")
    assert built.body["inputs"] == [{"name": "input-0", "shape": [2, 2], "datatype": "FP64",
                                     "data": [1.0, 3.0, 2.0, 4.0]}]


def test_map_columns_by_normalised_name():
    mapping, notes = map_columns({"sepal_length": TensorMeta("sepal_length", "DT_FLOAT", (-1,))},
                                 ["Sepal Length", "other"])
    assert mapping == {"sepal_length": ["Sepal Length"]}
    assert "columns not sent (no input of that name): other" in notes


# ---- tensors, tf.Example, numbers --------------------------------------------------------------------

def test_tensor_proto_round_trips():
    for value, dtype in (([[1.5, 2.0]], "DT_FLOAT"), ([1, 2, 3], "DT_INT64"), ([True, False], "DT_BOOL"),
                         ([[1.0], [2.0]], "DT_DOUBLE")):
        proto = to_tensor_proto(value, dtype)
        assert pb.DataType.Name(proto.dtype) == dtype
        np.testing.assert_array_equal(from_tensor_proto(proto), np.asarray(value))
    proto = to_tensor_proto(["a", b"\xff"])
    assert proto.dtype == pb.DT_STRING and list(from_tensor_proto(proto)) == [b"a", b"\xff"]
    # tensor_content (what TF's make_tensor_proto writes) is read too
    raw = pb.TensorProto(dtype=pb.DT_FLOAT, tensor_content=np.array([1, 2, 3, 4], "<f4").tobytes())
    raw.tensor_shape.dim.add().size = 2
    raw.tensor_shape.dim.add().size = 2
    np.testing.assert_array_equal(from_tensor_proto(raw), [[1, 2], [3, 4]])


def test_example_from_json_rules():
    # json_tensor_test RequestWithContextAndSignature: decimals -> float_list, integers -> int64_list
    ex = example_from_json({"names": ["foo", "bar"], "ratings": [8.0, 9.0], "age": 20, "flag": True,
                            "blob": {"b64": "aGVsbG8="}})
    kinds = {k: f.WhichOneof("kind") for k, f in ex.features.feature.items()}
    assert kinds == {"names": "bytes_list", "ratings": "float_list", "age": "int64_list", "flag": "int64_list",
                     "blob": "bytes_list"}
    assert example_to_json(ex)["blob"] == [b"hello"] and example_to_json(ex)["flag"] == [1]


def test_tf_serving_float_format():
    from workbench.testing.tfserving_server import format_float

    # json_tensor.cc WriteDecimal examples
    assert format_float(9000000.0) == "9e+06"
    assert format_float(999999.0) == "999999.0"
    assert format_float(0.00003) == "3e-05"
    assert format_float(float("nan")) == "NaN" and format_float(float("-inf")) == "-Infinity"
    assert float(format_float(float(np.float32(0.1)))) == pytest.approx(0.1)


def test_json_tensor_errors_of_the_test_server():
    from workbench.testing.tfserving_server import TfsError, columns_to_inputs, instances_to_inputs

    infos = {"x": pb.TensorInfo(name="x:0", dtype=pb.DT_INT32)}
    two = {"a": pb.TensorInfo(name="a:0", dtype=pb.DT_FLOAT), "b": pb.TensorInfo(name="b:0", dtype=pb.DT_FLOAT)}
    cases = [
        (lambda: instances_to_inputs([[1, 2], [3, 4], [5, 6, 7]], infos), "Expecting tensor size: 2 but got: 3"),
        (lambda: instances_to_inputs([1, [1]], infos), "Expecting shape"),
        (lambda: instances_to_inputs([], infos), "No values in 'instances' array"),
        (lambda: instances_to_inputs([1.0, 2.0], two), "instances is a plain list, but expecting list of objects"),
        (lambda: instances_to_inputs([{"a": 1.0}], two), "keys must be equal to: a,b"),
        (lambda: columns_to_inputs({"a": [1.0]}, two), "Missing named input: b in 'inputs' object."),
    ]
    for call, text in cases:
        with pytest.raises(TfsError) as err:
            call()
        assert text in err.value.message and err.value.http_status == 400
    arrays = instances_to_inputs([[1, 2], [3, 4], [5, 6]], infos)
    assert arrays["x"].dtype == np.int32 and arrays["x"].shape == (3, 2)


# ---- protocol sniffing against canned answers --------------------------------------------------------

def test_detect_protocol_from_answers():
    with CannedHttpServer(400, '{ "error": "Missing model name in request." }', "application/json") as tfs:
        with HttpSession(tfs.url) as http:
            assert detect_protocol(http)[0] == TFSERVING
    with CannedHttpServer(200, '{"models": ["half_plus_two"]}', "application/json") as kserve:
        with HttpSession(kserve.url) as http:
            assert detect_protocol(http)[0] == KSERVE_V1
    with CannedHttpServer(404, "<html>nope</html>", "text/html") as other:
        with HttpSession(other.url) as http:
            protocol, evidence = detect_protocol(http)
    assert protocol is None and evidence == {"GET /v1/models": 404, "GET /v2/health/live": 404, "GET /v2": 404}


def test_kserve_v1_probe_and_headers_are_sent():
    from workbench.core.serving.probe import ProbeOptions, run_probe

    with CannedHttpServer(200, '{"name": "m", "ready": true, "predictions": [2.5]}', "application/json") as srv:
        report = run_probe(ProbeOptions(url=srv.url, model="m", rows=pd.DataFrame({"x": [1.0]}),
                                        headers={"Authorization": "Bearer t"}))
        seen = srv.requests
    data = report.to_json()
    assert data["protocol"] == "kserve-v1" and data["predictions"] == [2.5] and report.exit_code == 0
    assert all(r["headers"].get("Authorization") == "Bearer t" for r in seen)
    assert seen[-1]["path"] == "/v1/models/m:predict"


def test_proto_field_numbers_match_the_tf_serving_and_v2_tables():
    """The committed protos must keep the upstream field numbers (TF Serving's and KServe's .proto): the wire
    format depends only on them."""
    from workbench.core.serving.protos import oip_pb2

    def numbers(message) -> dict[str, int]:
        return {f.name: f.number for f in message.DESCRIPTOR.fields}

    assert numbers(pb.ModelSpec) == {"name": 1, "version": 2, "version_label": 4, "signature_name": 3}
    assert numbers(pb.PredictRequest) == {"model_spec": 1, "inputs": 2, "output_filter": 3}
    assert numbers(pb.PredictResponse) == {"model_spec": 2, "outputs": 1}
    assert numbers(pb.GetModelMetadataResponse) == {"model_spec": 1, "metadata": 2}
    assert numbers(pb.ModelVersionStatus) == {"version": 1, "state": 2, "status": 3}
    assert numbers(pb.ClassificationResponse) == {"model_spec": 2, "result": 1}
    assert numbers(pb.Input) == {"example_list": 1, "example_list_with_context": 2}
    assert numbers(pb.TensorShapeProto) == {"dim": 2, "unknown_rank": 3}
    assert numbers(pb.TensorInfo) == {"name": 1, "dtype": 2, "tensor_shape": 3}
    assert numbers(pb.SignatureDef) == {"inputs": 1, "outputs": 2, "method_name": 3, "defaults": 4}
    tensor = numbers(pb.TensorProto)
    assert (tensor["dtype"], tensor["tensor_shape"], tensor["tensor_content"], tensor["float_val"],
            tensor["string_val"], tensor["int64_val"], tensor["half_val"]) == (1, 2, 4, 5, 8, 10, 13)
    assert (pb.DT_FLOAT, pb.DT_STRING, pb.DT_INT64, pb.DT_HALF, pb.DT_UINT64) == (1, 7, 9, 19, 23)
    assert pb.ModelVersionStatus.AVAILABLE == 30 and pb.ModelVersionStatus.END == 50
    assert numbers(oip_pb2.ModelInferRequest) == {"model_name": 1, "model_version": 2, "id": 3, "parameters": 4,
                                                  "inputs": 5, "outputs": 6, "raw_input_contents": 7}
    assert numbers(oip_pb2.ModelInferResponse) == {"model_name": 1, "model_version": 2, "id": 3,
                                                   "parameters": 4, "outputs": 5, "raw_output_contents": 6}
    assert numbers(oip_pb2.InferTensorContents)["fp32_contents"] == 6
    assert numbers(oip_pb2.InferTensorContents)["bytes_contents"] == 8


def test_probe_behind_a_failing_proxy_or_auth_gateway(capsys):
    from workbench.cli import main

    html = "<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"
    with CannedHttpServer(502, html, "text/html") as proxy:
        code = main(["probe", proxy.url, "--model", "m", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["protocol"] is None
    assert report["error"]["kind"] == "non-json-response"
    assert report["error"]["message"] == "HTTP 502: 502 Bad Gateway nginx"
    with CannedHttpServer(401, '{"error": "missing bearer token"}', "application/json") as gateway:
        code = main(["probe", gateway.url, "--model", "m", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["error"]["kind"] == "http-401"
    assert report["error"]["message"] == "missing bearer token" and "--header" in report["error"]["hint"]
    with CannedHttpServer(404, "", "text/plain") as nothing:
        code = main(["probe", nothing.url, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["error"]["kind"] == "unknown-protocol"
