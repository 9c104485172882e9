"""Hostile Keras files, built at test time: zip bombs are refused before anything inflates them, damaged
configs are 'damaged Keras file' (exit 2, never unexpected), and a Lambda layer refused by Keras' safe
mode asks for trust ("trust it to load") and loads with it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.conftest import SAMPLES_DIR
from workbench.cli import main

SAMPLE = SAMPLES_DIR / "keras_mlp.keras"
ROWS = SAMPLES_DIR / "keras_mlp.rows.csv"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, dict, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip().startswith("{") else {}), err


def rezip(tmp_path: Path, name: str, replace: dict[str, bytes], *, level: int = 9) -> Path:
    """The sample .keras with some members replaced (or added)."""
    path = tmp_path / name
    with zipfile.ZipFile(SAMPLE) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as dst:
        for info in src.infolist():
            if info.filename not in replace:
                dst.writestr(info.filename, src.read(info.filename))
        for member, data in replace.items():
            dst.writestr(member, data)
    return path


def bomb_member(zf: zipfile.ZipFile, name: str, size: int, prefix: bytes = b"") -> None:
    """A member of `size` bytes that compresses ~1000:1, written in a stream (never all in memory)."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zf.open(info, "w", force_zip64=True) as out:
        out.write(prefix)
        block = b" " * (1 << 20)
        left = size - len(prefix)
        while left > 0:
            out.write(block[:left])
            left -= len(block)


def bomb(tmp_path: Path, member: str, size: int, prefix: bytes = b"") -> Path:
    path = tmp_path / f"bomb_{member.replace('.', '_')}.keras"
    with zipfile.ZipFile(SAMPLE) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            if info.filename != member:
                dst.writestr(info.filename, src.read(info.filename))
        bomb_member(dst, member, size, prefix)
    return path


# ---- zip bombs -----------------------------------------------------------------------------------------

def test_a_config_bomb_is_refused_by_its_ratio_before_it_is_inflated(capsys, tmp_path) -> None:
    """config.json: a valid model config followed by 64 MiB of spaces (compressed ~1000:1)."""
    config = zipfile.ZipFile(SAMPLE).read("config.json")
    path = bomb(tmp_path, "config.json", 64 << 20, prefix=config)
    assert path.stat().st_size < 1 << 20
    code, payload, err = run_cli(capsys, "inspect", path, "--json")
    assert code == 2, err
    assert payload["kind"] == "limit"
    assert "compression ratio" in payload["error"] and "config.json" in payload["error"]


def test_a_member_declaring_more_than_the_decompressed_limit_is_refused(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WORKBENCH_LIMIT_DECOMPRESSED_BYTES", str(8 << 20))
    monkeypatch.setenv("WORKBENCH_LIMIT_COMPRESSION_RATIO", str(1 << 30))  # only the size counts here
    path = bomb(tmp_path, "model.weights.h5", 16 << 20)
    for argv in (("inspect", path, "--json"), ("predict", path, "--rows", ROWS, "--json"),
                 ("predict", path, "--rows", ROWS, "--runtime", "tensorflow", "--json")):
        code, payload, err = run_cli(capsys, *argv)
        assert code == 2, (argv, err)
        assert payload["kind"] == "limit", argv
        assert "decompressed size" in payload["error"] and "DECOMPRESSED_BYTES".lower() in payload["error"].lower()


def test_a_weights_bomb_is_refused_before_keras_loads_it(capsys, tmp_path) -> None:
    path = bomb(tmp_path, "model.weights.h5", 64 << 20)
    code, payload, err = run_cli(capsys, "predict", path, "--rows", ROWS, "--json")
    assert code == 2, err
    assert payload["kind"] == "limit" and "model.weights.h5" in payload["error"]


def test_config_read_is_bounded_whatever_the_header_says(tmp_path, monkeypatch) -> None:
    from workbench.core.formats.keras_format import read_member
    from workbench.core.limits import LimitExceeded

    monkeypatch.setenv("WORKBENCH_LIMIT_METADATA_FILE_BYTES", "1000")
    path = rezip(tmp_path, "big_config.keras", {"config.json": b"{}" + b" " * 5000})
    with zipfile.ZipFile(path) as zf, pytest.raises(LimitExceeded, match="metadata"):
        read_member(zf, "config.json")


# ---- damaged files -------------------------------------------------------------------------------------

@pytest.mark.parametrize("config, expected", [
    (b'{"class_name": "Sequential", "name": "\xff\xfe"}', "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"class_name": "Sequential", ', "not readable JSON"),
    (b'["not", "an", "object"]', "not a JSON object"),
    (b'{"class_name": "Sequential", "config": {"layers": [1, 2, 3]}}', "not a Keras model config"),
    (b'{"class_name": "Sequential", "config": {"layers": "none"}}', "not a Keras model config"),
], ids=["not-utf8", "recursion", "truncated-json", "json-list", "layers-not-objects", "layers-not-list"])
def test_damaged_keras_configs_are_damaged_keras_files(capsys, tmp_path, config, expected) -> None:
    path = rezip(tmp_path, "damaged.keras", {"config.json": config})
    code, payload, err = run_cli(capsys, "inspect", path, "--json")
    assert code == 2, err
    assert payload["kind"] == "corrupt", payload
    assert "damaged Keras file" in payload["error"] and expected in payload["error"]


@pytest.mark.parametrize("raw, expected", [
    ("{not json", "not readable JSON"),
    ('"just a string"', "not a JSON object"),
], ids=["json-error", "not-object"])
def test_damaged_h5_model_config_is_a_damaged_keras_file(capsys, tmp_path, raw, expected) -> None:
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "damaged.h5"
    with h5py.File(path, "w") as h5:
        h5.attrs["model_config"] = raw
        h5.attrs["keras_version"] = "2.15.0"
    code, payload, err = run_cli(capsys, "inspect", path, "--json")
    assert code == 2, err
    assert payload["kind"] == "corrupt"
    assert "damaged Keras file" in payload["error"] and expected in payload["error"]


# ---- Lambda layers and safe mode ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lambda_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keras = pytest.importorskip("keras")
    folder = tmp_path_factory.mktemp("keras-lambda")
    inputs = keras.Input(shape=(4,), name="features")
    doubled = keras.layers.Lambda(lambda x: x * 2.0, name="doubles")(inputs)
    outputs = keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros", name="out")(doubled)
    model = keras.Model(inputs, outputs)
    path = folder / "with_lambda.keras"
    model.save(path)
    rows = folder / "rows.csv"
    rows.write_text("f0,f1,f2,f3\n1,2,3,4\n")
    return path


@pytest.mark.tf
@pytest.mark.parametrize("runtime", ["native", "tensorflow"])
def test_a_lambda_layer_refused_by_safe_mode_asks_for_trust(capsys, lambda_model, runtime) -> None:
    rows = lambda_model.with_name("rows.csv")
    code, payload, err = run_cli(capsys, "predict", lambda_model, "--rows", rows, "--runtime", runtime, "--json")
    assert code == 2, err
    assert payload["kind"] == "untrusted"
    assert "trust it to load" in payload["error"] and "Lambda" in payload["error"]


@pytest.mark.tf
@pytest.mark.parametrize("runtime", ["native", "tensorflow"])
def test_a_lambda_layer_loads_with_trust(capsys, lambda_model, runtime) -> None:
    rows = lambda_model.with_name("rows.csv")
    code, payload, err = run_cli(capsys, "predict", lambda_model, "--rows", rows, "--runtime", runtime,
                                 "--trust", "--json")
    assert code == 0, err
    assert payload["predictions"][0]["value"] == pytest.approx(20.0)  # (1+2+3+4) * 2


@pytest.mark.tf
def test_inspection_names_lambda_layers_without_loading(capsys, lambda_model) -> None:
    code, payload, err = run_cli(capsys, "inspect", lambda_model, "--json")
    assert code == 0, err
    assert payload["metadata"]["lambda_layers"] == ["doubles"]
    assert any("trust it to load" in w for w in payload["warnings"])


@pytest.mark.tf
def test_the_sample_loads_in_safe_mode_without_trust(capsys) -> None:
    code, payload, err = run_cli(capsys, "predict", SAMPLE, "--rows", ROWS, "--json")
    assert code == 0, err
    assert len(payload["predictions"]) == 30
