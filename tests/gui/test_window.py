"""The window from the outside: first run, opening files, the column and settings dialogs, errors."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

pytestmark = pytest.mark.gui
ANALYSIS_TIMEOUT_MS = 900_000  # the first analysis embeds 600 rows on a shared 2-core CPU
JOB_TIMEOUT_MS = 120_000

HEAVY_MODULES = ("torch", "sentence_transformers", "umap", "sklearn", "pyqtgraph", "duckdb")


def when_modal(qtbot, handle) -> None:
    """Call handle(dialog) once a modal dialog is up (the dialog's exec() blocks the test)."""

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(50, poll)
        else:
            handle(dialog)

    QTimer.singleShot(50, poll)


def test_first_window_says_what_to_do_and_loads_nothing_heavy(window, screenshot) -> None:
    assert window.pages.currentWidget() is window.empty_state
    assert window.empty_state.title.text() == "Drop a CSV here"
    assert window.empty_state.open_button.text().startswith("Open…")
    assert window.empty_state.sample_button.text() == "Try the sample"
    assert not window.save_action.isEnabled()
    assert not window.export_weighted_action.isEnabled()
    loaded = [name for name in HEAVY_MODULES if name in sys.modules]
    assert not loaded, f"imported at start-up: {loaded}"
    screenshot(window, "01-empty")


def test_every_main_action_has_a_shortcut_shown_in_its_menu(window) -> None:
    actions = [window.open_action, window.sample_action, window.save_action,
               window.save_as_action, window.export_weighted_action,
               window.export_resampled_action, window.quit_action, window.undo_action,
               window.redo_action, window.flatten_action, window.reset_weights_action,
               window.map_action, window.reset_view_action, window.settings_action,
               window.text_column_action, window.relabel_action, window.cancel_action,
               window.open_folder_action, window.flatten_clusters_action,
               window.relabel_all_action, window.rename_action, window.back_action,
               window.collapse_duplicates_action]
    in_menus = {a for menu in window.menuBar().actions() for a in menu.menu().actions()}
    for action in actions:
        assert not action.shortcut().isEmpty(), action.text()
        assert action in in_menus, f"{action.text()} is in no menu"
    assert window.undo_action.shortcut().toString() == "Ctrl+Z"
    assert "Ctrl+Shift+Z" in [s.toString() for s in window.redo_action.shortcuts()]


def test_sample_button_analyses_the_shipped_sample(window, qtbot, screenshot) -> None:
    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_TIMEOUT_MS) as shown:
        qtbot.mouseClick(window.empty_state.sample_button, Qt.MouseButton.LeftButton)
    analysis = shown.args[0]
    assert Path(analysis.source.path).name == "sample.csv"
    assert analysis.source.text_column == "description"
    tree = window.topic_tree.model()
    assert tree.rowCount() == len(analysis.topics) + (1 if analysis.noise_size else 0)
    assert sum(tree.rowCount(tree.index(r, 0)) for r in range(tree.rowCount())) == len(
        analysis.clusters)
    summary = window.summary_label.text()
    assert f"{analysis.n_rows:,} rows" in summary
    assert f"{len(analysis.topics)} topics · {len(analysis.clusters)} clusters" in summary
    assert "all-MiniLM-L6-v2" in summary
    assert any(device in summary for device in ("CPU", "GPU", "cache"))
    assert "description" in window.source_label.text()


def test_command_line_file_opens_and_starts_at_once(qtbot, tmp_path, sample_resource) -> None:
    from PySide6.QtCore import QSettings

    from level_desktop.core.settings import Settings
    from level_desktop.gui.main import create_application, open_main_window
    from level_desktop.gui.preferences import Preferences

    app = create_application([])
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope,
                      str(tmp_path / "config"))
    Preferences().set_default_settings(Settings())
    window = open_main_window([str(sample_resource)])
    try:
        assert window.isVisible()
        with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_TIMEOUT_MS):
            pass
        assert window.analysis is not None
        assert window.analysis.n_rows == 600
    finally:
        window.document.mark_clean()
        window.close()
    assert app is QApplication.instance()


def test_unclear_text_column_asks_with_a_preview(window, qtbot, tmp_path, drop_file,
                                                 sample_resource, screenshot) -> None:
    from level_desktop.gui.column_dialog import ColumnDialog

    with open(sample_resource, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    two_texts = tmp_path / "two-texts.csv"
    with open(two_texts, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["package", "description", "notes"])
        for row in rows:  # a second column of text almost as long as the first
            text = row["description"]
            writer.writerow([row["package"], text, text[: int(len(text) * 0.85)]])
    seen: dict[str, object] = {}

    def answer(dialog) -> None:
        assert isinstance(dialog, ColumnDialog)
        seen["preselected"] = dialog.chosen_column()
        seen["preview"] = (dialog.preview.rowCount(), dialog.preview.columnCount())
        seen["choices"] = [dialog.column_box.itemData(i) for i in range(dialog.column_box.count())]
        screenshot(dialog, "07-column-dialog")
        dialog.accept()

    when_modal(qtbot, answer)
    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_TIMEOUT_MS) as shown:
        drop_file(window, two_texts)
    assert seen["preselected"] == "description"
    assert seen["preview"] == (8, 3)
    assert seen["choices"][:2] == ["description", "notes"]
    assert shown.args[0].source.text_column == "description"


def test_settings_are_remembered_and_gemini_asks_first(window, qtbot, drop_file, sample_resource,
                                                       record_message_boxes, screenshot) -> None:
    from level_desktop.gui.preferences import Preferences
    from level_desktop.gui.settings_dialog import SettingsDialog

    def edit(dialog) -> None:
        assert isinstance(dialog, SettingsDialog)
        dialog.method.setCurrentIndex(dialog.method.findData("kmeans"))
        dialog.k.setValue(8)
        dialog.grid.setValue(60)
        dialog.labeler.setCurrentIndex(dialog.labeler.findData("gemini"))
        assert dialog.k.isEnabled()
        assert not dialog.eps.isEnabled()
        screenshot(dialog, "08-settings-dialog")
        dialog.accept()

    when_modal(qtbot, edit)
    window.settings_action.trigger()
    remembered = Preferences().default_settings()
    assert (remembered.method, remembered.k, remembered.grid, remembered.labeler,
            remembered.projection) == ("kmeans", 8, 60, "gemini", "clusters")
    record_message_boxes.answers.append(QMessageBox.StandardButton.No)
    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_TIMEOUT_MS) as shown:
        drop_file(window, sample_resource)
    assert len(record_message_boxes.questions) == 1
    assert "sends the 5 most representative rows of each cluster to Google" in (
        record_message_boxes.questions[0])
    analysis = shown.args[0]
    assert analysis.settings.labeler == "keywords"  # the user said no: names made offline
    assert len(analysis.clusters) == 8
    assert window.landscape.terrain_view.terrain.grid == 60
    window.preferences.grant_gemini_consent(str(sample_resource))
    assert window.preferences.has_gemini_consent(str(sample_resource))


def test_bad_file_shows_the_error_in_words(window, qtbot, tmp_path, drop_file,
                                           record_message_boxes) -> None:
    image = tmp_path / "photo.csv"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with qtbot.waitSignal(window.job_finished, timeout=JOB_TIMEOUT_MS) as finished:
        drop_file(window, image)
    assert finished.args[1] == "failed"
    assert record_message_boxes.warnings == ["photo.csv is a PNG image, not a text table."]
    short = tmp_path / "short.csv"
    short.write_text("text\n" + "".join(f"row number {i}\n" for i in range(10)), encoding="utf-8")
    with qtbot.waitSignal(window.job_finished, timeout=JOB_TIMEOUT_MS):
        drop_file(window, short)
    assert "needs at least 50" in record_message_boxes.warnings[-1]
    assert all("Traceback" not in message for message in record_message_boxes.warnings)
    assert window.pages.currentWidget() is window.empty_state
    assert not window.progress_panel.isVisible()
    assert window.open_action.isEnabled()
