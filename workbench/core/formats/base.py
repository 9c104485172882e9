"""The format protocol and its registry.

A format decides from a cheap `Probe` (first bytes, zip listing, folder listing) whether a path is
one of its files; it never runs model code to decide. `inspect` then reads the file properly.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.registry import Registry
from workbench.core.types import ModelInfo

HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Probe:
    """What detection may look at: never more than the head of a file and listings."""

    path: Path
    is_dir: bool
    size: int = 0
    head: bytes = b""
    #: member names of a zip file, or the relative paths inside a folder (two levels deep)
    names: tuple[str, ...] = ()

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()


#: inspect(path, trust) -> ModelInfo
Inspector = Callable[[Path, bool], ModelInfo]
#: load(path, trust) -> the framework's own model object (estimator, Booster, keras.Model, ...)
Loader = Callable[[Path, bool], Any]


@dataclass(frozen=True)
class ModelFormat:
    """A registered model format.

    `match` returns True when the probe's content is this format; it may raise
    `CorruptModel` when the content starts like this format but is damaged.
    """

    name: str
    title: str
    extensions: tuple[str, ...]
    match: Callable[[Probe], bool]
    inspect: Inspector
    load: Loader | None = None
    is_folder: bool = False
    priority: int = 50
    #: loading runs code from the file (pickles): needs the user's trust
    runs_code: bool = False
    frameworks: tuple[str, ...] = field(default_factory=tuple)

    def file_filter(self) -> str:
        """A Qt/Tk style file-dialog filter, e.g. 'ONNX model (*.onnx)'."""
        patterns = " ".join(f"*{ext}" for ext in self.extensions) or "*"
        return f"{self.title} ({patterns})"


FORMATS: Registry[str, ModelFormat] = Registry("model format")

#: framework loads run one at a time: unpickling imports the model's framework (scikit-learn, XGBoost...)
#: and two threads importing scikit-learn at once deadlock on its circular imports (_DeadlockError,
#: "partially initialized module 'sklearn.base'"), as when the app opens several pickles together
_FRAMEWORK_LOAD_LOCK = threading.RLock()


def one_load_at_a_time(load: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a format's `load` (or anything that imports a framework to read a file) so that it runs
    under the shared framework-load lock."""

    @functools.wraps(load)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _FRAMEWORK_LOAD_LOCK:
            return load(*args, **kwargs)

    return locked
