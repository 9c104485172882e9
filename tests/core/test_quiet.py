"""TensorFlow's import banners are kept off stderr; anything else printed meanwhile is kept."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import os, sys
from workbench.core import quiet
quiet.install()
with quiet._captured_fd2():
    os.write(2, b"I0000 00:00:1 123 port.cc:153] oneDNN custom operations are on. blah\\n")
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
    os.write(2, b"a real problem the user must see\\n")
import importlib.util
assert importlib.util.find_spec("tensorflow") is not None  # probing availability must not disarm it
{extra}
print("done", file=sys.stderr)
"""


def _run(extra: str) -> str:
    result = subprocess.run([sys.executable, "-c", SCRIPT.format(extra=extra)], capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_banners_are_dropped_and_other_lines_kept() -> None:
    err = _run("")
    assert "a real problem the user must see" in err and err.strip().endswith("done")
    assert "oneDNN" not in err and "absl::InitializeLog" not in err


@pytest.mark.tf
def test_importing_tensorflow_prints_no_banner() -> None:
    err = _run("import tensorflow as tf\nassert float(tf.constant(1.0) + 1) == 2.0")
    assert "oneDNN" not in err and "absl::InitializeLog" not in err and "cpu_feature_guard" not in err
