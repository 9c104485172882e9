"""Output rules of `workbench convert` (QA findings): never a folder replaced by a file or a file by a
folder, --force replaces only SavedModel folders, unwritable outputs and bad TF Serving names/versions
refused up front with one line, PMML sources listed per target, and the parity summary of tree models.

No TensorFlow and no Java: onnx conversions of the samples and the up-front checks only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.convert_helpers import REPO, SAMPLES, tree_snapshot
from workbench.cli import main as cli_main
from workbench.core.conversion import CannotConvert, check_output, convert_and_prove

IRIS = SAMPLES / "iris_logreg.joblib"


def _cli(capsys, *argv):
    code = cli_main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and "unexpected" not in err and ".tmp-" not in err
    return lines[0]


def _savedmodel_folder(path: Path, extra: dict[str, str] | None = None) -> Path:
    (path / "variables").mkdir(parents=True)
    (path / "saved_model.pb").write_bytes(b"pb")
    (path / "variables" / "variables.index").write_bytes(b"ix")
    for name, text in (extra or {}).items():
        (path / name).write_text(text)
    return path


# ------------------------------------------------------------------ 1. nothing is lost, even with --force


def test_file_output_never_replaces_a_folder_even_with_force(tmp_path, capsys):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "important.txt").write_text("x\n")
    before = tree_snapshot(tmp_path)
    code, out, err = _cli(capsys, "convert", str(IRIS), "--to", "onnx", "--out", str(folder), "--trust", "--force")
    assert code == 2 and out == ""
    assert _one_error_line(err) == (f"error: --out {folder} is a folder: give a file path such as "
                                    f"{folder / 'model.onnx'} (nothing was written)")
    assert folder.is_dir() and (folder / "important.txt").read_text() == "x\n"
    assert tree_snapshot(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["d"]
    with pytest.raises(CannotConvert, match=r"is a folder: give a file path such as .*model\.pmml"):
        check_output("pmml", folder, force=True)


def test_savedmodel_output_force_replaces_only_a_savedmodel_folder(tmp_path):
    # a file is never replaced by a SavedModel folder
    file_out = tmp_path / "model.bin"
    file_out.write_bytes(b"precious")
    with pytest.raises(CannotConvert, match=r"^--out .*model\.bin is a file: a SavedModel is a folder"):
        check_output("savedmodel", file_out, force=True)
    # an arbitrary folder is never replaced
    arbitrary = tmp_path / "docs"
    arbitrary.mkdir()
    (arbitrary / "notes.txt").write_text("keep")
    with pytest.raises(CannotConvert, match=r"is a folder that is not a SavedModel \(it holds notes\.txt\).*"
                                            r"--force replaces only a SavedModel folder"):
        check_output("savedmodel", arbitrary, force=True)
    # a SavedModel folder with a user's file inside is not "only a SavedModel": refused
    mixed = _savedmodel_folder(tmp_path / "mixed", {"README.md": "mine"})
    with pytest.raises(CannotConvert, match="is a folder that is not a SavedModel"):
        check_output("savedmodel", mixed, force=True)
    # a real SavedModel folder: needs --force, then may be replaced; an empty folder loses nothing
    saved = _savedmodel_folder(tmp_path / "sm")
    with pytest.raises(CannotConvert, match="exists: pass --force"):
        check_output("savedmodel", saved, force=False)
    check_output("savedmodel", saved, force=True)
    (tmp_path / "empty").mkdir()
    check_output("savedmodel", tmp_path / "empty", force=False)
    assert file_out.read_bytes() == b"precious" and (arbitrary / "notes.txt").read_text() == "keep"


def test_tfserving_output_rules(tmp_path):
    base_file = tmp_path / "serving"
    base_file.write_text("not a folder")
    with pytest.raises(CannotConvert, match="is a file: a TF Serving bundle goes into a folder"):
        check_output("tfserving", base_file, force=True, name="m", version=1)
    base = tmp_path / "base"
    (base / "m" / "1").mkdir(parents=True)
    (base / "m" / "1" / "notes.txt").write_text("keep")
    with pytest.raises(CannotConvert, match="exists: pass --force to replace version 1"):
        check_output("tfserving", base, force=False, name="m", version=1)
    with pytest.raises(CannotConvert, match=r"m/1 is not a SavedModel folder \(it holds notes\.txt\)"):
        check_output("tfserving", base, force=True, name="m", version=1)
    _savedmodel_folder(base / "m" / "2")
    check_output("tfserving", base, force=True, name="m", version=2)
    (base / "n").write_text("a file where the model folder goes")
    with pytest.raises(CannotConvert, match="is a file: the model folder NAME/ goes there"):
        check_output("tfserving", base, force=True, name="n")


def test_existing_failed_folder_is_not_removed_by_a_failed_file_conversion(tmp_path):
    """A conversion outside tolerance keeps its output beside as <out>.failed: never over a user's folder."""
    out = tmp_path / "lr.onnx"
    keep = tmp_path / "lr.onnx.failed"
    keep.mkdir()
    (keep / "mine.txt").write_text("keep")
    result = convert_and_prove(IRIS, "onnx", out, rows=SAMPLES / "iris_logreg.rows.csv", trust=True,
                               atol=1e-15, rtol=0.0)
    assert result.passed is False
    assert (keep / "mine.txt").read_text() == "keep"
    failed = Path(result.failed_output)
    assert failed.is_file() and failed != keep and failed.name.startswith("lr.onnx.failed-")


# ------------------------------------------------------------------ 2. one line, up front, no internals


def test_unwritable_output_is_refused_up_front(tmp_path, capsys):
    code, out, err = _cli(capsys, "convert", str(IRIS), "--to", "onnx", "--out", "/proc/x.onnx", "--trust")
    assert code == 2 and out == ""
    assert _one_error_line(err).startswith("error: cannot write to /proc/x.onnx: ")
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(CannotConvert, match=rf"^cannot write to {blocker}/sub/m\.onnx: {blocker} is a file"):
        convert_and_prove(IRIS, "onnx", blocker / "sub" / "m.onnx", trust=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_bad_model_name_and_version_are_refused_before_loading(tmp_path, capsys):
    base = tmp_path / "base"
    code, out, err = _cli(capsys, "convert", str(SAMPLES / "keras_mlp.keras"), "--to", "tfserving", "--out",
                          str(base), "--name", "bad/name")
    assert code == 2 and out == ""
    assert _one_error_line(err) == "error: invalid model name 'bad/name': use letters, digits, _ and -"
    assert not base.exists()
    # --version -3: refused before TensorFlow/Keras is imported (a fresh process to see sys.modules)
    script = (
        "import sys\n"
        "from workbench.core.conversion import CannotConvert, convert_and_prove\n"
        "try:\n"
        f"    convert_and_prove({str(SAMPLES / 'keras_mlp.keras')!r}, 'tfserving', {str(base)!r}, version=-3)\n"
        "except CannotConvert as exc:\n"
        "    print(exc)\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "invalid version -3: TF Serving versions are whole numbers from 0 to 9223372036854775807",
        "False False",
    ]
    assert not base.exists()


# ------------------------------------------------------------------ 3. PMML sources


def test_pmml_source_lists_every_target_with_its_reason(tmp_path, capsys):
    pmml = SAMPLES / "iris_logreg.pmml"
    code, out, err = _cli(capsys, "convert", str(pmml), "--list", "--json")
    assert code == 0, err
    targets = {t["target"]: t for t in json.loads(out)["targets"]}
    assert list(targets) == ["onnx", "pmml", "savedmodel", "tfserving"]
    assert not any(t["possible"] for t in targets.values())
    assert targets["onnx"]["reason"].startswith("ONNX from PMML: not supported")
    assert targets["pmml"]["reason"] == "PMML: the model is already in PMML format"
    assert targets["savedmodel"]["reason"].startswith("SavedModel from PMML: not supported")
    assert targets["tfserving"]["reason"].startswith("TF Serving bundle: needs a SavedModel first; SavedModel from PMML")
    code, out, err = _cli(capsys, "convert", str(pmml), "--list")
    assert code == 0 and len(out.strip().splitlines()) == 4 and "ONNX from PMML: not supported" in out
    code, out, err = _cli(capsys, "convert", str(pmml), "--to", "onnx", "--out", str(tmp_path / "p.onnx"))
    assert code == 2 and out == ""
    assert _one_error_line(err).startswith("error: ONNX from PMML: not supported: no PMML-to-ONNX converter")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ 4. parity summary of tree models


def test_tree_parity_summary_shows_the_unexplained_difference_first(tmp_path, capsys):
    source = SAMPLES / "lgbm_classifier.txt"
    out = tmp_path / "x.onnx"
    code, stdout, _ = _cli(capsys, "convert", str(source), "--to", "onnx", "--out", str(out))
    assert code == 0
    report = json.loads((tmp_path / "x.onnx.parity.json").read_text())
    parity = report["parity"]
    explained = len(report["explained_rows"])
    assert explained > 0 and parity["explained_rows"] == explained  # float32 flips on split-threshold rows
    assert parity["passed"] is True and parity["passed_strict"] is False
    assert parity["max_abs_diff_unexplained"] <= report["tolerances"]["atol"] < parity["max_abs_diff"]
    line = next(x for x in stdout.splitlines() if x.strip().startswith("max diff"))
    assert line.split(None, 2)[2] == (
        f"{parity['max_abs_diff_unexplained']:.2g} over {parity['rows']} rows; {explained} rows on a split "
        f"threshold explained (up to {parity['max_abs_diff']:.2g}), see report")
    assert stdout.startswith("PROVED: ")

    out.unlink()
    code, stdout, _ = _cli(capsys, "convert", str(source), "--to", "onnx", "--out", str(out), "--json")
    payload = json.loads(stdout)
    # the contract: every earlier key is kept; the documented keys are consistent with each other
    assert {"source", "target", "output", "converter", "seconds", "parity", "passed", "report", "failed_output",
            "rows_source", "tolerances", "explained_rows", "notes", "unexplained_rows"} <= set(payload)
    assert {"rows", "max_abs_diff", "max_rel_diff", "label_agreement", "passed", "worst_rows", "passed_strict",
            "explained_rows", "max_abs_diff_unexplained"} <= set(payload["parity"])
    assert payload["passed"] is payload["parity"]["passed"] is True
    assert payload["parity"]["explained_rows"] == len(payload["explained_rows"]) > 0
    assert payload["unexplained_rows"] == []


def test_convert_help_says_what_passed_means(capsys):
    with pytest.raises(SystemExit):
        cli_main(["convert", "--help"])
    text = "".join(capsys.readouterr().out.split())  # argparse wraps lines (also after hyphens)
    assert "parity.passed_strictistheverdictwithnoexplanationallowed" in text
    assert "max_abs_diff_unexplainedovertherowsnotexplained" in text and "split-thresholdflip" in text
