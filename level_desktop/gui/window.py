"""The main window: drop a file, watch the work, see the landscape, level it, save and export.

The window is a thin layer: every long job runs in a `Worker` over the Qt-free core (`jobs`),
weights live in the core's `Balance` (the table, the balance panel and the terrain listen to it),
and weight edits are `WeightCommand`s on a QUndoStack. pyqtgraph (the landscape) is imported
only when there is something to draw, so the first window appears fast.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QMimeData, Qt, QTimer, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeySequence,
    QUndoStack,
)
from PySide6.QtOpenGLWidgets import QOpenGLWidget
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from level_desktop.core.errors import Cancelled, LevelError
from level_desktop.gui import jobs
from level_desktop.gui.cluster_table import ClusterTable
from level_desktop.gui.column_dialog import ColumnDialog
from level_desktop.gui.empty_state import EmptyState
from level_desktop.gui.job_runner import CANCELLED, FAILED, JobRunner
from level_desktop.gui.message_boxes import (
    UnsavedChoice,
    ask_unsaved_weights,
    confirm_gemini_upload,
    show_error,
)
from level_desktop.gui.palette import cluster_colors, rgb_to_hex
from level_desktop.gui.preferences import Preferences
from level_desktop.gui.progress_panel import ProgressPanel, stopping_note
from level_desktop.gui.settings_dialog import SettingsDialog
from level_desktop.gui.side_panels import BalancePanel, ClusterDetails
from level_desktop.gui.weight_commands import NOISE_ID, set_all_weights_command, set_weight_command
from level_desktop.gui.worker import Job

if TYPE_CHECKING:
    from level_desktop.core.analysis import Analysis
    from level_desktop.core.balance import Balance
    from level_desktop.core.loading import LoadedInput
    from level_desktop.core.settings import Settings
    from level_desktop.gui.landscape import LandscapePanel

INPUT_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json", ".parquet", ".pq")
OPEN_FILTER = ("Tables and projects (*.csv *.tsv *.txt *.jsonl *.ndjson *.json *.parquet *.pq "
               "*.level);;All files (*)")
STATUS_TIMEOUT_MS = 10_000
DEVICE_NAMES = {"cpu": "CPU", "cuda": "GPU (CUDA)", "mps": "GPU (Apple)",
                "cache": "embeddings from cache"}
Continuation = Callable[[], None]


def sample_csv_path() -> Path:
    """The small sample dataset shipped with Level."""
    return Path(str(resources.files("level_desktop").joinpath("resources", "sample.csv")))


def dropped_path(mime: QMimeData) -> Path | None:
    """The first local file in a drag that Level can open (a table or a .level project)."""
    for url in mime.urls() if mime.hasUrls() else []:
        path = Path(url.toLocalFile()) if url.isLocalFile() else None
        if path and path.suffix.lower() in (*INPUT_SUFFIXES, jobs.PROJECT_SUFFIX):
            return path
    return None


def device_name(device: str) -> str:
    return DEVICE_NAMES.get(device.split(":")[0], device)


class MainWindow(QMainWindow):
    """Level's one window."""

    analysis_shown = Signal(object)  # the Analysis now on screen
    job_finished = Signal(str, str)  # job name, outcome: "done", "failed" or "cancelled"

    def __init__(self, preferences: Preferences | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preferences = preferences or Preferences()
        self.setWindowTitle("Level")
        self.setAcceptDrops(True)
        self.resize(1240, 780)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(lambda clean: self.setWindowModified(not clean))
        self.analysis: Analysis | None = None
        self.balance: Balance | None = None
        self.landscape: LandscapePanel | None = None
        self.selected_cluster: int | None = None
        self._palette = np.zeros((0, 3), dtype=np.float32)
        self._project_path: Path | None = None
        self._project_in_sync = False  # the project file holds this analysis (weights may differ)
        self._create_actions()
        self._create_menus()
        self._create_toolbar()
        self._create_central()
        self.summary_label = QLabel("No file open")
        self.statusBar().addPermanentWidget(self.summary_label)
        self._restore_layout()
        self._update_actions()

    # ----- construction -----------------------------------------------------------------------

    def _action(self, text: str, shortcut: QKeySequence | str | list, slot: Callable[..., Any],
                tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if isinstance(shortcut, list):
            action.setShortcuts([QKeySequence(s) for s in shortcut])
        else:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        shortcut_text = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip or text.replace('&', '').rstrip('…')} ({shortcut_text})")
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _create_actions(self) -> None:
        self.open_action = self._action("&Open…", QKeySequence.StandardKey.Open,
                                        self.open_dialog, "Open a table or a .level project")
        self.sample_action = self._action("Try the &Sample", "Ctrl+Shift+O",
                                          lambda: self.open_path(sample_csv_path()),
                                          "Open the 600-row sample shipped with Level")
        self.save_action = self._action("&Save Project", QKeySequence.StandardKey.Save,
                                        lambda: self.save_project(), "Save the project (.level)")
        self.save_as_action = self._action("Save Project &As…", "Ctrl+Shift+S",
                                           lambda: self.save_project_as(),
                                           "Save the project under a new name")
        self.export_weighted_action = self._action(
            "Export &Weighted CSV…", "Ctrl+E", lambda: self.export_csv("weighted"),
            "Every row with its cluster and weight")
        self.export_resampled_action = self._action(
            "Export &Resampled CSV…", "Ctrl+Shift+E", lambda: self.export_csv("resampled"),
            "Rows drawn per cluster according to the weights")
        self.quit_action = self._action("&Quit", QKeySequence.StandardKey.Quit, self.close)
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.addActions([self.undo_action, self.redo_action])
        self.flatten_action = self._action("&Flatten", "Ctrl+L", self.flatten,
                                           "Propose weights that level the clusters")
        self.reset_weights_action = self._action("Rese&t Weights", "Ctrl+Shift+L",
                                                 self.reset_weights, "Every weight back to 1")
        self.map_action = self._action("Top-down &Map", "Ctrl+M", self.show_map,
                                       "Show every row on the 2-D map", checkable=True)
        self.reset_view_action = self._action("Reset &View", "Ctrl+0", self.reset_view,
                                              "Put the camera back where it started")
        self.settings_action = self._action("&Settings…", "Ctrl+,", self.edit_settings,
                                            "Model, clustering, map and naming choices")
        self.relabel_action = self._action("&Name Clusters Again", "Ctrl+R", self.relabel,
                                           "Ask the labeler chosen in Settings for new names")
        self.text_column_action = self._action("Text &Column…", "Ctrl+T",
                                               self.change_text_column,
                                               "Choose the column that holds the text")
        self.cancel_action = self._action("Cancel", Qt.Key.Key_Escape, self.cancel_work,
                                          "Stop the work in progress")

    def _create_menus(self) -> None:
        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addActions([self.open_action, self.sample_action])
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addActions([self.save_action, self.save_as_action])
        file_menu.addSeparator()
        file_menu.addActions([self.export_weighted_action, self.export_resampled_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = menus.addMenu("&Edit")
        edit_menu.addActions([self.undo_action, self.redo_action])
        edit_menu.addSeparator()
        edit_menu.addActions([self.flatten_action, self.reset_weights_action])
        view_menu = menus.addMenu("&View")
        view_menu.addActions([self.map_action, self.reset_view_action])
        analysis_menu = menus.addMenu("&Analysis")
        analysis_menu.addActions([self.settings_action, self.text_column_action,
                                  self.relabel_action])
        analysis_menu.addSeparator()
        analysis_menu.addAction(self.cancel_action)

    def _create_toolbar(self) -> None:
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        toolbar.addActions([self.open_action, self.save_action, self.export_weighted_action])
        toolbar.addSeparator()
        toolbar.addActions([self.undo_action, self.redo_action])
        toolbar.addSeparator()
        toolbar.addActions([self.map_action, self.reset_view_action])
        toolbar.addSeparator()
        toolbar.addAction(self.settings_action)

    def _create_central(self) -> None:
        self.empty_state = EmptyState(self.open_action, self.sample_action)
        self.landscape_host = QWidget()
        host_layout = QVBoxLayout(self.landscape_host)
        host_layout.setContentsMargins(0, 0, 0, 0)
        self.view_hint = QLabel("Drag to orbit · wheel to zoom · click a hill to select it")
        self.view_hint.setStyleSheet("color: palette(mid); padding: 2px 6px;")
        host_layout.addWidget(self.view_hint)
        # A hidden GL widget makes the window GL-capable from the start: adding the 3D view later
        # would otherwise re-create the top-level window (it flashes and loses focus).
        gl_placeholder = QOpenGLWidget(self.landscape_host)
        gl_placeholder.hide()
        self.source_label = QLabel("")
        self.source_label.setWordWrap(True)
        change_column = QPushButton("Change…")
        change_column.setToolTip(self.text_column_action.toolTip())
        change_column.clicked.connect(self.text_column_action.trigger)
        source_bar = QHBoxLayout()
        source_bar.addWidget(self.source_label, 1)
        source_bar.addWidget(change_column)
        self.balance_panel = BalancePanel(self.flatten_action, self.reset_weights_action)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(source_bar)
        top_layout.addWidget(self.balance_panel)
        self.cluster_table = ClusterTable()
        self.cluster_table.cluster_selected.connect(self.select_cluster)
        self.cluster_table.clusters.weight_edited.connect(self.set_weight)
        self.details = ClusterDetails()
        self.side_splitter = QSplitter(Qt.Orientation.Vertical)
        self.side_splitter.setObjectName("side-splitter")
        for widget in (top, self.cluster_table, self.details):
            self.side_splitter.addWidget(widget)
        self.side_splitter.setStretchFactor(1, 3)
        self.side_splitter.setStretchFactor(2, 2)
        self.main_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.main_splitter.setObjectName("main-splitter")
        self.main_splitter.addWidget(self.landscape_host)
        self.main_splitter.addWidget(self.side_splitter)
        self.main_splitter.setStretchFactor(0, 3)
        self.main_splitter.setStretchFactor(1, 2)
        self.main_splitter.setSizes([720, 500])
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty_state)
        self.pages.addWidget(self.main_splitter)
        self.progress_panel = ProgressPanel(self.cancel_action)
        self.jobs = JobRunner(self)
        self.jobs.progressed.connect(self.progress_panel.show_progress)
        self.jobs.ended.connect(self._on_job_ended)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.progress_panel)
        self.setCentralWidget(central)

    def ensure_landscape(self) -> LandscapePanel:
        """Create the 3D view on first need (this is when pyqtgraph and OpenGL are imported)."""
        if self.landscape is None:
            from level_desktop.gui.landscape import LandscapePanel

            self.landscape = LandscapePanel(self.landscape_host)
            self.landscape.cluster_clicked.connect(self.select_cluster)
            self.landscape_host.layout().addWidget(self.landscape)
            self.landscape_host.layout().setStretch(1, 1)
        return self.landscape

    def _restore_layout(self) -> None:
        if (geometry := self.preferences.window_state("geometry")) is not None:
            self.restoreGeometry(geometry)
        if (state := self.preferences.window_state("state")) is not None:
            self.restoreState(state)
        for splitter in (self.main_splitter, self.side_splitter):
            if (sizes := self.preferences.window_state(splitter.objectName())) is not None:
                splitter.restoreState(sizes)

    def _save_layout(self) -> None:
        self.preferences.set_window_state("geometry", self.saveGeometry())
        self.preferences.set_window_state("state", self.saveState())
        for splitter in (self.main_splitter, self.side_splitter):
            self.preferences.set_window_state(splitter.objectName(), splitter.saveState())
        self.preferences.sync()

    # ----- opening files ----------------------------------------------------------------------

    def open_dialog(self) -> None:
        recent = self.preferences.recent_files()
        start = str(Path(recent[0]).parent) if recent else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open a table or a project", start,
                                              OPEN_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> None:
        """Open a table (analyse it) or a .level project; a running job is cancelled first."""
        path = Path(path)
        if not self._resolve_unsaved_weights(then=lambda: self.open_path(path)):
            return
        if path.suffix.lower() == jobs.PROJECT_SUFFIX:
            self._start_job("open", f"Opening {path.name}", jobs.open_project(path),
                            lambda analysis: self._on_project_opened(path, analysis))
        else:
            self._start_job("inspect", f"Reading {path.name}", jobs.inspect_input(path),
                            lambda loaded: self._on_inspected(path, loaded), pipeline=True)
            QTimer.singleShot(0, self.ensure_landscape)  # import the 3D view while work runs

    def _on_inspected(self, path: Path, loaded: LoadedInput) -> None:
        column = loaded.text_column
        if loaded.ambiguous:
            dialog = ColumnDialog(path.name, loaded.table.columns, loaded.candidates, column,
                                  ambiguous=True, parent=self)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                self.statusBar().showMessage("No column chosen; nothing was analysed.",
                                             STATUS_TIMEOUT_MS)
                return
            column = dialog.chosen_column()
        settings = self.preferences.default_settings().replace(text_column=column)
        self.start_analysis(path, settings)

    def start_analysis(self, path: Path | None, settings: Settings,
                       previous: Analysis | None = None, project_path: Path | None = None
                       ) -> None:
        """Analyse `path` (or `previous`'s rows again, with new settings) in the worker."""
        source = str(path if path is not None else previous.source.path if previous else "")
        settings = self._with_gemini_consent(settings, source)
        name = path.name if path is not None else "the rows again"
        self._start_job("analyze", f"Analysing {name}",
                        jobs.analyze_input(path, settings, previous),
                        lambda analysis: self._on_analysed(analysis, project_path), pipeline=True)

    def _with_gemini_consent(self, settings: Settings, source: str) -> Settings:
        """`settings`, with the keyword labeler instead of Gemini unless the user agrees (once per
        file) that sample rows go to Google."""
        if settings.labeler != "gemini" or self.preferences.has_gemini_consent(source):
            return settings
        if confirm_gemini_upload(self, settings.representatives):
            self.preferences.grant_gemini_consent(source)
            return settings
        return settings.replace(labeler="keywords")

    def relabel(self) -> None:
        """Name the clusters again with the current labeler (the only way to ask Gemini again
        for a project whose names are saved); weights and the view stay."""
        if self.analysis is None or self.busy:
            return
        analysis = self.current_analysis()
        settings = self._with_gemini_consent(analysis.settings, analysis.source.path)
        self._start_job("relabel", "Naming the clusters",
                        jobs.relabel_clusters(analysis, settings), self._on_relabelled)

    def _on_relabelled(self, analysis: Analysis) -> None:
        selected = self.selected_cluster
        self.show_analysis(analysis, self._project_path, in_sync=False)
        if selected is not None:
            self.select_cluster(selected)
        fallbacks = sum(1 for c in analysis.clusters if c.fallback_reason)
        note = f"; {fallbacks} kept a fallback name" if fallbacks else ""
        self.statusBar().showMessage(
            f"Named {len(analysis.clusters)} clusters with {analysis.settings.labeler}{note}",
            STATUS_TIMEOUT_MS)

    def _on_analysed(self, analysis: Analysis, project_path: Path | None) -> None:
        self.show_analysis(analysis, project_path, in_sync=False)
        if project_path is None:
            self.preferences.add_recent_file(analysis.source.path)
        total = sum(analysis.timings.values())
        self.statusBar().showMessage(
            f"Analysed {analysis.n_rows:,} rows into {len(analysis.clusters)} clusters in "
            f"{total:.1f} s", STATUS_TIMEOUT_MS)

    def _on_project_opened(self, path: Path, analysis: Analysis) -> None:
        self.show_analysis(analysis, path, in_sync=True)
        self.preferences.add_recent_file(path)
        self.statusBar().showMessage(f"Opened {path}", STATUS_TIMEOUT_MS)

    def show_analysis(self, analysis: Analysis, project_path: Path | None, in_sync: bool) -> None:
        """Put an analysis on screen: table, landscape, balance, details, status bar."""
        landscape = self.ensure_landscape()
        if self.balance is not None:
            self.balance.unsubscribe(self._on_weights_changed)
        self.analysis = analysis
        self.balance = analysis.balance()
        self.balance.subscribe(self._on_weights_changed)
        self._palette = cluster_colors(len(analysis.clusters))
        self._project_path = project_path
        self._project_in_sync = in_sync
        self.undo_stack.clear()
        self.cluster_table.set_clusters(analysis.clusters, self.balance, self._palette)
        landscape.set_analysis(analysis, self.balance, self._palette)
        landscape.show_map(self.map_action.isChecked())
        self.balance_panel.set_balance(self.balance, analysis.settings.max_up)
        self.pages.setCurrentWidget(self.main_splitter)
        self.selected_cluster = None
        self.select_cluster(analysis.clusters[0].id if analysis.clusters else None)
        self._update_labels()
        self._update_actions()
        self.analysis_shown.emit(analysis)

    def _update_labels(self) -> None:
        analysis = self.analysis
        if analysis is None:
            return
        source = Path(analysis.source.path)
        skipped = (f", {analysis.source.skipped_empty:,} without text skipped"
                   if analysis.source.skipped_empty else "")
        self.source_label.setText(
            f"<b>{source.name}</b> · text column “{analysis.source.text_column}” · "
            f"{analysis.n_rows:,} rows{skipped}")
        self.source_label.setToolTip(str(source))
        self.summary_label.setText(
            f"{analysis.n_rows:,} rows · {len(analysis.clusters)} clusters · {analysis.model} · "
            f"{device_name(analysis.device)}")
        name = self._project_path.name if self._project_path else source.name
        self.setWindowTitle(f"{name}[*] — Level")

    # ----- selection and weights --------------------------------------------------------------

    @Slot(int)
    def select_cluster(self, cluster_id: int | None) -> None:
        """Select a cluster (None or −1: none) in the table, the landscape and the details."""
        if self.analysis is None:
            return
        chosen = cluster_id if cluster_id is not None and cluster_id >= 0 else None
        self.selected_cluster = chosen
        if cluster_id != NOISE_ID:  # the noise row keeps its own row selected in the table
            self.cluster_table.select_cluster(chosen)
        if self.landscape is not None:
            self.landscape.set_selected(chosen)
        color = rgb_to_hex(self._palette[chosen]) if chosen is not None else ""
        self.details.show_cluster(self.analysis, chosen, color)

    @Slot(int, float)
    def set_weight(self, cluster_id: int, weight: float) -> None:
        """One cluster's weight (from its spin box), as an undoable step."""
        if self.analysis is None or self.balance is None:
            return
        label = "noise" if cluster_id == NOISE_ID else self.analysis.clusters[cluster_id].label
        command = set_weight_command(self.balance, cluster_id, weight, label)
        if command is not None:
            self.undo_stack.push(command)

    def flatten(self) -> None:
        """Propose weights that level the clusters (water-filling up to the max up-weight)."""
        if self.balance is None:
            return
        from level_desktop.core.balance import flatten as flatten_weights

        max_up = self.balance_panel.max_up.value()
        try:
            weights = flatten_weights(self.balance.sizes, max_up)
        except LevelError as err:
            show_error(self, str(err))
            return
        command = set_all_weights_command(self.balance, weights, f"Flatten (max ×{max_up:g})")
        if command is not None:
            self.undo_stack.push(command)

    def reset_weights(self) -> None:
        if self.balance is None:
            return
        command = set_all_weights_command(self.balance, np.ones_like(self.balance.weights),
                                          "Reset weights", noise_weight=1.0)
        if command is not None:
            self.undo_stack.push(command)

    def _on_weights_changed(self) -> None:
        self.setWindowModified(not self.undo_stack.isClean())

    def current_analysis(self) -> Analysis | None:
        """The analysis with the weights now set (what a save or an export writes)."""
        if self.analysis is None or self.balance is None:
            return None
        return dataclasses.replace(self.analysis, weights=self.balance.weight_map(),
                                   noise_weight=self.balance.noise_weight)

    # ----- view -------------------------------------------------------------------------------

    def show_map(self, on: bool) -> None:
        if self.landscape is not None:
            self.landscape.show_map(on)
        self.view_hint.setText("Click a point to select its cluster · wheel to zoom" if on else
                               "Drag to orbit · wheel to zoom · click a hill to select it")

    def reset_view(self) -> None:
        if self.landscape is not None:
            self.landscape.reset_view()

    # ----- settings and column ----------------------------------------------------------------

    def edit_settings(self) -> None:
        current = self.analysis.settings if self.analysis else self.preferences.default_settings()
        dialog = SettingsDialog(current, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        chosen = dialog.settings()
        self.preferences.set_default_settings(chosen)
        if self.analysis is None or chosen == current:
            return
        if chosen.replace(max_up=current.max_up) == current:  # only the flatten limit changed
            self.analysis.settings = chosen
            self.balance_panel.max_up.setValue(chosen.max_up)
            return
        self.start_analysis(None, chosen, previous=self.current_analysis(),
                            project_path=self._project_path)

    def change_text_column(self) -> None:
        if self.analysis is None:
            return
        from level_desktop.core.loading import SourceTable, text_column_candidates

        analysis = self.analysis
        source = Path(analysis.source.path)
        table = SourceTable(path=source, format=analysis.source.format, columns=analysis.columns)
        dialog = ColumnDialog(source.name, analysis.columns, text_column_candidates(table),
                              analysis.source.text_column, parent=self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        column = dialog.chosen_column()
        if column == analysis.source.text_column:
            return
        if not self._resolve_unsaved_weights(then=None):
            return
        self.start_analysis(source, analysis.settings.replace(text_column=column),
                            previous=analysis, project_path=self._project_path)

    # ----- saving and exporting ---------------------------------------------------------------

    def save_project(self, then: Continuation | None = None) -> None:
        if self.analysis is None:
            return
        if self._project_path is None:
            self.save_project_as(then)
        else:
            self._save_to(self._project_path, then)

    def save_project_as(self, then: Continuation | None = None) -> None:
        if self.analysis is None:
            return
        source = Path(self.analysis.source.path)
        default = self._project_path or source.with_suffix(jobs.PROJECT_SUFFIX)
        chosen, _ = QFileDialog.getSaveFileName(self, "Save the project", str(default),
                                                "Level projects (*.level)")
        if not chosen:
            return
        path = Path(chosen)
        if path.suffix.lower() != jobs.PROJECT_SUFFIX:
            path = path.with_name(path.name + jobs.PROJECT_SUFFIX)
        self._save_to(path, then)

    def _save_to(self, path: Path, then: Continuation | None) -> None:
        snapshot = self.current_analysis()
        assert snapshot is not None
        weights_only = self._project_in_sync and path == self._project_path and path.exists()
        index = self.undo_stack.index()
        self._start_job("save", f"Saving {path.name}",
                        jobs.save_project(snapshot, path, weights_only),
                        lambda _: self._on_saved(path, index, then))

    def _on_saved(self, path: Path, undo_index: int, then: Continuation | None) -> None:
        self._project_path = path
        self._project_in_sync = True
        if self.undo_stack.index() == undo_index:
            self.undo_stack.setClean()
        self.preferences.add_recent_file(path)
        self._update_labels()
        self.statusBar().showMessage(f"Saved {path}", STATUS_TIMEOUT_MS)
        if then is not None:
            then()

    def export_csv(self, kind: jobs.ExportKind) -> None:
        """Ask where, then write the weighted or the resampled CSV in the worker."""
        snapshot = self.current_analysis()
        if snapshot is None:
            return
        source = Path(snapshot.source.path)
        default = source.with_name(f"{source.stem}-{kind}.csv")
        title = "Export the weighted CSV" if kind == "weighted" else "Export a resampled CSV"
        chosen, _ = QFileDialog.getSaveFileName(self, title, str(default),
                                                "CSV files (*.csv);;TSV files (*.tsv)")
        if not chosen:
            return
        target = Path(chosen)
        if not target.suffix:
            target = target.with_suffix(".csv")
        self._start_job("export", f"Exporting {target.name}",
                        jobs.export_table(snapshot.export_data(), target, kind,
                                          snapshot.settings.seed),
                        lambda rows: self.statusBar().showMessage(
                            f"Exported {rows:,} rows to {target}", STATUS_TIMEOUT_MS))

    def _resolve_unsaved_weights(self, then: Continuation | None) -> bool:
        """True when it is fine to drop the current weights now; may save first, then `then`."""
        if self.analysis is None or self.undo_stack.isClean():
            return True
        name = self._project_path.name if self._project_path else Path(
            self.analysis.source.path).name
        choice = ask_unsaved_weights(self, name)
        if choice is UnsavedChoice.DISCARD:
            return True
        if choice is UnsavedChoice.SAVE:
            self.save_project(then)
        return False

    # ----- long jobs --------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def _start_job(self, name: str, title: str, job: Job, on_done: Callable[[Any], None],
                   pipeline: bool = False) -> None:
        """Run a job in a new Worker; the job running until now is cancelled and forgotten."""
        self.jobs.start(name, job, on_done)
        self.progress_panel.start(title, pipeline)
        self.empty_state.show_work(title)
        self._update_actions()

    @Slot(str, str, str)
    def _on_job_ended(self, name: str, outcome: str, message: str) -> None:
        if not self.jobs.busy:  # a job that ended by starting the next one keeps the panel
            self.progress_panel.finish()
            self.empty_state.show_work(None)
        self._update_actions()
        if outcome == FAILED:
            self.statusBar().showMessage("The work stopped with an error.", STATUS_TIMEOUT_MS)
            show_error(self, message)
        elif outcome == CANCELLED:
            self.statusBar().showMessage(message, STATUS_TIMEOUT_MS)
        self.job_finished.emit(name, outcome)

    def cancel_work(self) -> None:
        """Stop the running job: the window is free at once; the thread ends at its next check
        (within one embedding batch, or after a library step that cannot be interrupted)."""
        if not self.jobs.busy:
            return
        note = stopping_note(self.progress_panel.stage, self.progress_panel.message)
        self.jobs.cancel()
        if note:
            self.statusBar().showMessage(f"{Cancelled()}{note}", STATUS_TIMEOUT_MS)

    def wait_for_workers(self) -> None:
        """Cancel every job and wait until each thread has ended."""
        self.jobs.stop_all()
        self.progress_panel.finish()
        self.empty_state.show_work(None)

    def _update_actions(self) -> None:
        ready = self.analysis is not None
        idle = not self.jobs.busy
        for action in (self.save_action, self.save_as_action, self.export_weighted_action,
                       self.export_resampled_action, self.relabel_action):
            action.setEnabled(ready and idle)
        for action in (self.flatten_action, self.reset_weights_action, self.map_action,
                       self.reset_view_action, self.text_column_action):
            action.setEnabled(ready)
        self.cancel_action.setEnabled(not idle)

    # ----- recent files -----------------------------------------------------------------------

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.preferences.recent_files()
        for number, path in enumerate(recent, start=1):
            action = self.recent_menu.addAction(f"&{number} {Path(path).name}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self._open_recent(p))
        if not recent:
            self.recent_menu.addAction("No recent files").setEnabled(False)

    def _open_recent(self, path: str) -> None:
        if not Path(path).exists():
            self.preferences.remove_recent_file(path)
            show_error(self, f"{path} no longer exists; it was removed from the recent files.")
            return
        self.open_path(path)

    # ----- drag and drop, closing -------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()
            self.empty_state.set_drag_over(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.empty_state.set_drag_over(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self.empty_state.set_drag_over(False)
        path = dropped_path(event.mimeData())
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        # Open after the drop returns, so a question (unsaved weights) never blocks the drag.
        QTimer.singleShot(0, lambda: self.open_path(path))

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._resolve_unsaved_weights(then=self.close):
            event.ignore()
            return
        self.wait_for_workers()
        self._save_layout()
        event.accept()
