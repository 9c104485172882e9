"""Hostile PMML, built at test time: a DOCTYPE naming an external DTD is refused by every command before
any XML parser or PMML engine sees the file (a local HTTP server receives nothing), the engines' JVMs
refuse external DTDs even when a file reaches them, and damaged documents are 'damaged PMML file'."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SAMPLES_DIR
from workbench.cli import main

SAMPLE = SAMPLES_DIR / "iris_logreg.pmml"
ROWS = SAMPLES_DIR / "iris_logreg_pmml.rows.csv"


class Recorder(http.server.BaseHTTPRequestHandler):
    """Records every request; answers a DTD whose parameter entity would read a local file."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        Recorder.seen.append(self.path)
        body = b'<!ENTITY % file SYSTEM "file:///etc/hostname"><!ENTITY leaked "%file;">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[str]:
    Recorder.seen = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join()


def with_doctype(tmp_path: Path, url: str, encoding: str = "utf-8", name: str = "external_dtd.pmml") -> Path:
    text = SAMPLE.read_text()
    root = text.index("<PMML")
    doctype = f'<!DOCTYPE PMML SYSTEM "{url}/model.dtd">\n'
    text = text[:root] + doctype + text[root:]
    if encoding != "utf-8":
        text = text.replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"', 1)
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, dict, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip().startswith("{") else {}), err


COMMANDS = {
    "inspect": ("inspect", "{m}", "--json"),
    "predict-pmml4s": ("predict", "{m}", "--rows", "{rows}", "--runtime", "pmml4s", "--json"),
    "predict-jpmml": ("predict", "{m}", "--rows", "{rows}", "--runtime", "jpmml", "--json"),
    "bench": ("bench", "{m}", "--rows", "{rows}", "--runtime", "pmml4s", "--runtime", "jpmml", "--json"),
    "compare": ("compare", "{m}", str(SAMPLE), "--rows", "{rows}", "--json"),
    "compare-b": ("compare", str(SAMPLE), "{m}", "--rows", "{rows}", "--json"),
    "convert": ("convert", "{m}", "--to", "onnx", "--out", "{tmp}/out.onnx", "--json"),
}


@pytest.mark.java
@pytest.mark.parametrize("command", list(COMMANDS.values()), ids=list(COMMANDS))
def test_every_command_refuses_an_external_dtd_and_nothing_is_fetched(capsys, tmp_path, server, command) -> None:
    model = with_doctype(tmp_path, server)
    argv = [part.format(m=model, rows=ROWS, tmp=tmp_path) for part in command]
    code, payload, err = run_cli(capsys, *argv)
    assert code == 2, err
    assert "DOCTYPE" in (payload.get("error") or err)
    assert "refused" in (payload.get("error") or err)
    assert Recorder.seen == [], "the workbench fetched the DTD"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_doctype_in_another_encoding_reaches_no_engine(capsys, tmp_path, server, encoding) -> None:
    model = with_doctype(tmp_path, server, encoding)
    code, payload, err = run_cli(capsys, "predict", model, "--rows", ROWS, "--runtime", "pmml4s", "--json")
    assert code == 2, err
    assert payload["kind"] in ("corrupt", "unknown-format")
    assert Recorder.seen == []


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("word", ["<!DOCTYPE", "<!doctype", "<!ENTITY"])
def test_the_raw_byte_check_finds_declarations_in_any_encoding(tmp_path, encoding, word) -> None:
    from workbench.core.errors import CorruptModel
    from workbench.core.formats.pmml import refuse_declarations

    path = tmp_path / "doc.pmml"
    path.write_bytes(f'<?xml version="1.0"?>{word} PMML SYSTEM "x.dtd"><PMML/>'.encode(encoding))
    with pytest.raises(CorruptModel, match="DOCTYPE"):
        refuse_declarations(path)


def test_the_raw_byte_check_finds_a_declaration_across_read_chunks(tmp_path) -> None:
    from workbench.core.errors import CorruptModel
    from workbench.core.formats.pmml import _CHUNK, refuse_declarations

    path = tmp_path / "doc.pmml"
    path.write_bytes(b" " * (_CHUNK - 4) + b"<!DOCTYPE PMML>" + b" " * 100)  # split by the 1 MiB read
    with pytest.raises(CorruptModel, match="DOCTYPE"):
        refuse_declarations(path)
    path.write_bytes(b"<PMML><!-- a comment, not a declaration: <! DOCTYPE --></PMML>")
    refuse_declarations(path)


def test_a_doctype_after_a_long_prolog_is_refused(capsys, tmp_path, server) -> None:
    text = SAMPLE.read_text()
    root = text.index("<PMML")
    padding = "<!--" + "x" * 200_000 + "-->\n"  # past the detection head and the first read chunk
    path = tmp_path / "late.pmml"
    path.write_text(text[:root] + padding + f'<!DOCTYPE PMML SYSTEM "{server}/late.dtd">\n' + text[root:])
    code, payload, err = run_cli(capsys, "predict", path, "--rows", ROWS, "--runtime", "pmml4s", "--json")
    assert code == 2, err
    assert Recorder.seen == []


def test_an_internal_subset_is_refused_too(capsys, tmp_path) -> None:
    text = SAMPLE.read_text()
    root = text.index("<PMML")
    path = tmp_path / "internal.pmml"
    path.write_text(text[:root] + '<!DOCTYPE PMML [<!ENTITY lol "lol">]>\n' + text[root:])
    code, payload, _ = run_cli(capsys, "inspect", path, "--json")
    assert code == 2 and "DOCTYPE" in payload["error"]


@pytest.mark.java
@pytest.mark.parametrize("runtime", ["pmml4s", "jpmml"])
def test_the_engines_jvm_refuses_an_external_dtd_that_reaches_it(tmp_path, server, runtime) -> None:
    """Belt and braces: a file changed after it was checked reaches the engine; its JVM fetches nothing."""
    from workbench.core.errors import CorruptModel
    from workbench.core.models import inspect_model
    from workbench.core.runtimes import RUNTIMES

    info = inspect_model(SAMPLE)
    model = with_doctype(tmp_path, server)
    with pytest.raises(CorruptModel, match="cannot load it"):
        RUNTIMES.get(runtime)._load(model, info, False)  # the engine itself, past the workbench's checks
    assert Recorder.seen == [], f"{runtime}'s JVM fetched the external DTD"


def test_the_jvm_options_switch_external_access_off() -> None:
    from workbench.core.formats.pmml import JVM_XML_OPTIONS

    assert "-Djavax.xml.accessExternalDTD=" in JVM_XML_OPTIONS
    assert "-Djavax.xml.accessExternalSchema=" in JVM_XML_OPTIONS
    assert any(o.startswith("-Djdk.xml.entityExpansionLimit=") for o in JVM_XML_OPTIONS)


def test_the_sample_still_opens(capsys) -> None:
    code, payload, err = run_cli(capsys, "inspect", SAMPLE, "--json")
    assert code == 0, err
    assert payload["format"] == "pmml"


# ---- damaged documents ---------------------------------------------------------------------------------

def _edit(tmp_path: Path, old: str, new: str, name: str = "damaged.pmml") -> Path:
    text = SAMPLE.read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return path


def _with_field(tmp_path: Path, field: str) -> Path:
    """The sample with one more DataField (not used by the model: only inspection reads it)."""
    return _edit(tmp_path, "</DataDictionary>", field + "</DataDictionary>")


@pytest.mark.parametrize("make, expected", [
    (lambda t: _edit(t, 'encoding="UTF-8"', 'encoding="x-no-such-encoding"'), "unknown encoding"),
    (lambda t: _with_field(t, '<DataField name="z" optype="continuous" dataType="double">'
                              '<Interval closure="closedClosed" leftMargin="low" rightMargin="1"/></DataField>'),
     "Interval leftMargin 'low' is not a number"),
    (lambda t: _with_field(t, '<DataField name="z" optype="continuous" dataType="double">'
                              '<Interval closure="closedClosed" leftMargin="0" rightMargin="1e"/></DataField>'),
     "Interval rightMargin '1e' is not a number"),
], ids=["unknown-encoding", "interval-left", "interval-right"])
def test_damaged_documents_are_damaged_pmml_files(capsys, tmp_path, make, expected) -> None:
    path = make(tmp_path)
    code, payload, err = run_cli(capsys, "inspect", path, "--json")
    assert code == 2, err
    assert payload["kind"] == "corrupt"
    assert "damaged PMML file" in payload["error"] and expected in payload["error"]


def test_an_infinite_integer_category_is_damage(capsys, tmp_path) -> None:
    path = _edit(tmp_path, '<Value value="2"/>', '<Value value="inf"/>')  # species: dataType="integer"
    code, payload, err = run_cli(capsys, "inspect", path, "--json")
    assert code == 2, err
    assert payload["kind"] == "corrupt"
    assert "damaged PMML file" in payload["error"] and "'inf' is not finite" in payload["error"]
