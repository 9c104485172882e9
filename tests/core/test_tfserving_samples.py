"""The committed TF Serving test models: sample_models/tfserving, written by sample_models/build_tfserving.py.

Without TensorFlow: the layout and the golden metadata files as the workbench reads them. With TensorFlow
(`tf`): the golden files equal TensorFlow's own reading of the committed saved_model.pb files, every
signature computes half plus two, and a rebuild into tmp_path gives the same signatures and predictions.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SAMPLES_DIR, TFSERVING_TESTDATA
from workbench.core.models import inspect_model

HPT_CPU = "saved_model_half_plus_two_cpu"
HPT2 = "saved_model_half_plus_two_2_versions"
HPT_TF2 = "saved_model_half_plus_two_tf2_cpu"
HP3 = "saved_model_half_plus_three"
BROKEN = "saved_model_half_plus_two_broken_version"
XS = [1.0, 2.5, -4.0]
#: signature -> (input kind, output alias, y as a function of x) for the six half_plus_two signatures
HALF_PLUS_TWO = {
    "serving_default": ("x", "y", lambda x: 0.5 * x + 2.0),
    "classify_x_to_y": ("examples", "scores", lambda x: 0.5 * x + 2.0),
    "regress_x_to_y": ("examples", "outputs", lambda x: 0.5 * x + 2.0),
    "regress_x_to_y2": ("examples", "outputs", lambda x: 0.5 * x + 3.0),
    "classify_x2_to_y3": ("inputs", "scores", lambda x: 0.5 * x + 3.0),
    "regress_x2_to_y3": ("inputs", "outputs", lambda x: 0.5 * x + 3.0),
}
HALF_PLUS_THREE = {
    "serving_default": ("x", "y", lambda x: 0.5 * x + 3.0),
    "tensorflow/serving/regress": ("examples", "outputs", lambda x: 0.5 * x + 3.0),
}
#: version folder -> its signatures
MODELS = {
    f"{HPT_CPU}/00000123": HALF_PLUS_TWO,
    f"{HPT2}/00000123": HALF_PLUS_TWO,
    f"{HPT2}/00000124": HALF_PLUS_TWO,
    f"{HPT_TF2}/00000123": HALF_PLUS_TWO,
    f"{HP3}/00000123": HALF_PLUS_THREE,
    f"{BROKEN}/1": HALF_PLUS_TWO,
}
GOLDEN = {f"{HPT2}_metadata.json": (HPT2, f"{HPT2}/00000123"),
          f"{HPT_TF2}_metadata.json": (HPT_TF2, f"{HPT_TF2}/00000123")}


def _load_builder():
    """Import sample_models/build_tfserving.py by path (sample_models is not a package)."""
    spec = importlib.util.spec_from_file_location("sample_models_build_tfserving",
                                                  SAMPLES_DIR / "build_tfserving.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _golden(name: str) -> dict:
    return json.loads((TFSERVING_TESTDATA / name).read_text())


# ---- without TensorFlow -------------------------------------------------------------------------------

def test_layout_of_the_committed_models():
    root = TFSERVING_TESTDATA
    for version in MODELS:
        assert (root / version / "saved_model.pb").is_file(), version
        assert (root / version / "variables" / "variables.index").is_file(), version
        assert (root / version / "assets" / "foo.txt").is_file(), version
    assert sorted(p.name for p in (root / HPT2).iterdir()) == ["00000123", "00000124"]
    assert sorted(p.name for p in (root / BROKEN).iterdir()) == ["1", "2"]
    good, cut = (root / BROKEN / v / "saved_model.pb" for v in ("1", "2"))
    assert good.read_bytes().startswith(cut.read_bytes()) and 0 < cut.stat().st_size < good.stat().st_size
    tflite = root / "saved_model_half_plus_two_tflite" / "00000123" / "model.tflite"
    assert tflite.read_bytes()[4:8] == b"TFL3"
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert size < 512 * 1024, f"sample_models/tfserving is {size} bytes"


@pytest.mark.parametrize("filename", sorted(GOLDEN))
def test_golden_metadata_agrees_with_the_workbench_reading(filename: str):
    """The golden REST body lists the same signatures, methods and tensors as `inspect` reads from the
    saved_model.pb without TensorFlow."""
    name, version_dir = GOLDEN[filename]
    golden = _golden(filename)
    assert golden["model_spec"] == {"name": name, "signature_name": "", "version": version_dir[-3:]}
    expected = golden["metadata"]["signature_def"]["signature_def"]
    info = inspect_model(TFSERVING_TESTDATA / version_dir)
    ours = info.metadata["signatures"]
    assert set(ours) == {k for k in expected if not k.startswith("__")}
    for key, sig in ours.items():
        assert sig["method"] == expected[key]["method_name"]
        for alias, tensor in sig["inputs"].items():
            want = expected[key]["inputs"][alias]
            assert tensor["tensor"] == want["name"]
            shape = want["tensor_shape"]
            dims = [None if int(d["size"]) == -1 else int(d["size"]) for d in shape["dim"]]
            assert tensor["shape"] == (None if shape["unknown_rank"] else dims)


# ---- with TensorFlow ----------------------------------------------------------------------------------

def _examples(tf, xs: list[float]) -> np.ndarray:
    out = np.empty(len(xs), dtype=object)
    out[:] = [tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[x]))})).SerializeToString() for x in xs]
    return out


def _run_signatures(version_dir: Path, xs: list[float]) -> dict[str, np.ndarray]:
    """Every non-internal signature of a version folder run in a TF1 session (as TF Serving runs it), by
    the tensor names of its SignatureDef: {signature: flat output}."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(version_dir))
        out = {}
        for key, sig in meta.signature_def.items():
            if key.startswith("__"):
                continue
            ((alias, tensor),) = sig.inputs.items()
            feed = _examples(tf, xs) if tensor.dtype == tf.string.as_datatype_enum else (
                np.asarray(xs, np.float32).reshape(-1, 1))
            ((_, output),) = sig.outputs.items()
            out[key] = np.asarray(session.run(output.name, {tensor.name: feed})).reshape(-1)
    return out


@pytest.mark.tf
@pytest.mark.parametrize("version", sorted(MODELS))
def test_every_signature_computes_its_formula(version: str):
    results = _run_signatures(TFSERVING_TESTDATA / version, XS)
    assert set(results) == set(MODELS[version])
    for key, (_, _, formula) in MODELS[version].items():
        np.testing.assert_allclose(results[key], [formula(x) for x in XS], rtol=1e-6, err_msg=key)


@pytest.mark.tf
def test_broken_version_fails_in_tensorflow_and_the_good_one_loads():
    import tensorflow as tf

    base = TFSERVING_TESTDATA / BROKEN
    np.testing.assert_allclose(_run_signatures(base / "1", [4.0])["serving_default"], [4.0])
    with pytest.raises((OSError, tf.errors.OpError, ValueError)):
        with tf.Graph().as_default(), tf.compat.v1.Session() as session:
            tf.compat.v1.saved_model.loader.load(session, ["serve"], str(base / "2"))


@pytest.mark.tf
@pytest.mark.filterwarnings("ignore::UserWarning")  # tf.lite.Interpreter's deprecation notice
def test_tflite_model_computes_half_plus_two():
    import tensorflow as tf

    path = TFSERVING_TESTDATA / "saved_model_half_plus_two_tflite" / "00000123" / "model.tflite"
    interpreter = tf.lite.Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner("serving_default")
    out = runner(x=np.asarray([[v] for v in XS], np.float32))
    np.testing.assert_allclose(out["y"].reshape(-1), [0.5 * x + 2.0 for x in XS], rtol=1e-6)


@pytest.mark.tf
@pytest.mark.parametrize("filename", sorted(GOLDEN))
def test_golden_metadata_is_tensorflows_reading_of_the_committed_model(filename: str):
    """Each golden file equals TF Serving's GetModelMetadata body worked out again from TensorFlow's
    SavedModel parser (and, checked independently here, json_format on the parsed SignatureDefs)."""
    from google.protobuf import json_format
    from tensorflow.python.saved_model import loader_impl

    name, version_dir = GOLDEN[filename]
    golden = _golden(filename)
    version = int(version_dir[-3:])
    assert golden == _load_builder().metadata_json(TFSERVING_TESTDATA / version_dir, name, version)
    saved_model = loader_impl.parse_saved_model(str(TFSERVING_TESTDATA / version_dir))
    sigs = saved_model.meta_graphs[0].signature_def
    expected = golden["metadata"]["signature_def"]["signature_def"]
    assert set(expected) == set(sigs)
    for key, sig in sigs.items():
        parsed = json_format.ParseDict(expected[key], type(sig)())
        assert parsed == sig, key


@pytest.mark.tf
def test_rebuild_gives_the_same_models(tmp_path: Path):
    """build_tfserving.py run into tmp_path (a fresh Python, as build.py runs it): the same files, the same
    signatures (golden files included) and the same predictions as the committed models, and the same
    bytes when this is the TensorFlow release that wrote the committed ones."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    out = tmp_path / "tfserving"
    proc = subprocess.run([sys.executable, str(SAMPLES_DIR / "build_tfserving.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    committed = TFSERVING_TESTDATA

    def files(root: Path) -> list[str]:
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    assert files(out) == files(committed)
    for filename in GOLDEN:
        assert json.loads((out / filename).read_text()) == _golden(filename), filename
    xs = [0.0, 3.0, 80.0]
    for version in MODELS:
        rebuilt, ours = _run_signatures(out / version, xs), _run_signatures(committed / version, xs)
        assert rebuilt.keys() == ours.keys()
        for key in ours:
            np.testing.assert_array_equal(rebuilt[key], ours[key], err_msg=f"{version} {key}")
    pb = committed / HPT_CPU / "00000123" / "saved_model.pb"
    written_by = saved_model_pb2.SavedModel.FromString(pb.read_bytes()).meta_graphs[0].meta_info_def
    if written_by.tensorflow_version == tf.__version__:
        changed = [name for name in files(committed)
                   if (out / name).read_bytes() != (committed / name).read_bytes()]
        assert changed == []
