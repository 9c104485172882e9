"""`--to savedmodel` / `--to tfserving` through convert_and_prove: proof, bundle layout, versions, and the
CTR bundle answering a TF Serving REST request (real TensorFlow; the TF-Serving-compatible test server).

The SavedModel compiler and the bundle installer are tested in their own modules; here the conversion
pipeline around them: nothing-is-lost rules for bundles and the end-to-end done-when of issue 4.
"""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest
import requests

from tests.core.convert_helpers import SAMPLES, sha256, tree_snapshot
from workbench.cli import main as cli_main

pytestmark = pytest.mark.tf

CTR = SAMPLES / "ctr_pipeline.joblib"
CTR_ROWS = SAMPLES / "ctr_pipeline.rows.csv"


def _cli(capsys, *argv):
    code = cli_main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_ctr_bundle_is_proved_versioned_and_served(tmp_path, capsys):
    from workbench.testing.tfserving_server import TFServingTestServer

    before = sha256(CTR)
    base = tmp_path / "serving"
    code, stdout, _ = _cli(capsys, "convert", str(CTR), "--to", "tfserving", "--out", str(base), "--name", "ctr",
                           "--rows", str(CTR_ROWS), "--trust", "--json")
    assert code == 0
    payload = json.loads(stdout)
    assert payload["output"] == str(base / "ctr" / "1")
    assert payload["converter"] == "compiled-savedmodel+bundle"
    assert payload["parity"]["passed"] is True and payload["parity"]["rows"] == 30
    assert payload["parity"]["max_abs_diff"] <= 1e-5 and payload["parity"]["label_agreement"] == 1.0
    assert (base / "ctr" / "1" / "saved_model.pb").is_file()
    assert (base / "ctr" / "1" / "assets.extra" / "tf_serving_warmup_requests").is_file()
    assert "base_path" in (base / "models.config").read_text()
    assert (base / "ctr" / "SERVING.md").is_file()
    assert json.loads((base / "ctr-v1.parity.json").read_text())["passed"] is True

    # a second conversion adds version 2 (how a model is updated in place); version 1 is untouched
    v1 = tree_snapshot(base / "ctr" / "1")
    code, stdout, _ = _cli(capsys, "convert", str(CTR), "--to", "tfserving", "--out", str(base), "--name", "ctr",
                           "--trust", "--json")
    assert code == 0 and json.loads(stdout)["output"] == str(base / "ctr" / "2")
    assert tree_snapshot(base / "ctr" / "1") == v1

    # an explicit existing version without --force: exit 2, nothing changes
    snapshot = tree_snapshot(base)
    code, _, stderr = _cli(capsys, "convert", str(CTR), "--to", "tfserving", "--out", str(base), "--name", "ctr",
                           "--version", "1", "--trust")
    assert code == 2 and "--force" in stderr
    assert tree_snapshot(base) == snapshot
    assert sha256(CTR) == before

    # TF Serving answers a CSV row as an object with the original model's probabilities
    rows = pd.read_csv(CTR_ROWS)
    model = joblib.load(CTR)
    expected = model.predict_proba(rows.head(3))
    instances = json.loads(rows.head(3).to_json(orient="records"))
    with TFServingTestServer({"ctr": base / "ctr"}) as server:
        response = requests.post(f"{server.rest_url}/v1/models/ctr:predict", json={"instances": instances},
                                 timeout=60)
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    got = np.asarray([p["probabilities"] for p in predictions], dtype=float)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert [str(p["label"]) for p in predictions] == [str(v) for v in model.predict(rows.head(3))]


def test_keras_to_savedmodel_and_failed_tfserving_source(tmp_path):
    from workbench.core.conversion import CannotConvert, convert_and_prove

    out = tmp_path / "keras_sm"
    result = convert_and_prove(SAMPLES / "keras_mlp.keras", "savedmodel", out, rows=SAMPLES / "keras_mlp.rows.csv")
    assert result.passed and (out / "saved_model.pb").is_file()
    assert result.parity["label_agreement"] == 1.0 and result.parity["max_abs_diff"] <= 1e-5
    with pytest.raises(CannotConvert, match="TF Serving bundle: needs a SavedModel first; SavedModel from ONNX"):
        convert_and_prove(SAMPLES / "iris_logreg.onnx", "tfserving", tmp_path / "base")
    assert not (tmp_path / "base").exists()


def test_savedmodel_force_replaces_a_savedmodel_folder_never_another_folder(tmp_path, capsys):
    source = SAMPLES / "iris_logreg.joblib"
    out = tmp_path / "sm"
    first = _cli_savedmodel(capsys, source, out)
    assert first[0] == 0 and (out / "saved_model.pb").is_file()
    code, _, stderr = _cli_savedmodel(capsys, source, out)
    assert code == 2 and "exists: pass --force" in stderr
    code, _, _ = _cli_savedmodel(capsys, source, out, "--force")
    assert code == 0 and (out / "saved_model.pb").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sm", "sm.parity.json"]  # nothing left aside
    # a folder that is not a SavedModel is never replaced, even with --force
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("keep")
    code, stdout, stderr = _cli_savedmodel(capsys, source, docs, "--force")
    assert code == 2 and stdout == ""
    assert stderr == (f"error: --out {docs} is a folder that is not a SavedModel (it holds notes.txt): give a new "
                      "folder path; --force replaces only a SavedModel folder (nothing was written)\n")
    assert [p.name for p in docs.iterdir()] == ["notes.txt"]


def _cli_savedmodel(capsys, source, out, *extra):
    return _cli(capsys, "convert", str(source), "--to", "savedmodel", "--out", str(out), "--trust", *extra)
