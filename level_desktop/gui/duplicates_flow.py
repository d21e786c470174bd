"""Edit > Collapse Duplicates in the window: find the near-duplicate groups when they are not yet
known (a background job with progress and cancel), then count each group as one row — one
undoable step of the document, combined with the topic and cluster weights.

A mixin of `MainWindow` (it uses the window's document, job runner and panels), kept apart so the
window module stays the wiring. The groups are the document's (`Document.set_duplicate_groups`,
`Event.DUPLICATES`); the tree's redundancy column and the details panel's group list read them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from level_desktop.gui import jobs
from level_desktop.gui.topic_model import Column

if TYPE_CHECKING:
    from level_desktop.core.analysis import Analysis
    from level_desktop.core.duplicates import Duplicates
    from level_desktop.gui.window import MainWindow

    Base = MainWindow
else:
    Base = object

STATUS_TIMEOUT_MS = 10_000


class WindowDuplicates(Base):
    """Collapse Duplicates (a checkable action: unchecking counts every row again)."""

    def collapse_duplicates(self, on: bool = True) -> None:
        document, analysis = self.document, self.document.analysis
        if analysis is None or self.busy:
            self.sync_collapse_action()
            return
        if not on:
            document.collapse_duplicates(False)
        elif analysis.duplicate_groups is not None:
            self._collapse_now()
        else:
            self.sync_collapse_action()  # checked once the groups are found and collapsed
            self._start_job("duplicates", "Finding near-duplicates",
                            jobs.find_duplicate_groups(document.snapshot()),
                            lambda found: self._on_duplicates_found(analysis, found))

    def _on_duplicates_found(self, analysis: Analysis, found: Duplicates) -> None:
        if self.document.analysis is not analysis:  # another analysis opened meanwhile
            return
        self.document.set_duplicate_groups(found.group, found.threshold)
        self._collapse_now()

    def _collapse_now(self) -> None:
        document = self.document
        analysis = document.require_analysis()
        document.collapse_duplicates(True)
        groups = analysis.duplicate_groups
        assert groups is not None
        in_groups = int((groups >= 0).sum())
        n_groups = int(groups.max()) + 1 if in_groups else 0
        self.statusBar().showMessage(
            f"Duplicates collapsed: {n_groups:,} groups of {in_groups:,} rows "
            f"({in_groups / max(1, analysis.n_rows):.0%}) weigh one row each. Undo restores "
            f"them.", STATUS_TIMEOUT_MS)

    def show_duplicate_groups(self) -> None:
        """New groups: the tree's redundancy column and the selected hill's group list."""
        analysis = self.document.analysis
        if analysis is None:
            return
        self.topic_tree.topics.show_redundancy(analysis)
        self.topic_tree.setColumnHidden(Column.REDUNDANCY, False)
        self._on_selection_changed()

    def sync_collapse_action(self) -> None:
        """The action's check mark says whether duplicates are collapsed now."""
        analysis = self.document.analysis
        action = self.actions.collapse_duplicates
        action.blockSignals(True)
        action.setChecked(bool(analysis is not None and analysis.collapse_duplicates))
        action.blockSignals(False)
        # The Dups column only once there are groups: before, it says "–" on every row and
        # takes the room the names need in a side panel of half the window.
        self.topic_tree.setColumnHidden(
            Column.REDUNDANCY, analysis is None or analysis.duplicate_groups is None)
