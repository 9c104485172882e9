"""Shared fixtures: where the sample models and the shared TF Serving testdata live."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES_DIR = REPO / "sample_models"
#: ../shared beside the checkout (CI lays a copy there); WORKBENCH_SHARED overrides it
SHARED_DIR = Path(os.environ.get("WORKBENCH_SHARED", REPO.parent / "shared"))
TFSERVING_TESTDATA = SHARED_DIR / "testdata" / "tfserving"


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
        pytest.fail(f"shared testdata not found at {TFSERVING_TESTDATA}; set WORKBENCH_SHARED")
    return TFSERVING_TESTDATA


@pytest.fixture(scope="session")
def matrix_models(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every scikit-learn kind of the conversion matrix, trained and saved once for all conversion
    tests: {kind key: (model path, rows path)}."""
    from tests.core.convert_helpers import load_matrix_script

    matrix = load_matrix_script()
    folder = tmp_path_factory.mktemp("matrix-models")
    return {kind.key: matrix.build_kind(kind, folder) for kind in matrix.model_kinds() if not kind.native}
