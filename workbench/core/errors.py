"""Domain errors. Each message is one line a user can act on; the CLI prints it as `error: ...`."""

from __future__ import annotations

from collections.abc import Sequence


class WorkbenchError(Exception):
    """Base of every error the workbench reports to a user (never shown with a traceback)."""

    #: short machine-readable kind, used in JSON outputs and by the GUI
    kind: str = "error"
    #: True when the same operation with force (the CLI's --force, the GUI's "Overwrite if it exists")
    #: would go ahead: lets a GUI say it in its own words without reading the message
    needs_force: bool = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class ModelFileError(WorkbenchError):
    """A path that cannot be read as a model: missing, unreadable, unknown or corrupt."""

    kind = "model-file"

    def __init__(self, path: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class UnknownFormat(ModelFileError):
    """The content matches no registered model format (the message says what it looks like)."""

    kind = "unknown-format"


class CorruptModel(ModelFileError):
    """The content starts like a known format but cannot be parsed (truncated, damaged)."""

    kind = "corrupt"


class UntrustedModel(WorkbenchError):
    """Loading this file would run code from it (a pickle, a SavedModel's graph initializers, a Keras
    Lambda layer outside safe mode); the user has to say they trust it (--trust or the trust dialog)."""

    kind = "untrusted"


#: the historical name, kept importable: every "loading runs code" refusal is this one error
UntrustedPickle = UntrustedModel


class BackendUnavailable(WorkbenchError):
    """An optional backend (TensorFlow, Java, a converter package) is not installed here."""

    kind = "backend-unavailable"


class InputRowsError(WorkbenchError):
    """Feature rows that do not fit a model's inputs; `problems` lists every bad column or cell."""

    kind = "bad-rows"

    def __init__(self, message: str, problems: Sequence[str] = (), *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = list(problems)


class ConversionFailed(WorkbenchError):
    """A converter ran and failed; `details` carries the converter's own output (e.g. Java stderr)."""

    kind = "conversion-failed"

    def __init__(self, message: str, details: str = "", *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.details = details


class RegistryError(WorkbenchError):
    """A registry lookup or registration that cannot be done (duplicate key, unknown key)."""

    kind = "registry"
