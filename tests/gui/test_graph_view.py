"""Graph view: the graph of an ONNX, Keras or SavedModel file, searchable, never loading the model."""

from __future__ import annotations

import sys


def _graph(qtbot, window, samples, wait_loaded, name: str):
    window.open_paths([str(samples / name)])
    wait_loaded(window, 1)
    view = window.show_page("graph")
    qtbot.waitUntil(lambda: view.graph is not None, timeout=30_000)
    return view


def test_onnx_graph_table_search_and_drawing(qtbot, window, samples, wait_loaded) -> None:
    view = _graph(qtbot, window, samples, wait_loaded, "iris_logreg.onnx")
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Graph"
    assert view.visible_nodes() == ["concat_columns", "LinearClassifier", "Normalizer"]
    ops = [view.table.item(r, 1).text() for r in range(view.table.rowCount())]
    assert ops == ["Concat", "LinearClassifier", "Normalizer"]
    assert view.table.item(2, 3).text() == "probabilities [?, 3]"          # outputs with their shapes
    assert "sepal_length [?, 1]" in view.table.item(0, 2).text()
    assert "petal_width float32 [?, 1]" in view.io.text() and view.count.text() == "3 nodes"
    view.search.setText("normal")
    assert view.visible_nodes() == ["Normalizer"] and view.count.text() == "1 of 3 nodes"
    view.search.setText("probability_tensor")                                # by tensor name
    assert view.visible_nodes() == ["LinearClassifier", "Normalizer"]
    view.search.clear()
    # the drawing: one box per node, one layer each here, top to bottom; a click selects the row
    assert set(view._boxes) == {"concat_columns", "LinearClassifier", "Normalizer"}
    ys = [view._boxes[n].rect().top() for n in ("concat_columns", "LinearClassifier", "Normalizer")]
    assert ys == sorted(ys) and len(set(ys)) == 3
    view._boxes["Normalizer"].setSelected(True)
    assert view.selected_node() == "Normalizer"
    view.select_node("concat_columns")
    assert view._boxes["concat_columns"].isSelected()


def test_keras_and_savedmodel_graphs_without_tensorflow(qtbot, window, samples, wait_loaded) -> None:
    tf_before = "tensorflow" in sys.modules
    view = _graph(qtbot, window, samples, wait_loaded, "keras_mlp.keras")
    assert view.visible_nodes() == ["features", "hidden", "probabilities"]
    assert view.table.item(1, 1).text() == "Dense" and "units=16" in view.table.item(1, 4).text()
    window.open_paths([str(samples / "keras_mlp_savedmodel")])
    wait_loaded(window, 2)
    qtbot.waitUntil(lambda: view.graph is not None and view.graph.format == "savedmodel", timeout=30_000)
    view.search.setText("MatMul")
    hits = view.visible_nodes()
    shown = [r for r in range(view.table.rowCount()) if not view.table.isRowHidden(r)]
    assert "iris_mlp_1/hidden_1/MatMul" in hits and len(hits) < view.table.rowCount()
    assert all("matmul" in " ".join(view.table.item(r, c).text() for c in range(4)).lower() for r in shown)
    assert view.scope.isVisible() and view.scope.count() > 2          # the functions of the library
    assert tf_before or "tensorflow" not in sys.modules


def test_a_pickle_says_why_it_has_no_graph(qtbot, window, samples, wait_loaded) -> None:
    window.open_paths([str(samples / "iris_logreg.joblib")])
    wait_loaded(window, 1)
    view = window.show_page("graph")
    assert view.stack.currentWidget() is view.empty
    assert "ONNX, Keras and SavedModel" in view.empty.text()
