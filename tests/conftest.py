"""Shared fixtures: where the sample models and the TF Serving test models live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES_DIR = REPO / "sample_models"
#: TF Serving's half_plus_two test models, committed (sample_models/build_tfserving.py writes them)
TFSERVING_TESTDATA = SAMPLES_DIR / "tfserving"


def load_manifest() -> dict:
    return json.loads((SAMPLES_DIR / "samples.json").read_text())


def sample_entries() -> list[dict]:
    """The `samples` list of sample_models/samples.json (empty before the samples are built)."""
    if not (SAMPLES_DIR / "samples.json").exists():
        return []
    return load_manifest()["samples"]


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES_DIR


@pytest.fixture(scope="session")
def manifest() -> dict:
    return load_manifest()


@pytest.fixture(scope="session")
def tfserving_testdata() -> Path:
    if not TFSERVING_TESTDATA.is_dir():
        pytest.fail(f"TF Serving test models not found at {TFSERVING_TESTDATA}; "
                    "run python sample_models/build_tfserving.py")
    return TFSERVING_TESTDATA


@pytest.fixture(scope="session")
def matrix_models(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every scikit-learn kind of the conversion matrix, trained and saved once for all conversion
    tests: {kind key: (model path, rows path)}."""
    from tests.core.convert_helpers import load_matrix_script

    matrix = load_matrix_script()
    folder = tmp_path_factory.mktemp("matrix-models")
    return {kind.key: matrix.build_kind(kind, folder) for kind in matrix.model_kinds() if not kind.native}
