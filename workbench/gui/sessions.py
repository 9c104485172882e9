"""File ▸ Save Session / Open Session, and the offer to restore the last one at start.

The format (and its validation) is `workbench.core.session`; this module gathers the window's state into
a `Session` and puts one back: models are reopened through the loader with the trust decision saved for
their sha256 (a changed file is asked again), their rows, last predictions and last benchmark follow once
they load, and the last load test is drawn back into the Endpoints page; each view marks what it shows
"restored from session <file>" until a new run replaces it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QToolBar, QWidget

from workbench.core.errors import WorkbenchError
from workbench.core.session import (
    RowSource,
    Session,
    SessionEndpoint,
    SessionModel,
    batch_from_json,
    batch_to_json,
    load_session,
    mask_headers,
    rows_to_inline,
    save_session,
)
from workbench.gui.notifications import notify

LAST_KEY = "session/last"


def collect(window: Any, keep_header_values: bool = False) -> Session:
    """The window's state as a Session (header values masked unless `keep_header_values`)."""
    session = Session()
    for doc in window.documents():
        m = SessionModel(path=doc.path, sha256=window.loader.sha256.get(doc.path, ""), trusted=bool(doc.trusted))
        if doc.rows is not None:   # inline: edited rows are kept as they are on screen
            frame = doc.rows
            m.rows_inline = rows_to_inline(list(frame.columns), frame.astype(object).values.tolist())
        m.predictions = {name: batch_to_json(b) for name, b in (doc.predictions or {}).items()}
        if doc.benchmark is not None:
            from workbench.core.bench.results import from_local

            try:
                m.benchmark = from_local(doc.benchmark).to_json()
            except Exception:  # noqa: BLE001 - a result this version cannot describe is left out
                m.benchmark = None
        session.models.append(m)
    current = window.current_document()
    session.current_model = current.path if current is not None else ""
    page = window.pages.get("endpoints")
    view = page.view() if page is not None and page.built else None
    endpoints = list(window.settings.endpoints())
    if view is not None and getattr(view, "url", None) is not None and view.url.text().strip():
        try:
            form = view.endpoint()
        except ValueError:
            form = None
        if form is not None:
            endpoints = [e for e in endpoints if e.name != form.name] + [form]
            session.current_endpoint = form.name
    for ep in endpoints:
        rows = view.row_source() if view is not None and ep.name == session.current_endpoint else \
            (view._stored_row_source(ep.name) if view is not None else RowSource())
        session.endpoints.append(SessionEndpoint(
            name=ep.name, url=ep.url, model=ep.model, grpc_target=ep.grpc_target,
            headers=mask_headers(ep.headers, keep_header_values), verify_tls=ep.verify_tls, ca_file=ep.ca_file,
            timeout_s=ep.timeout_s, rows=rows))
    if view is not None:
        if view.report is not None:
            session.probe = view.report.to_json()
        if view.load_test.result is not None:
            from workbench.core.bench.results import from_load

            session.load = from_load(view.load_test.result).to_json()
    return session


def save(window: Any, path: str, keep_header_values: bool = False) -> str:
    """Save the session; returns the sentence for the status bar (it says what was left out)."""
    session = collect(window, keep_header_values)
    save_session(path, session)
    store = getattr(window.settings, "store", None)
    if store is not None:
        store.setValue(LAST_KEY, str(path))
    masked = sorted({h for e in session.endpoints for h in e.masked_headers})
    note = f"; header values not saved: {', '.join(masked)}" if masked else ""
    if keep_header_values and any(e.headers for e in session.endpoints):
        note = "; header values (tokens) ARE saved in it: keep the file private"
    return f"Session saved to {path} ({len(session.models)} models, {len(session.endpoints)} endpoints{note})"


def restore(window: Any, path: str) -> Session | None:
    """Open a session file: reopen its models (trust by sha256), endpoints and rows. A bad file is one
    error in the Messages panel, never a crash."""
    try:
        session = load_session(path)
    except WorkbenchError as exc:
        notify(exc.message, "error", hint=exc.hint or "", context=f"open session {Path(path).name}")
        return None
    window._session_pending = {str(Path(m.path).resolve()): m for m in session.models}
    window.restored_session = session
    window.restored_session_path = str(path)
    missing = [m.path for m in session.models if not Path(m.path).exists()]
    for p in missing:
        notify(f"{p} is gone: not reopened", "warning", context="open session")
    known = {m.path: (m.sha256, m.trusted) for m in session.models if m.sha256}
    paths = [m.path for m in session.models if m.path not in missing]
    if paths:
        window.loader.open_paths(paths, known=known)
    if session.endpoints:
        view = window.page("endpoints")
        for e in session.endpoints:
            view._store_row_source(e.name, e.rows)
        chosen = next((e for e in session.endpoints if e.name == session.current_endpoint), session.endpoints[-1])
        from workbench.gui.settings import Endpoint

        view.set_endpoint(Endpoint(name=chosen.name, url=chosen.url, model=chosen.model,
                                   grpc_target=chosen.grpc_target,
                                   headers={k: v or "" for k, v in chosen.headers.items()},
                                   verify_tls=chosen.verify_tls, ca_file=chosen.ca_file, timeout_s=chosen.timeout_s))
        view.set_row_source(chosen.rows)
        if session.load is not None:
            try:
                load = load_from_json(session.load)
            except Exception as exc:  # noqa: BLE001 - a saved result this version cannot read is a message
                notify(f"the saved load-test result cannot be shown ({exc})", "warning", context="open session")
            else:
                view.load_test.show_restored(load, Path(path).name)
        if chosen.masked_headers:
            notify(f"endpoint {chosen.name}: the values of {', '.join(chosen.masked_headers)} were not saved; "
                   "type them again", "warning", context="open session")
    store = getattr(window.settings, "store", None)
    if store is not None:
        store.setValue(LAST_KEY, str(path))
    return session


def apply_to_document(window: Any, doc: Any) -> None:
    """A model of the session loaded: give it its saved rows, last predictions and last benchmark."""
    pending = getattr(window, "_session_pending", None) or {}
    m = pending.pop(str(Path(doc.path).resolve()), None)
    if m is None:
        return
    import pandas as pd

    if m.rows_inline is not None:
        frame = pd.DataFrame(m.rows_inline["data"], columns=m.rows_inline["columns"])
        frame.attrs["source"] = "the session"
        doc.set_rows(frame)
    elif m.rows_path:
        from workbench.core.rows import read_rows

        try:
            doc.set_rows(read_rows(m.rows_path))
        except WorkbenchError as exc:
            notify(f"rows of {doc.name} from {m.rows_path}: {exc.message}", "warning", context="open session")
    source = Path(getattr(window, "restored_session_path", "") or "session").name
    if m.benchmark is not None:
        try:
            doc.benchmark = local_from_json(m.benchmark)
        except Exception as exc:  # noqa: BLE001 - a saved result this version cannot read is a message
            notify(f"the saved benchmark of {doc.name} cannot be shown ({exc})", "warning", context="open session")
        else:
            doc.restored_from.append((doc.benchmark, source))
    if m.predictions:
        doc.set_predictions({name: batch_from_json(b) for name, b in m.predictions.items()})
        doc.restored_from.append((doc.predictions, source))


def restored_note(doc: Any, value: Any) -> str:
    """"restored from session <file>" while `value` (the doc's predictions or benchmark) is the one the
    session gave it; "" once it was replaced by a new run."""
    source = next((name for obj, name in getattr(doc, "restored_from", []) if obj is value), None) \
        if value is not None else None
    return f"restored from session {source}" if source else ""


def _stats(row: dict[str, Any], prefix: str = "") -> Any:
    from workbench.core.bench.stats import LatencyStats

    return LatencyStats.from_json({k[len(prefix):]: v for k, v in row.items() if k.startswith(prefix)})


def _plan_args(plan: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: plan[k] for k in names if k in plan}


def local_from_json(data: dict[str, Any]) -> Any:
    """The LocalBenchResult a session's benchmark (a BenchResult JSON, `results.from_local`) describes."""
    from workbench.core.bench.local import LocalBenchResult, LocalConfigResult, LocalPlan
    from workbench.core.bench.results import row_histogram

    if data.get("kind") != "local" or not isinstance(data.get("rows"), list):
        raise ValueError("not a local benchmark result")
    plan = dict(data.get("plan") or {})
    args = _plan_args(plan, ("duration_s", "count", "warmup_calls", "warmup_s", "timed"))
    if plan.get("runtimes"):
        args["runtimes"] = tuple(plan["runtimes"])
    if plan.get("batch_sizes"):
        args["batch_sizes"] = tuple(int(b) for b in plan["batch_sizes"])
    configs = []
    for row in data["rows"]:
        configs.append(LocalConfigResult(
            runtime=str(row["runtime"]), batch_size=int(row["batch_size"]), calls=int(row.get("calls") or 0),
            rows=int(row.get("rows") or 0), elapsed_s=float(row.get("elapsed_s") or 0.0),
            throughput_rows_s=float(row.get("throughput_rows_s") or 0.0), latency=_stats(row),
            load_s=row.get("load_s"), rss_load_delta_mb=row.get("rss_load_delta_mb"),
            rss_peak_delta_mb=row.get("rss_peak_delta_mb"), rss_mb=row.get("rss_mb"),
            stopped_by=str(row.get("stopped_by") or ""), error=row.get("error"), histogram=row_histogram(row),
            timed=str(row.get("timed") or "backend"), prepare_us=row.get("prepare_us"),
            finish_us=row.get("finish_us")))
    subject = data.get("subject") or {}
    summary = dict(data.get("summary") or {})
    cancelled = bool(summary.pop("cancelled", False))
    return LocalBenchResult(model=str(subject.get("model") or ""), format=str(subject.get("format") or ""),
                            rows_source=subject.get("rows_source"), sample_rows=int(subject.get("sample_rows") or 0),
                            plan=LocalPlan(**args), configs=configs, cancelled=cancelled, meta=summary)


def load_from_json(data: dict[str, Any]) -> Any:
    """The LoadResult a session's load test (a BenchResult JSON, `results.from_load`) describes."""
    from workbench.core.bench.load import ClientCost, LevelResult, LoadPlan, LoadResult
    from workbench.core.bench.recorder import TimePoint
    from workbench.core.bench.results import row_histogram

    if data.get("kind") != "load" or not isinstance(data.get("rows"), list):
        raise ValueError("not a load-test result")
    plan = dict(data.get("plan") or {})
    args = _plan_args(plan, ("mode", "duration_s", "count", "warmup_s", "max_errors", "max_error_rate",
                             "timeout_s", "connections"))
    if plan.get("levels"):
        args["levels"] = tuple(plan["levels"])
    timeline = [TimePoint.from_json(p) for p in data.get("timeline") or []]
    levels = []
    for row in data["rows"]:
        level = float(row["level"])
        levels.append(LevelResult(
            mode=str(row.get("mode") or args.get("mode", "closed")), level=level,
            requests=int(row.get("requests") or 0), ok=int(row.get("ok") or 0),
            errors={str(k): int(v) for k, v in (row.get("errors") or {}).items()},
            elapsed_s=float(row.get("elapsed_s") or 0.0), throughput_rps=float(row.get("throughput_rps") or 0.0),
            latency=_stats({k: v for k, v in row.items() if not k.startswith("uncorrected_")}),
            uncorrected=_stats(row, "uncorrected_"),
            client=ClientCost(row.get("client_in_latency_p50_us"), row.get("client_in_latency_p99_us"),
                              row.get("client_cpu_us_per_request")),
            stopped_by=str(row.get("stopped_by") or ""), incomplete=int(row.get("incomplete") or 0),
            unsent=int(row.get("unsent") or 0), timeline=[p for p in timeline if p.level == level],
            histogram=row_histogram(row), sent=int(row.get("sent") or 0)))
    subject = data.get("subject") or {}
    summary = dict(data.get("summary") or {})
    return LoadResult(target=str(subject.get("target") or ""), protocol=str(subject.get("protocol") or ""),
                      model=subject.get("model"), plan=LoadPlan(**args), levels=levels,
                      cancelled=bool(summary.pop("cancelled", False)), stopped_early=summary.pop("stopped_early", None),
                      interrupted=bool(summary.pop("interrupted", False)),
                      client_floor_us=summary.pop("client_floor_us", None),
                      meta={k: v for k, v in summary.items() if k != "failed"})


class RestoreBanner(QToolBar):
    """"Restore the last session?" across the top of the window: non-modal, dismissed with one click."""

    def __init__(self, window: Any, path: str) -> None:
        super().__init__("Restore session", window)
        self.setObjectName("restoreSessionBanner")
        self.setMovable(False)
        self.path = path
        self.label = QLabel(f"  Restore the last session ({Path(path).name}: its models, rows and endpoints)?  ")
        self.label.setToolTip(path)
        self.restore_button = QPushButton("Restore")
        self.dismiss_button = QPushButton("Dismiss")
        self.addWidget(self.label)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.addWidget(spacer)
        self.addWidget(self.restore_button)
        self.addWidget(self.dismiss_button)
        self.restore_button.clicked.connect(lambda: (self._close(), restore(window, path)))
        self.dismiss_button.clicked.connect(self._close)

    def _close(self) -> None:
        self.hide()
        self.deleteLater()


def offer_restore(window: Any) -> RestoreBanner | None:
    """At start: a banner offering the last session, if there is one on disk."""
    store = getattr(window.settings, "store", None)
    last = store.value(LAST_KEY) if store is not None else None
    if not isinstance(last, str) or not last or not Path(last).is_file():
        return None
    window.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
    banner = RestoreBanner(window, last)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, banner)
    window.restore_banner = banner
    return banner
