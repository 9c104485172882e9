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
from workbench.core.tfserving.model_config import VersionPolicy, parse_model_config
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


def _listing(values: list[int]) -> str:
    return ", ".join(str(v) for v in values)


def _versions_word(values: list[int]) -> str:
    return f"version{'s' if len(values) > 1 else ''} {_listing(values)}"


def _policy_findings(model: str, path: Path, policy: VersionPolicy, on_disk: list[int]) -> list[LintFinding]:
    """What a configured model_version_policy makes TF Serving serve from the versions on disk, and errors
    for `specific` versions that are not there.

    Semantics from tensorflow/serving sources/storage_path/file_system_storage_path_source.cc:
    latest serves the max(num_versions, 1) highest versions found, all serves every version found,
    specific serves the listed versions that are found and only logs a warning for the others (they are
    loaded once their folder appears; the source keeps polling)."""
    out: list[LintFinding] = []
    served = policy.served(on_disk)
    note = ""
    if policy.kind == "latest" and policy.latest_count > len(on_disk):
        note = (
            f"; num_versions {policy.latest_count} but {len(on_disk)} version(s) on disk: all are served, "
            "and newer versions are added as they appear"
        )
    if policy.kind == "specific" and policy.versions:
        missing = sorted(set(policy.versions) - set(on_disk))
        first = missing[0] if missing else 0
        if missing and not served:
            # ServerCore::Create waits for every configured model to load before the server opens its
            # gRPC/REST ports (server_core.cc ConnectAdaptersToManagerAndAwaitModelLoads)
            out.append(
                LintFinding(
                    "error",
                    f"{model}: model_version_policy specific asks for {_versions_word(missing)}, but "
                    f"{path} has only {_versions_word(on_disk)}: TF Serving serves nothing for this model",
                    f"TF Serving logs 'Version {first} of servable {model}, which was requested to be served "
                    "as a 'specific' version in the servable's version policy, was not found in the file "
                    "system' and keeps polling for it; at startup it does not open its ports until a "
                    f"version of {model} loads. Add the version folder ({path}/{first}) or list a version "
                    f"that exists ({_listing(on_disk)}) in model_version_policy",
                )
            )
        elif missing:
            out.append(
                LintFinding(
                    "error",
                    f"{model}: model_version_policy specific asks for {_versions_word(missing)}, which "
                    f"{path} does not have: TF Serving serves only {_listing(served)} until "
                    f"{'they appear' if len(missing) > 1 else 'it appears'}",
                    f"requests for /versions/{first} fail with 'Servable not found for request: "
                    f"Specific({model}, {first})' meanwhile; add the version folder ({path}/{first}) or "
                    "remove it from model_version_policy",
                )
            )
    out.append(
        LintFinding(
            "info",
            f"{model}: versions {_listing(on_disk)}; TF Serving serves {_listing(served) or 'nothing'} "
            f"(model_version_policy {policy.describe()}){note}",
        )
    )
    return out


def _label_findings(
    model: str, labels: dict[str, int], policy: VersionPolicy, on_disk: list[int] | None, path: Path | None
) -> list[LintFinding]:
    """Errors for version_labels pointing at versions TF Serving will not serve; a warning that labels
    need --allow_version_labels_for_unavailable_models at startup. `on_disk` None: the base path is not
    on this host, so only a `specific` policy can be checked.

    tensorflow/serving model_servers/server_core.cc UpdateModelVersionLabelMap: a label must point at an
    AVAILABLE version unless the flag is set (then a new label may point at any version, and requests
    through it fail until that version loads). ReloadConfig checks the labels before it loads any model,
    so at startup every label needs the flag (g3doc/serving_config.md says the same)."""
    if not labels:
        return []
    out: list[LintFinding] = []
    if on_disk is None:
        allowed = set(policy.versions) if policy.kind == "specific" else None
        served: list[int] = sorted(allowed or ())
    else:
        served = policy.served(on_disk)
        allowed = set(served)
    valid: dict[str, int] = {}
    for label, version in sorted(labels.items()):
        if allowed is None or version in allowed:
            valid[label] = version
            continue
        if on_disk is not None and version not in on_disk:
            reason = f"there is no version {version} under {path}"
        elif on_disk is not None:
            reason = f"it is on disk, but model_version_policy {policy.describe()} does not serve it"
        else:
            reason = f"model_version_policy {policy.describe()} does not include it"
        target = f"a served version ({_listing(served)})" if served else "a served version"
        out.append(
            LintFinding(
                "error",
                f"{model}: version label {label!r} points at version {version}, which TF Serving does "
                f"not serve ({reason})",
                f"TF Serving rejects the config with 'Request to assign label to version {version} of model "
                f"{model}, which is not currently available for inference'; with "
                "--allow_version_labels_for_unavailable_models=true it accepts it, but requests to "
                f"/labels/{label} fail until version {version} is served. Point the label at {target}, "
                f"or serve version {version}",
            )
        )
    if valid:
        label, version = next(iter(valid.items()))
        out.append(
            LintFinding(
                "warning",
                f"{model}: version_labels ({', '.join(f'{k} -> {v}' for k, v in valid.items())}) need "
                "tensorflow_model_server --allow_version_labels_for_unavailable_models=true to start "
                "with this config",
                "labels are checked before any version has loaded, so without the flag the server fails "
                f"with 'Request to assign label to version {version} of model {model}, which is not "
                "currently available for inference'; fine if the flag is set, or if the labels are added "
                "by a config reload once the versions are AVAILABLE",
            )
        )
    return out


def lint_model_base(
    path: Path,
    model: str | None = None,
    policy: VersionPolicy | None = None,
    labels: dict[str, int] | None = None,
) -> list[LintFinding]:
    """Lint one model base path (the folder holding numeric version folders). `policy` and `labels`
    come from the model's models.config entry (model_version_policy, version_labels)."""
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
    on_disk = sorted(by_value)
    if policy is None or not policy.explicit:
        out.append(
            LintFinding(
                "info",
                f"{model}: versions {_listing(on_disk)}; "
                f"TF Serving serves {on_disk[-1]} by default (model_version_policy latest)",
            )
        )
    else:
        out.extend(_policy_findings(model, path, policy, on_disk))
    out.extend(_label_findings(model, labels or {}, policy or VersionPolicy(), on_disk, path))
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
            for problem in entry.problems:
                out.append(
                    LintFinding(
                        "error",
                        f"{config}: model {label}: {problem}",
                        "TF Serving fails with 'Error parsing text-format "
                        "tensorflow.serving.ModelServerConfig'; fix the text",
                    )
                )
            if entry.policy.kind == "specific" and not entry.policy.versions:
                out.append(
                    LintFinding(
                        "error",
                        f"{config}: model {label} has model_version_policy specific with no versions: "
                        "TF Serving serves nothing for it",
                        "list the versions to serve (specific { versions: N }), or use latest",
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
                out.extend(_label_findings(label, entry.labels, entry.policy, None, None))
                continue
            out.extend(lint_model_base(host, entry.name or host.name, entry.policy, entry.labels))
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
