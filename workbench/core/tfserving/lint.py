"""Lint a TF Serving folder (a models root with models.config, a folder of model base paths, or one
model base path) for the mistakes TF Serving users hit; findings are LintFinding values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from workbench.core.errors import CorruptModel
from workbench.core.formats.protowire import WireError
from workbench.core.tfserving.layout import (
    CONFIG_FILE,
    CONTAINER_ROOT,
    MAX_WARMUP_RECORDS,
    WARMUP_FILE,
    BundleError,
)
from workbench.core.tfserving.model_config import parse_model_config
from workbench.core.tfserving.warmup import read_tfrecords, unwrap_prediction_log

_METHODS = ("tensorflow/serving/predict", "tensorflow/serving/classify", "tensorflow/serving/regress")


@dataclass(frozen=True)
class LintFinding:
    """One problem (or note) about a TF Serving folder."""

    level: str  # "error" | "warning" | "info"
    message: str
    hint: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def _has_variable_ops(pb: Path) -> bool:
    data = pb.read_bytes()
    return any(op in data for op in (b"VarHandleOp", b"VariableV2", b"RestoreV2"))


def _lint_version(model: str, vdir: Path) -> list[LintFinding]:
    from workbench.core.formats.savedmodel import read_saved_model_pb

    out: list[LintFinding] = []
    pb, pbtxt = vdir / "saved_model.pb", vdir / "saved_model.pbtxt"
    if not pb.is_file() and not pbtxt.is_file() and (vdir / "model.tflite").is_file():
        out.append(
            LintFinding(
                "warning",
                f"{model} version {vdir.name}: holds model.tflite, no saved_model.pb",
                "TF Serving serves it only with --prefer_tflite_model=true",
            )
        )
        return out
    if not pb.is_file() and not pbtxt.is_file():
        contents = sorted(p.name for p in vdir.iterdir()) if vdir.is_dir() else []
        out.append(
            LintFinding(
                "error",
                f"{model} version {vdir.name}: no saved_model.pb in {vdir}",
                "a version folder must hold the SavedModel itself (saved_model.pb, variables/); "
                f"found: {', '.join(contents) or 'nothing'}",
            )
        )
        return out
    if not pb.is_file():
        out.append(
            LintFinding(
                "info", f"{model} version {vdir.name}: text-format saved_model.pbtxt (signatures not checked)"
            )
        )
        return out
    try:
        graphs = read_saved_model_pb(pb)
    except CorruptModel as exc:
        out.append(
            LintFinding(
                "error",
                f"{model} version {vdir.name}: {exc.message}",
                "re-export the model; the file is truncated or damaged",
            )
        )
        return out
    serve = [g for g in graphs if "serve" in g["tags"]]
    if not serve:
        out.append(
            LintFinding(
                "error",
                f"{model} version {vdir.name}: no MetaGraph tagged 'serve' "
                f"(tags: {[g['tags'] for g in graphs]})",
                "TF Serving loads the 'serve' tag: export with tf.saved_model.save or "
                "tags=[tf.saved_model.SERVING]",
            )
        )
        return out
    sigs = {k: v for k, v in serve[0]["signatures"].items() if not k.startswith("__")}
    if "serving_default" not in sigs:
        out.append(
            LintFinding(
                "error",
                f"{model} version {vdir.name}: no 'serving_default' signature "
                f"(has: {', '.join(sigs) or 'none'})",
                "requests without signature_name fail with 'Serving signature name: "
                '"serving_default" not found '
                "in signature def'; name one of the existing signatures or re-export with a serving_default",
            )
        )
    for key, sig in sigs.items():
        if sig["method"] and sig["method"] not in _METHODS:
            out.append(
                LintFinding(
                    "warning",
                    f"{model} version {vdir.name}: signature {key!r} has method {sig['method']!r}",
                    f"TF Serving expects one of {', '.join(_METHODS)}",
                )
            )
    default = sigs.get("serving_default")
    if default:
        if not default["inputs"]:
            out.append(
                LintFinding("warning", f"{model} version {vdir.name}: serving_default takes no inputs")
            )
        strings = [a for a, i in default["inputs"].items() if i["dtype"] == 7 and i["shape"] is None]
        if strings and default["method"].endswith(("classify", "regress")):
            out.append(
                LintFinding(
                    "info",
                    f"{model} version {vdir.name}: serving_default takes serialized "
                    f"tf.Example ({', '.join(strings)})",
                    "use :classify/:regress with 'examples', not :predict with numbers",
                )
            )
    variables = vdir / "variables"
    has_index = (variables / "variables.index").is_file()
    data_files = list(variables.glob("variables.data-*")) if variables.is_dir() else []
    if _has_variable_ops(pb) and not has_index:
        out.append(
            LintFinding(
                "error",
                f"{model} version {vdir.name}: the graph has variables but "
                f"{'variables/ is missing' if not variables.is_dir() else 'variables/ is empty'}",
                "copy the whole SavedModel folder, including variables/variables.index and variables.data-*",
            )
        )
    elif has_index and not data_files:
        out.append(
            LintFinding(
                "error",
                f"{model} version {vdir.name}: variables/variables.index without variables.data-* shards",
                "the copy is incomplete: copy variables/ again",
            )
        )
    warmup = vdir / WARMUP_FILE
    if warmup.is_file():
        try:
            records = read_tfrecords(warmup)
            for record in records:
                unwrap_prediction_log(record)
            level, msg = "info", f"{model} version {vdir.name}: {len(records)} warmup request(s)"
            if len(records) > MAX_WARMUP_RECORDS:
                level, msg = "warning", f"{msg}; TF Serving replays at most {MAX_WARMUP_RECORDS}"
            out.append(LintFinding(level, msg))
        except (CorruptModel, WireError) as exc:
            out.append(
                LintFinding(
                    "error",
                    f"{model} version {vdir.name}: unreadable warmup file {warmup.name} ({exc})",
                    "TF Serving fails to load a version whose warmup file is damaged; remove or rewrite it",
                )
            )
    return out


def lint_model_base(path: Path, model: str | None = None) -> list[LintFinding]:
    """Lint one model base path (the folder holding numeric version folders)."""
    path = Path(path)
    model = model or (path.parent.name if path.name.isdigit() else path.name)
    out: list[LintFinding] = []
    if not path.is_dir():
        return [
            LintFinding(
                "error",
                f"{model}: base path {path} does not exist",
                "create it, or fix base_path / the bind mount",
            )
        ]
    if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
        if path.name.isdigit():
            hint = f"use the base path {path.parent} (tensorflow/serving#1419)"
        else:
            hint = (
                f"move the SavedModel into a numeric version folder such as {path}/1/ "
                "(tensorflow/serving#1419)"
            )
        return [
            LintFinding(
                "error",
                f"{path} is a SavedModel (version) folder, not a base path: TF Serving logs "
                f"'No versions of servable {model} found under base path {path}'",
                hint,
            )
        ]
    dirs = [p for p in sorted(path.iterdir()) if p.is_dir()]
    numeric = [p for p in dirs if p.name.isdigit()]
    hidden = [p for p in dirs if p.name.startswith(".")]
    ignored = [p for p in dirs if not p.name.isdigit() and not p.name.startswith(".")]
    if ignored:
        out.append(
            LintFinding(
                "warning" if not numeric else "info",
                f"{model}: folder(s) {', '.join(p.name for p in ignored)} are not numeric and are "
                "ignored by TF Serving",
                "only folders named by an integer (1, 2, 00000123) are versions",
            )
        )
    if hidden:
        out.append(
            LintFinding(
                "info",
                f"{model}: hidden folder(s) {', '.join(p.name for p in hidden)} ignored "
                "(left over from an interrupted install?)",
            )
        )
    if not numeric:
        out.append(
            LintFinding(
                "error",
                f"No versions of servable {model} found under base path {path}",
                "put the SavedModel in a numeric subfolder, e.g. "
                f"{path}/1/saved_model.pb (tensorflow/serving#1419)",
            )
        )
        return out
    by_value: dict[int, list[str]] = {}
    for p in numeric:
        by_value.setdefault(int(p.name), []).append(p.name)
    for value, names in by_value.items():
        if len(names) > 1:
            out.append(
                LintFinding(
                    "error",
                    f"{model}: folders {', '.join(names)} are the same version {value}",
                    "keep one of them",
                )
            )
    for p in numeric:
        out.extend(_lint_version(model, p))
    latest = max(by_value)
    out.append(
        LintFinding(
            "info",
            f"{model}: versions {', '.join(str(v) for v in sorted(by_value))}; "
            f"TF Serving serves {latest} by default (model_version_policy latest)",
        )
    )
    return out


def _host_path(base: Path, base_path: str) -> Path:
    if base_path == CONTAINER_ROOT or base_path.startswith(CONTAINER_ROOT + "/"):
        return base / base_path[len(CONTAINER_ROOT) :].lstrip("/")
    return Path(base_path)


def lint_base_folder(path: Path | str) -> list[LintFinding]:
    """Lint a TF Serving folder: a models root with models.config, a folder of model base paths, or
    one model base path. Returns findings (errors first)."""
    path = Path(path)
    if not path.exists():
        return [LintFinding("error", f"{path} does not exist")]
    if not path.is_dir():
        return [
            LintFinding(
                "error",
                f"{path} is a file; TF Serving needs a folder",
                "point at the model base path (the folder holding numeric version folders)",
            )
        ]
    out: list[LintFinding] = []
    config = path / CONFIG_FILE
    if config.is_file():
        try:
            entries = parse_model_config(config.read_text())
        except BundleError as exc:
            return [LintFinding("error", str(exc), "fix the text-format ModelServerConfig")]
        if not entries:
            out.append(LintFinding("error", f"{config}: no model config entries"))
        seen: set[str] = set()
        for entry in entries:
            label = entry.name or "(unnamed)"
            if not entry.name:
                out.append(LintFinding("error", f"{config}: a config entry has no name"))
            elif entry.name in seen:
                out.append(LintFinding("error", f"{config}: model {entry.name!r} is configured twice"))
            seen.add(entry.name)
            if entry.platform != "tensorflow":
                out.append(
                    LintFinding(
                        "error" if entry.platform else "warning",
                        f"{config}: model {label} has model_platform {entry.platform or 'unset'!r}",
                        'set model_platform: "tensorflow"',
                    )
                )
            if not entry.base_path:
                out.append(LintFinding("error", f"{config}: model {label} has no base_path"))
                continue
            last = entry.base_path.rstrip("/").rsplit("/", 1)[-1]
            if last.isdigit():
                out.append(
                    LintFinding(
                        "error",
                        f"{config}: model {label} base_path {entry.base_path} ends in a version folder",
                        "base_path excludes the version: use "
                        f"{entry.base_path.rstrip('/').rsplit('/', 1)[0]} "
                        "(tensorflow/serving#1419)",
                    )
                )
                continue
            host = _host_path(path, entry.base_path)
            if not host.exists():
                out.append(
                    LintFinding(
                        "warning",
                        f"{config}: model {label} base_path {entry.base_path} is not here ({host})",
                        "fine if it exists on the serving host; otherwise fix it",
                    )
                )
                continue
            out.extend(lint_model_base(host, entry.name or host.name))
        configured = {_host_path(path, e.base_path).resolve() for e in entries if e.base_path}
        for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if sub.resolve() not in configured and any(
                c.is_dir() and c.name.isdigit() for c in sub.iterdir()
            ):
                out.append(
                    LintFinding(
                        "warning",
                        f"{sub.name} has versions but is not in {CONFIG_FILE}",
                        "TF Serving with --model_config_file serves only the configured models",
                    )
                )
    else:
        dirs = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
        is_model_base = any(p.name.isdigit() for p in dirs) or (path / "saved_model.pb").is_file()
        children = sorted(p for p in dirs if any(c.is_dir() and c.name.isdigit() for c in p.iterdir()))
        if is_model_base or not children:
            out.extend(lint_model_base(path))
        else:
            out.append(
                LintFinding(
                    "info",
                    f"{path}: no {CONFIG_FILE}; model base paths found: "
                    f"{', '.join(p.name for p in children)}",
                    "serve one with MODEL_NAME, or all with a models.config",
                )
            )
            for child in children:
                out.extend(lint_model_base(child))
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda f: order.get(f.level, 3))
