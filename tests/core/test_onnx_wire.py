"""`inspect` reads ONNX files with the workbench's own protobuf wire reader (issue 17 item 7): the same
answers as onnx's own parser, without importing onnx (~1 s, mostly ml_dtypes).

Each test builds a model with onnx (allowed here: tests may import it) and checks what the wire reader
makes of it against what protobuf makes of the same bytes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES_DIR
from workbench.core.errors import CorruptModel
from workbench.core.formats import onnx_format
from workbench.core.models import inspect_model

onnx = pytest.importorskip("onnx")
helper = onnx.helper
T = onnx.TensorProto
REPO = Path(__file__).resolve().parents[2]


def _save(model, path: Path, ir_version: int = 8) -> Path:
    model.ir_version = ir_version
    path.write_bytes(model.SerializeToString())
    return path


def _reference(path: Path) -> dict:
    """What inspect showed when it parsed with onnx: inputs, outputs, opsets, producer, props, classes."""
    model = onnx.load(str(path))
    graph = model.graph
    initializers = {i.name for i in graph.initializer}

    def spec(value):
        kind = value.type.WhichOneof("value")
        if kind != "tensor_type":
            return [value.name, "object", [None] if kind == "sequence_type" else None]
        elem = value.type.tensor_type.elem_type
        dtype = "string" if elem == T.STRING else helper.tensor_dtype_to_np_dtype(elem).name if elem else "float32"
        shape = None
        if value.type.tensor_type.HasField("shape"):
            shape = [d.dim_value if d.HasField("dim_value") else None for d in value.type.tensor_type.shape.dim]
        return [value.name, dtype, shape]

    classes = None
    for node in graph.node:
        for a in node.attribute:
            if a.name in ("classlabels_int64s", "classlabels_ints") and a.ints:
                classes = list(a.ints)
            elif a.name == "classlabels_strings" and a.strings:
                classes = [s.decode() for s in a.strings]
    return {"inputs": [spec(v) for v in graph.input if v.name not in initializers],
            "outputs": [spec(v) for v in graph.output],
            "opset": {op.domain or "ai.onnx": op.version for op in model.opset_import},
            "producer": model.producer_name, "producer_version": model.producer_version,
            "ir_version": model.ir_version, "graph_name": graph.name, "node_count": len(graph.node),
            "metadata_props": {p.key: p.value for p in model.metadata_props}, "classes": classes}


def _ours(path: Path) -> dict:
    info = inspect_model(path).to_json()
    meta = info["metadata"]
    return {"inputs": [[s["name"], s["dtype"], s["shape"]] for s in info["inputs"]],
            "outputs": [[s["name"], s["dtype"], s["shape"]] for s in info["outputs"]],
            "opset": meta["opset"], "producer": meta["producer"], "producer_version": meta["producer_version"],
            "ir_version": meta["ir_version"], "graph_name": meta["graph_name"], "node_count": meta["node_count"],
            "metadata_props": meta["metadata_props"],
            "classes": info["classes"]}


def _same_as_onnx(path: Path) -> dict:
    ours, reference = _ours(path), _reference(path)
    assert json.loads(json.dumps(ours)) == json.loads(json.dumps(reference))
    return ours


def test_element_type_table_is_onnx_own() -> None:
    for name, code in T.DataType.items():
        if code == 0:
            continue
        expected = "string" if code == T.STRING else helper.tensor_dtype_to_np_dtype(code).name
        assert onnx_format._ELEM_DTYPES.get(code) == expected, name


def test_sample_reads_as_onnx_reads_it() -> None:
    ours = _same_as_onnx(SAMPLES_DIR / "iris_logreg.onnx")
    assert ours["classes"] == [0, 1, 2]
    assert inspect_model(SAMPLES_DIR / "iris_logreg.onnx").metadata["onnx_version"] == onnx.__version__


def test_every_element_type_dim_params_initializers_opsets_and_props(tmp_path: Path) -> None:
    inputs = [helper.make_tensor_value_info(f"in{code}", code, ["batch", code, None])
              for name, code in T.DataType.items() if code]
    x = helper.make_tensor_value_info("x", T.FLOAT, [None, 3])
    w = helper.make_tensor_value_info("w", T.FLOAT, [3])
    y = helper.make_tensor_value_info("y", T.FLOAT, [None, 3])
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g1", [x, w, *inputs], [y],
                              [helper.make_tensor("w", T.FLOAT, [3], [1.0, 2.0, 3.0])])
    model = helper.make_model(graph, producer_name="prod é", producer_version="1.2 None", opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3), helper.make_opsetid("com.x", -2)])
    model.metadata_props.add(key="k", value="v ü")
    ours = _same_as_onnx(_save(model, tmp_path / "m.onnx"))
    assert "w" not in [i[0] for i in ours["inputs"]] and ours["opset"]["com.x"] == -2


def test_zipmap_sequence_output_int64_labels_and_shapeless_input(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", T.FLOAT, None)
    label = helper.make_tensor_value_info("label", T.INT64, [None])
    probs = helper.make_value_info("probs", helper.make_sequence_type_proto(
        helper.make_map_type_proto(T.INT64, helper.make_tensor_type_proto(T.FLOAT, []))))
    nodes = [helper.make_node("LinearClassifier", ["x"], ["label", "p"], domain="ai.onnx.ml",
                              coefficients=[1.0] * 6, intercepts=[0.0, 1.0, 2.0], classlabels_ints=[-5, 0, 7]),
             helper.make_node("ZipMap", ["p"], ["probs"], domain="ai.onnx.ml", classlabels_int64s=[-5, 0, 7])]
    model = helper.make_model(helper.make_graph(nodes, "", [x], [label, probs]),
                              opset_imports=[helper.make_opsetid("ai.onnx.ml", 1)])
    path = _save(model, tmp_path / "m.onnx", ir_version=7)
    assert _same_as_onnx(path)["classes"] == [-5, 0, 7]
    info = inspect_model(path)
    assert info.task == "classification" and info.warnings and info.outputs[1].description.startswith("sequence")


def test_string_labels_and_map_and_optional_types(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", T.STRING, [1, 2])
    m = helper.make_value_info("m", helper.make_map_type_proto(T.STRING, helper.make_tensor_type_proto(T.FLOAT, [])))
    o = helper.make_value_info("o", helper.make_optional_type_proto(helper.make_tensor_type_proto(T.FLOAT, [2])))
    label = helper.make_tensor_value_info("label", T.STRING, [None])
    node = helper.make_node("SVMClassifier", ["x"], ["label", "p"], domain="ai.onnx.ml", classlabels_strings=["a", "b"])
    model = helper.make_model(helper.make_graph([node], "svm", [x, m, o], [label]),
                              opset_imports=[helper.make_opsetid("ai.onnx.ml", 1)])
    path = _save(model, tmp_path / "m.onnx")
    assert _same_as_onnx(path)["classes"] == ["a", "b"]
    assert [s.description for s in inspect_model(path).inputs[1:]] == ["map_type", "optional_type"]


def _field(number: int, wire: int, payload: bytes | int) -> bytes:
    """One protobuf field, encoded by hand (for the protobuf rules onnx's helpers never produce)."""
    def varint(n: int) -> bytes:
        n &= (1 << 64) - 1
        out = bytearray()
        while True:
            out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
            n >>= 7
            if not n:
                return bytes(out)
    if wire == 0:
        return varint(number << 3) + varint(payload)  # type: ignore[arg-type]
    return varint(number << 3 | 2) + varint(len(payload)) + payload  # type: ignore[arg-type]


def test_protobuf_rules_merged_graph_last_oneof_packed_ints_and_wrong_wire_types(tmp_path: Path) -> None:
    base = helper.make_model(helper.make_graph(
        [helper.make_node("LinearClassifier", ["x"], ["label", "p"], domain="ai.onnx.ml",
                          coefficients=[1.0, 2.0], intercepts=[0.0, 1.0])], "g",
        [helper.make_tensor_value_info("x", T.FLOAT, [None, 1])],
        [helper.make_tensor_value_info("label", T.INT64, [None])]), opset_imports=[helper.make_opsetid("", 17)])
    base.ir_version = 8
    raw = base.SerializeToString()
    # unpacked int64 labels (wire 0 each), an attribute name, and a stray varint where a message belongs
    unpacked = _field(1, 2, b"classlabels_ints") + _field(8, 0, 3) + _field(8, 0, (1 << 64) - 9)
    node = _field(4, 2, b"LinearClassifier") + _field(5, 2, unpacked) + _field(5, 0, 7)
    # a dimension whose oneof is set twice: dim_value then dim_param (param wins) and the reverse
    dims = _field(1, 2, _field(1, 0, 4) + _field(2, 2, b"n")) + _field(1, 2, _field(2, 2, b"n") + _field(1, 0, 6))
    tensor = _field(1, 0, 11) + _field(2, 2, dims)
    value = _field(1, 2, b"z") + _field(2, 2, _field(1, 2, tensor))
    # a second occurrence of the singular graph: merged into the first (name replaced, lists appended)
    second_graph = _field(1, 2, node) + _field(2, 2, b"merged") + _field(11, 2, value) + _field(2, 0, 5)
    data = raw + _field(7, 2, second_graph) + _field(2, 0, 1) + _field(1, 0, 9)
    path = tmp_path / "m.onnx"
    path.write_bytes(data)
    ours = _same_as_onnx(path)
    assert ours["graph_name"] == "merged" and ours["classes"] == [3, -9] and ours["ir_version"] == 9
    assert ours["inputs"][-1] == ["z", "float64", [None, 6]]


def test_a_truncated_file_is_an_onnx_file_that_cannot_be_parsed(tmp_path: Path) -> None:
    raw = (SAMPLES_DIR / "iris_logreg.onnx").read_bytes()
    for cut in (5, 40, len(raw) // 2, len(raw) - 1):
        path = tmp_path / "m.onnx"
        path.write_bytes(raw[:cut])
        with pytest.raises(CorruptModel, match="m.onnx: an ONNX file that cannot be parsed .*truncated or damaged"):
            inspect_model(path)


def test_packed_floats_of_a_wrong_length_cannot_be_parsed(tmp_path: Path) -> None:
    attribute = _field(1, 2, b"coefficients") + _field(7, 2, b"\x00" * 7)
    node = _field(4, 2, b"LinearClassifier") + _field(5, 2, attribute)
    path = tmp_path / "m.onnx"
    path.write_bytes(_field(1, 0, 8) + _field(7, 2, _field(1, 2, node)))
    from google.protobuf.message import DecodeError

    with pytest.raises(DecodeError):
        onnx.load(str(path))  # protobuf refuses it too
    with pytest.raises(CorruptModel, match="cannot be parsed"):
        inspect_model(path)


def test_inspecting_an_onnx_file_does_not_import_onnx() -> None:
    code = ("import sys, json\n"
            "from workbench.cli import main\n"
            f"rc = main(['inspect', {str(SAMPLES_DIR / 'iris_logreg.onnx')!r}, '--json'])\n"
            "heavy = [m for m in ('onnx', 'onnxruntime', 'ml_dtypes', 'google.protobuf', 'tensorflow', 'sklearn')"
            " if m in sys.modules]\n"
            "print('HEAVY', json.dumps(heavy))\n"
            "sys.exit(rc)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    heavy = json.loads(done.stdout.rsplit("HEAVY ", 1)[1])
    assert heavy == [], f"inspecting an ONNX file imported {heavy}"
    info = json.loads(done.stdout.rsplit("HEAVY ", 1)[0])
    assert info["format"] == "onnx" and info["classes"] == [0, 1, 2]
