"""`workbench probe URL`: what an endpoint serves (TF Serving REST/gRPC, KServe v1, v2), and predictions.

Exit codes: 0 all asked for worked, 1 the endpoint answered with an error, 2 it could not be reached or
the arguments are wrong. Without --rows it reports what is served; with --rows it also predicts.
The report always goes to stdout (the JSON document with --json); on exit 2 one line `error: ...` also
goes to stderr (the CLI contract).
"""

from __future__ import annotations

import argparse
import json
import warnings
from typing import Any

from workbench.commands.common import fail, print_json

NAME = "probe"
HELP = ("Probe a serving endpoint (TF Serving REST/gRPC, KServe v1, v2): detect the protocol, list versions "
        "and signatures, send rows, and diagnose every failure.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="endpoint URL: http[s]://HOST:PORT (REST, e.g. :8501), a model URL "
                        "such as http://HOST:8501/v1/models/NAME, or grpc[s]://HOST:PORT (gRPC only)")
    parser.add_argument("--model", help="model name (TF Serving cannot list its models)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--version", help="model version (default: the latest AVAILABLE one); a number for TF "
                       "Serving, a string such as v1 for v2 servers")
    group.add_argument("--label", help="version label (TF Serving version_labels)")
    parser.add_argument("--signature", help="signature name (default serving_default)")
    parser.add_argument("--rows", metavar="CSV",
                        help="rows file (CSV or JSON records) to send for prediction")
    parser.add_argument("--generate", type=int, default=0, metavar="N",
                        help="without --rows: send N rows generated from the served signature")
    parser.add_argument("--columnar", action="store_true", help="send rows in columnar form (\"inputs\")")
    parser.add_argument("--grpc", metavar="HOST:PORT",
                        help="also probe the gRPC port (TF Serving e.g. :8500, v2 servers e.g. :8081)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S",
                        help="per-call timeout (default 10)")
    parser.add_argument("--header", action="append", default=[], metavar="K:V",
                        help="extra header (REST) / metadata (gRPC), e.g. 'Authorization: Bearer T'; "
                        "repeatable")
    parser.add_argument("--ca-file", metavar="PEM",
                        help="CA certificate(s) to verify the server's TLS certificate")
    parser.add_argument("--insecure", action="store_true",
                        help="do not verify TLS certificates (REST; test endpoints only)")
    parser.add_argument("--grpc-tls", action="store_true",
                        help="use TLS for --grpc (with --ca-file if given)")
    parser.add_argument("--show-request", action="store_true",
                        help="print the request body and a curl command")
    parser.add_argument("--json", action="store_true", help="print the JSON report")


def run(args: argparse.Namespace) -> int:
    from workbench.core.serving.probe import ProbeReport, run_probe

    report = ProbeReport(url=args.url, model=args.model)
    opts = _options(args, report)
    if opts is not None:
        with warnings.catch_warnings():
            if args.insecure:  # said once, as a note in the report, not once per request
                from urllib3.exceptions import InsecureRequestWarning

                warnings.simplefilter("ignore", InsecureRequestWarning)
            report = run_probe(opts)
    if args.json:
        print_json(report.to_json())
    else:
        # to_json() already made what the server said safe to print; each line is cleaned once more here,
        # so no rendering path can print a control character
        from workbench.core.serving.untrusted import clean

        print("\n".join(clean(line) for line in render(report.to_json(), show_request=args.show_request)
                         .split("\n")))
    code = report.exit_code
    if code == 2:
        return fail(error_line(report))
    return code


def _options(args: argparse.Namespace, report: Any) -> Any:
    """ProbeOptions from the arguments, or None with report.error set (bad arguments or rows: exit 2)."""
    from workbench.core.errors import InputRowsError, WorkbenchError
    from workbench.core.serving.diagnosis import Diagnosis
    from workbench.core.serving.http import parse_headers
    from workbench.core.serving.probe import ProbeOptions

    try:
        headers = parse_headers(args.header)
    except ValueError as exc:
        report.error = Diagnosis("bad-arguments", str(exc), "write --header 'Name: value'")
        return None
    if args.timeout <= 0:
        report.error = Diagnosis("bad-arguments", "--timeout must be a positive number of seconds")
        return None
    if args.generate < 0:
        report.error = Diagnosis("bad-arguments", "--generate takes a number of rows (0 or more)")
        return None
    if args.rows and args.generate:
        report.error = Diagnosis("bad-arguments", "give --rows or --generate, not both")
        return None
    if args.columnar and not (args.rows or args.generate):
        report.error = Diagnosis("bad-arguments", "--columnar shapes the rows sent for prediction: give --rows "
                                 "or --generate N too")
        return None
    rows = None
    if args.rows:
        try:
            rows = _read_rows(args.rows)
        except InputRowsError as exc:
            report.error = Diagnosis("bad-rows", exc.message, exc.hint or "",
                                     details={"problems": list(exc.problems)} if exc.problems else {})
            return None
        except WorkbenchError as exc:
            report.error = Diagnosis("bad-rows", exc.message, exc.hint or "")
            return None
    verify: bool | str = False if args.insecure else (args.ca_file or True)
    grpc_tls: bool | str = (args.ca_file or True) if args.grpc_tls else False
    return ProbeOptions(url=args.url, model=args.model, version=args.version, label=args.label,
                        signature=args.signature, rows=rows, grpc=args.grpc, timeout=args.timeout,
                        headers=headers, verify=verify, grpc_tls=grpc_tls, columnar=args.columnar,
                        generate=0 if rows is not None else args.generate)


def error_line(report: Any) -> str:
    """The one-line reason for exit 2: the first failure that means 'not reached / wrong arguments'."""
    if report.error is not None and not report.error.reachable:
        return report.error.message
    grpc = report.grpc
    if grpc is not None and grpc.error is not None and not grpc.error.reachable:
        return f"gRPC {grpc.url}: {grpc.error.message}"
    failures = report.failures()
    return failures[0].message if failures else "the probe failed"


def _read_rows(path: str) -> Any:
    try:
        from workbench.core.rows import read_rows
    except ImportError:  # rows module not there: plain CSV
        import pandas as pd

        from workbench.core.errors import InputRowsError

        try:
            return pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise InputRowsError(f"cannot read rows file {path}: {exc}") from None
    return read_rows(path)


#: a signature with more inputs (or outputs) than this is shown one tensor per line
WRAP_INPUTS = 4


def _shape(shape: list[int] | None) -> str:
    if shape is None:
        return "unknown rank"
    return "[" + ", ".join("?" if d in (-1, None) else str(d) for d in shape) + "]"


def render(data: dict[str, Any], show_request: bool = False, indent: str = "") -> str:
    """Readable text of a probe report (the JSON dict)."""
    lines = [f"{indent}{data.get('url') or data.get('target')}"]
    lines.append(f"{indent}  protocol    {data.get('protocol') or 'unknown'}")
    if data.get("model"):
        lines.append(f"{indent}  model       {data['model']}" +
                     (f"  (version {data['version']})" if data.get("version") is not None else ""))
    for v in data.get("versions") or []:
        ver = v["version"] if v["version"] is not None else "-"
        error = f"  {v['error']}" if v.get("error") else ""
        lines.append(f"{indent}  version     {ver:<8} {v['state']}{error}")
    sigs = data.get("signatures") or {}
    order = sorted((n for n in sigs if not n.startswith("__")), key=lambda n: (n != "serving_default", n))
    for name, sig in ((n, sigs[n]) for n in order):
        method = (sig.get("method") or "").rsplit("/", 1)[-1]
        ins = [f"{a} {t['dtype']} {_shape(t['shape'])}" for a, t in sig["inputs"].items()]
        outs = [f"{a} {t['dtype']} {_shape(t['shape'])}" for a, t in sig["outputs"].items()]
        if len(ins) <= WRAP_INPUTS and len(outs) <= WRAP_INPUTS:
            lines.append(f"{indent}  signature   {name} ({method}): {', '.join(ins) or '-'} -> "
                         f"{', '.join(outs) or '-'}")
            continue
        # many inputs (the workbench's bundles have one per feature): one per line, in the model's order
        lines.append(f"{indent}  signature   {name} ({method})")
        lines.extend(f"{indent}    in        {text}" for text in ins or ["-"])
        lines.extend(f"{indent}    out       {text}" for text in outs or ["-"])
    if data.get("predictions"):
        preds = data["predictions"]
        lines.append(f"{indent}  predictions {len(preds)} row(s)" + (f" via {data['signature']}"
                                                                      if data.get("signature") else ""))
        for i, p in enumerate(preds[:10], start=1):  # rows count from 1, as in every row message
            lines.append(f"{indent}    [{i}] {json.dumps(p)}")
        if len(preds) > 10:
            lines.append(f"{indent}    ... {len(preds) - 10} more")
    if data.get("latency_ms"):
        lines.append(f"{indent}  latency     " + ", ".join(f"{x:.1f} ms" for x in data["latency_ms"]))
    for note in data.get("notes") or []:
        lines.append(f"{indent}  note        {note}")
    req = data.get("request")
    if req and show_request:
        lines.append(f"{indent}  request     POST {req['url']}")
        lines.append(f"{indent}  body        {json.dumps(req['body'])}")
        lines.append(f"{indent}  curl        {req['curl']}")
    err = data.get("error")
    if err:
        lines.append(f"{indent}  ERROR       [{err['kind']}] {err['message']}")
        if err.get("hint"):
            lines.append(f"{indent}  hint        {err['hint']}")
        for problem in (err.get("details") or {}).get("problems", []):
            lines.append(f"{indent}    - {problem}")
    if data.get("grpc"):
        lines.append(f"{indent}  gRPC")
        lines.append(render(data["grpc"], show_request, indent + "  "))
    return "\n".join(lines)
