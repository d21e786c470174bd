"""Runs the window's long jobs one at a time, each in a new Worker thread.

Starting a job cancels the one before and cuts it off, so a stale result never reaches the
window (the Orange3 way); a cut-off thread keeps running only until its next cancel check and is
still waited for by `stop_all`, which the window calls when it closes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from level_desktop.core.errors import Cancelled, LevelError
from level_desktop.gui.worker import Job, Worker

DONE, FAILED, CANCELLED = "done", "failed", "cancelled"


class JobRunner(QObject):
    """One current job; its progress and its end (done, failed with a message, or cancelled)."""

    progressed = Signal(str, float, str)  # stage, fraction of the stage, message
    ended = Signal(str, str, str)  # job name, outcome, message for the user ("" when done)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._current: Worker | None = None
        self._on_done: Callable[[Any], None] | None = None
        self._threads: set[Worker] = set()
        self._serial = 0

    @property
    def busy(self) -> bool:
        return self._current is not None

    @property
    def running_threads(self) -> int:
        """Threads still running, the current one and any cut off but not yet stopped."""
        return sum(1 for thread in self._threads if thread.isRunning())

    def start(self, name: str, job: Job, on_done: Callable[[Any], None]) -> None:
        """Run `job` in a new thread; `on_done(result)` runs in the GUI thread if it succeeds."""
        self._cut_off_current()
        self._serial += 1
        worker = Worker(self._serial, name, job, self)
        worker.progressed.connect(self._on_progressed)
        worker.succeeded.connect(self._on_succeeded)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.finished.connect(self._forget_finished)
        self._current, self._on_done = worker, on_done
        self._threads.add(worker)
        worker.start()

    def cancel(self) -> None:
        """Cancel the current job; the window is free at once, the thread stops at its next check."""
        worker = self._current
        if worker is None:
            return
        self._cut_off_current()
        self.ended.emit(worker.name, CANCELLED, str(Cancelled()))

    def stop_all(self) -> None:
        """Cancel every job and wait until each thread has ended (the window is closing)."""
        self._cut_off_current()
        for thread in list(self._threads):
            thread.cancel()
            thread.wait()
        self._forget_finished()

    def _cut_off_current(self) -> None:
        worker, self._current, self._on_done = self._current, None, None
        if worker is None:
            return
        for signal in (worker.progressed, worker.succeeded, worker.failed, worker.cancelled):
            signal.disconnect()
        worker.cancel()

    def _take(self, serial: int) -> tuple[Worker | None, Callable[[Any], None] | None]:
        """The current worker and its callback if `serial` is its number, else (None, None)."""
        worker, on_done = self._current, self._on_done
        if worker is None or worker.serial != serial:
            return None, None  # a worker already cut off: whatever it says is stale
        self._current, self._on_done = None, None
        return worker, on_done

    @Slot(int, str, float, str)
    def _on_progressed(self, serial: int, stage: str, fraction: float, message: str) -> None:
        if self._current is not None and self._current.serial == serial:
            self.progressed.emit(stage, fraction, message)

    @Slot(int, object)
    def _on_succeeded(self, serial: int, result: object) -> None:
        worker, on_done = self._take(serial)
        if worker is None:
            return
        try:
            if on_done is not None:
                on_done(result)
        except LevelError as err:
            self.ended.emit(worker.name, FAILED, str(err))
            return
        self.ended.emit(worker.name, DONE, "")

    @Slot(int, str)
    def _on_failed(self, serial: int, message: str) -> None:
        worker, _ = self._take(serial)
        if worker is not None:
            self.ended.emit(worker.name, FAILED, message)

    @Slot(int, str)
    def _on_cancelled(self, serial: int, message: str) -> None:
        worker, _ = self._take(serial)
        if worker is not None:
            self.ended.emit(worker.name, CANCELLED, message)

    @Slot()
    def _forget_finished(self) -> None:
        for thread in [t for t in self._threads if t.isFinished()]:
            self._threads.discard(thread)
            thread.deleteLater()
