"""Decide what a file or folder is from its content (Netron's approach): magic bytes, zip listings,
XML roots and folder layout, with the extension only as a hint. Never unpickles.

Non-models that users commonly drop by mistake (an HTML login page, a Git LFS pointer, a CSV...)
get a message saying what they are and what to do.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from workbench.core.errors import CorruptModel, ModelFileError, UnknownFormat, WorkbenchError
from workbench.core.formats.base import FORMATS, HEAD_BYTES, ModelFormat, Probe


def make_probe(path: Path) -> Probe:
    """Read what detection may look at: the head of a file, a zip listing, or a folder listing."""
    if not path.exists():
        raise ModelFileError(str(path), f"{path}: no such file or folder")
    if path.is_dir():
        try:
            names = []
            for child in sorted(path.iterdir()):
                names.append(child.name)
                if child.is_dir():
                    names.extend(f"{child.name}/{g.name}" for g in sorted(child.iterdir()))
        except PermissionError:
            raise ModelFileError(str(path), f"{path}: permission denied (cannot list the folder)") from None
        return Probe(path=path, is_dir=True, names=tuple(names))
    if not path.is_file():  # opening a FIFO would wait for a writer forever; a device never ends
        raise ModelFileError(str(path), f"{path}: not a regular file (a FIFO, socket or device), not a model")
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except PermissionError:
        raise ModelFileError(str(path), f"{path}: permission denied (cannot read the file)") from None
    except OSError as exc:
        raise ModelFileError(str(path), f"{path}: cannot be read ({exc.strerror or exc})") from None
    names: tuple[str, ...] = ()
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = tuple(zf.namelist())
        except (zipfile.BadZipFile, OSError):
            raise CorruptModel(str(path), f"{path.name}: a zip archive that is damaged or truncated (its directory "
                               "cannot be read); a .keras or .skops file may not have downloaded fully") from None
    return Probe(path=path, is_dir=False, size=size, head=head, names=names)


def candidates(probe: Probe) -> list[ModelFormat]:
    """Registered formats in the order to try: those whose extension matches first, then by priority."""
    formats = FORMATS.values()
    return sorted(formats, key=lambda f: (probe.suffix not in f.extensions, f.priority))


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format name of `path` (see FORMATS). Raises UnknownFormat/CorruptModel/ModelFileError."""
    target = normalise_path(Path(path))
    probe = make_probe(target)
    errors: list[WorkbenchError] = []
    for fmt in candidates(probe):
        try:
            if fmt.match(probe):
                return fmt.name
        except (CorruptModel, UnknownFormat) as exc:
            errors.append(exc)
    if errors:
        raise errors[0]
    raise UnknownFormat(str(target), describe_non_model(probe), hint=_supported_hint())


def normalise_path(path: Path) -> Path:
    """A dropped `saved_model.pb` means its folder; `jar:file:/x/model.zip` (how Spark / MLeap name a
    bundle) means /x/model.zip."""
    if str(path).startswith("jar:file:"):
        from workbench.core.mleap.bundle import bundle_path

        path = bundle_path(str(path))
    if path.name in ("saved_model.pb", "saved_model.pbtxt") and path.is_file():
        return path.parent
    return path


def _supported_hint() -> str:
    return "supported: " + ", ".join(FORMATS.keys())


def describe_non_model(probe: Probe) -> str:
    """A one-line description of what a non-model file or folder is."""
    name = probe.path.name
    if probe.is_dir:
        return _describe_folder(probe)
    head = probe.head
    if probe.size == 0:
        return f"{name} is empty (0 bytes): the download or export did not finish"
    if head.startswith(b"version https://git-lfs.github.com/spec/"):
        return f"{name} is a Git LFS pointer, not the model itself: run `git lfs pull` to fetch the file"
    if len(head) >= 8 and head[4:8] == b"TFL3":
        return (f"{name} is a TensorFlow Lite model: not supported (TF Serving serves SavedModels); "
                "convert from the original Keras/SavedModel instead")
    lowered = head[:1024].lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered[:300]:
        return (f"{name} is an HTML page, not a model (a login or error page saved instead of the file?): "
                "download the model file itself")
    if head.startswith(b"PK\x03\x04"):
        listed = ", ".join(probe.names[:5]) or "nothing"
        return f"{name} is a zip archive but not a .keras or skops model (it contains {listed})"
    if head.startswith(b"\x89HDF"):
        return f"{name} is an HDF5 file without a Keras model config"
    if head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8\xff") or head.startswith(b"GIF8"):
        return f"{name} is an image, not a model"
    if head.startswith(b"%PDF"):
        return f"{name} is a PDF document, not a model"
    legacy = xgboost_legacy_binary(head)
    if legacy is not None:
        return (f"{name} is an XGBoost legacy binary model ({legacy}; the format XGBoost wrote before 1.0, and "
                "for .model/.bin names before 2.0): not supported, the workbench reads XGBoost JSON/UBJSON; "
                "convert it with an XGBoost that still reads it: xgboost.Booster(model_file=...).save_model('model.json')")
    text = _as_text(head)
    if text is not None:
        stripped = text.lstrip()
        if stripped.startswith(("{", "[")):
            return f"{name} is a JSON document that is not an XGBoost model (no 'learner' section)"
        if stripped.startswith("<"):
            root = stripped[1:].split(None, 1)[0].strip(">/") if len(stripped) > 1 else "?"
            if root.startswith("?xml"):
                after = stripped.split("?>", 1)[-1].lstrip()
                root = after[1:].split(None, 1)[0].strip(">/") if after.startswith("<") else "?"
            return f"{name} is an XML document whose root is <{root}>, not a PMML model"
        if _looks_like_csv(text):
            return f"{name} is a CSV file (data, not a model): use it as feature rows (--rows)"
        if stripped.startswith("tree") or "Tree=" in text:
            return f"{name} looks like a LightGBM model text without its header: truncated or damaged"
        return f"{name} is a text file, not a model format the workbench knows"
    return (f"{name} is an unknown binary file (starts with {head[:8].hex(' ')}): not a model format the "
            "workbench knows")


#: LearnerModelParam of XGBoost's legacy binary format: base_score, num_feature, num_class, 6 ints, 27 reserved
_XGB_LEGACY_PARAM_BYTES = 136
_XGB_BOOSTERS = (b"gbtree", b"gblinear", b"dart")


def xgboost_legacy_binary(head: bytes) -> str | None:
    """'objective, booster' when `head` starts an XGBoost legacy binary model (optional 'binf' magic,
    the 136-byte LearnerModelParam, then the objective and booster names as uint64-length strings)."""
    for start in (4, 0) if head.startswith(b"binf") else (0,):
        pos = start + _XGB_LEGACY_PARAM_BYTES
        names = []
        for _ in range(2):
            if len(head) < pos + 8:
                return None
            size = int.from_bytes(head[pos:pos + 8], "little")
            if not 0 < size <= 64 or len(head) < pos + 8 + size:
                break
            names.append(head[pos + 8:pos + 8 + size])
            pos += 8 + size
        if len(names) == 2 and b":" in names[0] and names[0].isascii() and names[1] in _XGB_BOOSTERS:
            return f"{names[0].decode()}, {names[1].decode()}"
    return None


def _as_text(head: bytes) -> str | None:
    if b"\x00" in head[:4096]:
        return None
    try:
        return head[:8192].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start > 8000:  # cut in the middle of a multi-byte character
            return head[: exc.start].decode("utf-8")
        return None


def _looks_like_csv(text: str) -> bool:
    lines = [line for line in text.splitlines()[:10] if line.strip()]
    if len(lines) < 1:
        return False
    for sep in (",", ";", "\t"):
        counts = {line.count(sep) for line in lines[:-1] or lines}
        if len(counts) == 1 and counts.pop() > 0:
            return True
    return False


def _describe_folder(probe: Probe) -> str:
    name = probe.path.name or probe.path.resolve().name or str(probe.path)  # "." is the folder it stands for
    names = probe.names
    if not names:
        return f"{name}/ is an empty folder"
    if any(n.endswith(".tflite") for n in names):
        return (f"{name}/ holds TensorFlow Lite models (.tflite): not supported (TF Serving serves "
                "SavedModels here); convert from the original model")
    served = [n.split("/")[0] for n in names if n.count("/") == 1 and n.split("/")[1].isdigit()
              and (probe.path / n / "saved_model.pb").is_file()]
    if "models.config" in names or served:
        example = probe.path / (served[0] if served else "NAME")
        return (f"{name}/ is a TF Serving models root (models.config / model folders NAME/): open a model folder "
                f"inside it (e.g. {example}) or run `workbench lint {probe.path}`")
    if "variables" in names or "assets" in names:
        return f"{name}/ looks like a SavedModel folder but saved_model.pb is missing: copy the whole export"
    numeric = [n for n in names if n.isdigit()]
    if numeric:
        return (f"{name}/ has version folders ({', '.join(numeric[:5])}) but none holds a saved_model.pb: "
                "a TF Serving base folder needs <version>/saved_model.pb")
    return (f"{name}/ is a folder without saved_model.pb: not a SavedModel or TF Serving base folder "
            "(open a model file inside it instead)")
