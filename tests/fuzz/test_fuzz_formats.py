"""Fuzzing every format's reader (issue 12): mutations of the committed samples go through detection,
inspection and row generation in a worker subprocess (tests/fuzz/worker.py) under a 3 GiB address-space
cap and a per-case deadline. The one-line contract: each case ends in a result or a WorkbenchError
(LimitExceeded included), never another exception type (which the CLI would call `unexpected`), a
signal, a MemoryError or a hang.

Fixed seed, fixed number of cases (WORKBENCH_FUZZ_CASES, default 120 per sample), so a failure
reproduces: the assertion names the sample, the case index and the mutations, and copies the input into
WORKBENCH_FUZZ_SAVE (or the test's tmp folder). Minimal reproducers are kept in tests/fuzz/corpus/ and
replayed on every run; corpus/KNOWN_FAILING.json lists those whose fix belongs to a file another change
owns (they are xfailed with the reason, never hidden).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SAMPLES_DIR

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
SEED = int(os.environ.get("WORKBENCH_FUZZ_SEED", 12))
CASES = int(os.environ.get("WORKBENCH_FUZZ_CASES", 120))
#: a worker that has not finished its whole job by then is stuck beyond faulthandler's reach
JOB_DEADLINE_S = 300
#: readers another change owns (issue 12 items 1-3, 6-9): their failures are reported, not failed on
OWNED_ELSEWHERE = ("workbench/core/formats/pickle_scan.py", "workbench/core/formats/savedmodel.py",
                   "workbench/core/formats/keras_format.py", "workbench/core/formats/pmml.py",
                   "workbench/core/formats/protowire.py")

#: (id, sample path relative to sample_models or "@ubj", file ending, mutate inside zip members, folder member)
SAMPLES = [
    ("joblib-iris", "iris_logreg.joblib", ".joblib", False, None),
    ("joblib-ctr", "ctr_pipeline.joblib", ".joblib", False, None),
    ("joblib-xgboost", "xgb_classifier.joblib", ".joblib", False, None),
    ("skops", "iris_logreg.skops", ".skops", True, None),
    ("onnx", "iris_logreg.onnx", ".onnx", False, None),
    ("pmml", "iris_logreg.pmml", ".pmml", False, None),
    ("lightgbm", "lgbm_classifier.txt", ".txt", False, None),
    ("xgboost-json", "xgb_classifier.json", ".json", False, None),
    ("xgboost-ubj", "@ubj", ".ubj", False, None),
    ("keras", "keras_mlp.keras", ".keras", True, None),
    ("savedmodel", "keras_mlp_savedmodel", "", False, "saved_model.pb"),
    ("mleap", "mleap_iris_pipeline.zip", ".zip", True, None),
]


def run_worker(job: dict) -> list[dict]:
    """Run a job to its end, restarting after a case that kills the worker: one record per case, a
    killed case recorded as {"outcome": "bad", "type": "signal N" | "exit N", "stderr": ...}."""
    records: list[dict] = []
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "PYTHONFAULTHANDLER": "1"}
    deadline = time.monotonic() + JOB_DEADLINE_S
    while True:
        started: dict | None = None
        proc = subprocess.Popen([sys.executable, "-m", "tests.fuzz.worker", json.dumps(job)], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            err += f"\n[the worker was killed after {JOB_DEADLINE_S} s]"
        for line in out.splitlines():
            record = json.loads(line)
            if record["event"] == "start":
                started = record
            else:
                records.append(record)
                started = None
        if started is None and proc.returncode == 0:
            return records
        if started is None:
            raise AssertionError(f"the fuzz worker failed outside any case (exit {proc.returncode}):\n{err[-3000:]}")
        rc = proc.returncode
        killed = f"signal {-rc}" if rc < 0 else f"exit {rc}"
        records.append({**started, "outcome": "bad", "type": killed, "message": _last_lines(err),
                        "where": _innermost(err), "saved": _save(Path(started["input"]), job, started["case"])})
        if job["mode"] == "replay":
            job = {**job, "paths": job["paths"][job["paths"].index(started["case"]) + 1:]}
            if not job["paths"]:
                return records
        else:
            done = started["case"] + 1 - job["start"]
            if done >= job["count"]:
                return records
            job = {**job, "start": started["case"] + 1, "count": job["count"] - done}
        if time.monotonic() > deadline:
            return records


def _last_lines(text: str, n: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def _innermost(stderr: str) -> str:
    """The innermost workbench frame of a faulthandler dump (it lists the most recent call first)."""
    for line in stderr.splitlines():
        m = re.search(r'File "([^"]*/workbench/[^"]*)", line (\d+)', line)
        if m and "/tests/" not in m.group(1):
            return f"{Path(m.group(1)).resolve().relative_to(REPO)}:{m.group(2)}"
    return "unknown (no workbench frame in the dump)"


def _save(path: Path, job: dict, case: object) -> str:
    """Keep a failing input where a person can replay it."""
    keep = Path(job.get("save_dir") or Path(job.get("workdir") or ".") / "failures")
    keep.mkdir(parents=True, exist_ok=True)
    target = keep / f"{job.get('name', 'replay')}-{Path(str(case)).name}-{path.name}"
    if path.is_dir():
        shutil.copytree(path, target, dirs_exist_ok=True)
    elif path.exists():
        shutil.copyfile(path, target)
    return str(target)


def bad_records(records: list[dict], job: dict) -> list[dict]:
    return [r for r in records if r["outcome"] == "bad"]


def owned_elsewhere(record: dict) -> bool:
    return str(record.get("where", "")).startswith(OWNED_ELSEWHERE)


def describe(records: list[dict]) -> str:
    return "\n".join(f"  case {r['case']} ({r.get('mutations', '')}): {r['type']}: {r.get('message', '')[:200]!r} "
                     f"at {r.get('where')}; input kept at {r.get('saved')}" for r in records)


@pytest.fixture(scope="module")
def ubj_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The XGBoost sample saved as UBJSON by XGBoost itself."""
    xgboost = pytest.importorskip("xgboost")
    path = tmp_path_factory.mktemp("ubj") / "xgb_classifier.ubj"
    xgboost.Booster(model_file=str(SAMPLES_DIR / "xgb_classifier.json")).save_model(str(path))
    return path


@pytest.mark.parametrize("name,sample,ext,is_zip,member", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_mutated_samples_keep_the_contract(name: str, sample: str, ext: str, is_zip: bool, member: str | None,
                                           tmp_path: Path, ubj_sample: Path) -> None:
    source = ubj_sample if sample == "@ubj" else SAMPLES_DIR / sample
    others = [SAMPLES_DIR / o for o in ("iris_logreg.onnx", "xgb_classifier.json", "lgbm_classifier.txt")]
    job = {"mode": "mutate", "name": name, "sample": str(source), "ext": ext, "zip": is_zip,
           "folder_member": member, "seed": SEED, "start": 0, "count": CASES,
           "others": [str(o) for o in others if o != source], "workdir": str(tmp_path),
           "save_dir": os.environ.get("WORKBENCH_FUZZ_SAVE") or str(tmp_path / "failures")}
    records = run_worker(job)
    assert len(records) == CASES, f"{len(records)} of {CASES} cases reported"
    outcomes = {r["outcome"] for r in records}
    assert outcomes & {"ok"} or any(o.startswith("error:") for o in outcomes)
    bad = bad_records(records, job)
    mine = [r for r in bad if not owned_elsewhere(r)]
    assert not mine, f"{name}: {len(mine)} of {CASES} mutated cases broke the contract:\n{describe(mine)}"
    if bad:
        pytest.xfail(f"{name}: {len(bad)} cases fail in readers another change owns (reproducers under "
                     f"tests/fuzz/corpus/, KNOWN_FAILING.json):\n{describe(bad)}")


def _corpus_entries() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.iterdir() if p.name not in ("KNOWN_FAILING.json", "README.md"))


def _known_failing() -> dict[str, dict]:
    known = CORPUS / "KNOWN_FAILING.json"
    return json.loads(known.read_text()) if known.exists() else {}


def test_the_regression_corpus_keeps_the_contract(tmp_path: Path) -> None:
    """Every minimal reproducer the fuzzer found, replayed; those in KNOWN_FAILING.json must still be
    listed there (and are reported by test_known_failing_reproducers)."""
    known = _known_failing()
    entries = [p for p in _corpus_entries() if p.name not in known]
    assert entries, "the corpus is empty"
    job = {"mode": "replay", "paths": [str(p) for p in entries], "workdir": str(tmp_path)}
    records = run_worker(job)
    assert [r["case"] for r in records] == [str(p) for p in entries]
    bad = bad_records(records, job)
    assert not bad, f"corpus reproducers broke the contract again:\n{describe(bad)}"


@pytest.mark.parametrize("name", sorted(_known_failing()) or ["(none)"])
def test_known_failing_reproducers(name: str, tmp_path: Path) -> None:
    """Reproducers whose fix is in a file another change owns: xfailed (with the reason) while they fail."""
    if name == "(none)":
        return
    entry = _known_failing()[name]
    job = {"mode": "replay", "paths": [str(CORPUS / name)], "workdir": str(tmp_path)}
    records = run_worker(job)
    bad = bad_records(records, job)
    if bad:
        pytest.xfail(f"{name}: still failing in {entry['owner']} ({entry['found']})")


def test_the_harness_sees_signals_hangs_memory_and_stray_exceptions(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's own failure modes, each reported with its input, and the worker restarted after a kill."""
    paths = []
    for kind in ("segv", "hang", "memory", "error"):
        path = tmp_path / f"case.selftest-{kind}"
        path.write_bytes(kind.encode())
        paths.append(str(path))
    ok = SAMPLES_DIR / "iris_logreg.onnx"
    job = {"mode": "replay", "paths": [str(ok), *paths], "workdir": str(tmp_path)}
    monkeypatch.setenv("WORKBENCH_FUZZ_DEADLINE", "4")
    records = {Path(r["case"]).suffix: r for r in run_worker(job)}
    assert records[".selftest-segv"]["type"] == "signal 11"
    assert Path(records[".selftest-segv"]["saved"]).read_bytes() == b"segv"
    assert records[".selftest-hang"]["type"] == "hang" and "tests/fuzz/worker.py" not in records[".selftest-hang"]["where"]
    assert records[".selftest-memory"]["type"] == "MemoryError"
    assert records[".selftest-error"]["type"] == "TypeError"
    assert records[".onnx"]["outcome"] == "ok" and records[".onnx"]["format"] == "onnx", records[".onnx"]
