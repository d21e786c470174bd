"""What the window remembers between runs (QSettings): default settings, recent files, geometry,
and which input files the user agreed to send to Gemini."""

from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from level_desktop.core.settings import Settings

MAX_RECENT_FILES = 8


class Preferences:
    """Typed access to the application's QSettings."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self._store = settings if settings is not None else QSettings()

    def default_settings(self) -> Settings:
        """The analysis settings chosen last time (the text column is per file, never kept)."""
        text = self._store.value("analysis/defaults", "", str)
        if not text:
            return Settings()
        try:
            return Settings.from_json(text).replace(text_column=None, image_column=None)
        except (ValueError, TypeError):
            return Settings()

    def set_default_settings(self, settings: Settings) -> None:
        if settings.image_column is not None and settings.labeler == "numbered":
            settings = settings.replace(labeler="keywords")  # numbered: an image set's fallback
        self._store.setValue("analysis/defaults",
                             settings.replace(text_column=None, image_column=None).to_json())

    def recent_files(self) -> list[str]:
        value = self._store.value("files/recent", [])
        if isinstance(value, str):  # QSettings hands back a one-item list as a plain string
            value = [value]
        return [str(v) for v in value or []]

    def add_recent_file(self, path: str | Path) -> None:
        entry = str(Path(path).resolve())
        recent = [entry] + [p for p in self.recent_files() if p != entry]
        self._store.setValue("files/recent", recent[:MAX_RECENT_FILES])

    def remove_recent_file(self, path: str) -> None:
        self._store.setValue("files/recent", [p for p in self.recent_files() if p != path])

    def window_state(self, key: str) -> QByteArray | None:
        value = self._store.value(f"window/{key}")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_window_state(self, key: str, state: QByteArray) -> None:
        self._store.setValue(f"window/{key}", state)

    def has_gemini_consent(self, source: str) -> bool:
        return bool(self._store.value(f"gemini-consent/{_key(source)}", False, bool))

    def grant_gemini_consent(self, source: str) -> None:
        self._store.setValue(f"gemini-consent/{_key(source)}", True)

    def sync(self) -> None:
        self._store.sync()


def _key(path: str) -> str:
    """A QSettings key for a file path (slashes would nest groups)."""
    return hashlib.sha1(str(Path(path).resolve()).encode("utf-8")).hexdigest()[:20]
