"""Layout of a TF Serving base folder: file names, the container mount root, numeric version folders,
the BundleError raised when a bundle cannot be made, and the atomic write every bundle file goes through.
"""

from __future__ import annotations

from pathlib import Path

from workbench.core.errors import WorkbenchError
from workbench.core.files import atomic_write_bytes

CONFIG_FILE = "models.config"
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"
SERVING_DOC = "SERVING.md"
#: where the docker command mounts BASE (so models.config names /models/NAME)
CONTAINER_ROOT = "/models"
#: TF Serving reads at most this many warmup records
MAX_WARMUP_RECORDS = 1000


class BundleError(WorkbenchError):
    """A bundle cannot be installed (bad name, version taken, not a SavedModel)."""

    kind = "bundle"


def version_numbers(model_base: Path) -> list[int]:
    """Numeric version folders of a model base path (what TF Serving sees), sorted."""
    if not Path(model_base).is_dir():
        return []
    return sorted(int(p.name) for p in Path(model_base).iterdir() if p.is_dir() and p.name.isdigit())


def next_version(model_base: Path) -> int:
    versions = version_numbers(model_base)
    return (versions[-1] + 1) if versions else 1


def _write_atomic(path: Path, data: bytes) -> None:
    atomic_write_bytes(path, data)
