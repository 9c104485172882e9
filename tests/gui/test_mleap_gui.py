"""The MLeap iris sample in the window: opened, inspected on the overview, predicted in the mleap runtime
(values equal `workbench predict`'s), exported to ONNX with a PASS verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main

BUNDLE = "mleap_iris_pipeline.zip"
ROWS = "mleap_iris_pipeline.rows.csv"


@pytest.fixture
def mleap_doc(qtbot, window, samples, wait_loaded):
    window.open_paths([str(samples / BUNDLE)])
    wait_loaded(window, 1)
    return window.documents()[0]


def _cli_predictions(samples: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    code = main(["predict", str(samples / BUNDLE), "--rows", str(samples / ROWS), "--runtime", "mleap", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    return out


def test_overview_shows_the_bundle(qtbot, window, mleap_doc) -> None:
    ov = window.overview
    assert ov.title.text() == BUNDLE
    assert mleap_doc.info.format == "mleap"
    assert ov.fact_labels["Format"].text() == "mleap"
    assert ov.fact_labels["Classes"].text() == "0, 1, 2"
    names = [ov.inputs.item(r, 0).text() for r in range(ov.inputs.rowCount())]
    assert names == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert window.actions["export"].isEnabled() and window.actions["run"].isEnabled()


def test_predict_in_the_mleap_runtime_equals_the_cli(qtbot, window, mleap_doc, samples,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    rows = window.show_page("rows")
    qtbot.waitUntil(lambda: rows.last_check is not None and rows.last_check["ok"], timeout=30_000)
    view = window.show_page("predict")
    assert view.selected_runtimes() == ["mleap"]
    worker = view.run()
    qtbot.waitUntil(lambda: worker.is_done and view.result is not None, timeout=60_000)
    cli = _cli_predictions(samples, capsys)
    assert cli["runtime"] == "mleap" and cli["rows"] == 30
    assert view.table.rowCount() == 30
    for r, p in enumerate(cli["predictions"]):
        assert str(view.cell(r, "mleap: label")) == str(p["label"])
        for cls in ("0", "1", "2"):
            assert view.cell(r, f"mleap: P({cls})") == pytest.approx(p["probabilities"][cls], abs=1e-12)
    assert mleap_doc.predictions["mleap"].rows == 30
    assert window.status_label.text() == "Predicted 30 rows with mleap"


def test_export_to_onnx_passes(qtbot, window, mleap_doc, tmp_path: Path) -> None:
    window.export_model()
    dialog = window._export_dialog
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: bool(dialog.targets) or dialog.loading.text().startswith("✗"), timeout=60_000)
    assert dialog.targets["onnx"].possible, dialog.targets["onnx"].reason
    out = tmp_path / "out" / "mleap_iris.onnx"
    dialog.select_target("onnx")
    dialog.out_edit.setText(str(out))
    worker = dialog.convert()
    qtbot.waitUntil(lambda: worker.is_done and (dialog.result is not None or dialog.error is not None),
                    timeout=120_000)
    assert dialog.error is None
    result = dialog.result
    assert out.is_file() and result.output == str(out) and result.passed
    assert json.loads(Path(result.report_path).read_text())["passed"] is True
    assert result.parity["max_abs_diff"] <= 1e-6
    assert "PASS" in dialog.verdict.text()
    dialog.close()
