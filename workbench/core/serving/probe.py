"""Probe an endpoint: detect its protocol, report what is served, optionally predict rows; never raise.

`run_probe(ProbeOptions) -> ProbeReport`. The report's JSON is the `workbench probe --json` contract:
{"protocol", "url", "model", "versions": [{"version","state","error"}], "signatures": {...},
 "predictions": [...], "latency_ms": [...], "error": null | {"kind","message","hint"}} plus extra keys
("version", "signature", "request", "grpc", "notes", "detection").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from workbench.core.errors import InputRowsError, WorkbenchError
from workbench.core.serving.detect import (KSERVE_V1, TFSERVING, V2, Endpoint, detect_protocol,
                                           malformed_url_diagnosis, parse_endpoint)
from workbench.core.serving.diagnosis import Diagnosis, ServingError
from workbench.core.serving.http import DEFAULT_TIMEOUT, HttpSession
from workbench.core.serving.request_builder import (BuiltRequest, build_tfs_examples, build_tfs_predict,
                                                    build_v2_infer)
from workbench.core.serving.signatures import ModelMetadata, Signature, VersionStatus, pick_version
from workbench.core.serving.untrusted import clean, clean_json


@dataclass
class ProbeOptions:
    """What to probe and how."""

    url: str
    model: str | None = None
    version: int | str | None = None     # TF Serving: an integer; v2: a string such as "v1"
    label: str | None = None
    signature: str | None = None
    rows: Any = None                     # a pandas DataFrame of feature rows, or None
    grpc: str | None = None              # HOST:PORT of the gRPC port, probed too
    timeout: float = DEFAULT_TIMEOUT
    headers: dict[str, str] = field(default_factory=dict)
    verify: bool | str = True            # REST TLS: True, False (off) or a CA file
    grpc_tls: bool | str = False         # gRPC TLS: False, True (system roots) or a CA file
    columnar: bool = False
    generate: int = 0                    # without rows: make this many rows from the signature (seed 0)


@dataclass
class ProbeReport:
    """Everything the probe found; `to_json()` is the CLI contract."""

    url: str
    protocol: str | None = None
    model: str | None = None
    version: int | str | None = None
    versions: list[VersionStatus] = field(default_factory=list)
    signatures: dict[str, Signature] = field(default_factory=dict)
    signature: str | None = None
    predictions: list[Any] | None = None
    latency_ms: list[float] = field(default_factory=list)
    request: BuiltRequest | None = None
    error: Diagnosis | None = None
    grpc: ProbeReport | None = None
    notes: list[str] = field(default_factory=list)
    detection: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def failures(self) -> list[Diagnosis]:
        out = [self.error] if self.error else []
        if self.grpc is not None and self.grpc.error:
            out.append(self.grpc.error)
        return out

    @property
    def exit_code(self) -> int:
        """0 all worked, 1 the endpoint answered with an error, 2 unreachable or bad arguments."""
        fails = self.failures()
        if not fails:
            return 0
        return 2 if any(not d.reachable for d in fails) else 1

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "protocol": self.protocol,
            "url": self.url,
            "model": self.model,
            "version": self.version,
            "versions": [v.to_json() for v in self.versions],
            "signatures": {k: v.to_json() for k, v in self.signatures.items()},
            "signature": self.signature,
            "predictions": self.predictions if self.predictions is not None else [],
            "latency_ms": [round(x, 3) for x in self.latency_ms],
            "error": self.error.to_json() if self.error else None,
        }
        if self.request is not None:
            out["request"] = self.request.to_json(self.headers)
        if self.grpc is not None:
            g = self.grpc.to_json()
            g["target"] = g.pop("url")
            g.pop("request", None)
            out["grpc"] = g
        if self.notes:
            out["notes"] = list(self.notes)
        if self.detection:
            out["detection"] = self.detection
        # everything a server said (model names, states, signatures, predictions) is safe to print
        return clean_json(out)


def run_probe(opts: ProbeOptions) -> ProbeReport:
    """Probe the endpoint(s) in `opts`; failures end up in report.error, never raised.

    Notes quote what the server said: they are made safe to print here (to_json cleans the rest)."""
    report = _run_probe(opts)
    for part in (report, report.grpc):
        if part is not None:
            part.notes = [clean(n) for n in part.notes]
    return report


def _run_probe(opts: ProbeOptions) -> ProbeReport:
    report = ProbeReport(url=opts.url, model=opts.model, headers=dict(opts.headers))
    try:
        ep = parse_endpoint(opts.url)
    except ServingError as exc:
        report.error = exc.diagnosis
        return report
    if opts.version is not None and opts.label is not None:
        report.error = Diagnosis("bad-arguments", "give --version or --label, not both",
                                 "a TF Serving URL holds a version or a label, never both")
        return report
    problem = check_tls_files(opts)
    if problem is not None:  # before any network call
        report.error = problem
        return report
    if opts.verify is False:
        report.notes.append("TLS certificate verification is off (--insecure): the server's identity is "
                            "not checked")
    model = opts.model or ep.model
    version = opts.version if opts.version is not None else ep.version
    v2_version = str(opts.version) if opts.version is not None else ep.v2_version
    label = opts.label or ep.label
    report.model = model
    if ep.grpc:
        report.protocol = TFSERVING
        _probe_grpc(report, f"{ep.base.split('://', 1)[1]}", opts, model, version, label,
                    tls=opts.grpc_tls or ep.tls)
        _forget_unheard_protocol(report)
        return report
    http = HttpSession(ep.base, timeout=opts.timeout, headers=opts.headers, verify=opts.verify)
    try:
        _probe_rest(report, http, ep, opts, model, version, v2_version, label)
    except ServingError as exc:
        report.error = exc.diagnosis
    except InputRowsError as exc:
        report.error = Diagnosis("bad-rows", exc.message, exc.hint or "", details={"problems": exc.problems})
    finally:
        http.close()
    if opts.grpc and not (report.error and report.error.kind == "bad-arguments"):
        if report.protocol == V2:
            report.grpc = ProbeReport(url=opts.grpc, model=report.model or model, protocol=V2)
            _probe_v2_grpc(report.grpc, opts.grpc, opts, report.model or model, v2_version or "")
        else:
            report.grpc = ProbeReport(url=opts.grpc, model=report.model or model, protocol=TFSERVING)
            _probe_grpc(report.grpc, opts.grpc, opts, report.model or model, version, label,
                        tls=opts.grpc_tls)
        _forget_unheard_protocol(report.grpc)
    return report


def _forget_unheard_protocol(report: ProbeReport) -> None:
    """A gRPC probe assumes a protocol before it connects; when nothing answered, none was seen."""
    if report.error is not None and not report.error.reachable:
        report.protocol = None


# ---- REST -------------------------------------------------------------------------------------------

def check_tls_files(opts: ProbeOptions) -> Diagnosis | None:
    """A missing or unreadable CA file, diagnosed before any network call (None when all is well)."""
    import ssl
    from pathlib import Path

    for value in (opts.verify, opts.grpc_tls):
        if not isinstance(value, str) or isinstance(value, bool):
            continue
        path = Path(value).expanduser()
        if not path.is_file():
            return Diagnosis("bad-arguments", f"CA file not found: {value}",
                             "give the PEM file of the CA that signed the server's certificate (--ca-file)",
                             details={"ca_file": value})
        try:
            ssl.create_default_context(cafile=str(path))
        except (ssl.SSLError, OSError, ValueError):
            return Diagnosis("bad-arguments", f"CA file {value} holds no PEM certificate",
                             "--ca-file takes PEM text (-----BEGIN CERTIFICATE-----)",
                             details={"ca_file": value})
    return None


def _tfs_version(version: int | str | None) -> int | None:
    """TF Serving versions are integers: '7' -> 7; anything else is a bad argument (ServingError)."""
    if version is None or isinstance(version, int):
        return version
    text = str(version).strip()
    if text.isdigit():
        return int(text)
    raise ServingError(Diagnosis("bad-arguments", f"TF Serving versions are integers, not {text!r}",
                                 "pass --version N with a number (e.g. --version 123), or a version label "
                                 "with --label; string versions such as v1 are for v2 servers"))


def _probe_rest(report: ProbeReport, http: HttpSession, ep: Endpoint, opts: ProbeOptions, model: str | None,
                version: int | str | None, v2_version: str | None, label: str | None) -> None:
    if not ep.path_ok:
        answer = http.get(ep.path)
        message = answer.diagnosis().message if not answer.ok else f"GET {ep.path} answered {answer.status}"
        report.error = malformed_url_diagnosis(ep, message, answer.status)
        if answer.status == 404 and not answer.json_or_none():
            report.error.message = f"HTTP 404 without a body for {ep.path}"
        return
    protocol = ep.protocol_hint
    if protocol is None:
        protocol, evidence = detect_protocol(http, model)
        report.detection = evidence
    report.protocol = protocol
    if protocol is None:
        first = http.get(f"/v1/models/{model}" if model else "/v1/models")
        if not first.ok and first.status != 404:  # a proxy page, an auth gateway, a server error
            report.error = first.diagnosis()
            return
        report.error = Diagnosis("unknown-protocol", f"{ep.base} answers HTTP, but neither as TF Serving, "
                                 "KServe v1 nor v2", "check the port: TF Serving REST is 8501 (gRPC 8500), "
                                 "KServe/MLServer 8080, Triton 8000", details=report.detection)
        return
    if protocol == V2:
        _probe_v2(report, http, opts, model, v2_version)
    elif protocol == KSERVE_V1:
        _probe_kserve_v1(report, http, opts, model)
    else:
        _probe_tfs_rest(report, http, opts, model, _tfs_version(version), label)


def _require_model(report: ProbeReport, model: str | None, what: str) -> bool:
    if model:
        return True
    report.error = Diagnosis("model-required",
                             f"the endpoint speaks {report.protocol}, but no model was named: pass --model "
                             "NAME",
                             f"pass --model NAME ({what})")
    return False


def _probe_tfs_rest(report: ProbeReport, http: HttpSession, opts: ProbeOptions, model: str | None,
                    version: int | None, label: str | None) -> None:
    from workbench.core.serving.rest import TFServingRestClient

    if not _require_model(report, model, "TF Serving cannot list its models over REST"):
        return
    assert model is not None
    client = TFServingRestClient(http.base, http=http)
    statuses = client.model_status(model)
    report.versions = statuses
    if version is not None or label is not None:
        chosen = client.model_status(model, version, label)
        report.version = chosen[0].version if chosen else version
        if chosen and chosen[0].state != "AVAILABLE":
            detail = f": {chosen[0].error}" if chosen[0].error else ""
            report.error = Diagnosis("version-not-available",
                                     f"version {chosen[0].version} is {chosen[0].state}{detail}",
                                     "pick an AVAILABLE version (see versions)")
            return
    else:
        best = pick_version(statuses)
        if best is None:
            errors = "; ".join(f"{s.version}: {s.state} {s.error or ''}".strip() for s in statuses)
            report.error = Diagnosis("model-not-available",
                                     f"no version of {model!r} is AVAILABLE ({errors})",
                                     "a version in state END failed to load or was unloaded: see its error "
                                     "and the server log")
            return
        report.version = best.version
    meta = client.metadata(model, report.version if label is None else None, label)
    report.signatures = meta.signatures
    if not _wants_prediction(opts):
        return
    sig = _choose_signature(report, meta, opts.signature)
    if sig is None:
        return
    report.signature = sig.name
    rows = _rows_for(report, opts, sig)
    url = http.url(_path_for(model, version, label))
    built = build_tfs_examples(sig, rows, url) if sig.takes_examples else \
        build_tfs_predict(sig, rows, url, columnar=opts.columnar)
    report.request = built
    report.notes.extend(built.notes)
    start = time.perf_counter()
    answer = client.send(model, built.verb, built.body, version=version, label=label)
    report.latency_ms.append((time.perf_counter() - start) * 1000.0)
    report.predictions = _rest_predictions(answer, f"{url}:{built.verb}")


def _wants_prediction(opts: ProbeOptions) -> bool:
    return opts.rows is not None or opts.generate > 0


def _rows_for(report: ProbeReport, opts: ProbeOptions, sig: Signature) -> Any:
    """The rows to send: the user's, or `opts.generate` rows made from the signature (seed 0)."""
    if opts.rows is not None:
        return opts.rows
    rows = generated_rows(sig, opts.generate, model=report.model)
    note = f"{len(rows)} row(s) generated from signature {sig.name!r} (seed 0)"
    if note not in report.notes:
        report.notes.append(note)
    return rows


def generated_rows(sig: Signature, n: int, seed: int = 0, model: str | None = None) -> Any:
    """Plausible rows for a signature's inputs (workbench.core.rows.generate_rows on its TensorSpecs).

    `model` names the served model in messages ("the model iris does not describe its inputs")."""
    from workbench.core.rows import generate_rows
    from workbench.core.types import ModelInfo, TensorSpec

    if sig.takes_examples:
        raise InputRowsError(f"signature {sig.name!r} takes serialized tf.Example protos: their features are "
                             "not in the signature, so rows cannot be generated", hint="give --rows")
    specs = [TensorSpec(alias, meta.numpy_dtype,
                        None if meta.shape is None else tuple(None if d < 0 else d for d in meta.shape))
             for alias, meta in sig.inputs.items()]
    if not specs:
        what = f"model {model!r}" if model else f"signature {sig.name!r}"
        raise InputRowsError(f"the {what} does not describe its inputs (its metadata lists none), so rows "
                             "cannot be generated", hint="give --rows")
    info = ModelInfo(path=model or sig.name, format="savedmodel", framework="serving", inputs=specs)
    return generate_rows(info, n, seed=seed)


def _path_for(model: str, version: int | None, label: str | None) -> str:
    from workbench.core.serving.rest import model_path

    return model_path(model, version, label)


def _invalid_answer(answer: Any, keys: tuple[str, ...], url: str) -> ServingError:
    what = f"keys {', '.join(sorted(map(str, answer))[:8])}" if isinstance(answer, dict) and answer else \
        (f"a JSON {type(answer).__name__}" if not isinstance(answer, dict) else "an empty object")
    return ServingError(Diagnosis(
        "invalid-answer",
        f"the server answered 200, but not with predictions: its answer has {what}, none of "
        f"{', '.join(keys)}",
        f"a model server answers {url} with {' or '.join(repr(k) for k in keys)}: another service, or a "
        "broken proxy, answers there", status=200))


def _rest_predictions(answer: dict[str, Any], url: str = "") -> list[Any]:
    keys = ("predictions", "results", "outputs")
    if not isinstance(answer, dict) or not any(k in answer for k in keys):
        raise _invalid_answer(answer, keys, url or "this URL")
    for key in ("predictions", "results", "outputs"):
        if key in answer:
            value = answer[key]
            if isinstance(value, dict):  # columnar, several outputs -> rows
                names = list(value)
                n = len(value[names[0]]) if names else 0
                return [{k: value[k][i] for k in names} for i in range(n)]
            return value
    return []


def _choose_signature(report: ProbeReport, meta: ModelMetadata, wanted: str | None) -> Signature | None:
    if wanted:
        sig = meta.signatures.get(wanted)
        if sig is None:
            names = sorted(meta.signatures)
            report.error = Diagnosis("unknown-signature", f"the model has no signature {wanted!r}",
                                     f"signatures served: {', '.join(names)}", details={"signatures": names})
        return sig
    sig = meta.default_signature()
    if sig is None:
        names = sorted(s for s in meta.signatures if not s.startswith("__"))
        report.error = Diagnosis("signature-required", "the model has no serving_default signature",
                                 f"pass --signature, one of: {', '.join(names)}",
                                 details={"signatures": names})
    return sig


def _probe_kserve_v1(report: ProbeReport, http: HttpSession, opts: ProbeOptions, model: str | None) -> None:
    if not model:
        listing = http.get("/v1/models").json_or_none() or {}
        models = listing.get("models") if isinstance(listing, dict) else None
        if isinstance(models, list) and len(models) == 1:
            model = str(models[0])
            report.notes.append(f"the endpoint serves one model: {model}")
        elif not _require_model(report, model, "served: " + ", ".join(map(str, models or []))):
            return
    assert model is not None
    report.model = model
    answer = http.get(f"/v1/models/{model}")
    if not answer.ok:
        report.error = answer.diagnosis()
        listing = http.get("/v1/models").json_or_none()
        if answer.status == 404 and isinstance(listing, dict) and isinstance(listing.get("models"), list):
            names = [str(m) for m in listing["models"]]
            report.error.kind = "model-not-found"
            report.error.details["served_models"] = names
            report.error.hint = f"no model {model!r} here; served models: {', '.join(names) or 'none'}"
        return
    body = answer.json_or_none() or {}
    report.versions = [VersionStatus(version=None, state="AVAILABLE" if body.get("ready") else "LOADING")]
    report.notes.append("KServe v1 has no metadata API: the signature is unknown, rows are sent as they are")
    if opts.rows is None:
        if opts.generate:
            report.notes.append("KServe v1 publishes no signature: rows cannot be generated, give --rows")
        return
    records = opts.rows.to_dict(orient="records")
    columns = [str(c) for c in opts.rows.columns]
    instances = [[_num(r[c]) for c in columns] for r in records]
    body = {"instances": instances}
    start = time.perf_counter()
    result = http.post(f"/v1/models/{model}:predict", body)
    report.latency_ms.append((time.perf_counter() - start) * 1000.0)
    if not result.ok:
        report.error = result.diagnosis()
        return
    report.predictions = _rest_predictions(result.json(), result.url)


def _num(value: Any) -> Any:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return value
    return int(f) if f.is_integer() and isinstance(value, int) else f


def _probe_v2(report: ProbeReport, http: HttpSession, opts: ProbeOptions, model: str | None,
              version: str | None) -> None:
    from workbench.core.serving.v2 import V2RestClient, v2_model_path, v2_output_arrays

    client = V2RestClient(http.base, http=http)
    server = http.get("/v2").json_or_none()
    if isinstance(server, dict):
        report.detection["server"] = {k: server.get(k) for k in ("name", "version") if k in server}
    if not model:
        models = client.list_models() or []
        names = sorted({str(m.get("name")) for m in models if isinstance(m, dict)})
        if len(names) == 1:
            model = names[0]
            report.notes.append(f"the endpoint serves one model: {model}")
        elif not _require_model(report, model, "served: " + (", ".join(names) or "unknown")):
            return
    assert model is not None
    report.model = model
    meta = client.model_metadata(model, version)
    report.signatures = meta.signatures
    ready = client.model_ready(model, version)
    report.versions = _v2_versions(meta, ready, version, client.model_versions(model))
    report.version = version if version else (report.versions[0].version if len(report.versions) == 1
                                              else None)
    if not _wants_prediction(opts):
        return
    sig = meta.signatures["infer"]
    report.signature = "infer"
    built = build_v2_infer(sig, _rows_for(report, opts, sig), http.url(v2_model_path(model, version)),
                           model=model)
    report.request = built
    report.notes.extend(built.notes)
    start = time.perf_counter()
    answer = client.infer(model, built.body["inputs"], version=version)
    report.latency_ms.append((time.perf_counter() - start) * 1000.0)
    if not isinstance(answer, dict) or not isinstance(answer.get("outputs"), list):
        raise _invalid_answer(answer, ("outputs",), built.url)
    outputs = v2_output_arrays(answer)
    report.predictions = _rows_of(outputs)


def _v2_versions(meta: ModelMetadata, ready: bool, asked: str | None,
                 index: list[dict[str, Any]] | None = None) -> list[VersionStatus]:
    """A v2 model's versions (strings, as the server names them): from its metadata, else from the
    repository index (MLServer lists `"versions": []` in the metadata but the version in the index)."""
    state = "AVAILABLE" if ready else "UNAVAILABLE"
    listed = [str(v) for v in ((meta.raw.get("versions") or []) if isinstance(meta.raw, dict) else [])]
    if listed:
        return [VersionStatus(version=v, state=state if asked in (None, v) else "UNKNOWN") for v in listed]
    out = []
    for entry in index or []:
        v = entry.get("version")
        if v in (None, "") or (asked and str(v) != asked):
            continue
        entry_state = str(entry.get("state") or "")
        reason = str(entry.get("reason") or "")
        out.append(VersionStatus(version=str(v), state="AVAILABLE" if entry_state == "READY" else
                                 (entry_state or state), error_code="OK" if not reason else entry_state,
                                 error_message=reason))
    if out:
        return out
    return [VersionStatus(version=asked or None, state=state)]


def _rows_of(outputs: dict[str, Any]) -> list[Any]:
    """Per-row predictions from named output arrays: plain values for one output, dicts for several."""
    import numpy as np

    def plain(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            return [plain(x) for x in v] if v.dtype == object else v.tolist()
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
        return v.item() if isinstance(v, np.generic) else v

    if not outputs:
        return []
    if len(outputs) == 1:
        (arr,) = outputs.values()
        return plain(arr) if getattr(arr, "ndim", 0) else [plain(arr)]
    n = min(len(a) if getattr(a, "ndim", 0) else 1 for a in outputs.values())
    return [{k: plain(a[i]) for k, a in sorted(outputs.items())} for i in range(n)]


# ---- gRPC -------------------------------------------------------------------------------------------

def _probe_grpc(report: ProbeReport, target: str, opts: ProbeOptions, model: str | None,
                version: int | str | None, label: str | None, tls: bool | str) -> None:
    from workbench.core.serving.grpc_client import TFServingGrpcClient

    if not _require_model(report, model, "TF Serving cannot list its models over gRPC"):
        return
    assert model is not None
    try:
        version = _tfs_version(version)
    except ServingError as exc:
        report.error = exc.diagnosis
        return
    try:
        client = TFServingGrpcClient(target, timeout=opts.timeout, headers=opts.headers, tls=tls)
    except (OSError, ValueError) as exc:
        report.error = Diagnosis("bad-arguments", f"cannot set up gRPC to {target}: {exc}", "check --grpc / "
                                 "the CA file")
        return
    try:
        report.versions = client.model_status(model)
        if version is None and label is None:
            best = pick_version(report.versions)
            report.version = best.version if best else None
        meta = client.metadata(model, version, label)
        report.version = meta.version if meta.version is not None else report.version
        report.signatures = meta.signatures
        if not _wants_prediction(opts):
            return
        sig = _choose_signature(report, meta, opts.signature)
        if sig is None:
            return
        report.signature = sig.name
        rows = _rows_for(report, opts, sig)
        start = time.perf_counter()
        if sig.takes_examples:
            built = build_tfs_examples(sig, rows, target)
            if built.verb == "classify":
                classes = client.classify(model, built.examples, signature=sig.name, version=version,
                                          label=label)
                results: list[Any] = [[list(c) for c in row] for row in classes]
            else:
                results = client.regress(model, built.examples, signature=sig.name, version=version,
                                         label=label)
            report.latency_ms.append((time.perf_counter() - start) * 1000.0)
            report.predictions = results
        else:
            built = build_tfs_predict(sig, rows, target)
            start = time.perf_counter()
            outputs, _spec = client.predict(model, built.arrays, signature=sig.name, version=version,
                                            label=label, dtypes=built.dtypes)
            report.latency_ms.append((time.perf_counter() - start) * 1000.0)
            report.predictions = _rows_of(outputs)
        report.notes.extend(n for n in built.notes if n not in report.notes)
    except ServingError as exc:
        report.error = exc.diagnosis
    except InputRowsError as exc:
        report.error = Diagnosis("bad-rows", exc.message, exc.hint or "", details={"problems": exc.problems})
    except WorkbenchError as exc:
        report.error = Diagnosis(exc.kind, exc.message, exc.hint or "")
    finally:
        client.close()


def _probe_v2_grpc(report: ProbeReport, target: str, opts: ProbeOptions, model: str | None,
                   version: str) -> None:
    from workbench.core.serving.v2_grpc import V2GrpcClient

    if not _require_model(report, model, "the v2 gRPC API cannot list models"):
        return
    assert model is not None
    client = V2GrpcClient(target, timeout=opts.timeout, headers=opts.headers, tls=opts.grpc_tls)
    try:
        meta = client.model_metadata(model, version)
        ready = client.model_ready(model, version)
        report.signatures = meta.signatures
        report.versions = _v2_versions(meta, ready, version or None)
        report.version = version or (report.versions[0].version if len(report.versions) == 1 else None)
        if not _wants_prediction(opts):
            return
        report.signature = "infer"
        built = build_v2_infer(meta.signatures["infer"], _rows_for(report, opts, meta.signatures["infer"]),
                               target, model=model)
        start = time.perf_counter()
        outputs = client.infer(model, built.body["inputs"], version=version)
        report.latency_ms.append((time.perf_counter() - start) * 1000.0)
        report.predictions = _rows_of(outputs)
    except ServingError as exc:
        report.error = exc.diagnosis
    except InputRowsError as exc:
        report.error = Diagnosis("bad-rows", exc.message, exc.hint or "", details={"problems": exc.problems})
    finally:
        client.close()
