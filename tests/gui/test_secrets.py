"""The Gemini key typed into the real settings dialog goes to the keyring and nowhere else.

The OS keyring is stood in for by a keyring backend that keeps its passwords in one JSON file in
the test's folder, so the test can read what the keyring got and search every other file for the
key: the window's QSettings, a project saved with the chosen settings, an export, and the log.
"""

from __future__ import annotations

import json
import logging
import secrets as random_secrets
import shutil
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError, PasswordSetError
from PySide6.QtCore import QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

pytestmark = pytest.mark.gui

PROJECT_V1 = Path(__file__).resolve().parents[1] / "data" / "project-v1.level"


class FileKeyring(KeyringBackend):
    """A keyring that keeps passwords in a JSON file (a file keyring, like keyrings.alt's)."""

    priority = 1

    def __init__(self, path: Path, refuse: bool = False) -> None:
        super().__init__()
        self.path = path
        self.refuse = refuse

    def _load(self) -> dict[str, str]:
        return json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.refuse:
            raise PasswordSetError(f"the keyring is locked (asked to store {password})")
        data = self._load()
        data[f"{service}/{username}"] = password
        self.path.write_text(json.dumps(data), encoding="utf-8")

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError("not stored")
        self.path.write_text(json.dumps(data), encoding="utf-8")


def when_modal(qtbot, handle) -> None:
    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(50, poll)
        else:
            handle(dialog)

    QTimer.singleShot(50, poll)


def _type_key_and_accept(key: str, seen: dict):
    def edit(dialog) -> None:
        dialog.labeler.setCurrentIndex(dialog.labeler.findData("gemini"))
        assert dialog.api_key.isEnabled()
        QTest.keyClicks(dialog.api_key, key)  # typed, as a user types it
        seen["echo"] = dialog.api_key.displayText()
        dialog.accept()
        seen["open_after_accept"] = dialog.isVisible()
        if dialog.isVisible():
            dialog.reject()

    return edit


@pytest.fixture
def file_keyring(tmp_path: Path):
    import keyring

    previous = keyring.get_keyring()
    backend = FileKeyring(tmp_path / "keyring" / "passwords.json")
    backend.path.parent.mkdir()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def debug_log(tmp_path: Path):
    """Every log record of the run, at DEBUG, written to a file the test can search."""
    path = tmp_path / "level.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    yield path
    root.removeHandler(handler)
    handler.close()
    root.setLevel(old_level)


def test_typed_key_reaches_the_keyring_and_no_file_or_log(window, qtbot, tmp_path: Path,
                                                          file_keyring, debug_log,
                                                          capfd) -> None:
    from level_desktop.core import secrets
    from level_desktop.core.export import write_weighted
    from level_desktop.core.store import load_project, save_project
    from level_desktop.gui.preferences import Preferences

    key = "AIzaSy" + random_secrets.token_hex(16)
    seen: dict = {}
    when_modal(qtbot, _type_key_and_accept(key, seen))
    window.settings_action.trigger()
    assert key not in seen["echo"]  # the field shows dots, not the key
    assert seen["open_after_accept"] is False

    # The keyring has it, under Level's service name, and Level reads it back from there.
    assert file_keyring.get_password(secrets.KEYRING_SERVICE, secrets.KEYRING_USER) == key
    assert secrets.get_gemini_key() == key
    assert secrets.gemini_key_source() == "keyring"

    # A project and an export made with the settings the dialog chose.
    preferences = Preferences()
    preferences.sync()
    chosen = preferences.default_settings()
    assert chosen.labeler == "gemini"
    copy = tmp_path / "old.level"  # a copy: opening a version-1 file upgrades it
    shutil.copyfile(PROJECT_V1, copy)
    analysis = load_project(copy)
    analysis.settings = chosen
    project = save_project(analysis, tmp_path / "with-gemini.level")
    export = tmp_path / "export.csv"
    write_weighted(analysis.export_data(), export)
    assert load_project(project).settings.labeler == "gemini"

    # Reopening the dialog says a key is stored without showing it.
    def look(dialog) -> None:
        seen["text"] = dialog.api_key.text()
        seen["placeholder"] = dialog.api_key.placeholderText()
        dialog.reject()

    when_modal(qtbot, look)
    window.settings_action.trigger()
    assert seen["text"] == ""
    assert seen["placeholder"].startswith("A key is stored")

    window.preferences.sync()
    out, err = capfd.readouterr()
    assert key not in out + err
    searched = []
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != file_keyring.path:
            searched.append(path.relative_to(tmp_path).as_posix())
            assert key.encode() not in path.read_bytes(), f"the key leaked into {path}"
    assert any(p.startswith("config/") for p in searched), searched  # the QSettings file
    assert {"with-gemini.level", "export.csv", "level.log"} <= set(searched)


def test_a_keyring_that_refuses_says_so_without_the_key(window, qtbot, tmp_path: Path,
                                                        record_message_boxes,
                                                        file_keyring) -> None:
    file_keyring.refuse = True
    key = "AIzaSy" + random_secrets.token_hex(16)
    seen: dict = {}
    when_modal(qtbot, _type_key_and_accept(key, seen))
    window.settings_action.trigger()
    assert seen["open_after_accept"]  # the dialog stays open so the user can act
    assert len(record_message_boxes.warnings) == 1
    message = record_message_boxes.warnings[0]
    assert "cannot be stored in the system keyring" in message
    assert "GEMINI_API_KEY" in message
    assert key not in message
    assert not file_keyring.path.exists()


def test_the_llm_servers_key_goes_to_the_keyring_under_its_own_name(window, qtbot, tmp_path,
                                                                    file_keyring) -> None:
    from level_desktop.core import secrets

    key = "sk-" + random_secrets.token_hex(16)
    seen: dict = {}

    def edit(dialog) -> None:
        dialog.labeler.setCurrentIndex(dialog.labeler.findData("gemini"))
        seen["enabled_for_gemini"] = dialog.llm_api_key.isEnabled()
        dialog.labeler.setCurrentIndex(dialog.labeler.findData("local"))
        seen["enabled_for_local"] = dialog.llm_api_key.isEnabled()
        seen["gemini_field_for_local"] = dialog.api_key.isEnabled()
        dialog.llm_model.setText("qwen3")
        QTest.keyClicks(dialog.llm_api_key, key)
        seen["echo"] = dialog.llm_api_key.displayText()
        dialog.accept()

    when_modal(qtbot, edit)
    window.settings_action.trigger()
    assert not seen["enabled_for_gemini"]  # the field is the LLM server's own
    assert seen["enabled_for_local"]
    assert not seen["gemini_field_for_local"]
    assert key not in seen["echo"]
    assert file_keyring.get_password(secrets.KEYRING_SERVICE, secrets.LLM_KEYRING_USER) == key
    assert file_keyring.get_password(secrets.KEYRING_SERVICE, secrets.KEYRING_USER) is None
    assert secrets.get_llm_key() == key
    window.preferences.sync()
    assert window.preferences.default_settings().llm_model == "qwen3"
    settings_files = [p for p in (tmp_path / "config").rglob("*") if p.is_file()]
    assert settings_files  # the QSettings file, which must not hold the key
    for path in settings_files:
        assert key.encode() not in path.read_bytes(), f"the key leaked into {path}"

    def look(dialog) -> None:
        seen["placeholder"] = dialog.llm_api_key.placeholderText()
        dialog.reject()

    when_modal(qtbot, look)
    window.settings_action.trigger()
    assert seen["placeholder"].startswith("A key is stored")
