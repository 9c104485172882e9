"""Model formats: one module per format, registered in `workbench.core.builtins`."""

from workbench.core.formats.base import FORMATS, ModelFormat, Probe

__all__ = ["FORMATS", "ModelFormat", "Probe"]
