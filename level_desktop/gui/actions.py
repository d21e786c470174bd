"""The window's action table: every command a user can give, its shortcut, menu and toolbar place.

Kept apart from the window so the list of what Level can do reads as one table. Undo and Redo
are views of the document's history: their text and state follow `Event.HISTORY`, their
trigger calls the document (there is no second undo stack).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from level_desktop.core.document import MAX_NAME_CHARS, Document, Event
from level_desktop.core.embedding.choice import FAST_PATH_PREFIX
from level_desktop.gui.renaming import rename_selection

if TYPE_CHECKING:
    from level_desktop.gui.window import MainWindow

FLATTEN_TOPICS_TIP = "Propose topic weights that level the topics"
Shortcut = QKeySequence | QKeySequence.StandardKey | Qt.Key | str | list[str]


def make_action(window: QMainWindow, text: str, shortcut: Shortcut, slot: Callable[..., Any],
                tip: str = "", checkable: bool = False) -> QAction:
    """An action with its shortcut shown in its tooltip, added to the window so the shortcut
    works even where no menu or button shows it."""
    action = QAction(text, window)
    if isinstance(shortcut, list):
        action.setShortcuts([QKeySequence(s) for s in shortcut])
    else:
        action.setShortcut(QKeySequence(shortcut))
    action.setCheckable(checkable)
    shortcut_text = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{tip or text.replace('&', '').rstrip('…')} ({shortcut_text})")
    action.setStatusTip(tip)
    action.triggered.connect(slot)
    window.addAction(action)
    return action


class HistoryAction(QAction):
    """Undo or Redo: "&Undo Weight of … → 2.00" while there is a step, plain "&Undo" otherwise
    (as QUndoStack's actions read), enabled only when the document can take that step.

    The Edit menu shows that full text; a toolbar button shows only "Undo"/"Redo" (the action's
    icon text) with the full text in its tooltip, so a long step name neither widens the toolbar
    nor gets elided to "Un…es" in a narrow window."""

    def __init__(self, window: QMainWindow, document: Document, prefix: str, redo: bool) -> None:
        super().__init__(prefix, window)
        self._document, self._prefix, self._redo = document, prefix, redo
        self.setIconText(prefix.replace("&", ""))
        self.triggered.connect(document.redo if redo else document.undo)
        document.subscribe(Event.HISTORY, self.refresh)
        self.refresh()

    def refresh(self) -> None:
        document = self._document
        text = document.redo_text if self._redo else document.undo_text
        self.setText(f"{self._prefix} {text}" if text else self._prefix)
        self.setEnabled(document.can_redo if self._redo else document.can_undo)
        shortcut = self.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        label = self.text().replace("&", "")
        self.setToolTip(f"{label} ({shortcut})" if shortcut else label)


class WindowActions:
    """Every action of the main window, built once, connected to the window's slots."""

    def __init__(self, window: MainWindow, document: Document) -> None:
        w, act = window, lambda *args, **kwargs: make_action(window, *args, **kwargs)
        self.open = act("&Open…", QKeySequence.StandardKey.Open, w.open_dialog,
                        "Open a table or a .level project")
        self.open_folder = act("Open &Folder…", "Ctrl+Alt+O", w.open_folder_dialog,
                               "Open a folder of images (JPEG, PNG, WebP, …), subfolders "
                               "included")
        self.sample = act("Try the &Sample", "Ctrl+Shift+O", w.open_sample,
                          "Open the 600-row sample shipped with Level")
        self.save = act("&Save Project", QKeySequence.StandardKey.Save,
                        lambda: w.save_project(), "Save the project (.level)")
        self.save_as = act("Save Project &As…", "Ctrl+Shift+S", lambda: w.save_project_as(),
                           "Save the project under a new name")
        self.export_weighted = act("Export &Weighted CSV…", "Ctrl+E",
                                   lambda: w.export_csv("weighted"),
                                   "Every row with its cluster and weight")
        self.export_resampled = act("Export &Resampled CSV…", "Ctrl+Shift+E",
                                    lambda: w.export_csv("resampled"),
                                    "Rows drawn per cluster according to the weights")
        self.quit = act("&Quit", QKeySequence.StandardKey.Quit, w.close)
        self.undo = HistoryAction(w, document, "&Undo", redo=False)
        self.undo.setShortcut(QKeySequence("Ctrl+Z"))
        self.redo = HistoryAction(w, document, "&Redo", redo=True)
        self.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for history in (self.undo, self.redo):
            history.refresh()  # the tooltips name the shortcuts just set
        w.addActions([self.undo, self.redo])
        self.flatten = act("&Flatten", "Ctrl+L", w.flatten, FLATTEN_TOPICS_TIP)
        self.flatten_clusters = act(
            "Flatten All &Clusters", "Ctrl+Alt+L", w.flatten_all_clusters,
            "Level every cluster at once, topic weights back to 1: for a row budget this beat "
            "flattening the topics in Level's benchmark (benchmarks/README.md)")
        self.reset_weights = act("Rese&t Weights", "Ctrl+Shift+L", w.reset_weights,
                                 "Every weight, of topics and clusters, back to 1")
        self.back = act("&Back to All Topics", "Alt+Left", w.go_back,
                        "Return from a topic to every topic")
        self.map = act("Top-down &Map", "Ctrl+M", w.show_map, "Show every row on the 2-D map",
                       checkable=True)
        self.reset_view = act("Reset &View", "Ctrl+0", w.reset_view,
                              "Put the camera back where it started")
        self.settings = act("&Settings…", "Ctrl+,", w.edit_settings,
                            "Model, clustering, map and naming choices")
        self.relabel = act("&Name Clusters Again", "Ctrl+R", lambda: w.relabel(),
                           "Ask the labeler chosen in Settings for new names; the names you "
                           "gave are kept")
        self.relabel_all = act("Name &Everything Again", "Ctrl+Shift+R",
                               lambda: w.relabel(rename_all=True),
                               "New names for every cluster and topic, replacing the names you "
                               "gave too")
        self.full_model = act("Analyse with the &Full Model", "", w.use_full_model,
                              "Embed the rows again with the bundled MiniLM instead of the fast "
                              "path; clusters, topics, names and map are redone")
        self.rename = act("Re&name…", "F2",
                          lambda: rename_selection(w, document, w.selected_topic),
                          f"Give the selected cluster or topic your own name (up to "
                          f"{MAX_NAME_CHARS} characters)")
        self.text_column = act("Text &Column…", "Ctrl+T", w.change_text_column,
                               "Choose the column that holds the text")
        self.cancel = act("Cancel", Qt.Key.Key_Escape, w.cancel_work,
                          "Stop the work in progress")
        self.collapse_duplicates = act(
            "Collapse &Duplicates", "Ctrl+D", w.collapse_duplicates,
            "Count each group of near-duplicate rows as one row (finds the groups first when "
            "needed); uncheck to count every row again", checkable=True)

    def build_menus(self, window: MainWindow) -> QMenu:
        """The menu bar; returns the Open Recent menu, which the window fills when it opens."""
        menus = window.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addActions([self.open, self.open_folder, self.sample])
        recent_menu = QMenu("Open &Recent", window)
        file_menu.addMenu(recent_menu)
        file_menu.addSeparator()
        file_menu.addActions([self.save, self.save_as])
        file_menu.addSeparator()
        file_menu.addActions([self.export_weighted, self.export_resampled])
        file_menu.addSeparator()
        file_menu.addAction(self.quit)
        edit_menu = menus.addMenu("&Edit")
        edit_menu.addActions([self.undo, self.redo])
        edit_menu.addSeparator()
        edit_menu.addActions([self.flatten, self.flatten_clusters, self.reset_weights,
                              self.collapse_duplicates])
        edit_menu.addSeparator()
        edit_menu.addAction(self.rename)
        view_menu = menus.addMenu("&View")
        view_menu.addActions([self.back, self.map, self.reset_view])
        analysis_menu = menus.addMenu("&Analysis")
        analysis_menu.addActions([self.settings, self.text_column, self.relabel,
                                  self.relabel_all, self.full_model])
        analysis_menu.addSeparator()
        analysis_menu.addAction(self.cancel)
        return recent_menu

    def build_toolbar(self, window: MainWindow) -> None:
        toolbar = window.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        toolbar.addActions([self.open, self.save, self.export_weighted])
        toolbar.addSeparator()
        toolbar.addActions([self.undo, self.redo])
        toolbar.addSeparator()
        toolbar.addActions([self.back, self.map, self.reset_view])
        toolbar.addSeparator()
        toolbar.addAction(self.settings)

    def update(self, has_analysis: bool, busy: bool, inside_topic: bool = False,
               model_choice: str | None = None) -> None:
        """Enable what makes sense now: saving needs an analysis and no job running; Back needs
        an open topic; the full model is offered when auto took the fast path (`model_choice`
        says why, with the full model's projected time). Esc cancels work while there is work,
        else it is Back's."""
        fast_path = bool(model_choice and model_choice.startswith(FAST_PATH_PREFIX))
        self.full_model.setEnabled(has_analysis and not busy and fast_path)
        self.full_model.setStatusTip(model_choice or "")
        self.full_model.setToolTip(f"{model_choice}. Embed again with the full model." if fast_path
                                   else "The rows were embedded with the full model already")
        for action in (self.save, self.save_as, self.export_weighted, self.export_resampled,
                       self.relabel, self.relabel_all):
            action.setEnabled(has_analysis and not busy)
        for action in (self.flatten, self.flatten_clusters, self.reset_weights, self.map,
                       self.reset_view,
                       self.text_column, self.rename):
            action.setEnabled(has_analysis)
        self.collapse_duplicates.setEnabled(has_analysis and not busy)
        self.cancel.setEnabled(busy)
        self.back.setEnabled(has_analysis and inside_topic)
        back_keys = [QKeySequence("Alt+Left")] + ([] if busy else [QKeySequence(Qt.Key.Key_Escape)])
        self.back.setShortcuts(back_keys)

    def show_level(self, topic_label: str | None) -> None:
        """Flatten's wording for the level in view (None: every topic)."""
        tip = (f"Propose cluster weights that level the clusters within {topic_label}"
               if topic_label is not None else FLATTEN_TOPICS_TIP)
        self.flatten.setStatusTip(tip)
        self.flatten.setToolTip(f"{tip} (Ctrl+L)")
