"""Canary: hostile pickles and joblib files, crafted here, read by every CLI command that reads a model,
without --trust, never run anything.

Each gadget would write its own canary file (os.system, subprocess, builtins.open) or connect to a
socket listening on 127.0.0.1. After every command has run (in a child process, as a user runs it), no
canary exists and the socket has no connection waiting; every command exited 0 or 2 with one `error:`
line, never `unexpected`. A control run with --trust shows the gadgets are live.
"""

from __future__ import annotations

import builtins
import os
import pickle
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from tests.conftest import REPO


class Shell:
    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


class Spawn:
    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self):
        return (subprocess.call, (["touch", self.target],))


class Opener:
    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self):
        return (builtins.open, (self.target, "w"))


class Connect:
    def __init__(self, port: int) -> None:
        self.port = port

    def __reduce__(self):
        return (socket.create_connection, (("127.0.0.1", self.port),))


def _fitted() -> LogisticRegression:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    return LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))


def _text(value: str) -> bytes:
    raw = value.encode()
    return b"X" + len(raw).to_bytes(4, "little") + raw


def _hand_written(canary: Path, port: int) -> bytes:
    """Gadgets written with opcodes (INST, OBJ, GLOBAL and STACK_GLOBAL + REDUCE) into the state of a real
    protocol-2 pickle of a model, before its final SETITEMS/BUILD/STOP."""
    clean = pickle.dumps(_fitted(), protocol=2)
    assert clean.endswith(b"ub.")
    gadgets = [
        (b"(S'touch " + str(canary / "inst").encode() + b"'\nios\nsystem\n"),
        (b"(cos\nsystem\nS'touch " + str(canary / "obj").encode() + b"'\no"),
        (b"cbuiltins\nopen\n(" + _text(str(canary / "reduce-open")) + _text("w") + b"tR"),
        (b"\x8c\x0asubprocess\x8c\x04call\x93((" + _text("touch") + _text(str(canary / "stack-global"))
         + b"ltR"),
        (b"csocket\ncreate_connection\n((" + _text("127.0.0.1") + b"J" + port.to_bytes(4, "little")
         + b"ttR"),
        (b"cbuiltins\nexec\n(" + _text(f"open({str(canary / 'exec')!r}, 'w')") + b"tR"),
    ]
    extra = b"".join(_text(f"gadget_{i}") + ops for i, ops in enumerate(gadgets))
    return clean[:-3] + extra + b"ub."


def _with_gadgets(canary: Path, port: int, tag: str) -> LogisticRegression:
    model = _fitted()
    model.shell = Shell(canary / f"{tag}-system")
    model.spawn = Spawn(canary / f"{tag}-subprocess")
    model.opener = Opener(canary / f"{tag}-open")
    model.connect = Connect(port)
    model.hidden = np.array([Shell(canary / f"{tag}-in-array"), 1], dtype=object)  # joblib: after its wrapper
    return model


def _hostile_files(folder: Path, canary: Path, port: int) -> list[Path]:
    files = []
    for protocol in (0, 2, 5):
        path = folder / f"p{protocol}.pkl"
        path.write_bytes(pickle.dumps(_with_gadgets(canary, port, f"p{protocol}"), protocol=protocol))
        files.append(path)
    for compress in (0, ("zlib", 3), ("gzip", 3), ("bz2", 3), ("xz", 3)):
        name = compress[0] if compress else "plain"
        path = folder / f"{name}.joblib"
        joblib.dump(_with_gadgets(canary, port, name), path, compress=compress)
        files.append(path)
    path = folder / "opcodes.pkl"
    path.write_bytes(_hand_written(canary, port))
    files.append(path)
    path = folder / "bare.pkl"  # a gadget alone: not a model at all
    path.write_bytes(pickle.dumps(Shell(canary / "bare")))
    files.append(path)
    return files


def _commands(model: Path, rows: Path, out: Path) -> list[list[str]]:
    return [
        ["inspect", str(model)],
        ["predict", str(model), "--rows", str(rows)],
        ["compare", str(model), str(model), "--rows", str(rows)],
        ["convert", str(model), "--to", "onnx", "--out", str(out / f"{model.stem}.onnx")],
        ["convert", str(model), "--to", "pmml", "--out", str(out / f"{model.stem}.pmml")],
        ["bench", str(model), "--rows", str(rows), "--count", "1", "--warmup", "0"],
    ]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env.pop("WORKBENCH_RAISE_ERRORS", None)
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.fixture()
def listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock
    sock.close()


def _connection_waiting(sock: socket.socket) -> bool:
    """True when a connection reached the listening socket (queued by the kernel, accepted here)."""
    sock.setblocking(False)
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def test_no_command_runs_a_gadget_without_trust(tmp_path: Path, listener: socket.socket) -> None:
    canary = tmp_path / "canary"
    canary.mkdir()
    models = tmp_path / "models"
    models.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    rows = tmp_path / "rows.csv"
    rows.write_text("x0,x1,x2\n0.1,0.2,0.3\n-1.0,0.5,2.0\n")
    port = listener.getsockname()[1]
    files = _hostile_files(models, canary, port)
    runs = [(model, args) for model in files for args in _commands(model, rows, out)]

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda run: _run(run[1]), runs))

    problems = []
    for (model, args), result in zip(runs, results, strict=True):
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        label = f"{' '.join(args[:1])} {model.name}: exit {result.returncode}: {result.stderr.strip()[-300:]}"
        if result.returncode not in (0, 2) or "unexpected" in result.stderr or "Traceback" in result.stderr:
            problems.append(label)
        elif result.returncode == 2 and len(errors) != 1:
            problems.append(label)
    assert problems == []
    assert sorted(p.name for p in canary.iterdir()) == []
    assert not _connection_waiting(listener)
    assert list(out.iterdir()) == []  # nothing converted from an untrusted pickle

    # what the commands said: the models were inspected, and refused for running without trust
    by_command = {(model.name, args[0]): result for (model, args), result in zip(runs, results, strict=True)}
    assert by_command[("p2.pkl", "inspect")].returncode == 0
    named = by_command[("opcodes.pkl", "inspect")].stdout
    assert "outside scikit-learn" in named and "builtins.open" in named and "builtins.exec" in named
    assert "--trust" in by_command[("xz.joblib", "predict")].stderr
    assert "not of a scikit-learn" in by_command[("bare.pkl", "inspect")].stderr


def test_the_gadgets_are_live(tmp_path: Path, listener: socket.socket) -> None:
    """Control: the same files loaded with --trust do run their gadgets (so the canary above means
    something)."""
    canary = tmp_path / "canary"
    canary.mkdir()
    port = listener.getsockname()[1]
    path = tmp_path / "p2.pkl"
    path.write_bytes(pickle.dumps(_with_gadgets(canary, port, "p2"), protocol=2))
    opcodes = tmp_path / "opcodes.pkl"
    opcodes.write_bytes(_hand_written(canary, port))

    for model in (path, opcodes):
        result = _run(["inspect", str(model), "--trust"])
        assert "unexpected" not in result.stderr, result.stderr
    assert {p.name for p in canary.iterdir()} >= {"p2-system", "p2-subprocess", "p2-open", "p2-in-array",
                                                  "inst", "obj", "reduce-open", "stack-global", "exec"}
    assert _connection_waiting(listener)
