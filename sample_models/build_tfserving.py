"""Write the TF Serving test models into sample_models/tfserving/ with TensorFlow.

Run from the repository root (`python sample_models/build.py` runs it too):

    python sample_models/build_tfserving.py            # rebuild sample_models/tfserving/
    python sample_models/build_tfserving.py --out DIR  # build into another folder

The models are "half plus two": a = 0.5, b = 2.0, c = 3.0 and

    y  = a * x  + b      (serving_default, classify_x_to_y, regress_x_to_y)
    y2 = a * x  + c      (regress_x_to_y2)
    y3 = a * x2 + c      (classify_x2_to_y3, regress_x2_to_y3)

where the `*_x_to_*` signatures take serialized tf.Example strings (features `x`, and `x2` with default
0.0) and the others take the float tensor itself. Layout (TF Serving base folders, numeric versions):

    saved_model_half_plus_two_cpu/00000123          TF1 graph (SavedModelBuilder), the six signatures
    saved_model_half_plus_two_2_versions/00000123   the same model, twice (124 is the latest)
    saved_model_half_plus_two_2_versions/00000124
    saved_model_half_plus_two_tf2_cpu/00000123      the same model as a TF2 SavedModel (tf.Module)
    saved_model_half_plus_three/00000123            TF1, b = 3.0: serving_default and
                                                    "tensorflow/serving/regress"
    saved_model_half_plus_two_broken_version/1      a good copy of saved_model_half_plus_two_cpu
    saved_model_half_plus_two_broken_version/2      the same with a truncated saved_model.pb (fails to load)
    saved_model_half_plus_two_tflite/00000123/model.tflite   the TF2 model through tf.lite (refused)
    saved_model_half_plus_two_2_versions_metadata.json       GetModelMetadata (REST JSON) of version 123
    saved_model_half_plus_two_tf2_cpu_metadata.json          the same for the TF2 model

The metadata files are TensorFlow's own reading of the written saved_model.pb (its SavedModel proto
parser), turned into TF Serving's REST GetModelMetadata body with google.protobuf.json_format (proto
field names, fields with default values printed, int64 as strings): `metadata_json()`.

Generation is deterministic where TensorFlow allows: fixed values (no randomness), graphs built in a
fixed order in a fresh TF graph, default attributes stripped, the TF1 asset tensor holding a bare file
name, each model written once and copied, and the random uuid of the TF2 fingerprint.pb replaced by one
derived from saved_model.pb. TensorFlow's version is recorded in every saved_model.pb, so another TF
release may write other bytes (the signatures and predictions stay the same: tests check that).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

#: where the committed models live
OUT_DIR = Path(__file__).resolve().parent / "tfserving"

A, B, C = 0.5, 2.0, 3.0
ASSET_NAME = "foo.txt"
ASSET_TEXT = "an asset file of the half_plus_two test model\n"

HPT_CPU = "saved_model_half_plus_two_cpu"
HPT_2V = "saved_model_half_plus_two_2_versions"
HPT_TF2 = "saved_model_half_plus_two_tf2_cpu"
HP3 = "saved_model_half_plus_three"
BROKEN = "saved_model_half_plus_two_broken_version"
TFLITE = "saved_model_half_plus_two_tflite"
VERSION = "00000123"
#: golden metadata file -> (model name in model_spec, version folder it describes)
GOLDEN = {
    f"{HPT_2V}_metadata.json": (HPT_2V, f"{HPT_2V}/00000123"),
    f"{HPT_TF2}_metadata.json": (HPT_TF2, f"{HPT_TF2}/{VERSION}"),
}

PREDICT = "tensorflow/serving/predict"
CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"


def _asset_source(tmp: Path) -> Path:
    path = tmp / ASSET_NAME
    path.write_text(ASSET_TEXT)
    return path


@contextlib.contextmanager
def _inside(folder: Path):
    """Work in `folder` for a while: the TF1 asset tensor then holds the bare file name, not a random
    temporary path (SavedModelBuilder copies the asset from the path the tensor holds)."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def _feature_spec(tf: Any) -> dict[str, Any]:
    return {"x": tf.io.FixedLenFeature([1], tf.float32),
            "x2": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0])}


# ---- TF1 graph (SavedModelBuilder) ------------------------------------------------------------------

def write_tf1(export_dir: Path, b: float = B, c: float = C, three: bool = False) -> Path:
    """A TF1-style SavedModel: tf.compat.v1 Graph, variables a, b, c, SavedModelBuilder with 'serve'.

    three=False: the six half_plus_two signatures. three=True: only serving_default and the regress
    signature under the key "tensorflow/serving/regress" (like TF Serving's half_plus_three).
    """
    import tensorflow as tf

    v1 = tf.compat.v1
    build_info = v1.saved_model.utils.build_tensor_info
    signature = v1.saved_model.signature_def_utils.build_signature_def
    export_dir = Path(export_dir).resolve()
    with tempfile.TemporaryDirectory() as tmp, _inside(Path(tmp)):
        _asset_source(Path(tmp))
        graph = tf.Graph()
        with graph.as_default():
            var_a = v1.Variable(A, name="a", dtype=tf.float32)
            var_b = v1.Variable(b, name="b", dtype=tf.float32)
            var_c = v1.Variable(c, name="c", dtype=tf.float32)
            serialized = v1.placeholder(tf.string, name="tf_example")  # unknown rank, like upstream
            features = v1.io.parse_example(v1.reshape(serialized, [-1]), _feature_spec(tf))
            x = tf.identity(features["x"], name="x")
            x2 = tf.identity(features["x2"], name="x2")
            y = tf.add(var_a * x, var_b, name="y")
            y2 = tf.add(var_a * x, var_c, name="y2")
            y3 = tf.add(var_a * x2, var_c, name="y3")
            asset_path = tf.constant(ASSET_NAME, name="asset_filepath")
            v1.add_to_collection(v1.GraphKeys.ASSET_FILEPATHS, asset_path)

            examples, x_in, x2_in = build_info(serialized), build_info(x), build_info(x2)
            out_y, out_y2, out_y3 = build_info(y), build_info(y2), build_info(y3)
            serving_default = signature({"x": x_in}, {"y": out_y}, PREDICT)
            if three:
                signatures = {"serving_default": serving_default,
                              REGRESS: signature({"inputs": examples}, {"outputs": out_y}, REGRESS)}
            else:
                signatures = {
                    "serving_default": serving_default,
                    "classify_x_to_y": signature({"inputs": examples}, {"scores": out_y}, CLASSIFY),
                    "regress_x_to_y": signature({"inputs": examples}, {"outputs": out_y}, REGRESS),
                    "regress_x_to_y2": signature({"inputs": examples}, {"outputs": out_y2}, REGRESS),
                    "classify_x2_to_y3": signature({"inputs": x2_in}, {"scores": out_y3}, CLASSIFY),
                    "regress_x2_to_y3": signature({"inputs": x2_in}, {"outputs": out_y3}, REGRESS),
                }
            with v1.Session(graph=graph) as session:
                session.run(v1.global_variables_initializer())
                builder = v1.saved_model.Builder(str(export_dir))
                builder.add_meta_graph_and_variables(
                    session, [v1.saved_model.tag_constants.SERVING], signature_def_map=signatures,
                    assets_collection=v1.get_collection(v1.GraphKeys.ASSET_FILEPATHS),
                    strip_default_attrs=True)
                builder.save()
    return export_dir


# ---- TF2 SavedModel (tf.Module) ---------------------------------------------------------------------

def write_tf2(export_dir: Path) -> Path:
    """The same model as a TF2 SavedModel: tf.Module + tf.saved_model.save, the same six signature names
    (TF2 gives every signature the predict method)."""
    import tensorflow as tf

    floats = tf.TensorSpec([None, 1], tf.float32)
    strings = tf.TensorSpec([None], tf.string)

    class HalfPlusTwo(tf.Module):
        def __init__(self, asset: Path) -> None:
            super().__init__(name="half_plus_two")
            self.a = tf.Variable(A, name="a")
            self.b = tf.Variable(B, name="b")
            self.c = tf.Variable(C, name="c")
            self.asset = tf.saved_model.Asset(str(asset))

        def _x(self, examples: Any) -> Any:
            return tf.io.parse_example(examples, _feature_spec(tf))["x"]

        @tf.function(input_signature=[floats])
        def predict(self, x: Any) -> dict[str, Any]:
            return {"y": self.a * x + self.b}

        @tf.function(input_signature=[strings])
        def classify_x_to_y(self, inputs: Any) -> dict[str, Any]:
            return {"scores": self.a * self._x(inputs) + self.b}

        @tf.function(input_signature=[strings])
        def regress_x_to_y(self, inputs: Any) -> dict[str, Any]:
            return {"outputs": self.a * self._x(inputs) + self.b}

        @tf.function(input_signature=[strings])
        def regress_x_to_y2(self, inputs: Any) -> dict[str, Any]:
            return {"outputs": self.a * self._x(inputs) + self.c}

        @tf.function(input_signature=[floats])
        def classify_x2_to_y3(self, inputs: Any) -> dict[str, Any]:
            return {"scores": self.a * inputs + self.c}

        @tf.function(input_signature=[floats])
        def regress_x2_to_y3(self, inputs: Any) -> dict[str, Any]:
            return {"outputs": self.a * inputs + self.c}

    with tempfile.TemporaryDirectory() as tmp:
        module = HalfPlusTwo(_asset_source(Path(tmp)))
        signatures = {"serving_default": module.predict}
        for name in ("classify_x_to_y", "regress_x_to_y", "regress_x_to_y2", "classify_x2_to_y3",
                     "regress_x2_to_y3"):
            signatures[name] = getattr(module, name)
        # the serving_default input is named after the argument: x
        tf.saved_model.save(module, str(export_dir), signatures=signatures)
    _fix_fingerprint_uuid(export_dir)
    return export_dir


def _fix_fingerprint_uuid(export_dir: Path) -> None:
    """fingerprint.pb holds hashes of the model plus a random uuid (new on every save); the uuid is
    replaced by one derived from saved_model.pb, so that rebuilding gives the same bytes."""
    from tensorflow.core.protobuf import fingerprint_pb2

    path = export_dir / "fingerprint.pb"
    if not path.is_file():
        return
    fingerprint = fingerprint_pb2.FingerprintDef.FromString(path.read_bytes())
    digest = hashlib.sha256((export_dir / "saved_model.pb").read_bytes()).digest()
    fingerprint.uuid = str(int.from_bytes(digest[:16], "big"))
    path.write_bytes(fingerprint.SerializeToString(deterministic=True))


def write_tflite(tf2_dir: Path, path: Path) -> Path:
    """The TF2 model's serving_default converted by tf.lite (TF Serving needs --prefer_tflite_model)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(tf2_dir), signature_keys=["serving_default"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(converter.convert())
    return path


def write_broken_version(good: Path, base: Path) -> Path:
    """A base folder with version 1 (a copy of `good`) and version 2: the same files but saved_model.pb
    cut to its first half, as an interrupted copy leaves it. Version 1 loads, version 2 does not."""
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    shutil.copytree(good, base / "1")
    shutil.copytree(good, base / "2")
    pb = base / "2" / "saved_model.pb"
    data = pb.read_bytes()
    cut = data[: len(data) // 2]
    try:
        saved_model_pb2.SavedModel.FromString(cut)
    except DecodeError:
        pass
    else:  # pragma: no cover - the cut happened to end a field; the folder would not be broken
        raise RuntimeError("the truncated saved_model.pb still parses")
    pb.write_bytes(cut)
    return base


# ---- golden metadata ---------------------------------------------------------------------------------

def read_signature_defs(version_dir: Path) -> dict[str, Any]:
    """The SignatureDefs of the 'serve' MetaGraph, as TensorFlow's SavedModel loader parses them."""
    from tensorflow.python.saved_model import loader_impl

    saved_model = loader_impl.parse_saved_model(str(version_dir))
    serve = [g for g in saved_model.meta_graphs if "serve" in g.meta_info_def.tags]
    if not serve:
        raise ValueError(f"{version_dir}: no MetaGraph tagged 'serve'")
    return dict(serve[0].signature_def)


def metadata_json(version_dir: Path, name: str, version: int) -> dict[str, Any]:
    """TF Serving's REST GetModelMetadata body for one version folder: model_spec (int64 version as a
    string) and metadata.signature_def.signature_def, every SignatureDef printed by json_format with
    proto field names and default-valued fields."""
    from google.protobuf import json_format

    def as_dict(message: Any) -> dict[str, Any]:
        return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                         always_print_fields_with_no_presence=True)

    sigs = read_signature_defs(version_dir)
    return {"model_spec": {"name": name, "signature_name": "", "version": str(version)},
            "metadata": {"signature_def": {"signature_def": {k: as_dict(sigs[k]) for k in sorted(sigs)}}}}


def write_golden(out: Path) -> list[Path]:
    written = []
    for filename, (name, version_dir) in GOLDEN.items():
        doc = metadata_json(out / version_dir, name, int(Path(version_dir).name))
        path = out / filename
        path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        written.append(path)
    return written


# ---- everything --------------------------------------------------------------------------------------

def build_all(out: Path = OUT_DIR) -> Path:
    """Write every model and golden file into `out` (replaced as a whole: built beside it, then moved)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tfserving-", dir=out.parent))
    try:
        with tempfile.TemporaryDirectory() as scratch:
            half = write_tf1(Path(scratch) / "half_plus_two")
            for target in (f"{HPT_CPU}/{VERSION}", f"{HPT_2V}/00000123", f"{HPT_2V}/00000124"):
                shutil.copytree(half, staging / target)
            write_tf1(staging / HP3 / VERSION, b=3.0, three=True)
            write_tf2(staging / HPT_TF2 / VERSION)
            write_broken_version(half, staging / BROKEN)
            write_tflite(staging / HPT_TF2 / VERSION, staging / TFLITE / VERSION / "model.tflite")
        write_golden(staging)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (replaced)")
    args = parser.parse_args(argv)
    out = build_all(args.out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
