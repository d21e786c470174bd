"""The window's flows that ask the user something and then run a job: open, analyse, name the
clusters again, change the settings or the text column, save, export, and the question before
unsaved changes would be dropped.

A mixin of `MainWindow` (it uses the window's document, preferences, panels and job runner), kept
apart so the window module is the wiring only. What the flows decide is the document's: whether a
labeler needs consent, what a save writes, whether there is anything unsaved.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QDialog, QFileDialog

from level_desktop.core.document import PROJECT_SUFFIX, SavePlan, needs_consent, project_path
from level_desktop.core.errors import Cancelled
from level_desktop.core.settings import DEFAULT_MODEL
from level_desktop.gui import jobs
from level_desktop.gui.column_dialog import ColumnDialog
from level_desktop.gui.job_runner import CANCELLED, FAILED
from level_desktop.gui.message_boxes import (
    UnsavedChoice,
    ask_unsaved_weights,
    confirm_gemini_upload,
    show_error,
)
from level_desktop.gui.progress_panel import stopping_note
from level_desktop.gui.settings_dialog import SettingsDialog

if TYPE_CHECKING:
    from level_desktop.core.analysis import Analysis
    from level_desktop.core.loading import LoadedInput
    from level_desktop.core.settings import Settings
    from level_desktop.gui.window import MainWindow
    from level_desktop.gui.worker import Job

    Base = MainWindow
else:
    Base = object

OPEN_FILTER = ("Tables and projects (*.csv *.tsv *.txt *.jsonl *.ndjson *.json *.parquet *.pq "
               "*.level);;All files (*)")
STATUS_TIMEOUT_MS = 10_000
Continuation = Callable[[], None]


class WindowFlows(Base):
    """Open, analyse, relabel, settings, column, save, export, unsaved changes, long jobs."""

    # ----- opening and analysing ------------------------------------------------------------

    def open_dialog(self) -> None:
        recent = self.preferences.recent_files()
        start = str(Path(recent[0]).parent) if recent else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open a table or a project", start,
                                              OPEN_FILTER)
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        """Choose a folder of images (searched recursively) and analyse it, as a dropped folder
        or `level analyze FOLDER` would."""
        recent = self.preferences.recent_files()
        start = str(Path(recent[0]).parent) if recent else str(Path.home())
        path = QFileDialog.getExistingDirectory(self, "Open a folder of images", start)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> None:
        """Open a table (analyse it) or a .level project; a running job is cancelled first."""
        path = Path(path)
        if not self._resolve_unsaved_weights(then=lambda: self.open_path(path)):
            return
        if path.suffix.lower() == PROJECT_SUFFIX:
            self._start_job("open", f"Opening {path.name}", jobs.open_project(path),
                            lambda analysis: self._on_project_opened(path, analysis))
        else:
            self._start_job("inspect", f"Reading {path.name}", jobs.inspect_input(path),
                            lambda loaded: self._on_inspected(path, loaded), pipeline=True)
            QTimer.singleShot(0, self.ensure_landscape)  # import the 3D view while work runs

    def _on_inspected(self, path: Path, loaded: LoadedInput | jobs.ImageInput) -> None:
        if isinstance(loaded, jobs.ImageInput):  # a folder of images, or a column of paths
            self.start_analysis(path, self.preferences.default_settings().replace(
                image_column=loaded.image_column))
            return
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
        settings = self._with_consent(settings, source)
        name = path.name if path is not None else "the rows again"
        self._start_job("analyze", f"Analysing {name}",
                        jobs.analyze_input(path, settings, previous),
                        lambda analysis: self._on_analysed(analysis, project_path), pipeline=True)

    def _with_consent(self, settings: Settings, source: str) -> Settings:
        """`settings`, with the keyword labeler instead of one that sends rows off this machine
        unless the user agrees (once per file)."""
        service, recipient = "Gemini", "Google"
        if settings.labeler == "local":  # a remote LLM server: consent per file and host
            recipient = urlsplit(settings.llm_url).hostname or settings.llm_url
            service, source = f"the LLM server at {recipient}", f"{source} → {recipient}"
        if not needs_consent(settings.labeler, settings) or self.preferences.has_gemini_consent(source):
            return settings
        images = settings.image_column is not None and settings.labeler in ("gemini", "local")
        if confirm_gemini_upload(self, settings.representatives, service, recipient, images):
            self.preferences.grant_gemini_consent(source)
            return settings
        return settings.replace(labeler="keywords")

    def relabel(self, rename_all: bool = False) -> None:
        """Name the clusters again with the current labeler (the only way to ask Gemini again
        for a project whose names are saved); weights and the view stay, and so do the names
        the user gave unless `rename_all` (Name Everything Again)."""
        if self.document.analysis is None or self.busy:
            return
        analysis = self.document.snapshot()
        settings = self._with_consent(analysis.settings, analysis.source.path)
        self._start_job("relabel", "Naming the clusters",
                        jobs.relabel_clusters(analysis, settings, rename_all),
                        self._on_relabelled)

    def _on_relabelled(self, analysis: Analysis) -> None:
        self.document.relabel(analysis)
        fallbacks = sum(1 for c in analysis.clusters if c.fallback_reason)
        note = f"; {fallbacks} kept a fallback name" if fallbacks else ""
        yours = sum(1 for c in analysis.clusters if c.user_named) + sum(
            1 for t in analysis.topics if t.user_named)
        note += f"; {yours} name{'s' if yours != 1 else ''} you gave kept" if yours else ""
        self.statusBar().showMessage(
            f"Named {len(analysis.clusters)} clusters with {analysis.settings.labeler}{note}",
            STATUS_TIMEOUT_MS)

    def use_full_model(self) -> None:
        """Embed the open rows again with the bundled MiniLM (auto took the fast path); the
        file is not read again."""
        if self.document.analysis is None or self.busy:
            return
        analysis = self.document.snapshot()
        self.start_analysis(None, analysis.settings.replace(model=DEFAULT_MODEL), analysis,
                            self.document.path)

    def _on_analysed(self, analysis: Analysis, project_path: Path | None) -> None:
        self.show_analysis(analysis, project_path, in_sync=False)
        if project_path is None:
            self.preferences.add_recent_file(analysis.source.path)
        total = sum(analysis.timings.values())
        report = analysis.source.decode_report
        note = f" {summary}" if report is not None and (summary := report.summary()) else ""
        if analysis.model_choice:
            note += f" Model: {analysis.model_choice}."
        self.statusBar().showMessage(
            f"Analysed {analysis.n_rows:,} rows into {len(analysis.topics)} topics of "
            f"{len(analysis.clusters)} clusters in {total:.1f} s.{note}", STATUS_TIMEOUT_MS)

    def _on_project_opened(self, path: Path, analysis: Analysis) -> None:
        self.show_analysis(analysis, path, in_sync=True)
        self.preferences.add_recent_file(path)
        # A notice (an older project's topics computed on opening it) stays until dismissed.
        notices = " ".join(analysis.notices)
        self.statusBar().showMessage(f"Opened {path}. {notices}" if notices else f"Opened {path}",
                                     0 if notices else STATUS_TIMEOUT_MS)

    # ----- settings and column --------------------------------------------------------------

    def edit_settings(self) -> None:
        analysis = self.document.analysis
        current = analysis.settings if analysis else self.preferences.default_settings()
        dialog = SettingsDialog(current, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        chosen = dialog.settings()
        self.preferences.set_default_settings(chosen)
        if analysis is None or chosen == current:
            return
        if chosen.replace(max_up=current.max_up) == current:  # only the flatten limit changed
            self.document.set_flatten_limit(chosen.max_up)
            self.balance_panel.max_up.setValue(chosen.max_up)
            return
        self.start_analysis(None, chosen, previous=self.document.snapshot(),
                            project_path=self.document.path)

    def change_text_column(self) -> None:
        analysis = self.document.analysis
        if analysis is None:
            return
        from level_desktop.core.images import image_column_candidates
        from level_desktop.core.loading import SourceTable, text_column_candidates

        source = Path(analysis.source.path)
        table = SourceTable(path=source, format=analysis.source.format, columns=analysis.columns)
        images = image_column_candidates(table)
        current = analysis.settings.image_column or analysis.source.text_column
        dialog = ColumnDialog(source.name, analysis.columns, text_column_candidates(table),
                              current, parent=self, image_candidates=images)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        column = dialog.chosen_column()
        if column == current:
            return
        if not self._resolve_unsaved_weights(then=None):
            return
        is_image = column in {c.name for c in images}
        # An image column keeps the caption column (if any); a text column reads the file as text.
        labeler = "keywords" if analysis.settings.labeler == "numbered" else None
        settings = (analysis.settings.replace(image_column=column) if is_image else
                    analysis.settings.replace(text_column=column, image_column=None,
                                              labeler=labeler or analysis.settings.labeler))
        self.start_analysis(source, settings, previous=self.document.snapshot(),
                            project_path=self.document.path)

    # ----- saving and exporting -------------------------------------------------------------

    def save_project(self, then: Continuation | None = None) -> None:
        if self.document.analysis is None:
            return
        if self.document.path is None:
            self.save_project_as(then)
        else:
            self._save(self.document.save_plan(), then)

    def save_project_as(self, then: Continuation | None = None) -> None:
        analysis = self.document.analysis
        if analysis is None:
            return
        default = self.document.path or Path(analysis.source.path).with_suffix(PROJECT_SUFFIX)
        chosen, _ = QFileDialog.getSaveFileName(self, "Save the project", str(default),
                                                "Level projects (*.level)")
        if chosen:
            self._save(self.document.save_plan(project_path(chosen)), then)

    def _save(self, plan: SavePlan, then: Continuation | None) -> None:
        self._start_job("save", f"Saving {plan.path.name}", jobs.save_project(plan),
                        lambda _: self._on_saved(plan, then))

    def _on_saved(self, plan: SavePlan, then: Continuation | None) -> None:
        self.document.mark_saved(plan)
        self.preferences.add_recent_file(plan.path)
        self.statusBar().showMessage(f"Saved {plan.path}", STATUS_TIMEOUT_MS)
        if then is not None:
            then()

    def export_csv(self, kind: jobs.ExportKind) -> None:
        """Ask where, then write the weighted or the resampled CSV in the worker."""
        if self.document.analysis is None:
            return
        snapshot = self.document.snapshot()
        source = Path(snapshot.source.path)
        default = source.with_name(f"{source.stem}-{kind}.csv")
        title = "Export the weighted CSV" if kind == "weighted" else "Export a resampled CSV"
        n_rows = None
        if kind == "resampled":  # as the weights say, or a budget of rows (issue 16)
            from level_desktop.gui.budget_dialog import BudgetDialog

            dialog = BudgetDialog(snapshot.n_rows, snapshot.collapse_duplicates, self)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            n_rows = dialog.budget()
        chosen, _ = QFileDialog.getSaveFileName(self, title, str(default),
                                                "CSV files (*.csv);;TSV files (*.tsv)")
        if not chosen:
            return
        target = Path(chosen)
        if not target.suffix:
            target = target.with_suffix(".csv")
        data = snapshot.export_data()
        self._start_job("export", f"Exporting {target.name}",
                        jobs.export_table(data, target, kind, snapshot.settings.seed, n_rows),
                        lambda rows: self._on_exported(rows, target, data.conversion_note))

    def _on_exported(self, rows: int, target: Path, conversion_note: str | None) -> None:
        """Say where the rows went and, when the export is not the input's own bytes, what
        was converted (also kept in the details panel until the next analysis)."""
        note = f" {conversion_note}" if conversion_note else ""
        self.statusBar().showMessage(f"Exported {rows:,} rows to {target}.{note}",
                                     STATUS_TIMEOUT_MS)
        if conversion_note:
            self.details.show_source_note(conversion_note)

    def _resolve_unsaved_weights(self, then: Continuation | None) -> bool:
        """True when it is fine to drop the current document now; may save first, then `then`."""
        document = self.document
        if not document.needs_save_prompt:
            return True
        choice = ask_unsaved_weights(self, document.display_name, document.unsaved_kind)
        if choice is UnsavedChoice.DISCARD:
            return True
        if choice is UnsavedChoice.SAVE:
            self.save_project(then)
        return False

    # ----- long jobs ------------------------------------------------------------------------

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
        (within a second in every stage, or once a model has finished loading)."""
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
