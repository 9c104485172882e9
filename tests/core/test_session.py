"""Session files: round trip, masked headers, trust bound to the sha256, hostile files refused cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.core import session as S


def _session(tmp_path: Path) -> S.Session:
    model = tmp_path / "m.pkl"
    model.write_bytes(b"model bytes")
    return S.Session(
        models=[S.SessionModel(path=str(model), sha256=S.sha256_path(model), trusted=True,
                               rows_inline=S.rows_to_inline(["x", "c"], [[1.5, "a"], [float("nan"), "b"]]),
                               predictions={"native": {"runtime": "native", "classes": [0, 1], "labels": [1, 0],
                                                       "probabilities": [[0.2, 0.8], [0.9, 0.1]], "values": None,
                                                       "elapsed_ms": 1.5, "warnings": []}})],
        endpoints=[S.SessionEndpoint(name="ctr", url="http://127.0.0.1:8501", model="ctr",
                                     headers=S.mask_headers({"Authorization": "Bearer SECRET"}),
                                     rows=S.RowSource("file", "/data/ctr.csv"))],
        current_model=str(model), current_endpoint="ctr", probe={"url": "http://127.0.0.1:8501"})


def test_round_trip_keeps_everything_and_masks_header_values(tmp_path: Path) -> None:
    session = _session(tmp_path)
    out = S.save_session(tmp_path / "s.json", session)
    text = out.read_text()
    assert "SECRET" not in text
    back = S.load_session(out)
    m = back.models[0]
    assert (m.path, m.sha256, m.trusted) == (session.models[0].path, session.models[0].sha256, True)
    assert m.rows_inline == {"columns": ["x", "c"], "data": [[1.5, "a"], [None, "b"]]}   # NaN -> null
    batch = S.batch_from_json(m.predictions["native"])
    assert batch.rows == 2 and batch.labels.tolist() == [1, 0] and batch.probabilities.shape == (2, 2)
    e = back.endpoints[0]
    assert e.headers == {"Authorization": None} and e.masked_headers == ["Authorization"]
    assert (e.rows.kind, e.rows.value) == ("file", "/data/ctr.csv")
    assert (back.current_model, back.current_endpoint, back.probe) == (m.path, "ctr", {"url": "http://127.0.0.1:8501"})
    assert S.mask_headers({"A": "b"}, keep_values=True) == {"A": "b"}


def test_sha256_of_a_file_and_a_folder_changes_with_content(tmp_path: Path) -> None:
    f = tmp_path / "a.bin"
    f.write_bytes(b"one")
    first = S.sha256_path(f)
    f.write_bytes(b"two")
    assert S.sha256_path(f) != first and len(first) == 64
    d = tmp_path / "saved"
    (d / "variables").mkdir(parents=True)
    (d / "saved_model.pb").write_bytes(b"graph")
    before = S.sha256_path(d)
    (d / "variables" / "v").write_bytes(b"w")
    assert S.sha256_path(d) != before


def test_batch_to_json_from_a_prediction_batch() -> None:
    from workbench.core.predictions import PredictionBatch

    b = PredictionBatch(runtime="onnxruntime", classes=["a", "b"], labels=np.array(["b", "a"]),
                        probabilities=np.array([[0.1, 0.9], [0.7, 0.3]], dtype=np.float32), elapsed_ms=2.0)
    data = json.loads(json.dumps(S.batch_to_json(b)))
    again = S.batch_from_json(data)
    assert again.labels.tolist() == ["b", "a"]
    assert np.allclose(again.probabilities, [[0.1, 0.9], [0.7, 0.3]])


@pytest.mark.parametrize("text, words", [
    ("", "not valid JSON"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "not a workbench session"),
    ('{"format": "other"}', "not a workbench session"),
    ('{"format": "workbench-session", "version": 99}', "newer workbench"),
    ('{"format": "workbench-session", "version": "1"}', "whole number"),
    ('{"format": "workbench-session", "version": 1, "models": {}}', "\"models\" must be a list"),
    ('{"format": "workbench-session", "version": 1, "models": [{"path": 3}]}', "models[0]: \"path\" must be text"),
    ('{"format": "workbench-session", "version": 1, "models": [{"path": "a", "sha256": "zz"}]}', "64 hexadecimal"),
    ('{"format": "workbench-session", "version": 1, "models": [{"path": "a", "rows": {"inline": '
     '{"columns": ["x"], "data": [[1, 2]]}}}]}', "row 0 must be a list of 1 values"),
    ('{"format": "workbench-session", "version": 1, "models": [{"path": "a", "rows": {"inline": '
     '{"columns": ["x"], "data": [[{"a": 1}]]}}}]}', "not a number"),
    ('{"format": "workbench-session", "version": 1, "endpoints": [{"url": "u", "timeout_s": -1}]}', "timeout_s"),
    ('{"format": "workbench-session", "version": 1, "endpoints": [{"url": "u", "rows": {"kind": "shell"}}]}',
     "row source kind 'shell'"),
    ('{"format": "workbench-session", "version": 1, "endpoints": [{"url": "u", "headers": {"A": 1}}]}',
     "header 'A'"),
    ('{"format": "workbench-session", "version": 1, "models": [{"path": "a", "trusted": "yes"}]}', "true or false"),
    ('{"format": "workbench-session", "version": 1, "x": NaN}', "not valid JSON"),
])
def test_damaged_sessions_are_clear_errors(text: str, words: str) -> None:
    with pytest.raises(S.SessionError) as info:
        S.parse_session(text)
    assert words in str(info.value)
    assert info.value.kind == "bad-session"


def test_hostile_sizes_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deep = '{"format": "workbench-session", "version": 1, "probe": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(S.SessionError, match="nested more than 200 levels"):
        S.parse_session(deep)
    monkeypatch.setenv("WORKBENCH_LIMIT_SESSION_ITEMS", "3")
    many = json.dumps({"format": "workbench-session", "version": 1, "models": [{"path": "a"}] * 4})
    with pytest.raises(S.SessionError, match="over the limit of 3"):
        S.parse_session(many)
    monkeypatch.setenv("WORKBENCH_LIMIT_SESSION_FILE_BYTES", "100")
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"format": "workbench-session", "version": 1, "saved_at": "x" * 200}))
    with pytest.raises(S.SessionError, match="session file's size"):
        S.load_session(big)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(S.SessionError, match="not a text file"):
        S.load_session(binary)
    with pytest.raises(S.SessionError, match="cannot read"):
        S.load_session(tmp_path / "missing.json")


def test_save_is_atomic_and_never_writes_an_unreadable_session(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    out.write_text("old")
    bad = S.Session(models=[S.SessionModel(path="a", sha256="nothex")])
    with pytest.raises(S.SessionError):
        S.save_session(out, bad)
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]
