"""TF Serving bundles: layout, next-version logic, models.config merge, warmup records, SERVING.md,
lint findings on good and broken folders, the `workbench lint` CLI, and the CTR bundle served by the
TF-Serving-compatible test server. Most tests need no TensorFlow (the committed half_plus_two SavedModels
of sample_models/tfserving are the source); those that do are marked `tf`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.core.serving.protos import tfserving_pb2 as pb
from workbench.core.tfserving.bundle import install_bundle
from workbench.core.tfserving.layout import CONFIG_FILE, WARMUP_FILE, BundleError, next_version
from workbench.core.tfserving.lint import lint_base_folder
from workbench.core.tfserving.model_config import merge_model_config, parse_model_config
from workbench.core.tfserving.warmup import read_tfrecords, tfrecord_frame, unwrap_prediction_log

HALF = "saved_model_half_plus_two_2_versions/00000123"
HALF_TF2 = "saved_model_half_plus_two_tf2_cpu/00000123"
BROKEN = "saved_model_half_plus_two_broken_version"


def _levels(findings, level):
    return [f.message for f in findings if f.level == level]


# ------------------------------------------------------------------ install


def test_install_layout_versions_config_and_doc(tfserving_testdata, tmp_path):
    src = tfserving_testdata / HALF
    base = tmp_path / "models"
    rows = pd.DataFrame({"x": [1.0, 2.0, 5.0]})
    first = install_bundle(src, base, "half", rows=rows)
    assert first == base / "half" / "1"
    assert (first / "saved_model.pb").read_bytes() == (src / "saved_model.pb").read_bytes()
    assert (first / "variables" / "variables.index").is_file()
    second = install_bundle(src, base, "half")
    assert second.name == "2" and not (second / WARMUP_FILE).exists()
    assert next_version(base / "half") == 3
    assert install_bundle(src, base, "half", version=10).name == "10"
    assert next_version(base / "half") == 11
    with pytest.raises(BundleError, match="exists"):
        install_bundle(src, base, "half", version=2)
    with pytest.raises(BundleError, match="model name"):
        install_bundle(src, base, "bad/name")
    with pytest.raises(BundleError, match="not a SavedModel"):
        install_bundle(tmp_path, base, "half")
    # no temporary folders left behind, only the versions
    assert sorted(p.name for p in (base / "half").iterdir()) == ["1", "10", "2", "SERVING.md"]
    entries = parse_model_config((base / CONFIG_FILE).read_text())
    assert [(e.name, e.base_path, e.platform) for e in entries] == [("half", "/models/half", "tensorflow")]
    doc = (base / "half" / "SERVING.md").read_text()
    assert "docker run" in doc and "-p 8500:8500 -p 8501:8501" in doc and "MODEL_NAME=half" in doc
    assert f'source="{(base / "half").resolve()}",target=/models/half' in doc
    assert "tensorflow/serving" in doc and "--model_config_file=/models/models.config" in doc
    assert "curl -s http://localhost:8501/v1/models/half/metadata" in doc


#: a models.config in the style of TF Serving's own test configs (colons, commas, ${VAR} base paths)
GOOD_MODEL_CONFIG = """\
model_config_list: {
  config: {
    name: "half_plus_two",
    base_path: "${TEST_HALF_PLUS_TWO_DIR}",
    model_platform: "tensorflow"
  },
  config: {
    name: "half_plus_three",
    base_path: "${TEST_HALF_PLUS_THREE_DIR}",
    model_platform: "tensorflow"
  }
}
"""


def test_models_config_merge_keeps_other_models(tmp_path):
    text = GOOD_MODEL_CONFIG
    merged = merge_model_config(text, "ctr", "/models/ctr")
    names = [e.name for e in parse_model_config(merged)]
    assert names == ["half_plus_two", "half_plus_three", "ctr"]
    # an existing entry for the same name (with its own version policy) is kept verbatim
    pinned = (
        'model_config_list {\n  config {\n    name: "ctr"\n    base_path: "/models/ctr"\n'
        '    model_platform: "tensorflow"\n    model_version_policy { specific { versions: 1 } }\n  }\n}\n'
    )
    again = merge_model_config(pinned, "ctr", "/models/ctr")
    assert again.count('name: "ctr"') == 1 and "specific { versions: 1 }" in again
    with pytest.raises(BundleError, match="model_config_list"):
        parse_model_config("improperly formatted file")


def test_install_merges_existing_config(tfserving_testdata, tmp_path):
    base = tmp_path / "models"
    base.mkdir()
    (base / CONFIG_FILE).write_text(
        'model_config_list {\n  config {\n    name: "other"\n'
        '    base_path: "/models/other"\n    model_platform: "tensorflow"\n  }\n}\n'
    )
    install_bundle(tfserving_testdata / HALF, base, "half")
    assert [e.name for e in parse_model_config((base / CONFIG_FILE).read_text())] == ["other", "half"]


def test_warmup_records_are_prediction_logs(tfserving_testdata, tmp_path):
    from workbench.core.serving.tensors import from_tensor_proto

    rows = pd.DataFrame({"x": [1.0, 2.0, 5.0]})
    version = install_bundle(tfserving_testdata / HALF, tmp_path, "half", rows=rows)
    records = read_tfrecords(version / WARMUP_FILE)
    assert len(records) == 4  # one request per row, then the batch
    requests = []
    for record in records:
        request = pb.PredictRequest()
        request.ParseFromString(unwrap_prediction_log(record))
        requests.append(request)
    assert {r.model_spec.name for r in requests} == {"half"}
    assert {r.model_spec.signature_name for r in requests} == {"serving_default"}
    batch = requests[-1].inputs["x"]
    assert batch.dtype == pb.DT_FLOAT  # the signature's dtype, [-1, 1]
    assert [d.size for d in batch.tensor_shape.dim] == [3, 1]
    np.testing.assert_array_equal(from_tensor_proto(batch).ravel(), [1.0, 2.0, 5.0])
    assert from_tensor_proto(requests[0].inputs["x"]).ravel().tolist() == [1.0]
    # rows that do not fit the signature: installed without warmup, SERVING.md says why
    unfit = pd.DataFrame({"z": [1.0], "w": [2.0]})
    other = install_bundle(tfserving_testdata / HALF, tmp_path, "half", rows=unfit)
    assert not (other / WARMUP_FILE).exists()
    assert "No warmup requests were written: sample rows have no column for signature input(s) x" in (
        tmp_path / "half" / "SERVING.md"
    ).read_text()


def test_tfrecord_framing_detects_damage(tmp_path):
    path = tmp_path / "records"
    path.write_bytes(tfrecord_frame(b"abc") + tfrecord_frame(b""))
    assert read_tfrecords(path) == [b"abc", b""]
    data = bytearray(path.read_bytes())
    data[13] ^= 0xFF
    path.write_bytes(bytes(data))
    from workbench.core.errors import CorruptModel

    with pytest.raises(CorruptModel, match="CRC"):
        read_tfrecords(path)


# ------------------------------------------------------------------ lint


def test_lint_good_bundle_and_committed_test_models(tfserving_testdata, tmp_path):
    base = tmp_path / "models"
    install_bundle(tfserving_testdata / HALF, base, "half", rows=pd.DataFrame({"x": [1.0]}))
    install_bundle(tfserving_testdata / HALF_TF2, base, "tf2")
    findings = lint_base_folder(base)
    assert _levels(findings, "error") == [] and _levels(findings, "warning") == []
    infos = _levels(findings, "info")
    assert any("half: versions 1" in m for m in infos)
    assert any("1 warmup request(s)" in m for m in infos)
    assert lint_base_folder(tfserving_testdata / "saved_model_half_plus_two_2_versions")[-1].message.endswith(
        "TF Serving serves 124 by default (model_version_policy latest)"
    )


def test_lint_broken_folders(tfserving_testdata, tmp_path):
    src = tfserving_testdata / HALF
    # 1. pointing at a version folder instead of the base path (#1419)
    found = lint_base_folder(src)
    assert len(found) == 1 and found[0].level == "error"
    assert (
        "No versions of servable saved_model_half_plus_two_2_versions found under base path"
        in found[0].message
    )
    assert "saved_model_half_plus_two_2_versions (tensorflow/serving#1419)" in found[0].hint
    # 2. a base path with only non-numeric folders
    base = tmp_path / "named"
    shutil.copytree(src, base / "v1")
    errors = _levels(lint_base_folder(base), "error")
    assert errors == [f"No versions of servable named found under base path {base}"]
    assert any("v1 are not numeric" in m for m in _levels(lint_base_folder(base), "warning"))
    # 3. a numeric folder without saved_model.pb, a duplicate version, empty variables, bad warmup
    model = tmp_path / "root" / "m"
    shutil.copytree(src, model / "1")
    shutil.copytree(src, model / "01")
    (model / "2").mkdir()
    (model / "2" / "README").write_text("x")
    shutil.copytree(tfserving_testdata / HALF_TF2, model / "3")
    for f in (model / "3" / "variables").iterdir():
        f.unlink()
    (model / "1" / "assets.extra").mkdir()
    (model / "1" / WARMUP_FILE).write_bytes(b"not a tfrecord")
    (model / "tmp").mkdir()
    errors = _levels(lint_base_folder(model), "error")
    assert any("folders 01, 1 are the same version 1" in m for m in errors)
    assert any("m version 2: no saved_model.pb" in m for m in errors)
    assert any("m version 3: the graph has variables but variables/ is empty" in m for m in errors)
    assert any("m version 1: unreadable warmup file" in m for m in errors)
    assert any("tmp are not numeric and are ignored" in m for m in _levels(lint_base_folder(model), "info"))


def test_lint_committed_base_folder_with_a_broken_version(tfserving_testdata, capsys):
    """sample_models/tfserving's broken-version folder: version 2's saved_model.pb is truncated (an
    interrupted copy); lint reports it as an error and finds nothing wrong with version 1."""
    from workbench.cli import main

    base = tfserving_testdata / BROKEN
    findings = lint_base_folder(base)
    errors = _levels(findings, "error")
    assert len(errors) == 1 and errors[0].startswith(f"{BROKEN} version 2: ")
    assert "saved_model.pb: damaged SavedModel file" in errors[0]
    assert [f.hint for f in findings if f.level == "error"] == [
        "re-export the model; the file is truncated or damaged"]
    assert not any(f"{BROKEN} version 1" in m for m in errors + _levels(findings, "warning"))
    assert findings[-1].level == "info" and f"{BROKEN}: versions 1, 2;" in findings[-1].message
    assert main(["lint", str(base), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [f["message"] for f in report["findings"] if f["level"] == "error"] == errors


def test_lint_models_config_mistakes(tfserving_testdata, tmp_path):
    base = tmp_path / "models"
    install_bundle(tfserving_testdata / HALF, base, "half")
    shutil.copytree(tfserving_testdata / "saved_model_half_plus_three", base / "three")
    (base / CONFIG_FILE).write_text(
        "model_config_list {\n"
        '  config { name: "half" base_path: "/models/half/1" model_platform: "tensorflow" }\n'
        '  config { name: "gone" base_path: "/models/gone" model_platform: "tensorflow" }\n'
        '  config { name: "odd" base_path: "/models/half" model_platform: "tflite" }\n'
        "}\n"
    )
    findings = lint_base_folder(base)
    errors, warnings = _levels(findings, "error"), _levels(findings, "warning")
    assert any("half base_path /models/half/1 ends in a version folder" in m for m in errors)
    assert any("odd has model_platform 'tflite'" in m for m in errors)
    assert any("gone base_path /models/gone is not here" in m for m in warnings)
    assert any("three has versions but is not in models.config" in m for m in warnings)
    (base / CONFIG_FILE).write_text("improperly formatted file")
    assert "Error parsing text-format" in lint_base_folder(base)[0].message


def test_lint_cli_json_and_exit_codes(tfserving_testdata, tmp_path, capsys):
    from workbench.cli import main

    base = tmp_path / "models"
    install_bundle(tfserving_testdata / HALF, base, "half")
    assert main(["lint", str(base), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["errors"] == 0 and payload["path"] == str(base)
    assert main(["lint", str(base / "half" / "1")]) == 1
    out = capsys.readouterr().out
    assert "No versions of servable half found under base path" in out and "1 error(s)" in out


def test_lint_cli_missing_path_or_file_is_exit_2_on_stderr(tmp_path, capsys):
    from workbench.cli import main

    missing = tmp_path / "nothere"
    for argv in (["lint", str(missing)], ["lint", str(missing), "--json"]):
        assert main(argv) == 2
        captured = capsys.readouterr()
        # --json: the same error as an object on stdout, for scripts
        assert captured.out == ("" if "--json" not in argv else json.dumps(
            {"error": f"{missing}: no such file or folder", "kind": "model-file", "hint": None}, indent=2) + "\n")
        assert captured.err == f"error: {missing}: no such file or folder\n"
    a_file = tmp_path / "models.config"
    a_file.write_text("model_config_list {}\n")
    assert main(["lint", str(a_file)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    assert captured.err.startswith(f"error: {a_file} is a file, not a folder: give a TF Serving models root")


# ------------------------------------------------------------------ with TensorFlow


@pytest.mark.tf
def test_ctr_bundle_served_by_test_server(tmp_path):
    pytest.importorskip("tensorflow")
    import requests
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from workbench.core.converters.to_savedmodel import compile_model, save_compiled
    from workbench.testing.tfserving_server import TFServingTestServer

    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 70, n).astype(float),
            "device": rng.choice(["ios", "android", "web"], n),
            "price": rng.gamma(2.0, 20.0, n).round(2),
        }
    )
    y = ((frame["device"] == "ios") ^ (rng.random(n) < 0.3)).astype(int)
    pipe = Pipeline(
        [
            (
                "pre",
                ColumnTransformer(
                    [
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["device"]),
                        ("num", StandardScaler(), ["age", "price"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression()),
        ]
    ).fit(frame, y)
    saved = save_compiled(compile_model(pipe), tmp_path / "sm")
    base = tmp_path / "models"
    version = install_bundle(saved, base, "ctr", rows=frame.head(5))
    assert lint_base_folder(base) and not _levels(lint_base_folder(base), "error")

    import tensorflow as tf

    records = list(tf.data.TFRecordDataset(str(version / WARMUP_FILE)).as_numpy_iterator())
    assert len(records) == 6
    request = pb.PredictRequest()
    request.ParseFromString(unwrap_prediction_log(records[0]))
    assert set(request.inputs) == {"age", "device", "price"}
    assert request.inputs["device"].dtype == pb.DT_STRING and request.inputs["age"].dtype == pb.DT_DOUBLE
    doc = (base / "ctr" / "SERVING.md").read_text()
    row = frame.iloc[0]
    assert f'"device": "{row["device"]}"' in doc

    rows = frame.head(4)
    instances = [
        {"age": float(r.age), "device": r.device, "price": float(r.price)} for r in rows.itertuples()
    ]
    with TFServingTestServer({"ctr": base / "ctr"}) as srv:
        res = requests.post(
            f"{srv.rest_url}/v1/models/ctr:predict", json={"instances": instances}, timeout=30
        )
    assert res.status_code == 200, res.text
    predictions = res.json()["predictions"]
    got = np.array([p["probabilities"] for p in predictions])
    np.testing.assert_allclose(got, pipe.predict_proba(rows), atol=1e-6)
    assert [p["label"] for p in predictions] == pipe.predict(rows).tolist()


# ------------------------------------------------------------------ converter registration (no TF needed)


def test_savedmodel_converter_registered_with_precise_reasons():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from workbench.core.converters import target_status
    from workbench.core.types import ModelInfo

    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.2, 0.9]])
    y = np.array([0, 1, 1, 0])
    info = ModelInfo(path="m.joblib", format="sklearn", framework="sklearn", task="classification")
    ok = target_status(info, make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y), "savedmodel")
    assert ok.possible and ok.converter_key == "compiled-savedmodel"
    bad = target_status(info, make_pipeline(StandardScaler(), SVC()).fit(x, y), "savedmodel")
    assert not bad.possible
    assert bad.reason.startswith("SavedModel: not supported: no TensorFlow compiler for SVC (step 'svc')")
    bundle = target_status(info, make_pipeline(StandardScaler(), SVC()).fit(x, y), "tfserving")
    assert not bundle.possible and "SVC (step 'svc')" in bundle.reason
    keras_info = ModelInfo(path="m.keras", format="keras", framework="keras")
    assert target_status(keras_info, object(), "savedmodel").converter_key == "keras-savedmodel"
