"""Export dialog state: another target forgets the last verdict and progress; a failure or a cancel leaves
no bar part-way; every message is in the dialog's words (no --force, --version or --trust); the converted
model opens with the rows it was proved on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gui.test_export import _open


def _convert(qtbot, dialog):
    worker = dialog.convert()
    qtbot.waitUntil(lambda: worker.is_done and dialog.cancel_button.isEnabled() is False
                    and (dialog.result is not None or dialog.error is not None), timeout=180_000)
    return worker


def test_switching_target_forgets_the_last_pass_and_progress(qtbot, window, samples, wait_loaded,
                                                              tmp_path: Path) -> None:
    dialog = _open(qtbot, window, samples / "iris_logreg.joblib", wait_loaded)
    dialog.select_target("onnx")
    dialog.out_edit.setText(str(tmp_path / "iris.onnx"))
    _convert(qtbot, dialog)
    assert "PASS" in dialog.verdict.text() and dialog.result_box.isVisibleTo(dialog)
    other = next(t for t, s in dialog.targets.items() if s.possible and t != "onnx")
    dialog.select_target(other)
    assert dialog.result is None and not dialog.result_box.isVisibleTo(dialog)
    assert dialog.verdict.text() == "" and not dialog.open_button.isEnabled()
    assert dialog.progress.value() == 0 and not dialog.progress.isVisibleTo(dialog)
    assert dialog.progress_label.text() == ""
    dialog.close()


def test_existing_output_is_said_in_the_dialogs_words_and_a_failure_resets_the_bar(qtbot, window, samples,
                                                                                   wait_loaded, tmp_path) -> None:
    dialog = _open(qtbot, window, samples / "iris_logreg.joblib", wait_loaded)
    out = tmp_path / "taken.onnx"
    out.write_bytes(b"keep me")
    dialog.select_target("onnx")
    dialog.out_edit.setText(str(out))
    _convert(qtbot, dialog)
    text = dialog.progress_label.text()
    assert text.startswith(f"✗ {out} already exists: check 'Overwrite if it exists' to replace it")
    assert "--" not in text and out.read_bytes() == b"keep me"
    assert dialog.progress.value() == 0 and not dialog.progress.isVisibleTo(dialog)
    dialog.close()


def test_core_errors_are_put_in_the_dialogs_words() -> None:
    from workbench.core.conversion import CannotConvert
    from workbench.core.errors import UntrustedModel
    from workbench.gui.dialogs.export import UNTRUSTED_WORDS, gui_words

    assert gui_words(UntrustedModel("x.pkl: loading runs code", hint="pass --trust"))[0] == UNTRUSTED_WORDS
    forced = CannotConvert("/o exists: pass --force to overwrite it")
    forced.needs_force = True
    forced.path = "/o"
    message, hint, _d = gui_words(forced)
    assert message.startswith("/o already exists: check 'Overwrite if it exists'") and "--" not in message
    message, _h, _d = gui_words(CannotConvert("/b/1 exists: pass --force to replace version 1, or leave "
                                              "--version out to add the next free version"))
    assert "--" not in message and "'Overwrite if it exists'" in message and "set another Version" in message


def test_tfserving_version_defaults_to_the_next_free_one(qtbot, window, samples, wait_loaded, tmp_path) -> None:
    from workbench.gui.dialogs.export import next_free_version

    base = tmp_path / "bundle"
    (base / "1").mkdir(parents=True)
    (base / "3").mkdir()
    assert next_free_version(base) == 4 and next_free_version(tmp_path / "none") == 1


def test_converted_model_opens_with_the_rows_it_was_proved_on(qtbot, window, samples, wait_loaded,
                                                              tmp_path: Path) -> None:
    dialog = _open(qtbot, window, samples / "iris_logreg.joblib", wait_loaded)
    source = window.documents()[0]
    edited = source.rows.head(7).copy()
    edited.iloc[0, 0] = 6.1
    source.set_rows(edited)
    dialog._set_rows_choice()
    out = tmp_path / "conv" / "iris_converted.onnx"   # no sibling rows file beside it
    dialog.select_target("onnx")
    dialog.out_edit.setText(str(out))
    _convert(qtbot, dialog)
    assert dialog.result.passed
    dialog.open_button.click()
    qtbot.waitUntil(lambda: len(window.documents()) == 2 and not window.loader.busy, timeout=60_000)
    converted = next(d for d in window.documents() if d.path == str(out))
    assert converted.rows is not None and converted.rows.equals(edited)
    assert "rows it was proved on" in window.status_label.text()
    dialog.close()


def test_core_refusals_carry_their_fields_and_the_dialog_words_them(tmp_path) -> None:
    """conversion.check_output declares needs_force/path/version: the dialog words the remedy from them,
    never from the CLI's text."""
    from workbench.core.conversion import CannotConvert, check_output
    from workbench.gui.dialogs.export import gui_words

    out = tmp_path / "model.onnx"
    out.write_bytes(b"old")
    with pytest.raises(CannotConvert) as caught:
        check_output("onnx", out, force=False)
    assert (caught.value.needs_force, caught.value.path, caught.value.version) == (True, out, None)
    message = gui_words(caught.value)[0]
    assert message == (f"{out} already exists: check 'Overwrite if it exists' to replace it, or choose another "
                       "output. Nothing was written.")

    version = tmp_path / "base" / "half" / "3"
    version.mkdir(parents=True)
    with pytest.raises(CannotConvert) as caught:
        check_output("tfserving", tmp_path / "base", force=False, name="half", version=3)
    assert (caught.value.needs_force, caught.value.path, caught.value.version) == (True, version, 3)
    message = gui_words(caught.value)[0]
    assert message.startswith("Version 3 already exists") and "set another Version" in message
    assert "--" not in message
