"""Helpers for the serving tests: TF Serving test model paths (sample_models/tfserving), the MLServer venv
rule, a network-namespace runner.

Imported by tests/core/test_serving_*.py (not a conftest: each module builds its own module-scoped
servers so that TensorFlow is imported only by the one module that needs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, TFSERVING_TESTDATA

HPT2 = "saved_model_half_plus_two_2_versions"
HPT_TF2 = "saved_model_half_plus_two_tf2_cpu"
HP3 = "saved_model_half_plus_three"
#: base folder with version 1 (loads) and version 2 (truncated saved_model.pb, fails to load)
BROKEN = "saved_model_half_plus_two_broken_version"
#: TF Serving's GetModelMetadata REST body for HPT2 version 123 and for HPT_TF2 version 123
HPT2_METADATA = HPT2 + "_metadata.json"
HPT_TF2_METADATA = HPT_TF2 + "_metadata.json"
IN_CI = os.environ.get("CI", "").lower() == "true"


def model_dir(name: str) -> Path:
    path = TFSERVING_TESTDATA / name
    if not path.exists():
        pytest.fail(f"TF Serving test model {path} is missing; run python sample_models/build_tfserving.py")
    return path


def mlserver_venv_or_skip() -> Path:
    """The MLServer venv; skipped when missing outside CI, a failure in CI (CI=true must run them)."""
    from workbench.testing.mlserver import find_mlserver_venv

    venv = find_mlserver_venv()
    if venv is None:
        message = "MLServer venv not found: run .ci/mlserver.sh (or set WORKBENCH_MLSERVER_VENV)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return venv


def netns_available() -> bool:
    """True when `unshare -n` can make a private network namespace (root on Linux)."""
    if not shutil.which("unshare"):
        return False
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def run_in_netns(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `python args...` in a fresh network namespace: no interface is up, no packet can leave."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(["unshare", "-n", sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO)


def run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=REPO)
