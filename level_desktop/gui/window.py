"""The main window: wiring only. Drop a file, watch the work, see the landscape, level it, save.

The state lives in the Qt-free `Document` (the analysis, its weights, the selection, the path,
undo/redo and "unsaved"); the window turns user actions into document calls and document events
into redraws. The action table is `actions.py`, the panels' layout `central.py`, the flows that
ask questions and start jobs `flows.py`. pyqtgraph (the landscape) is imported only when there is
something to draw, so the first window appears fast.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QMimeData, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QWidget

from level_desktop.core.balance import NOISE_ID
from level_desktop.core.document import PROJECT_SUFFIX, Document, Event
from level_desktop.gui.actions import WindowActions
from level_desktop.gui.central import CentralArea
from level_desktop.gui.comparison_panel import WindowComparison
from level_desktop.gui.duplicates_flow import WindowDuplicates
from level_desktop.gui.flows import WindowFlows
from level_desktop.gui.job_runner import JobRunner
from level_desktop.gui.levels import WindowLevels
from level_desktop.gui.message_boxes import show_error
from level_desktop.gui.palette import cluster_colors, colors_within_topics
from level_desktop.gui.preferences import Preferences

if TYPE_CHECKING:
    from level_desktop.core.analysis import Analysis
    from level_desktop.core.balance import Balance
    from level_desktop.gui.landscape import LandscapePanel

INPUT_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json", ".parquet", ".pq")
DEVICE_NAMES = {"cpu": "CPU", "cuda": "GPU (CUDA)", "mps": "GPU (Apple)",
                "cache": "embeddings from cache"}


def sample_csv_path() -> Path:
    """The small sample dataset shipped with Level."""
    return Path(str(resources.files("level_desktop").joinpath("resources", "sample.csv")))


def dropped_path(mime: QMimeData) -> Path | None:
    """The first local file in a drag that Level can open (a table or a .level project)."""
    for url in mime.urls() if mime.hasUrls() else []:
        path = Path(url.toLocalFile()) if url.isLocalFile() else None
        if path and (path.suffix.lower() in (*INPUT_SUFFIXES, PROJECT_SUFFIX) or path.is_dir()):
            return path  # a folder: of images (or of Parquet shards)
    return None


def decoding_note(analysis: Analysis) -> str | None:
    """What the window says about how the input's bytes became text; None for plain UTF-8."""
    report = analysis.source.decode_report
    return report.summary() if report is not None else None


def device_name(device: str) -> str:
    return DEVICE_NAMES.get(device.split(":")[0], device)


class MainWindow(WindowComparison, WindowLevels, WindowFlows, WindowDuplicates, QMainWindow):
    """Level's one window."""

    analysis_shown = Signal(object)  # the Analysis now on screen
    job_finished = Signal(str, str)  # job name, outcome: "done", "failed" or "cancelled"

    def __init__(self, preferences: Preferences | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preferences = preferences or Preferences()
        self.document = Document()
        self.setWindowTitle("Level")
        self.setAcceptDrops(True)
        self.resize(1240, 780)
        self.landscape: LandscapePanel | None = None
        self._topic_palette = np.zeros((0, 3), dtype=np.float32)
        self._cluster_palette = np.zeros((0, 3), dtype=np.float32)
        self.actions = WindowActions(self, self.document)
        for name, action in vars(self.actions).items():  # window.save_action and so on
            setattr(self, f"{name}_action", action)
        self.recent_menu = self.actions.build_menus(self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.actions.build_toolbar(self)
        self.central = CentralArea(self.actions)
        for name in ("empty_state", "landscape_host", "view_hint", "source_label",
                     "balance_panel", "topic_tree", "details", "side_splitter", "breadcrumb",
                     "main_splitter", "pages", "progress_panel"):
            setattr(self, name, getattr(self.central, name))
        self.setCentralWidget(self.central)
        self.topic_tree.topic_selected.connect(self.select_topic)
        self.topic_tree.cluster_selected.connect(self.select_cluster)
        self.topic_tree.topic_entered.connect(self.drill)
        self.topic_tree.rename_requested.connect(self.rename_named)
        self.topic_tree.topics.topic_weight_edited.connect(self.set_topic_weight)
        self.topic_tree.topics.cluster_weight_edited.connect(self.set_weight)
        self.breadcrumb.top_requested.connect(self.go_back)
        self.jobs = JobRunner(self)
        self.jobs.progressed.connect(self.progress_panel.show_progress)
        self.jobs.ended.connect(self._on_job_ended)
        self.summary_label = QLabel("No file open")
        self.statusBar().addPermanentWidget(self.summary_label)
        document = self.document
        document.subscribe(Event.ANALYSIS, self._on_analysis_replaced)
        document.subscribe(Event.LABELS, self._on_labels_changed)
        document.subscribe(Event.SELECTION, self._on_selection_changed)
        document.subscribe(Event.VIEW, self._on_view_changed)
        document.subscribe(Event.HISTORY, self._on_history_changed)
        document.subscribe(Event.SAVED, self._update_labels)
        self.setup_comparison()
        document.subscribe(Event.DUPLICATES, self.show_duplicate_groups)
        for event in (Event.ANALYSIS, Event.HISTORY):
            document.subscribe(event, self.sync_collapse_action)
        self._restore_layout()
        self._update_actions()

    # ----- the document's state, as the window's views and tests read it ------------------

    @property
    def analysis(self) -> Analysis | None:
        return self.document.analysis

    @property
    def balance(self) -> Balance | None:
        return self.document.balance

    @property
    def selected_cluster(self) -> int | None:
        """The selected cluster's id; None when nothing or the noise rows are selected."""
        selected = self.document.selected
        return None if selected == NOISE_ID else selected

    def ensure_landscape(self) -> LandscapePanel:
        """Create the 3D view on first need (this is when pyqtgraph and OpenGL are imported)."""
        if self.landscape is None:
            from level_desktop.gui.landscape import LandscapePanel

            self.landscape = LandscapePanel(self.landscape_host)
            self.landscape.topic_clicked.connect(self.select_topic)
            self.landscape.cluster_clicked.connect(self.select_cluster)
            self.landscape.ground_clicked.connect(self.clear_selection)
            self.landscape.topic_activated.connect(self.drill)
            self.landscape.rename_requested.connect(self.rename_named)
            self.landscape_host.layout().addWidget(self.landscape)
            self.landscape_host.layout().setStretch(1, 1)
        return self.landscape

    def _restore_layout(self) -> None:
        if (geometry := self.preferences.window_state("geometry")) is not None:
            self.restoreGeometry(geometry)
        if (state := self.preferences.window_state("state")) is not None:
            self.restoreState(state)
        for splitter in self.central.splitters:
            if (sizes := self.preferences.window_state(splitter.objectName())) is not None:
                splitter.restoreState(sizes)

    def _save_layout(self) -> None:
        self.preferences.set_window_state("geometry", self.saveGeometry())
        self.preferences.set_window_state("state", self.saveState())
        for splitter in self.central.splitters:
            self.preferences.set_window_state(splitter.objectName(), splitter.saveState())
        self.preferences.sync()

    # ----- document events → views ----------------------------------------------------------

    def show_analysis(self, analysis: Analysis, project_path: Path | None, in_sync: bool) -> None:
        """Make `analysis` the document; `in_sync`: the file at `project_path` holds it."""
        self.ensure_landscape()
        self.document.show(analysis, project_path, in_file=in_sync)

    def _on_analysis_replaced(self) -> None:
        analysis, balance = self.document.analysis, self.document.balance
        if analysis is None or balance is None:
            return
        landscape = self.ensure_landscape()
        self._topic_palette = cluster_colors(len(analysis.topics))
        self._cluster_palette = colors_within_topics(analysis.cluster_topic)
        self._show_names(analysis, balance)
        landscape.show_map(self.map_action.isChecked())
        self.balance_panel.set_balance(balance, analysis.settings.max_up)
        self.details.show_source_note(decoding_note(analysis))
        self._show_level_readouts()
        self.pages.setCurrentWidget(self.main_splitter)
        self.select_topic(analysis.topics[0].id if analysis.topics else None)
        self._update_labels()
        self._update_actions()
        self.analysis_shown.emit(analysis)

    def _on_labels_changed(self) -> None:
        """New names: redraw the table and the landscape with them; weights and selection stay."""
        analysis, balance = self.document.analysis, self.document.balance
        if analysis is None or balance is None or self.landscape is None:
            return
        self._show_names(analysis, balance)
        self._show_level_readouts()
        self._on_selection_changed()
        self._update_labels()

    def _show_names(self, analysis: Analysis, balance: Balance) -> None:
        """The tree and the landscape (at the level in view) for this analysis's names."""
        self.topic_tree.set_analysis(analysis, balance, self._topic_palette,
                                     self._cluster_palette)
        self.central.make_room_for_names()
        self.ensure_landscape().set_analysis(analysis, balance, self._topic_palette,
                                             self._cluster_palette, self.document.view_topic)

    def _on_history_changed(self) -> None:
        if self.isWindowModified() != self.document.dirty:  # each call re-titles the window
            self.setWindowModified(self.document.dirty)

    def _update_labels(self) -> None:
        analysis = self.document.analysis
        if analysis is None:
            return
        source = Path(analysis.source.path)
        skipped = (f", {analysis.source.skipped_empty:,} without text skipped"
                   if analysis.source.skipped_empty else "")
        column = f"text column “{analysis.source.text_column}”"
        if analysis.settings.image_column is not None:  # an image set; why in the tool tip
            column = f"image column “{analysis.settings.image_column}”"
            skipped = (f", {analysis.source.skipped_empty:,} skipped"
                       if analysis.source.skipped_empty else "")
        self.source_label.setText(
            f"<b>{source.name}</b> · {column} · {analysis.n_rows:,} rows{skipped}")
        self.source_label.setToolTip("\n".join(filter(None, [
            str(source), analysis.source.image_problems])))
        self.summary_label.setText(
            f"{analysis.n_rows:,} rows · {len(analysis.topics)} topics · "
            f"{len(analysis.clusters)} clusters · {analysis.model} · "
            f"{device_name(analysis.device)}")
        self.setWindowTitle(f"{self.document.display_name}[*] — Level")
        self.setWindowModified(self.document.dirty)

    # ----- user actions → document ----------------------------------------------------------

    def rename_named(self, kind: str, item_id: int) -> bool:
        """A name was double-clicked (tree or landscape): select its topic or cluster, then ask
        for the new name."""
        from level_desktop.gui.renaming import ask_and_rename

        if kind == "topic" and self.selected_topic != item_id:
            self.select_topic(item_id)
        elif kind == "cluster" and self.document.selected != item_id:
            self.select_cluster(item_id)
        return ask_and_rename(self, self.document, kind, item_id)

    def show_map(self, on: bool) -> None:
        if self.landscape is not None:
            self.landscape.show_map(on)
        self.central.show_hint(on, self.document.view_topic is not None)

    def reset_view(self) -> None:
        if self.landscape is not None:
            self.landscape.reset_view()

    def _update_actions(self) -> None:
        analysis = self.document.analysis
        self.actions.update(analysis is not None, self.jobs.busy,
                            self.document.view_topic is not None,
                            analysis.model_choice if analysis is not None else None)
        self.update_comparison_actions()

    # ----- recent files, drag and drop, closing ---------------------------------------------

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

    def open_sample(self) -> None:
        self.open_path(sample_csv_path())

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
        if self.handle_comparison_drop(path, event.position().toPoint()):
            return  # a table dropped onto an open landscape is a comparison set
        # Open after the drop returns, so a question (unsaved weights) never blocks the drag.
        QTimer.singleShot(0, lambda: self.open_path(path))

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._resolve_unsaved_weights(then=self.close):
            event.ignore()
            return
        self.wait_for_workers()
        self._save_layout()
        event.accept()
