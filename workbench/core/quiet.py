"""Keep TensorFlow's start-up banners off the user's terminal.

Importing TensorFlow prints C++ log lines straight to file descriptor 2 before its logging is set
up ("All log messages before absl::InitializeLog() ...", "oneDNN custom operations are on ..."),
which no environment variable silences, and tf2onnx then logs deprecation warnings through the
`tensorflow` Python logger. A user who asked for predictions should see neither. `install()` wraps
the first `import tensorflow` (wherever it happens, lazily): fd 2 goes to a temporary file during the
import, and every captured line that is not a known banner is written back afterwards.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import os
import re
import sys
import tempfile
from types import ModuleType
from typing import Any

#: lines TensorFlow prints at import time that tell a workbench user nothing
BANNERS = re.compile(
    r"All log messages before absl::InitializeLog|oneDNN custom operations are on|cpu_feature_guard|"
    r"This TensorFlow binary is optimized|To enable the following instructions|rebuild TensorFlow with|"
    r"Unable to register cu(DNN|FFT|BLAS)|TF-TRT Warning|computation_placer|Could not find cuda drivers"
)


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        _uninstall()  # one shot: only the first import prints banners
        with _captured_fd2():
            self._inner.exec_module(module)
        # tf2onnx and Keras log "... is deprecated / Instructions for updating" at WARNING
        logging.getLogger("tensorflow").setLevel(logging.ERROR)

    def __getattr__(self, name: str) -> Any:  # get_filename, is_package, ... of the real loader
        return getattr(self._inner, name)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any = None, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if name != "tensorflow":
            return None
        # find_spec is also called without importing (importlib.util.find_spec("tensorflow") to test
        # availability), so the finder stays until the import really runs (see _QuietLoader)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _captured_fd2:
    """Send fd 2 to a temporary file; on exit replay the lines that are not banners."""

    def __enter__(self) -> None:
        sys.stderr.flush()
        self._saved = os.dup(2)
        self._tmp = tempfile.TemporaryFile(mode="w+b")
        os.dup2(self._tmp.fileno(), 2)

    def __exit__(self, *exc: object) -> None:
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._tmp.seek(0)
        kept = [line for line in self._tmp.read().decode("utf-8", "replace").splitlines(keepends=True)
                if not BANNERS.search(line)]
        self._tmp.close()
        if kept:
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


def _uninstall() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _QuietTensorFlowFinder)]


def install() -> None:
    """Quiet the first TensorFlow import of this process (no-op if it already happened)."""
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietTensorFlowFinder())
