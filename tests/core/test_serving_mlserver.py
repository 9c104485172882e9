"""The v2 (Open Inference Protocol) side against a real MLServer 1.7.1 on 127.0.0.1.

MLServer runs from its own venv (scripts/setup_mlserver.sh); without it these tests are skipped, except in CI
(CI=true) where they fail. It serves the iris sample model through mlserver-sklearn; expected values
are the model's own predictions computed here with scikit-learn, independently of the server.
"""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from tests.conftest import SAMPLES_DIR
from tests.core.serving_fixtures import mlserver_venv_or_skip
from workbench.cli import main
from workbench.core.serving.diagnosis import ServingError
from workbench.core.serving.probe import ProbeOptions, run_probe
from workbench.core.serving.v2 import V2RestClient, v2_output_arrays

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def _iris_model(tmp: Path) -> tuple[Path, pd.DataFrame]:
    """The sample iris model and its rows, or a tiny LogisticRegression trained here when absent."""
    model_file = SAMPLES_DIR / "iris_logreg.joblib"
    rows_file = SAMPLES_DIR / "iris_logreg.rows.csv"
    if model_file.exists() and rows_file.exists():
        return model_file, pd.read_csv(rows_file)
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    data = load_iris(as_frame=True)
    frame = data.frame.iloc[:, :4].set_axis(COLUMNS, axis=1)
    model = LogisticRegression(max_iter=500).fit(frame.to_numpy(), data.target)
    path = tmp / "iris_logreg.joblib"
    joblib.dump(model, path)
    return path, frame.iloc[::15].reset_index(drop=True)


@pytest.fixture(scope="module")
def mlserver(tmp_path_factory: pytest.TempPathFactory):
    venv = mlserver_venv_or_skip()
    from workbench.testing.mlserver import MLServerProcess, write_sklearn_model

    repo = tmp_path_factory.mktemp("mlserver")
    model_file, rows = _iris_model(repo)
    write_sklearn_model(repo / "models", "iris", model_file, version="v1")
    with MLServerProcess(repo / "models", venv, ["iris"]) as server:
        yield server, model_file, rows


def test_v2_detection_and_metadata(mlserver):
    server, _, _ = mlserver
    report = run_probe(ProbeOptions(url=server.url))
    data = report.to_json()
    assert report.exit_code == 0, data["error"]
    assert data["protocol"] == "v2"
    assert data["model"] == "iris"  # the only served model, found through the repository index
    assert data["detection"]["server"] == {"name": "mlserver", "version": "1.7.1"}
    # MLServer's metadata lists no versions; its repository index names the model's version "v1"
    assert data["versions"] == [{"version": "v1", "state": "AVAILABLE", "error": None}]
    assert data["version"] == "v1"
    assert set(data["signatures"]) == {"infer"}
    with V2RestClient(server.url) as client:
        assert client.live() and client.ready() and client.model_ready("iris")
        assert client.model_metadata("iris").name == "iris"
        assert client.server_metadata()["name"] == "mlserver"


def test_v2_infer_matches_sklearn(mlserver):
    server, model_file, rows = mlserver
    model = joblib.load(model_file)
    features = rows[COLUMNS].to_numpy(dtype=np.float64)
    with V2RestClient(server.url) as client:
        answer = client.infer("iris", [{"name": "x", "shape": list(features.shape), "datatype": "FP64",
                                        "data": features.reshape(-1).tolist()}], outputs=["predict_proba"])
    proba = v2_output_arrays(answer)["predict_proba"]
    np.testing.assert_allclose(proba, model.predict_proba(rows[COLUMNS].astype(np.float64)), atol=1e-9)


def test_probe_cli_predicts_rows_over_v2(mlserver, tmp_path, capsys):
    server, model_file, rows = mlserver
    rows_file = tmp_path / "rows.csv"
    rows[COLUMNS].to_csv(rows_file, index=False)
    code = main(["probe", server.url + "/v2/models/iris", "--rows", str(rows_file), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["error"]
    expected = joblib.load(model_file).predict(rows[COLUMNS].astype(np.float64))
    assert np.asarray(report["predictions"]).reshape(-1).tolist() == expected.tolist()
    assert report["request"]["url"] == server.url + "/v2/models/iris/infer"
    (tensor,) = report["request"]["body"]["inputs"]
    assert tensor["shape"] == [len(rows), 4] and tensor["datatype"] == "FP64"


def test_v2_errors(mlserver, capsys):
    server, _, _ = mlserver
    with V2RestClient(server.url) as client:
        with pytest.raises(ServingError) as err:
            client.model_metadata("nope")
    assert err.value.diagnosis.kind == "model-not-found"
    assert err.value.diagnosis.message == "Model nope not found"
    assert err.value.diagnosis.details["served_models"] == ["iris"]
    with V2RestClient(server.url) as client:
        with pytest.raises(ServingError) as err:
            client.infer("iris", [{"name": "x", "shape": [1], "datatype": "FP99", "data": [1.0]}])
    assert err.value.diagnosis.status == 422 and "datatype" in err.value.diagnosis.message
    code = main(["probe", server.url, "--model", "nope", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["protocol"] == "v2" and report["error"]["kind"] == "model-not-found"
    # the sklearn runtime publishes no input metadata: rows cannot be generated, and the probe says so
    code = main(["probe", server.url, "--model", "iris", "--generate", "2", "--json"])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    message = "the model 'iris' does not describe its inputs (its metadata lists none), so rows cannot be generated"
    assert code == 2 and report["error"]["kind"] == "bad-rows" and report["error"]["message"] == message
    assert captured.err == f"error: {message}\n"


def test_v2_string_versions(mlserver, tmp_path, capsys):
    server, model_file, rows = mlserver
    rows_file = tmp_path / "rows.csv"
    rows[COLUMNS].to_csv(rows_file, index=False)
    code = main(["probe", server.url, "--model", "iris", "--version", "v1", "--rows", str(rows_file), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["error"]
    assert report["version"] == "v1" and report["versions"][0]["version"] == "v1"
    assert report["request"]["url"] == server.url + "/v2/models/iris/versions/v1/infer"
    expected = joblib.load(model_file).predict(rows[COLUMNS].astype(np.float64)).tolist()
    assert np.asarray(report["predictions"]).reshape(-1).tolist() == expected
    code = main(["probe", server.url, "--model", "iris", "--version", "v9", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["error"]["kind"] == "version-not-found"
    assert report["error"]["message"] == "Model iris with version v9 not found"  # the server's own words
    assert report["error"]["details"]["served_versions"] == ["v1"]
    code = main(["probe", server.url, "--model", "iris"])
    out = capsys.readouterr().out
    assert code == 0 and "  version     v1       AVAILABLE" in out.splitlines()


def test_v2_text_in_a_numeric_column_is_caught_before_sending(mlserver, tmp_path, capsys):
    server, _, rows = mlserver
    frame = rows[COLUMNS].astype(str).head(3).copy()
    frame.loc[2, "petal_length"] = "long"
    rows_file = tmp_path / "iris_text.csv"
    frame.to_csv(rows_file, index=False)
    code = main(["probe", server.url, "--model", "iris", "--rows", str(rows_file), "--json"])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 2 and report["error"]["kind"] == "bad-rows"
    problem = "row 3, column 'petal_length': 'long' is not a number (input 'input-0' is FP64)"
    assert report["error"]["details"]["problems"] == [problem]
    assert captured.err == f"error: 1 problem(s) in the rows for model 'iris': {problem}\n"
    assert "request" not in report  # nothing was sent


def test_v2_server_failure_is_an_inference_error(mlserver):
    server, _, _ = mlserver
    with V2RestClient(server.url) as client:
        with pytest.raises(ServingError) as err:  # text where the model computes with numbers
            client.infer("iris", [{"name": "input-0", "shape": [1, 4], "datatype": "BYTES",
                                   "data": ["5.1", "3.5", "long", "0.2"]}])
    diag = err.value.diagnosis
    assert (diag.kind, diag.status, diag.message) == ("inference-error", 500, "Internal Server Error")
    assert "inference error in the model server" in diag.hint and "proxy" not in diag.hint


def test_v2_grpc_probe_and_client(mlserver, tmp_path, capsys):
    from workbench.core.serving.v2_grpc import V2GrpcClient

    server, model_file, rows = mlserver
    target = f"127.0.0.1:{server.grpc_port}"
    rows_file = tmp_path / "rows.csv"
    rows[COLUMNS].to_csv(rows_file, index=False)
    code = main(["probe", server.url, "--model", "iris", "--rows", str(rows_file), "--grpc", target, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, (report["error"], report["grpc"]["error"])
    expected = joblib.load(model_file).predict(rows[COLUMNS].astype(np.float64)).tolist()
    assert np.asarray(report["grpc"]["predictions"]).reshape(-1).tolist() == expected
    assert report["grpc"]["protocol"] == "v2" and report["grpc"]["target"] == target
    features = rows[COLUMNS].to_numpy(dtype=np.float64)
    with V2GrpcClient(target) as client:
        assert client.live() and client.ready() and client.model_ready("iris")
        assert client.server_metadata()["name"] == "mlserver"
        out = client.infer("iris", [{"name": "x", "datatype": "FP64", "shape": list(features.shape),
                                     "data": features.reshape(-1).tolist()}], outputs=["predict_proba"])
        np.testing.assert_allclose(out["predict_proba"],
                                   joblib.load(model_file).predict_proba(rows[COLUMNS].astype(np.float64)),
                                   atol=1e-9)
        with pytest.raises(ServingError) as err:
            client.model_metadata("nope")
    assert err.value.diagnosis.kind == "model-not-found" and err.value.diagnosis.status == "NOT_FOUND"
