"""core.graph: the graph of ONNX, Keras and SavedModel files, read without loading them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from workbench.core.errors import UnknownFormat
from workbench.core.graph import read_graph

SAMPLES = Path(__file__).resolve().parents[2] / "sample_models"


def test_onnx_graph_has_nodes_ops_and_shapes() -> None:
    g = read_graph(SAMPLES / "iris_logreg.onnx")
    assert g.format == "onnx"
    assert [n.op for n in g.nodes] == ["Concat", "LinearClassifier", "Normalizer"]
    assert [t.name for t in g.inputs] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert g.inputs[0].dtype == "float32" and g.inputs[0].shape_text() == "[?, 1]"
    assert {t.name: t.shape_text() for t in g.outputs} == {"label": "[?]", "probabilities": "[?, 3]"}
    concat = g.nodes[0]
    assert concat.inputs == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert concat.attrs["axis"] == "1"
    assert [[n.op for n in layer] for layer in g.layers()] == [["Concat"], ["LinearClassifier"], ["Normalizer"]]
    assert [n.op for n in g.search("normal")] == ["Normalizer"]
    assert [n.op for n in g.search("probability_tensor")] == ["LinearClassifier", "Normalizer"]


def test_keras_graph_from_config_without_loading_keras() -> None:
    before = "keras" in sys.modules or "tensorflow" in sys.modules
    g = read_graph(SAMPLES / "keras_mlp.keras")
    assert g.format == "keras"
    assert [(n.name, n.op) for n in g.nodes] == [("features", "InputLayer"), ("hidden", "Dense"),
                                                 ("probabilities", "Dense")]
    assert g.nodes[1].inputs == ["features:out"] and g.nodes[1].attrs["units"] == "16"
    assert g.inputs[0].shape_text() == "[?, 4]"
    assert g.tensor("hidden:out").shape_text() == "[?, 16]"
    assert [t.shape_text() for t in g.outputs] == ["[?, 3]"]
    assert before or ("keras" not in sys.modules and "tensorflow" not in sys.modules)


def test_savedmodel_graph_from_pb_without_tensorflow() -> None:
    before = "tensorflow" in sys.modules
    g = read_graph(SAMPLES / "keras_mlp_savedmodel")
    assert g.format == "savedmodel"
    ops = g.ops()
    assert ops["VarHandleOp"] >= 4 and "MatMul" in ops   # the serving function's body is read too
    kernel = next(n for n in g.nodes if n.name == "hidden/kernel")
    assert kernel.attrs["shape"] == "[4, 16]" and kernel.attrs["dtype"] == "float32"
    assert [t.shape_text() for t in g.inputs] == ["[?, 4]"]
    assert [t.shape_text() for t in g.outputs] == ["[?, 3]"]
    matmuls = [n for n in g.search("matmul") if n.op == "MatMul"]
    assert matmuls and all(n.scope for n in matmuls)   # inside a function of the library
    assert before or "tensorflow" not in sys.modules


def test_pickle_has_no_graph() -> None:
    with pytest.raises(UnknownFormat):
        read_graph(SAMPLES / "iris_logreg.joblib")
