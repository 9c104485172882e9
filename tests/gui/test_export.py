"""The export dialog: targets from the converter registry, convert, parity, open the result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _open(qtbot, window, path: Path, wait_loaded):
    window.open_paths([str(path)])
    wait_loaded(window, 1)
    window.export_model()
    dialog = window._export_dialog
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: bool(dialog.targets) or dialog.loading.text().startswith("✗"), timeout=60_000)
    return dialog


def test_export_writes_onnx_and_shows_parity(qtbot, window, samples, wait_loaded, tmp_path: Path) -> None:
    from workbench.core.converters import conversion_targets
    from workbench.core.models import load_model

    dialog = _open(qtbot, window, samples / "iris_logreg.joblib", wait_loaded)
    info, model = load_model(samples / "iris_logreg.joblib", trust=True)
    expected = {s.target: (s.possible, s.reason) for s in conversion_targets(info, model)}
    assert {t: (s.possible, s.reason) for t, s in dialog.targets.items()} == expected
    enabled = {b.property("target"): b.isEnabled() for b in dialog.target_group.buttons()}
    assert enabled == {t: p for t, (p, _r) in expected.items()}

    out = tmp_path / "out" / "iris.onnx"
    dialog.select_target("onnx")
    dialog.out_edit.setText(str(out))
    worker = dialog.convert()
    qtbot.waitUntil(lambda: worker.is_done and (dialog.result is not None or dialog.error is not None),
                    timeout=120_000)
    assert dialog.error is None
    result = dialog.result
    assert out.is_file() and result.output == str(out) and result.passed
    report = json.loads(Path(result.report_path).read_text())
    assert report["passed"] is True
    assert "PASS" in dialog.verdict.text()
    assert f"max abs diff {result.parity['max_abs_diff']:.3g}" in dialog.verdict.text()
    assert dialog.worst.rowCount() == len(result.parity["worst_rows"])
    # "open the converted model" puts it in the library
    assert dialog.open_button.isEnabled()
    dialog.open_button.click()
    qtbot.waitUntil(lambda: len(window.documents()) == 2 and not window.loader.busy, timeout=60_000)
    converted = next(d for d in window.documents() if d.path == str(out))
    assert converted.info.format == "onnx"
    dialog.close()


def test_impossible_targets_show_the_reason(qtbot, window, samples, wait_loaded) -> None:
    from workbench.core.converters import conversion_targets
    from workbench.core.models import inspect_model

    dialog = _open(qtbot, window, samples / "iris_logreg.onnx", wait_loaded)
    statuses = conversion_targets(inspect_model(samples / "iris_logreg.onnx"), None)
    impossible = [s for s in statuses if not s.possible]
    assert impossible  # ONNX cannot go to PMML
    for status in impossible:
        button = next(b for b in dialog.target_group.buttons() if b.property("target") == status.target)
        assert not button.isEnabled() and button.toolTip() == status.reason
    dialog.close()


def test_a_model_nothing_can_be_made_of_says_so_once(qtbot, window, samples, wait_loaded) -> None:
    dialog = _open(qtbot, window, samples / "iris_logreg.pmml", wait_loaded)
    assert not any(s.possible for s in dialog.targets.values())
    assert dialog.nothing_to_export.text().startswith("<b>Nothing can be exported from this pmml model.</b>")
    assert not dialog.out_box.isEnabled() and not dialog.convert_button.isEnabled()
    dialog.close()


def test_an_untrusted_pickle_is_asked_to_be_loaded_first(qtbot, samples, wait_loaded) -> None:
    from workbench.gui.app import create_app
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import AppSettings

    create_app(theme="light")
    win = MainWindow(AppSettings(), trust_prompt=lambda _path, _fmt: False)  # the user does not trust it
    qtbot.addWidget(win)
    win.show()
    dialog = _open(qtbot, win, samples / "iris_logreg.joblib", wait_loaded)
    assert not any(s.possible for s in dialog.targets.values())
    assert dialog.nothing_to_export.text().startswith("<b>This pickle is not loaded yet:</b>")
    dialog.close()


def test_explained_differences_are_not_a_plain_pass(qtbot, window, samples, wait_loaded, tmp_path: Path) -> None:
    """LightGBM -> ONNX computes in float32: rows on a split threshold go down the other branch. The
    conversion passes, the headline says the differences were explained, in the warning colour."""
    from workbench.gui.views.common import color

    dialog = _open(qtbot, window, samples / "lgbm_classifier.joblib", wait_loaded)
    dialog.select_target("onnx")
    label = dialog.options_form.labelForField(dialog.option_widgets["target_opset"])
    assert label.text() == "ONNX opset:" and "operator set" in dialog.option_widgets["target_opset"].toolTip()
    dialog.out_edit.setText(str(tmp_path / "lgbm.onnx"))
    worker = dialog.convert()
    qtbot.waitUntil(lambda: worker.is_done and (dialog.result is not None or dialog.error is not None),
                    timeout=120_000)
    result = dialog.result
    assert result.passed and result.explained_rows
    text = dialog.verdict.text()
    assert text.startswith("<b>✓ PASS with explained differences</b>")
    assert f"{len(result.explained_rows)} rows beyond tolerance lie on a split threshold" in text
    assert color("warn").name() in dialog.verdict.styleSheet()
    dialog.close()


def test_agreement_is_never_rounded_up_to_all() -> None:
    from workbench.core.compare import agreement_text

    assert (agreement_text(1.0), agreement_text(0.99999), agreement_text(0.5)) == ("100%", "99.99%", "50.00%")


def test_export_form_mistakes_are_said_in_the_dialog(qtbot, window, samples, wait_loaded, tmp_path: Path) -> None:
    dialog = _open(qtbot, window, samples / "iris_logreg.skops", wait_loaded)
    dialog.select_target("onnx")
    dialog.option_widgets["target_opset"].setText("abc")
    dialog.out_edit.setText(str(tmp_path / "iris.onnx"))
    assert dialog.convert() is None
    assert dialog.progress_label.text() == "✗ ONNX opset: 'abc' is not a whole number"
    dialog.option_widgets["target_opset"].setText("")
    (tmp_path / "iris.onnx").write_bytes(b"precious")
    dialog.force.setChecked(False)
    worker = dialog.convert()
    qtbot.waitUntil(lambda: worker.is_done and (dialog.result is not None or dialog.error is not None),
                    timeout=120_000)
    assert "check 'Overwrite if it exists' to replace it" in dialog.progress_label.text()
    assert "--force" not in dialog.progress_label.text()
    assert (tmp_path / "iris.onnx").read_bytes() == b"precious"
    dialog.close()


@pytest.mark.tf
def test_a_savedmodel_bundled_as_it_is_has_nothing_to_prove(qtbot, window, samples, wait_loaded,
                                                            tmp_path: Path) -> None:
    dialog = _open(qtbot, window, samples / "keras_mlp_savedmodel", wait_loaded)
    dialog.select_target("tfserving")
    dialog.out_edit.setText(str(tmp_path / "models"))
    worker = dialog.convert()
    qtbot.waitUntil(lambda: worker.is_done and (dialog.result is not None or dialog.error is not None),
                    timeout=120_000)
    assert dialog.error is None and not dialog.result.parity
    assert dialog.verdict.text().startswith("<b>✓ Done</b>") and "?" not in dialog.verdict.text()
    dialog.close()
