"""`workbench compare MODEL URL`: a local model against a served model on the same rows, through the same
`compare_batches` engine (core.compare.compare_model_with_endpoint), against the TF-Serving-compatible test
server on 127.0.0.1.

The served model "iris" is the committed SavedModel export of sample_models/keras_mlp.keras (loaded by the
server, which runs its graph: trusted here); a second server serves, under the same name, a different
model (a fixed linear softmax over the same four features, plus an output no local role matches).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SAMPLES_DIR
from workbench.cli import main

pytestmark = pytest.mark.tf

KERAS = SAMPLES_DIR / "keras_mlp.keras"
ROWS = SAMPLES_DIR / "keras_mlp.rows.csv"
TODAY_KEYS = {"a", "b", "rows", "max_abs_diff", "max_rel_diff", "label_agreement", "passed", "worst_rows", "atol",
              "rtol", "roles", "notes", "warnings"}
WEIGHTS = np.array([[1.0, -1.0, 0.5], [0.5, 0.5, -1.0], [-1.0, 1.0, 1.0], [-2.0, 0.0, 2.0]], dtype=np.float32)


def _other_model(base: Path) -> Path:
    """A different model with the same input: softmax(features @ WEIGHTS) as `scores`, plus `extra`."""
    import tensorflow as tf

    class Other(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="features")])
        def serve(self, features):
            logits = tf.matmul(features, tf.constant(WEIGHTS))
            return {"scores": tf.nn.softmax(logits), "extra": tf.reduce_sum(features, axis=1)}

    module = Other()
    tf.saved_model.save(module, str(base / "1"), signatures={"serving_default": module.serve})
    return base


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    from workbench.testing.tfserving_server import TFServingTestServer

    base = tmp_path_factory.mktemp("served") / "iris"
    shutil.copytree(SAMPLES_DIR / "keras_mlp_savedmodel", base / "1")
    with TFServingTestServer({"iris": base}) as server:
        yield server


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory):
    from workbench.testing.tfserving_server import TFServingTestServer

    base = _other_model(tmp_path_factory.mktemp("other") / "iris")
    with TFServingTestServer({"iris": base}) as server:
        yield server


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["compare", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_local_model_matches_its_served_export(served) -> None:
    from workbench.core.compare import compare_model_with_endpoint

    frame = pd.read_csv(ROWS)
    result = compare_model_with_endpoint(str(KERAS), served.rest_url, frame, model_name="iris")
    report = result.report
    assert report.passed and report.rows == 30
    assert set(report.roles) == {"label", "probabilities"}
    assert all(r.compared and r.passed for r in report.roles.values())
    assert report.label_agreement == 1.0
    assert report.max_abs_diff is not None and report.max_abs_diff < 1e-6    # float32 through JSON
    b = result.sides["b"]
    assert (b["endpoint"], b["protocol"], b["transport"], b["served_model"], b["version"], b["signature"]) == (
        served.rest_url, "tfserving", "rest", "iris", 1, "serving_default")
    assert b["outputs"] == ["output_0"]
    assert b["paired"] == {"probabilities": "output_0", "label": "argmax(output_0)"} and b["unpaired"] == []
    assert any("'output_0' read as probabilities" in n for n in report.notes)
    # the endpoint's probabilities are the served model's own: they sum to 1 per row
    worst = report.worst_rows[0]
    assert sum(worst["b"]["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert worst["features"]["sepal_length"] == frame.iloc[worst["index"]]["sepal_length"]


def test_cli_json_keeps_todays_keys_and_adds_the_endpoint(served, capsys) -> None:
    code, out, err = _cli(capsys, str(KERAS), served.rest_url, "--model", "iris", "--rows", str(ROWS), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert TODAY_KEYS <= set(data)
    assert data["passed"] is True and data["rows"] == 30 and data["max_abs_diff"] < 1e-6
    assert data["a"]["model"] == str(KERAS) and data["a"]["runtime"] == "native"
    assert data["b"]["endpoint"] == served.rest_url and data["b"]["model"] == served.rest_url
    assert data["b"]["request_url"] == f"{served.rest_url}/v1/models/iris:predict"
    code, out, _ = _cli(capsys, str(KERAS), served.rest_url, "--model", "iris", "--rows", str(ROWS))
    assert code == 0
    lines = out.splitlines()
    assert lines[1] == (f"B  {served.rest_url}  (endpoint tfserving over rest, model iris version 1, "
                        "signature serving_default)")
    assert lines[2].startswith("PASS: 30 rows, labels agree on 100%")


def test_cli_over_grpc(served, capsys) -> None:
    code, out, err = _cli(capsys, str(KERAS), served.rest_url, "--model", "iris", "--grpc", served.grpc_target,
                          "--version", "1", "--rows", str(ROWS), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["b"]["transport"] == "grpc" and data["b"]["version"] == 1
    assert data["passed"] is True and data["max_abs_diff"] < 1e-6


def test_a_different_model_under_the_same_name_fails_with_worst_rows(other, capsys) -> None:
    frame = pd.read_csv(ROWS)
    code, out, err = _cli(capsys, str(KERAS), other.rest_url, "--model", "iris", "--rows", str(ROWS), "--json")
    assert code == 1, err
    data = json.loads(out)
    assert data["passed"] is False
    assert data["b"]["paired"] == {"probabilities": "scores", "label": "argmax(scores)"}
    assert data["b"]["unpaired"] == [{"output": "extra",
                                      "reason": "no role of the local model matches it (not compared)"}]
    assert "not compared: endpoint output 'extra': no role of the local model matches it (not compared)" \
        in data["notes"]
    worst = data["worst_rows"]
    assert len(worst) == 5 and worst[0]["within_tolerance"] is False
    # the served model's answer is its arithmetic: softmax(features @ WEIGHTS) of that row
    row = frame.iloc[worst[0]["index"]].to_numpy(dtype=np.float32)
    logits = row @ WEIGHTS
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert [worst[0]["b"]["probabilities"][k] for k in ("0", "1", "2")] == pytest.approx(expected, abs=1e-6)
    assert data["roles"]["probabilities"]["passed"] is False and data["roles"]["probabilities"]["max_abs_diff"] > 0.1
    code, out, _ = _cli(capsys, str(KERAS), other.rest_url, "--model", "iris", "--rows", str(ROWS))
    assert code == 1 and "\nworst rows:\n" in out and "<- outside tolerance" in out


def test_a_local_role_the_endpoint_lacks_is_not_compared_never_a_silent_pass(served) -> None:
    from workbench.core.compare import compare_batches
    from workbench.core.predictions import PredictionBatch
    from workbench.core.serving.endpoint_predictions import EndpointAnswer, pair_outputs

    local = PredictionBatch("native", values=np.array([1.0, 2.0]))
    answer = EndpointAnswer(batch=PredictionBatch("endpoint"), url="u", protocol="tfserving", transport="rest",
                            model="m", version=1, signature="s",
                            outputs={"classes": np.array(["a", "b"], dtype=object)})
    pair_outputs(answer, local)
    assert answer.paired == {}
    assert [u.get("role") or u.get("output") for u in answer.unpaired] == ["value", "classes"]
    assert answer.unpaired[0]["reason"].startswith("the endpoint's answer has no output for the values")
    report = compare_batches(local, answer.batch)
    assert not report.passed and report.summary().startswith("FAIL")


def test_unreachable_endpoint_is_exit_2_with_one_line(capsys) -> None:
    from workbench.testing.endpoints import refused_port

    url = f"http://127.0.0.1:{refused_port()}"
    code, out, err = _cli(capsys, str(KERAS), url, "--model", "iris", "--rows", str(ROWS), "--json")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"error: endpoint {url}: ")
    assert json.loads(out)["kind"] == "connection-refused"


def test_endpoint_answering_with_an_error_is_exit_1(served, capsys) -> None:
    code, out, err = _cli(capsys, str(KERAS), served.rest_url, "--model", "nosuch", "--rows", str(ROWS), "--json")
    assert code == 1
    assert json.loads(out)["kind"] == "model-not-found" and err.startswith("error: endpoint ")


def test_endpoint_options_without_an_endpoint_are_bad_arguments(capsys) -> None:
    code, _, err = _cli(capsys, str(KERAS), str(KERAS), "--model", "iris", "--rows", str(ROWS))
    assert code == 2 and err.startswith("error: --model apply when B is an endpoint URL")
