"""Convert a model and prove the conversion on rows: `convert_and_prove`.

Steps: load the source (never modified) -> check the target (precise reason when impossible) ->
convert into a temporary path beside the output -> load the converted model in its natural runtime
and compare it with the original on the sample rows (or generated rows), plus rows placed exactly on
the tree split thresholds for tree models -> write the parity report JSON beside the output ->
rename into place only when it loads and passes; outside tolerance the output is kept beside as
`<out>.failed`. An existing output is never replaced without `force`.

Label flips and probability jumps caused by a feature value sitting on a split threshold (where
float32 arithmetic in the converted runtime sends the row the other way) are detected and explained;
rows so explained do not fail the conversion.

Outputs are checked before anything is loaded: a folder is never replaced by a file nor a file by a
folder (not even with `force`); `force` replaces an existing output file, or an existing folder only
when it is a SavedModel folder (saved_model.pb and SavedModel entries only); the output folder must
accept new files; a TF Serving model name uses letters, digits, _ and -, and a version is an int64 >= 0.
An output that is the source, lies inside it or contains it (after resolving symlinks, relative parts
and hard links) is refused whatever `force` says (`check_not_source`), before anything is loaded.

Parity keys (`ConversionResult.parity`, the `--json` "parity" object): `passed` is the verdict, True
when every row outside tolerance is explained as a float32 split-threshold flip; `passed_strict` is
the compare engine's verdict on all rows with no explanation allowed; `max_abs_diff` is over all rows,
`max_abs_diff_unexplained` over the rows not explained; `explained_rows` (in "parity") is the number
of explained rows, listed one by one in the result's top-level `explained_rows`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.converters import load_builtin_converters
from workbench.core.converters.base import (
    TARGET_ENDINGS,
    TARGET_TITLES,
    TARGETS,
    ConversionRequest,
    find_converter,
    target_status,
)
from workbench.core.converters.roles import task_roles, unsupervised_task
from workbench.core.converters.thresholds import (
    explain_threshold_flips,
    threshold_rows,
)
from workbench.core.errors import ConversionFailed, WorkbenchError
from workbench.core.files import atomic_write_text
from workbench.core.tolerances import DEFAULT_ATOL, DEFAULT_RTOL, FLOAT32_ATOL
from workbench.core.types import ModelInfo, finite, jsonable

#: rows generated when no sample rows are given
GENERATED_ROWS = 64

ProgressFn = Callable[[float, str], None]


class CannotConvert(WorkbenchError):
    """The conversion cannot be done (unsupported model, existing output without force...).

    Declared fields let each front end word its own remedy: `needs_force` (the output `path` exists and
    force would replace it), `version` (the TF Serving version folder that is taken)."""

    kind = "cannot-convert"

    def __init__(self, message: str, *, hint: str | None = None, needs_force: bool = False,
                 path: Path | None = None, version: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.needs_force = needs_force
        self.path = path
        self.version = version


#: TF Serving model names: they become a folder and the URL /v1/models/NAME
MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
#: TF Serving versions are int64 folder names
MAX_VERSION = 2**63 - 1
#: what a SavedModel folder may hold (an existing one is replaced with --force only if this is all it holds)
SAVEDMODEL_ENTRIES = frozenset({"saved_model.pb", "saved_model.pbtxt", "variables", "assets", "assets.extra",
                                "fingerprint.pb", "keras_metadata.pb"})


@dataclass
class ConversionResult:
    """What `convert_and_prove` did; `exit_code` is the CLI contract (0 proved, 1 outside tolerance)."""

    source: str
    target: str
    output: str | None
    converter: str | None
    seconds: float
    parity: dict[str, Any] | None
    passed: bool
    report_path: str | None = None
    failed_output: str | None = None
    rows_source: str = ""
    tolerances: dict[str, float] = field(default_factory=dict)
    explained_rows: list[dict[str, Any]] = field(default_factory=list)
    unexplained_rows: list[int] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_json(self) -> dict[str, Any]:
        """The `workbench convert --json` contract (add keys, never rename them)."""
        return jsonable({
            "source": self.source, "target": self.target, "output": self.output, "converter": self.converter,
            "seconds": round(self.seconds, 3), "parity": self.parity, "passed": self.passed,
            "report": self.report_path, "failed_output": self.failed_output, "rows_source": self.rows_source,
            "tolerances": self.tolerances, "explained_rows": self.explained_rows, "notes": self.notes,
            "unexplained_rows": [r + 1 for r in self.unexplained_rows if r >= 0],
        })


# --------------------------------------------------------------------------------------------------
# paths


def parity_report_path(output: Path) -> Path:
    """Where the parity report of `output` goes (beside it)."""
    return output.with_name(output.name + ".parity.json")


def failed_path(output: Path) -> Path:
    return output.with_name(output.name + ".failed")


#: a conversion works in a private folder of the system temp folder (never beside --out): WORKDIR_PREFIX...
WORKDIR_PREFIX = "workbench-convert-"
#: ...and, when --out is on another file system, copies the result beside it as .NAME.workbench-partial-XXXX
#: before the rename into place
STAGED_MARK = ".workbench-partial-"
#: a stale entry is one whose lock nobody holds (its process is gone) and that is older than this
STALE_AFTER_S = 10.0


def _lock(path: Path) -> int:
    """An fd holding an exclusive flock on `path` (file or folder) for as long as it stays open."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


def _stale(path: Path) -> bool:
    """True when `path` was left by a workbench process that is gone (nobody holds its lock)."""
    try:
        if time.time() - path.lstat().st_mtime < STALE_AFTER_S:
            return False
        fd = _lock(path)
    except OSError:
        return False
    os.close(fd)
    return True


def sweep_stale(folder: Path | None = None) -> list[Path]:
    """Remove what killed conversions left: private work folders in the system temp folder and, in
    `folder` (the output's folder), staged copies. Entries of running conversions are locked and kept."""
    removed = []
    candidates = list(Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*"))
    if folder is not None and folder.is_dir():
        candidates += list(folder.glob(f".*{STAGED_MARK}*"))
    for path in candidates:
        if _stale(path):
            _remove(path)
            removed.append(path)
    return removed


@contextlib.contextmanager
def private_workdir() -> Iterator[Path]:
    """A private work folder (system temp folder), locked while in use, removed on every exit path
    (KeyboardInterrupt and SIGTERM through the CLI's handler included); after a kill -9 the next
    conversion removes it (`sweep_stale`)."""
    path = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
    fd = _lock(path)
    try:
        yield path
    finally:
        _remove(path)
        os.close(fd)


@contextlib.contextmanager
def _on_same_disk(tmp: Path, dest: Path) -> Iterator[Path]:
    """`tmp` when it can be renamed to `dest`; else a locked copy beside `dest` (removed unless moved)."""
    try:
        same = os.stat(tmp).st_dev == os.stat(_nearest_existing(dest.parent)).st_dev
    except OSError:
        same = True
    if same:
        yield tmp
        return
    staged = dest.with_name(f".{dest.name}{STAGED_MARK}{uuid.uuid4().hex[:8]}")
    fd = None
    try:
        if tmp.is_dir():
            staged.mkdir()
            fd = _lock(staged)
            shutil.copytree(tmp, staged, dirs_exist_ok=True)
        else:
            os.close(os.open(staged, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            fd = _lock(staged)
            shutil.copyfile(tmp, staged)
        yield staged
    finally:
        if _exists(staged):
            _remove(staged)
        if fd is not None:
            os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def is_savedmodel_folder(path: Path) -> bool:
    """True for a folder holding saved_model.pb (or .pbtxt) and only SavedModel entries (safe to replace)."""
    if not path.is_dir():
        return False
    try:
        names = {p.name for p in path.iterdir()}
    except OSError:
        return False
    return bool(names & {"saved_model.pb", "saved_model.pbtxt"}) and names <= SAVEDMODEL_ENTRIES


def _listing(path: Path, limit: int = 3) -> str:
    try:
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())
    except OSError:
        return "unreadable"
    shown = ", ".join(names[:limit])
    return f"it holds {shown}" + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _replaceable(existing: Path, new_is_dir: bool) -> bool:
    """Whether `existing` may be replaced by a new output of the same kind (nothing else is lost)."""
    if not _exists(existing):
        return True
    if existing.is_symlink():  # replacing a link loses only the link
        return existing.is_dir() == new_is_dir
    if existing.is_dir():
        return new_is_dir and (is_savedmodel_folder(existing) or not any(existing.iterdir()))
    return not new_is_dir


def validate_model_name(name: str) -> str:
    """`name` when it is a valid TF Serving model name, else CannotConvert."""
    if not MODEL_NAME_RE.match(name or ""):
        raise CannotConvert(f"invalid model name {name!r}: use letters, digits, _ and -")
    return name


def validate_version(version: Any) -> int:
    """`version` as an int when it is a valid TF Serving version (0 .. 2**63-1), else CannotConvert."""
    number: int | None = None
    if isinstance(version, int) and not isinstance(version, bool):
        number = version
    elif isinstance(version, str) and version.strip().isdigit():
        number = int(version.strip())
    if number is None or not 0 <= number <= MAX_VERSION:
        raise CannotConvert(f"invalid version {version}: TF Serving versions are whole numbers from 0 to "
                            f"{MAX_VERSION}")
    return number


def _nearest_existing(path: Path) -> Path:
    current = path
    while not _exists(current) and current.parent != current:
        current = current.parent
    return current


def check_writable(out: Path, folder: Path) -> None:
    """CannotConvert("cannot write to OUT: reason") unless new files can be created in `folder`
    (or in its nearest existing ancestor when it does not exist yet). Creates and removes a probe file."""
    anchor = _nearest_existing(folder)
    if not anchor.is_dir():
        raise CannotConvert(f"cannot write to {out}: {anchor} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".workbench-write-test-", dir=anchor)
    except OSError as exc:
        raise CannotConvert(f"cannot write to {out}: {_os_reason(exc, anchor)}") from None
    os.close(fd)
    os.unlink(probe)


def _os_reason(exc: OSError, folder: Path | None = None) -> str:
    if exc.errno == errno.ENOENT and folder is not None and folder.is_dir():
        return f"the folder {folder} does not accept new files"
    return exc.strerror or str(exc)


def check_output(target: str, out: Path, force: bool, name: str | None = None,
                 version: int | None = None) -> None:
    """Refuse, before anything is loaded or written, outputs that would lose data or cannot be written.

    Never a folder replaced by a file or a file by a folder (even with `force`); with `force` an existing
    file output, or an existing folder output only when it is a SavedModel folder.
    """
    if target in TARGET_ENDINGS:
        if out.is_dir():
            example = out / f"model{TARGET_ENDINGS[target][0]}"
            raise CannotConvert(f"--out {out} is a folder: give a file path such as {example} (nothing was written)")
        if _exists(out) and not force:
            raise CannotConvert(f"{out} exists: pass --force to overwrite it (nothing was written)",
                                needs_force=True, path=out)
        _check_report_and_folder(out)
    elif target == "savedmodel":
        if _exists(out) and not out.is_dir():
            raise CannotConvert(f"--out {out} is a file: a SavedModel is a folder; give a new folder path "
                                "(nothing was written)")
        if out.is_dir() and any(out.iterdir()):
            if not is_savedmodel_folder(out):
                raise CannotConvert(f"--out {out} is a folder that is not a SavedModel ({_listing(out)}): give a "
                                    "new folder path; --force replaces only a SavedModel folder (nothing was written)")
            if not force:
                raise CannotConvert(f"{out} exists: pass --force to overwrite it (nothing was written)",
                                needs_force=True, path=out)
        _check_report_and_folder(out)
    elif target == "tfserving":
        if _exists(out) and not out.is_dir():
            raise CannotConvert(f"--out {out} is a file: a TF Serving bundle goes into a folder (BASE/NAME/VERSION); "
                                "give a folder path (nothing was written)")
        if name is not None:
            model_base = out / name
            if _exists(model_base) and not model_base.is_dir():
                raise CannotConvert(f"{model_base} is a file: the model folder NAME/ goes there; choose another "
                                    "--name (nothing was written)")
            if version is not None:
                existing = model_base / str(version)
                if _exists(existing):
                    if not force:
                        raise CannotConvert(f"{existing} exists: pass --force to replace version {version}, or leave "
                                            "--version out to add the next free version (nothing was written)",
                                            needs_force=True, path=existing, version=version)
                    if not is_savedmodel_folder(existing):
                        raise CannotConvert(f"{existing} is not a SavedModel folder ({_listing(existing)}): "
                                            "--force replaces only a SavedModel version folder; choose another "
                                            "--version (nothing was written)")
        check_writable(out, out)


def _real(path: Path) -> Path:
    """`path` absolute with every symlink, '..' and relative part resolved (also when it does not exist)."""
    return Path(os.path.realpath(os.path.abspath(path)))


def _same_inode(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def check_not_source(source: Path, target: str, out: Path) -> None:
    """Refuse, whatever `force` says, an output that is the source, lies inside it or contains it.

    Symlinks, relative spellings, '..' and hard links (same inode) are resolved first. For file and
    SavedModel targets the parity report and the `.failed` output written beside `out` are checked too
    (they must not be the source or lie inside it).
    """
    src = _real(source)
    dst = _real(out)
    what = "folder" if src.is_dir() else "file"
    if dst == src or _same_inode(out, source):
        raise CannotConvert(f"output {out} is the source model {source} itself: choose another output path (the "
                            "source is never overwritten, not even with --force; nothing was written)")
    if dst.is_relative_to(src):
        raise CannotConvert(f"output {out} lies inside the source model folder {source}: choose an output path "
                            "outside it (the source is never modified, not even with --force; nothing was written)")
    if src.is_relative_to(dst):
        raise CannotConvert(f"output {out} contains the source model {source}: choose an output folder that "
                            f"does not hold the source {what} (the source is never modified, not even with "
                            "--force; nothing was written)")
    if target != "tfserving":
        for beside in (parity_report_path(out), failed_path(out)):
            real = _real(beside)
            if real == src or real.is_relative_to(src) or _same_inode(beside, source):
                raise CannotConvert(f"{beside} (written beside output {out}) would overwrite the source model "
                                    f"{source}: choose another output path (nothing was written)")


def _check_report_and_folder(out: Path) -> None:
    """The parity report beside a file or SavedModel output can be written, and so can the output."""
    report = parity_report_path(out)
    if report.is_dir():
        raise CannotConvert(f"{report} is a folder: the parity report goes there; give another --out "
                            "(nothing was written)")
    check_writable(out, out.parent)


def _move_into_place(tmp: Path, output: Path, force: bool) -> None:
    """os.replace for files; for folders the old one is moved aside first and removed after.

    Re-checks the rules of `check_output` (the output may have changed during the conversion)."""
    if _exists(output) and not force and not (tmp.is_dir() and output.is_dir() and not any(output.iterdir())):
        raise CannotConvert(f"{output} exists: pass --force to overwrite it", needs_force=True, path=output)
    if not _replaceable(output, tmp.is_dir()):
        kind = "folder" if output.is_dir() else "file"
        raise CannotConvert(f"{output} is a {kind} that the output may not replace: give another --out")
    if tmp.is_dir() and output.is_dir() and not output.is_symlink():
        aside = output.with_name(f".{output.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(output, aside)
        try:
            os.replace(tmp, output)
        except OSError:
            os.replace(aside, output)
            raise
        _remove(aside)
    else:
        os.replace(tmp, output)


def _failed_destination(path: Path, is_dir: bool) -> Path:
    """`path` when it may be replaced by a failed output, else a free name beside it."""
    if _replaceable(path, is_dir):
        return path
    return path.with_name(f"{path.name}-{uuid.uuid4().hex[:8]}")


def _is_within(filename: Any, folder: Path) -> bool:
    if not filename:
        return False
    try:
        return Path(os.path.abspath(str(filename))).is_relative_to(os.path.abspath(folder))
    except (TypeError, ValueError):
        return False


def _write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(finite(jsonable(payload)), indent=2, ensure_ascii=False) + "\n")


def default_name(source: Path) -> str:
    """A TF Serving model name from a file name: letters, digits, _ and - only."""
    stem = source.name if source.is_dir() else source.stem
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "model"


# --------------------------------------------------------------------------------------------------
# rows and predictions


def _rows_frame(rows: Any) -> pd.DataFrame | None:
    if rows is None:
        return None
    if isinstance(rows, pd.DataFrame):
        return rows.copy()
    from workbench.core.rows import read_rows

    return read_rows(rows)


def _predict(session: Any, frame: pd.DataFrame, info: ModelInfo) -> Any:
    from workbench.core.rows import prepare_rows

    return session.predict(prepare_rows(frame, info))


def _row_scale(a: Any) -> np.ndarray:
    """Per-row largest |value| of the original's probabilities/values (the rtol reference)."""
    n = a.rows
    scale = np.zeros(n)
    for arr in (a.probabilities, a.values):
        if arr is not None:
            scale = np.maximum(scale, np.abs(np.asarray(arr, float).reshape(n, -1)).max(axis=1))
    return scale


def _row_differences(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-row max |a-b| over probabilities/values, and per-row label disagreement."""
    from workbench.core.predictions import align_probabilities, canonical_labels

    n = a.rows
    diff = np.zeros(n)
    if a.probabilities is not None and b.probabilities is not None:
        pb = b.probabilities
        if a.classes is not None and b.classes is not None:
            try:
                pb = align_probabilities(b.probabilities, b.classes, a.classes)
            except ValueError:
                pb = b.probabilities
        if np.shape(pb) == np.shape(a.probabilities):
            diff = np.maximum(diff, np.abs(np.asarray(a.probabilities, float) - np.asarray(pb, float)).max(axis=1))
    if a.values is not None and b.values is not None:
        va = np.asarray(a.values, float).reshape(n, -1)
        vb = np.asarray(b.values, float).reshape(n, -1)
        if va.shape == vb.shape:
            diff = np.maximum(diff, np.abs(va - vb).max(axis=1))
    flips = np.zeros(n, dtype=bool)
    if a.labels is not None and b.labels is not None:
        flips = np.asarray(canonical_labels(a.labels)) != np.asarray(canonical_labels(b.labels))
    return diff, flips


# --------------------------------------------------------------------------------------------------
# the main entry point


def convert_and_prove(source: str | os.PathLike[str], target: str, out: str | os.PathLike[str],
                      rows: Any = None, name: str | None = None, version: int | None = None,
                      trust: bool = False, force: bool = False, atol: float | None = None,
                      rtol: float = DEFAULT_RTOL, progress: ProgressFn | None = None,
                      cancelled: Callable[[], bool] | None = None,
                      options: dict[str, Any] | None = None, threshold_rows_on: bool = True) -> ConversionResult:
    """Convert `source` to `target` at `out` and prove it on rows (see the module docstring).

    `rows`: a CSV/JSON path or a DataFrame of sample rows (default: generated rows). `atol` defaults
    to 1e-5, or 1e-4 when the converted model computes in float32. For `tfserving`, `out` is the
    base folder and the bundle goes to `out/NAME/VERSION`.

    Raises CannotConvert / WorkbenchError (exit 2) when it cannot convert; returns a result with
    `passed` False (exit 1) when the converted model disagrees beyond tolerance.
    """
    started = time.perf_counter()
    load_builtin_converters()
    source = Path(source)
    out = Path(out)
    if target not in TARGETS:
        raise CannotConvert(f"unknown target {target!r}; targets: {', '.join(TARGETS)}")
    if not _exists(source):
        raise CannotConvert(f"{source}: no such file or folder")
    # everything that can be refused without loading the model is refused first (loading may import TF)
    from workbench.core.compare import check_tolerances

    check_tolerances(atol, rtol)
    check_not_source(source, target, out)
    if version is not None:
        version = validate_version(version)
    if target == "tfserving":
        name = validate_model_name(name) if name is not None else default_name(source)
    check_output(target, out, force, name if target == "tfserving" else None, version)

    def report(fraction: float, message: str) -> None:
        if progress is not None:
            progress(fraction, message)

    report(0.02, "loading the model")
    info, model = load_source(source, trust=trust)
    status = target_status(info, model, target)
    if not status.possible:
        raise CannotConvert(status.reason or f"cannot convert to {target}")
    folder = out if target == "tfserving" else out.parent
    try:
        if target == "tfserving":
            return _convert_to_bundle(source, info, model, out, rows, name, version, trust, force, atol, rtol,
                                      report, cancelled, options, threshold_rows_on, started)
        return _convert_to_path(source, info, model, target, out, rows, name, version, trust, force, atol,
                                rtol, report, cancelled, options, threshold_rows_on, started)
    except OSError as exc:
        # a write into the output folder that the up-front check could not foresee (disk full, removed...)
        names = [n for n in (exc.filename, getattr(exc, "filename2", None))
                 if n and os.path.abspath(str(n)) != os.path.abspath(source)]
        if any(_is_within(n, folder) for n in names):
            raise CannotConvert(f"cannot write to {out}: {_os_reason(exc)}") from None
        raise


def load_source(source: str | os.PathLike[str], trust: bool = False) -> tuple[ModelInfo, Any]:
    """`load_model`, except that formats without a native Python object (PMML) give (info, None):
    their conversion targets then say per target why they are impossible."""
    from workbench.core.models import detect_format, inspect_model, load_model, model_format

    if model_format(detect_format(source)).load is None:
        return inspect_model(source, trust=trust), None
    return load_model(source, trust=trust)


def _convert_to_path(source: Path, info: ModelInfo, model: Any, target: str, out: Path, rows: Any,
                     name: str | None, version: int | None, trust: bool, force: bool, atol: float | None,
                     rtol: float, report: ProgressFn, cancelled: Callable[[], bool] | None,
                     options: dict[str, Any] | None, threshold_rows_on: bool,
                     started: float) -> ConversionResult:
    """Convert into a temporary path beside `out`, prove, and move into place (onnx, pmml, savedmodel)."""
    converter = find_converter(info, target)
    assert converter is not None
    sample = _rows_frame(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(out.parent)
    with private_workdir() as work:
        tmp = work / out.name
        request = ConversionRequest(source=source, info=info, model=model, output=tmp, rows=sample, name=name,
                                    version=version, options=converter.merged_options(options),
                                    progress=lambda f, m: report(0.05 + 0.45 * f, m), cancelled=cancelled)
        skew = [w for w in info.warnings if w.startswith("version skew:")]
        if skew:  # the proof runs the source in the installed library, not the one that wrote it
            request.notes["version_skew"] = " ".join(skew)
        report(0.05, f"converting with {converter.key}")
        produced = Path(converter.convert(request))
        if produced != tmp and produced.exists():
            os.replace(produced, tmp)
        if not tmp.exists():
            raise ConversionFailed(f"{converter.key} wrote nothing")
        request.check_cancelled()
        report(0.55, "proving the conversion on rows")
        proof = prove(source, info, model, tmp, sample, trust, atol, rtol, request.notes, threshold_rows_on)
        return _finish(proof, source, target, out, tmp, converter.key, request.notes, force, started, report)


@dataclass
class Proof:
    parity: dict[str, Any]
    passed: bool
    rows_source: str
    tolerances: dict[str, float]
    explained: list[dict[str, Any]]
    unexplained: list[int]
    report: dict[str, Any]


def prove(source: Path, info: ModelInfo, model: Any, converted: Path, sample: pd.DataFrame | None,
          trust: bool, atol: float | None, rtol: float, notes: dict[str, Any],
          threshold_rows_on: bool = True) -> Proof:
    """Run the original and the converted model on the same rows and compare them."""
    from workbench.core.compare import compare_batches
    from workbench.core.models import inspect_model
    from workbench.core.rows import generate_rows
    from workbench.core.runtimes import RUNTIMES, default_runtime
    from workbench.core.runtimes.native import NativeSession

    converted_info = inspect_model(converted)
    _carry_feature_names(info, converted_info)
    _carry_accepts_missing(info, converted_info)
    if sample is None:
        raw = generate_rows(info, GENERATED_ROWS, seed=0)
        rows_source = f"{GENERATED_ROWS} generated rows"
    else:
        raw = sample.reset_index(drop=True)
        rows_source = f"{len(raw)} sample rows"
    frame = _typed(raw, info)
    n_threshold = 0
    task = unsupervised_task(model)
    if threshold_rows_on and model is not None and task is None:
        extra = threshold_rows(model, info, frame)
        if extra is not None and len(extra):
            n_threshold = len(extra)
            frame = pd.concat([frame, extra], ignore_index=True)
            rows_source += f" + {n_threshold} rows on split thresholds"
    original_runtime = default_runtime(info.format)
    if model is not None and original_runtime == "native":
        original = NativeSession(info, model)
    else:
        original = RUNTIMES.get(original_runtime).load(source, info, trust)
    converted_runtime = default_runtime(converted_info.format)
    # the converted model is the workbench's own output, written just now: loading it needs no user trust
    session = RUNTIMES.get(converted_runtime).load(converted, converted_info, True)
    a = _predict(original, frame, info)
    b = _predict(session, _columns_for(frame, converted_info), converted_info)
    role_names: dict[str, str] = {}
    task_not_compared: dict[str, str] = {}
    if task is not None and isinstance(original, NativeSession):
        from workbench.core.rows import prepare_rows

        mapped = task_roles(task, model, original._sklearn_input(prepare_rows(frame, info)), b,
                            converted_info.format)
        a, b = mapped.original, mapped.converted
        role_names, task_not_compared = mapped.role_names, mapped.not_compared
    float32 = bool(notes.get("float32"))
    tol_a = atol if atol is not None else (FLOAT32_ATOL if float32 else DEFAULT_ATOL)
    parity_report = compare_batches(a, b, atol=tol_a, rtol=rtol, frame=frame)
    parity = parity_report.to_json()
    diff, flips = _row_differences(a, b)
    scale = _row_scale(a)
    engine_passed = bool(parity.get("passed"))
    # rows outside tolerance (as the compare engine judges them) must all be explained to pass; every
    # row beyond atol gets an explanation attempt, so the report also explains small jumps
    outside = [int(i) for i in np.flatnonzero((diff > tol_a + rtol * scale) | flips)]
    # probabilities are held to atol alone (the bar); regression values keep their rtol
    loose = diff > (tol_a if a.probabilities is not None else tol_a + rtol * scale)
    candidates = [int(i) for i in np.flatnonzero(loose | flips)]
    if not engine_passed and not outside:  # failed for a reason rows do not show (shape, classes)
        outside = [int(r.get("index", -1)) for r in parity.get("worst_rows", []) if isinstance(r, dict)]
        outside = [r for r in outside if r >= 0] or [-1]
    # a row the converted model gave no prediction for, or a row with a missing value when the converter
    # could not write the model's missing-value routing, differs because of missing values: never
    # explained away as a float32 threshold flip
    missing_rows = _rows_with_missing(frame, info)
    null_rows = _rows_without_prediction(b)
    not_flips = null_rows | (missing_rows if notes.get("missing_values_routed") is False else set())
    explained = explain_threshold_flips(model, info, frame, sorted((set(candidates) | {r for r in outside if r >= 0})
                                                                   - not_flips)) \
        if model is not None and (candidates or outside) else {}
    unexplained = [r for r in outside if r not in explained]
    passed = engine_passed or not unexplained
    parity["passed_strict"] = bool(parity.get("passed"))
    parity["passed"] = passed
    parity["explained_rows"] = len(explained)
    keep = np.ones(len(diff), dtype=bool)
    keep[list(explained)] = False
    parity["max_abs_diff_unexplained"] = float(diff[keep].max()) if keep.any() else 0.0
    explained_rows = [{"row": r + 1, "index": r, "threshold_row": r >= len(frame) - n_threshold,
                       "max_abs_diff": float(diff[r]) if 0 <= r < len(diff) else None,
                       "label_flip": bool(flips[r]) if 0 <= r < len(flips) else None,
                       "original_label": _label_at(a, r), "converted_label": _label_at(b, r),
                       "explanation": text} for r, text in sorted(explained.items())]
    n_sample = len(frame) - n_threshold
    compared, not_compared = _coverage(a, b, parity, converted_info, role_names, task_not_compared)
    parity["compared_outputs"] = compared
    parity["not_compared"] = not_compared
    parity["sample_rows"] = n_sample
    parity["generated_rows"] = n_threshold
    real_differ = [r["row"] for r in explained_rows if not r["threshold_row"]]
    parity["sample_rows_scored_differently"] = real_differ
    for worst in parity.get("worst_rows") or []:
        if isinstance(worst, dict) and isinstance(worst.get("index"), int):
            worst["row_kind"] = _row_kind(worst["index"], n_sample)
    missing_differ = [r + 1 for r in sorted((set(outside) - set(explained)) & missing_rows) if r < n_sample]
    null_differ = [r + 1 for r in sorted(set(outside) & null_rows)]
    parity["missing_value_rows"] = len([r for r in missing_rows if r < n_sample])
    parity["missing_value_rows_scored_differently"] = missing_differ
    parity["rows_without_prediction"] = null_differ
    parity["missing_value_reason"] = _missing_reason(missing_differ, null_differ, converted_info.format, notes,
                                                     n_sample)
    parity["verdict"] = _verdict_text(passed, compared, not_compared, real_differ, converted_info.format)
    if parity["missing_value_reason"]:
        parity["verdict"] += "; " + parity["missing_value_reason"]
    for r in explained_rows:
        r["row_kind"] = _row_kind(r["index"], n_sample)
    tolerances = {"atol": tol_a, "rtol": rtol}
    full = {
        "source": str(source), "source_format": info.format,
        "converted": str(converted), "converted_format": converted_info.format,
        "original_runtime": original_runtime, "converted_runtime": converted_runtime,
        "rows_source": rows_source, "threshold_rows": n_threshold, "tolerances": tolerances,
        "float32_runtime": float32, "parity": parity, "passed": passed,
        "explained_rows": explained_rows, "unexplained_rows": [r + 1 for r in unexplained[:50] if r >= 0],
        "unexplained_row_kinds": {str(r + 1): _row_kind(r, n_sample) for r in unexplained[:50] if r >= 0},
        "converter_notes": notes,
    }
    return Proof(parity, passed, rows_source, tolerances, explained_rows, unexplained, full)


def _coverage(a: Any, b: Any, parity: dict[str, Any], converted_info: ModelInfo, role_names: dict[str, str],
              task_not_compared: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """(outputs compared, {output of the original not compared: why}) of one proof."""
    fmt = converted_info.format.upper() if converted_info.format != "savedmodel" else "SavedModel"
    roles = parity.get("roles") or {}
    compared = [role_names.get(r, r) for r, v in roles.items() if isinstance(v, dict) and v.get("compared", True)]
    not_compared = dict(task_not_compared)
    present = {"label": a.labels, "probabilities": a.probabilities, "value": a.values}
    other = {"label": b.labels, "probabilities": b.probabilities, "value": b.values}
    for role, arr in present.items():
        name = role_names.get(role, role)
        if arr is None or role in roles or name in not_compared:
            continue
        if other[role] is None:
            reason = f"the {fmt} model has none"
            if role == "probabilities" and converted_info.format == "pmml":
                reason += (" (its PMML declares no probability output fields: JPMML-SkLearn writes none for "
                           "this estimator; PMML4S's per-class vote fractions are not scikit-learn's "
                           "probabilities)")
            elif role == "label" and converted_info.format == "pmml" and b.labels is None:
                reason += " (the engine gave no predicted value)"
        else:
            notes = [n for n in parity.get("notes", []) if role[:5] in n or "class" in n or "width" in n]
            reason = "; ".join(notes) or "the two sides' outputs do not line up"
        not_compared[name] = reason
    return compared, not_compared


def _rows_with_missing(frame: pd.DataFrame, info: ModelInfo) -> set[int]:
    """0-based indexes of the rows with a missing value in one of the model's input columns."""
    columns = [s.name for s in info.inputs if s.name in frame.columns] or list(frame.columns)
    try:
        return {int(i) for i in np.flatnonzero(frame.loc[:, columns].isna().to_numpy().any(axis=1))}
    except Exception:  # noqa: BLE001 - no missing-value accounting, never a crash
        return set()


def _rows_without_prediction(batch: Any) -> set[int]:
    """0-based indexes of the rows the converted model gave no prediction for (None/NaN everywhere)."""
    out: set[int] = set()
    for arr in (batch.probabilities, batch.values):
        if arr is None:
            continue
        try:
            values = np.asarray(arr, dtype=np.float64)
        except (TypeError, ValueError):
            continue
        values = values.reshape(len(values), -1)
        out |= {int(i) for i in np.flatnonzero(np.isnan(values).all(axis=1))}
    labels = getattr(batch, "labels", None)
    if labels is not None and not out:
        out |= {i for i, v in enumerate(list(labels)) if v is None or (isinstance(v, float) and np.isnan(v))}
    return out


def _missing_reason(missing_differ: list[int], null_differ: list[int], fmt: str, notes: dict[str, Any],
                    n_sample: int) -> str:
    """Why rows with missing values (or rows given no prediction) differ, in one clause; "" when none do."""
    if not missing_differ and not null_differ:
        return ""

    def shown(rows: list[int]) -> str:
        return ", ".join(str(r) for r in rows[:10]) + (" ..." if len(rows) > 10 else "")

    parts = []
    if missing_differ:
        text = (f"{len(missing_differ)} row(s) of your data with missing values (NaN) scored differently (rows "
                f"{shown(missing_differ)})")
        why = notes.get("missing_values_reason") if notes.get("missing_values_routed") is False else None
        if fmt == "pmml" and null_differ:
            why = why or ("the PMML gives no prediction when a split feature is missing (its trees do not encode "
                          "scikit-learn's missing-value routing, tree_.missing_go_to_left)")
        parts.append(text + (f": {why}" if why else ": the converted model handles missing values differently"))
    other_null = [r for r in null_differ if r not in missing_differ and r <= n_sample]
    generated_null = [r for r in null_differ if r > n_sample]
    if other_null:
        parts.append(f"{len(other_null)} row(s) of your data given no prediction by the converted model (rows "
                     f"{shown(other_null)})")
    if generated_null:
        parts.append(f"{len(generated_null)} generated edge-case row(s) given no prediction too")
    return "; ".join(parts)


def _row_kind(index: int, n_sample: int) -> str:
    """Whose row this is: the user's (1-based, as in their file) or one the proof generated."""
    if 0 <= index < n_sample:
        return f"row {index + 1} of your data"
    return (f"generated edge-case row {index + 1 - n_sample} (a feature placed on a split threshold; not a row of "
            f"your data, which has {n_sample} rows)")


def _verdict_text(passed: bool, compared: list[str], not_compared: dict[str, str], real_differ: list[int],
                  fmt: str) -> str:
    """One line: PASS/FAIL on what was compared, what was not and why, and the user's rows scored
    differently (explained as float32 split-threshold flips)."""
    if not compared:
        text = "FAIL: nothing compared"
    else:
        text = f"{'PASS' if passed else 'FAIL'} on {', '.join(compared)}"
    for name, why in not_compared.items():
        text += f"; {name} not compared: {why}"
    if real_differ:
        shown = ", ".join(str(r) for r in real_differ[:10]) + (" ..." if len(real_differ) > 10 else "")
        text += (f"; {len(real_differ)} row(s) of your data scored differently by the converted model (rows {shown}: "
                 "a value on a split threshold, float32 in the converted runtime)")
    return text


def _columns_for(frame: pd.DataFrame, info: ModelInfo) -> pd.DataFrame:
    """Only the columns a converted model takes (PMML drops features no split uses)."""
    from workbench.core.rows import is_tensor_input

    names = info.input_names()
    if names and not any(is_tensor_input(s) for s in info.inputs) and all(n in frame.columns for n in names):
        return frame.loc[:, names]
    return frame


def _typed(raw: pd.DataFrame, info: ModelInfo) -> pd.DataFrame:
    """Rows with typed values and one column per input name (numbers as numbers, text as str)."""
    from workbench.core.rows import prepare_rows

    prepared = prepare_rows(raw, info)
    layout = prepared.attrs.get("workbench_layout") or {}
    renamed = {cols[0]: name for name, cols in layout.items() if len(cols) == 1 and cols[0] != name}
    out = prepared.rename(columns=renamed)
    out.attrs = {}
    return out.reset_index(drop=True)


def _label_at(batch: Any, row: int) -> Any:
    if batch.labels is None or not 0 <= row < len(batch.labels):
        return None
    value = batch.labels[row]
    return value.item() if hasattr(value, "item") else value


def _carry_accepts_missing(info: ModelInfo, converted: ModelInfo) -> None:
    """A SavedModel signature cannot say that an input takes NaN: the compiled model takes what the
    original takes (e.g. scikit-learn trees route NaN with tree_.missing_go_to_left, the compiled trees
    too), so the original's missing-value columns are fed to it and the comparison judges the result."""
    if converted.format != "savedmodel":
        return
    takes = {s.name for s in info.inputs if s.accepts_missing}
    if takes:
        converted.inputs = [replace(s, accepts_missing=True) if s.name in takes else s for s in converted.inputs]


def _carry_feature_names(info: ModelInfo, converted: ModelInfo) -> None:
    """Give a converted model with one tensor input the original column names (e.g. Keras -> ONNX)."""
    meta = converted.metadata if isinstance(converted.metadata, dict) else {}
    if "feature_names" in meta:
        return
    names = None
    props = meta.get("metadata_props") or {}
    if isinstance(props, dict) and props.get("workbench.feature_names"):
        try:
            names = json.loads(props["workbench.feature_names"])
        except ValueError:
            names = None
    if not names:
        names = (info.metadata or {}).get("feature_names") or None
    if names is None:
        from workbench.core.rows import feature_names, is_tensor_input

        tensors = [s for s in info.inputs if is_tensor_input(s)]
        if len(tensors) == 1:
            names = feature_names(info, tensors[0])
    if names and len(converted.inputs) == 1:
        meta["feature_names"] = list(names)
        converted.metadata = meta


def _finish(proof: Proof, source: Path, target: str, out: Path, tmp: Path, converter_key: str,
            notes: dict[str, Any], force: bool, started: float, report: ProgressFn) -> ConversionResult:
    report_path = parity_report_path(out)
    failed_output = None
    if proof.passed:
        report.__call__(0.95, "moving the output into place")
        with _on_same_disk(tmp, out) as ready:
            _move_into_place(ready, out, force)
        output = str(out)
    else:
        dest = _failed_destination(failed_path(out), tmp.is_dir())
        with _on_same_disk(tmp, dest) as ready:
            if _exists(dest):
                _remove(dest)
            os.replace(ready, dest)
        failed_output, output = str(dest), None
    payload = dict(proof.report)
    payload.update({"target": target, "output": output, "failed_output": failed_output,
                    "converter": converter_key})
    if failed_output:
        payload["converted"] = failed_output
    elif output:
        payload["converted"] = output
    _write_json_atomic(report_path, payload)
    report(1.0, "done")
    return ConversionResult(source=str(source), target=target, output=output, converter=converter_key,
                            seconds=time.perf_counter() - started, parity=proof.parity, passed=proof.passed,
                            report_path=str(report_path), failed_output=failed_output,
                            rows_source=proof.rows_source, tolerances=proof.tolerances,
                            explained_rows=proof.explained, unexplained_rows=proof.unexplained,
                            notes=_public_notes(notes))


def _public_notes(notes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in notes.items() if isinstance(v, str | int | float | bool | type(None))}


# --------------------------------------------------------------------------------------------------
# TF Serving bundle


def _convert_to_bundle(source: Path, info: ModelInfo, model: Any, base: Path, rows: Any, name: str | None,
            version: int | None, trust: bool, force: bool, atol: float | None, rtol: float,
            report: ProgressFn, cancelled: Callable[[], bool] | None, options: dict[str, Any] | None,
            threshold_rows_on: bool, started: float) -> ConversionResult:
    """SavedModel in a temporary folder -> prove -> install as BASE/NAME/VERSION (+ config, warmup)."""
    from workbench.core.tfserving.bundle import install_bundle

    model_name = validate_model_name(name or default_name(source))
    if version is not None:
        version = validate_version(version)
    check_output("tfserving", base, force, model_name, version)
    sample = _rows_frame(rows)
    if sample is not None:
        bundle_rows = sample
    else:
        from workbench.core.rows import generate_rows

        bundle_rows = generate_rows(info, 8, seed=0) if info.inputs else None
    base.mkdir(parents=True, exist_ok=True)
    sweep_stale(base)
    with private_workdir() as workdir:
        notes: dict[str, Any] = {}
        if info.format == "savedmodel":
            from workbench.core.converters.to_onnx import _savedmodel_dir

            saved = _savedmodel_dir(source)
            converter_key = "savedmodel-bundle"
            proof = None
        else:
            converter = find_converter(info, "savedmodel")
            if converter is None:
                raise CannotConvert(f"{TARGET_TITLES['tfserving']}: no SavedModel converter for {info.format}")
            saved = workdir / "saved_model"
            request = ConversionRequest(source=source, info=info, model=model, output=saved, rows=sample,
                                        name=model_name, version=version,
                                        options=converter.merged_options(options),
                                        progress=lambda f, m: report(0.05 + 0.4 * f, m), cancelled=cancelled)
            report(0.05, f"converting with {converter.key}")
            produced = Path(converter.convert(request))
            saved = produced if produced.exists() else saved
            notes = request.notes
            request.check_cancelled()
            report(0.5, "proving the SavedModel on rows")
            proof = prove(source, info, model, saved, sample, trust, atol, rtol, notes, threshold_rows_on)
            converter_key = f"{converter.key}+bundle"
        if proof is not None and not proof.passed:
            failed = _failed_destination(base / f"{model_name}.savedmodel.failed", True)
            with _on_same_disk(saved, failed) as ready:
                if _exists(failed):
                    _remove(failed)
                os.replace(ready, failed)
            report_path = base / f"{model_name}.parity.json"
            payload = dict(proof.report, target="tfserving", output=None, failed_output=str(failed),
                           converter=converter_key, converted=str(failed))
            _write_json_atomic(report_path, payload)
            return ConversionResult(str(source), "tfserving", None, converter_key,
                                    time.perf_counter() - started, proof.parity, False, str(report_path),
                                    str(failed), proof.rows_source, proof.tolerances, proof.explained,
                                    proof.unexplained, _public_notes(notes))
        report(0.85, "installing the TF Serving bundle")
        if version is not None and force:
            existing = base / model_name / str(int(version))
            if existing.exists():
                if not is_savedmodel_folder(existing):
                    raise CannotConvert(f"{existing} is not a SavedModel folder: --force replaces only a "
                                        "SavedModel version folder")
                aside = base / model_name / f".{version}.old-{uuid.uuid4().hex[:8]}"
                os.replace(existing, aside)
                try:
                    installed = Path(install_bundle(saved, base, model_name, version=version, rows=bundle_rows))
                except BaseException:
                    os.replace(aside, existing)
                    raise
                _remove(aside)
            else:
                installed = Path(install_bundle(saved, base, model_name, version=version, rows=bundle_rows))
        else:
            installed = Path(install_bundle(saved, base, model_name, version=version, rows=bundle_rows))
        report_path = base / f"{model_name}-v{installed.name}.parity.json"
        if proof is not None:
            payload = dict(proof.report, target="tfserving", output=str(installed), failed_output=None,
                           converter=converter_key, converted=str(installed))
            _write_json_atomic(report_path, payload)
            parity, passed, rows_source = proof.parity, True, proof.rows_source
            tolerances, explained, unexplained = proof.tolerances, proof.explained, proof.unexplained
        else:
            parity, passed, rows_source = None, True, "no conversion (the source is a SavedModel)"
            tolerances, explained, unexplained = {}, [], []
            report_path = None  # type: ignore[assignment]
        report(1.0, "done")
        return ConversionResult(str(source), "tfserving", str(installed), converter_key,
                                time.perf_counter() - started, parity, passed,
                                str(report_path) if report_path else None, None, rows_source, tolerances,
                                explained, unexplained, _public_notes(notes))
