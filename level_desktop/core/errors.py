"""Errors a user can cause, each carrying a message written for that user."""

from __future__ import annotations


class LevelError(Exception):
    """Base of every error Level shows to a user; `str(err)` is the message to show."""


class Cancelled(LevelError):
    """The user stopped the work; nothing half-written was kept."""

    def __init__(self, message: str = "Cancelled. Nothing was changed.") -> None:
        super().__init__(message)


class InputFileError(LevelError):
    """The input file cannot be used as it is (missing, binary, empty, malformed)."""


class EmptyFileError(InputFileError):
    """The input file holds no data rows."""


class BinaryFileError(InputFileError):
    """The input file is not text (or not a format Level reads)."""


class TooLargeError(InputFileError):
    """The input would need more memory than the machine has free."""


class NoTextColumnError(InputFileError):
    """No column of the input holds text."""


class UnknownColumnError(InputFileError):
    """The column the user named is not in the file."""


class TooFewRowsError(InputFileError):
    """Too few rows have text to find clusters in."""


class ModelError(LevelError):
    """The embedding model cannot be found or loaded."""


class UnknownBackendError(LevelError):
    """A stage was asked for a method Level does not have."""


class ProjectFileError(LevelError):
    """A .level project file cannot be read or written."""


class ExportError(LevelError):
    """An export cannot be written where the user asked."""


class SettingsError(LevelError):
    """A setting has a value Level cannot use."""


class RenameError(LevelError):
    """A name the user typed for a cluster or topic cannot be used (empty, too long, taken)."""


class ComparisonError(LevelError):
    """A comparison set is needed and missing, or cannot be laid over this project."""
