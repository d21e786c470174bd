"""The comparison set in the window (issue 17): adding one (File ▸ Add Comparison Set…, or a file
dropped onto the landscape), the dock that lists its coverage gaps, far rows and leaks, Match
Comparison Set beside Flatten, Zero Leaking Rows, and the comparison columns and skin.

The computing is the core's (`core.comparing.compare_file` in the worker; the document's
`match_comparison`, `set_zero_leaks`, `comparison_gaps`, `comparison_distance`); this module
turns its results into widgets and the user's clicks into document calls. `WindowComparison` is a
mix-in of MainWindow, like `WindowLevels` and `WindowFlows`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMenu,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from level_desktop.core.comparison import FAR_SIMILARITY, far_rows, total_variation
from level_desktop.core.document import PROJECT_SUFFIX, Document, Event
from level_desktop.core.errors import LevelError
from level_desktop.gui.message_boxes import show_error
from level_desktop.gui.topic_model import COMPARISON_COLUMNS

if TYPE_CHECKING:
    from level_desktop.core.comparison import ComparisonSet
    from level_desktop.core.progress import CancelToken, ProgressCallback
    from level_desktop.gui.window import MainWindow
    from level_desktop.gui.worker import Job

    _Base = MainWindow
else:
    _Base = object

LISTED_ROWS = 500  # leaks and far rows listed in the dock (all are in the CSV / the project)
TEXT_CHARS = 160
DOCK_HEIGHT = 190  # px: the landscape keeps most of the window
ADD_FILTER = ("Tables (*.csv *.tsv *.txt *.jsonl *.ndjson *.json *.parquet *.pq);;"
              "All files (*)")


def add_comparison_job(analysis_snapshot: object, other: Path,
                       project: Path | None) -> Job:
    """Embed `other` with the project's model, place it and find its leaks; when the project
    file holds these rows, store the comparison set in it in the same job."""

    def job(progress: ProgressCallback, cancel: CancelToken) -> ComparisonSet:
        from level_desktop.core.comparing import compare_file
        from level_desktop.core.store import EmbeddingCache, save_comparison

        comparison = compare_file(analysis_snapshot, other, cache=EmbeddingCache(),  # type: ignore[arg-type]
                                  progress=progress, cancel=cancel)
        if project is not None:
            progress("save", 0.0, f"Storing the comparison set in {project.name}")
            save_comparison(project, comparison)
        return comparison

    return job


def _insert_after(menu: QMenu, anchor: QAction, actions: list[QAction]) -> None:
    """Put `actions` right after `anchor` in `menu` (at the end when it is not there)."""
    entries = menu.actions()
    position = entries.index(anchor) + 1 if anchor in entries else len(entries)
    if position < len(entries):
        menu.insertActions(entries[position], actions)
    else:
        menu.addActions(actions)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS - 1] + "…"


class ComparisonPanel(QFrame):
    """What the comparison set says about the training set: its coverage gaps at the level in
    view, the rows no training row covers, and the rows copied from training."""

    gap_chosen = Signal(int)  # index of a hill in view
    leak_chosen = Signal(int)  # position of a training row

    def __init__(self, zero_leaks_action: QAction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("No comparison set. File ▸ Add Comparison Set…, or drop a file "
                              "onto the landscape.")
        self.summary.setWordWrap(True)
        self.gaps = QTreeWidget()
        self.gaps.setHeaderLabels(["Hill", "Training", "Compared", "Ratio", "Rows"])
        self.gaps.setAccessibleName("Coverage gaps")
        self.far = QTreeWidget()
        self.far.setHeaderLabels(["Row", "Nearest", "Text"])
        self.far.setAccessibleName("Rows far from training")
        self.leaks = QTreeWidget()
        self.leaks.setHeaderLabels(["Row", "Copy", "Training row", "Text"])
        self.leaks.setAccessibleName("Leaks")
        for tree in (self.gaps, self.far, self.leaks):
            tree.setRootIsDecorated(False)
            tree.setAlternatingRowColors(True)
            tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
            tree.setUniformRowHeights(True)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.gaps, "Coverage gaps")
        self.tabs.addTab(self.far, "Far rows")
        self.tabs.addTab(self.leaks, "Leaks")
        self.zero_leaks_note = QLabel("")
        self.zero_leaks_note.setWordWrap(True)
        self.zero_leaks_note.setStyleSheet("color: palette(mid);")
        self._zero_leaks_action = zero_leaks_action
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.zero_leaks_note)
        self.gaps.itemClicked.connect(self._on_gap_clicked)
        self.leaks.itemClicked.connect(self._on_leak_clicked)

    def sizeHint(self) -> QSize:
        """Low, so the landscape keeps most of the window when the dock first appears."""
        return QSize(super().sizeHint().width(), DOCK_HEIGHT)

    def _on_gap_clicked(self, item: QTreeWidgetItem) -> None:
        self.gap_chosen.emit(int(item.data(0, Qt.ItemDataRole.UserRole)))

    def _on_leak_clicked(self, item: QTreeWidgetItem) -> None:
        self.leak_chosen.emit(int(item.data(2, Qt.ItemDataRole.UserRole)))

    def show_gaps(self, document: Document, hill_names: list[str]) -> None:
        """The coverage gaps among the hills in view, largest shortfall first."""
        self.gaps.clear()
        if document.analysis is None or document.analysis.comparison is None:
            return
        for gap in document.comparison_gaps(document.view_topic):
            item = QTreeWidgetItem([hill_names[gap.cluster], f"{gap.train_share:.1%}",
                                    f"{gap.comparison_share:.1%}", f"×{gap.ratio:.1f}",
                                    f"{gap.comparison_rows:,}"])
            item.setData(0, Qt.ItemDataRole.UserRole, gap.cluster)
            item.setToolTip(0, hill_names[gap.cluster])
            self.gaps.addTopLevelItem(item)
        self.gaps.resizeColumnToContents(0)

    def show_comparison(self, document: Document) -> None:
        """The summary, far rows and leaks of the document's comparison set (or none)."""
        analysis = document.analysis
        self.far.clear()
        self.leaks.clear()
        comparison = analysis.comparison if analysis is not None else None
        if analysis is None or comparison is None:
            self.summary.setText("No comparison set. File ▸ Add Comparison Set…, or drop a "
                                 "file onto the landscape.")
            self.zero_leaks_note.setText("")
            self.tabs.setTabText(1, "Far rows")
            self.tabs.setTabText(2, "Leaks")
            return
        far = far_rows(comparison.placement)
        best = comparison.leaks.best()
        copied = len(comparison.leaks.training_rows())
        self.summary.setText(
            f"<b>{Path(comparison.path).name}</b> · column “{comparison.text_column}” · "
            f"{comparison.n_placed:,} rows placed on {len(analysis.clusters)} clusters · "
            f"{len(best):,} copied from training · {len(far):,} far from every training row")
        self.tabs.setTabText(1, f"Far rows ({len(far):,})")
        self.tabs.setTabText(2, f"Leaks ({len(best):,})")
        for r in far[:LISTED_ROWS]:
            item = QTreeWidgetItem([str(int(comparison.row_index[r])),
                                    f"{comparison.placement.nearest_similarity[r]:.2f}",
                                    _short(comparison.texts[r])])
            item.setToolTip(2, comparison.texts[r][:2000])
            self.far.addTopLevelItem(item)
        self.far.setToolTip(f"Rows whose most similar training row is below cosine "
                            f"{FAR_SIMILARITY}: no cluster of the training set really covers "
                            f"them")
        for c, t, sim, exact in list(zip(best.comparison, best.training, best.similarity,
                                         best.exact, strict=True))[:LISTED_ROWS]:
            item = QTreeWidgetItem([str(int(comparison.row_index[c])),
                                    "exact" if exact else f"{sim:.3f}",
                                    str(int(analysis.row_index[t])),
                                    _short(comparison.texts[c])])
            item.setData(2, Qt.ItemDataRole.UserRole, int(t))
            item.setToolTip(3, f"{comparison.texts[c][:1000]}\n— training row —\n"
                               f"{analysis.texts[t][:1000]}")
            self.leaks.addTopLevelItem(item)
        for tree in (self.far, self.leaks):
            for column in range(tree.columnCount() - 1):
                tree.resizeColumnToContents(column)
        self.zero_leaks_note.setText(
            f"{copied:,} training rows are copied by the comparison set; "
            + ("they weigh 0 in exports." if analysis.zero_leaks else
               f"{self._zero_leaks_action.text().replace('&', '')} gives them weight 0 in "
               f"exports."))


class WindowComparison(_Base):
    """Adding a comparison set and showing it everywhere (a mix-in of MainWindow)."""

    comparison_dock: QDockWidget
    comparison_panel: ComparisonPanel

    def setup_comparison(self) -> None:
        """The actions, the dock and the listeners; called once from the window's __init__."""
        from level_desktop.gui.actions import make_action

        self.add_comparison_action = make_action(
            self, "Add &Comparison Set…", "Ctrl+Shift+K", self.add_comparison_dialog,
            "Lay a second file (an eval set) over this landscape: gaps, far rows, leaks")
        self.match_comparison_action = make_action(
            self, "&Match Comparison Set", "Ctrl+Shift+M", self.match_comparison,
            "Propose weights that make the level in view follow the comparison set")
        self.zero_leaks_action = make_action(
            self, "&Zero Leaking Rows", "", self.zero_leaks,
            "Training rows the comparison set copies weigh 0 in exports", checkable=True)
        menus = {a.text(): a.menu() for a in self.menuBar().actions()}
        _insert_after(menus["&File"], self.recent_menu.menuAction(), [self.add_comparison_action])
        _insert_after(menus["&Edit"], self.flatten_action, [self.match_comparison_action,
                                                            self.zero_leaks_action])
        self.balance_panel.add_comparison_readout(self.match_comparison_action)
        self.comparison_panel = ComparisonPanel(self.zero_leaks_action)
        self.comparison_panel.gap_chosen.connect(self._on_gap_chosen)
        self.comparison_panel.leak_chosen.connect(self._on_leak_chosen)
        self.comparison_dock = QDockWidget("Comparison set", self)
        self.comparison_dock.setObjectName("comparison-dock")
        self.comparison_dock.setWidget(self.comparison_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.comparison_dock)
        self.comparison_dock.hide()
        self.comparison_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+Shift+J"))
        menus["&View"].addAction(self.comparison_dock.toggleViewAction())
        document = self.document
        for event in (Event.ANALYSIS, Event.COMPARISON):
            document.subscribe(event, self._on_comparison_changed)
        document.subscribe(Event.VIEW, self._show_comparison_level)
        document.subscribe(Event.WEIGHTS, self._show_comparison_distance)
        self.update_comparison_actions()

    # ----- adding -----------------------------------------------------------------------------

    def add_comparison_dialog(self) -> None:
        if self.document.analysis is None:
            return
        start = str(Path(self.document.analysis.source.path).parent)
        path, _ = QFileDialog.getOpenFileName(self, "Add a comparison set (an eval set)", start,
                                              ADD_FILTER)
        if path:
            self.add_comparison(Path(path))

    def add_comparison(self, path: Path) -> None:
        """Lay `path` over the open landscape (in the worker); a running job is cancelled."""
        document = self.document
        if document.analysis is None:
            return
        project = document.path if document.file_holds_rows else None
        self._start_job("compare", f"Comparing {path.name}",
                        add_comparison_job(document.snapshot(), path, project),
                        lambda comparison: self._on_comparison_added(comparison, project))

    def _on_comparison_added(self, comparison: ComparisonSet, project: Path | None = None
                             ) -> None:
        """Show the set; unless the job stored it in the document's file (`project`), the
        document is unsaved until the next save writes it."""
        in_file = project is not None and project == self.document.path
        self.document.set_comparison(comparison, stored=in_file)
        best = comparison.leaks.best()
        stored = " (stored in the project)" if in_file else "; save the project to keep it"
        self.statusBar().showMessage(
            f"Compared {comparison.n_placed:,} rows of {Path(comparison.path).name}: "
            f"{len(best):,} copied from training{stored}", 10_000)

    def drop_adds_comparison(self, path: Path, window_point: QPoint) -> bool:
        """A table dropped onto the landscape of an open analysis is a comparison set (a
        project file, or a drop elsewhere, opens as before)."""
        if (self.document.analysis is None or path.suffix.lower() == PROJECT_SUFFIX
                or self.pages.currentWidget() is not self.main_splitter):
            return False
        host = self.landscape_host
        return host.rect().contains(host.mapFrom(self, window_point))

    def handle_comparison_drop(self, path: Path, window_point: QPoint) -> bool:
        """Start adding a comparison set when the drop asks for one; True when it did."""
        if not self.drop_adds_comparison(path, window_point):
            return False
        QTimer.singleShot(0, lambda: self.add_comparison(path))
        return True

    # ----- acting on it -----------------------------------------------------------------------

    def match_comparison(self) -> None:
        if self.document.analysis is None or self.document.analysis.comparison is None:
            return
        try:
            self.document.match_comparison(self.balance_panel.max_up.value())
        except LevelError as err:
            show_error(self, str(err))

    def zero_leaks(self, on: bool) -> None:
        if self.document.analysis is None or self.document.analysis.comparison is None:
            self.zero_leaks_action.setChecked(False)
            return
        self.document.set_zero_leaks(bool(on))

    def _on_gap_chosen(self, hill: int) -> None:
        analysis = self.document.analysis
        if analysis is None:
            return
        if self.document.view_topic is None:
            self.select_topic(analysis.topics[hill].id)
        else:
            self.select_cluster(analysis.topics[self.document.view_topic].cluster_ids[hill])

    def _on_leak_chosen(self, training_row: int) -> None:
        analysis = self.document.analysis
        if analysis is not None and analysis.labels[training_row] >= 0:
            self.select_cluster(int(analysis.labels[training_row]))

    # ----- showing it -------------------------------------------------------------------------

    def update_comparison_actions(self) -> None:
        analysis = self.document.analysis
        has = analysis is not None and analysis.comparison is not None
        self.add_comparison_action.setEnabled(analysis is not None and not self.jobs.busy)
        self.match_comparison_action.setEnabled(has)
        self.zero_leaks_action.setEnabled(has)
        self.zero_leaks_action.setChecked(bool(has and analysis is not None
                                               and analysis.zero_leaks))

    def _on_comparison_changed(self) -> None:
        document = self.document
        analysis = document.analysis
        comparison = analysis.comparison if analysis is not None else None
        self.comparison_panel.show_comparison(document)
        model = self.topic_tree.topics
        if analysis is None or comparison is None:
            model.set_comparison(None)
        else:
            model.set_comparison(comparison.cluster_counts(len(analysis.clusters)),
                                 analysis.cluster_topic)
        for column in COMPARISON_COLUMNS:
            self.topic_tree.setColumnHidden(column, comparison is None)
        if self.landscape is not None:
            self.landscape.set_comparison(None if comparison is None
                                          else document.comparison_hill_scales)
        if comparison is not None and not self.comparison_dock.isVisible():
            self.comparison_dock.show()
            QTimer.singleShot(0, lambda: self.resizeDocks(  # once the dock is laid out
                [self.comparison_dock], [DOCK_HEIGHT], Qt.Orientation.Vertical))
        self._show_comparison_level()
        self.update_comparison_actions()

    def _show_comparison_level(self) -> None:
        document = self.document
        analysis = document.analysis
        if analysis is None or analysis.comparison is None:
            self.comparison_panel.gaps.clear()
            self.balance_panel.show_distance(None, None)
            return
        if document.view_topic is None:
            names = [t.label for t in analysis.topics]
        else:
            labels = analysis.cluster_names
            names = [labels[c] for c in analysis.topics[document.view_topic].cluster_ids]
        self.comparison_panel.show_gaps(document, names)
        self._show_comparison_distance()

    def _show_comparison_distance(self) -> None:
        document = self.document
        if document.analysis is None or document.analysis.comparison is None:
            return
        level = document.view_topic
        balance = document.require_balance()
        _, counts = document.comparison_shares(level)
        raw = balance.topic_sizes if level is None else balance.sizes[balance.clusters_in(level)]
        self.balance_panel.show_distance(document.comparison_distance(level),
                                         total_variation(np.asarray(raw), counts))
