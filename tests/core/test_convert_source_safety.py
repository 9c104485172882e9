"""`convert` never writes over, into or around its own source (issue 12, item 6).

An output that is the source, lies inside a source folder, or contains the source is refused before
anything is loaded or written, whatever --force says, however the path is spelled (relative, '..',
symlinks, a hard link to the same inode). Every case is built at run time in tmp_path and checks that
the source is byte-identical after and that nothing was added beside it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.convert_helpers import SAMPLES, tree_snapshot

LGBM = SAMPLES / "lgbm_classifier.txt"
SAVEDMODEL = SAMPLES / "keras_mlp_savedmodel"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(SAMPLES.parent))
    return subprocess.run([sys.executable, "-m", "workbench", "convert", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def _refused(proc: subprocess.CompletedProcess[str], words: str) -> str:
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1, proc.stderr[-2000:]
    line = lines[0]
    assert line.startswith("error: output "), line
    assert words in line, line
    assert "choose" in line and "nothing was written" in line, line
    assert len(line) < 400, line
    return line


@pytest.fixture()
def lgbm_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy2(LGBM, folder / "m.txt")
    return folder


@pytest.fixture()
def savedmodel_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "base"
    folder.mkdir()
    shutil.copytree(SAVEDMODEL, folder / "sm")
    return folder


@pytest.mark.parametrize("target", ["onnx", "pmml"])
@pytest.mark.parametrize("spelling", ["m.txt", "./m.txt", "sub/../m.txt", "{abs}", "link.txt", "hard.txt"])
def test_out_that_is_the_source_file_is_refused_even_with_force(lgbm_dir: Path, target: str,
                                                                 spelling: str) -> None:
    (lgbm_dir / "sub").mkdir()
    os.symlink("m.txt", lgbm_dir / "link.txt")
    os.link(lgbm_dir / "m.txt", lgbm_dir / "hard.txt")
    before = tree_snapshot(lgbm_dir)
    out = spelling.format(abs=lgbm_dir / "m.txt")
    proc = _cli("m.txt", "--to", target, "--out", out, "--force", cwd=lgbm_dir)
    line = _refused(proc, "is the source model m.txt itself")
    assert "not even with --force" in line
    assert tree_snapshot(lgbm_dir) == before
    assert (lgbm_dir / "link.txt").is_symlink()
    assert sorted(p.name for p in lgbm_dir.iterdir()) == ["hard.txt", "link.txt", "m.txt", "sub"]


def test_source_given_through_a_symlinked_folder_is_still_the_source(lgbm_dir: Path, tmp_path: Path) -> None:
    os.symlink(lgbm_dir, tmp_path / "alias")
    before = tree_snapshot(lgbm_dir)
    proc = _cli(str(tmp_path / "alias" / "m.txt"), "--to", "onnx", "--out", str(lgbm_dir / "m.txt"), "--force",
                cwd=tmp_path)
    _refused(proc, "itself")
    assert tree_snapshot(lgbm_dir) == before


@pytest.mark.parametrize("out", ["sm/model.onnx", "sm/variables/model.onnx", "alias/model.onnx"])
def test_out_inside_the_source_savedmodel_folder_is_refused(savedmodel_dir: Path, out: str) -> None:
    os.symlink("sm", savedmodel_dir / "alias")
    before = tree_snapshot(savedmodel_dir / "sm")
    proc = _cli("sm", "--to", "onnx", "--out", out, "--force", cwd=savedmodel_dir)
    _refused(proc, "lies inside the source model folder sm")
    assert tree_snapshot(savedmodel_dir / "sm") == before
    assert sorted(p.name for p in savedmodel_dir.iterdir()) == ["alias", "sm"]


@pytest.mark.parametrize("target", ["savedmodel", "tfserving"])
@pytest.mark.parametrize("out", ["sm", "./sm/", "sm/variables/..", "alias"])
def test_savedmodel_into_itself_is_refused_even_with_force(savedmodel_dir: Path, target: str, out: str) -> None:
    os.symlink("sm", savedmodel_dir / "alias")
    before = tree_snapshot(savedmodel_dir / "sm")
    proc = _cli("sm", "--to", target, "--out", out, "--force", cwd=savedmodel_dir)
    line = _refused(proc, "is the source model sm itself")
    assert "choose another output path" in line
    assert tree_snapshot(savedmodel_dir / "sm") == before
    assert sorted(p.name for p in savedmodel_dir.iterdir()) == ["alias", "sm"]


def test_tfserving_into_the_folder_holding_the_source_is_refused(savedmodel_dir: Path) -> None:
    """The default name of `sm` is `sm`: BASE/sm/1 would be written inside the source."""
    before = tree_snapshot(savedmodel_dir)
    proc = _cli("sm", "--to", "tfserving", "--out", ".", "--force", cwd=savedmodel_dir)
    _refused(proc, "contains the source model sm")
    assert tree_snapshot(savedmodel_dir) == before
    assert sorted(p.name for p in savedmodel_dir.iterdir()) == ["sm"]


def test_parity_report_beside_out_may_not_be_the_source(tmp_path: Path) -> None:
    """--out m.onnx writes m.onnx.parity.json beside it: a source with that name is never replaced."""
    source = tmp_path / "m.onnx.parity.json"
    shutil.copy2(LGBM, source)
    before = tree_snapshot(tmp_path)
    proc = _cli(source.name, "--to", "onnx", "--out", "m.onnx", "--force", cwd=tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr[-2000:]
    assert "would overwrite the source model" in proc.stderr
    assert tree_snapshot(tmp_path) == before


def test_core_check_refuses_before_loading(tmp_path: Path) -> None:
    """convert_and_prove raises CannotConvert (what the GUI export dialog shows) and touches nothing."""
    from workbench.core.conversion import CannotConvert, convert_and_prove

    source = tmp_path / "m.txt"
    shutil.copy2(LGBM, source)
    digest = tree_snapshot(tmp_path)
    with pytest.raises(CannotConvert, match=r"is the source model .*m\.txt itself: choose another output path"):
        convert_and_prove(source, "onnx", tmp_path / "." / "m.txt", force=True)
    assert tree_snapshot(tmp_path) == digest


def test_an_ordinary_output_beside_the_source_still_converts(lgbm_dir: Path) -> None:
    before = (lgbm_dir / "m.txt").read_bytes()
    proc = _cli("m.txt", "--to", "onnx", "--out", "m.onnx", cwd=lgbm_dir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (lgbm_dir / "m.onnx").read_bytes()[:2] != before[:2]
    assert (lgbm_dir / "m.txt").read_bytes() == before
