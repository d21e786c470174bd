"""The one QThread worker that runs every long job (analysis, opening, saving, exporting).

A job is a plain function `job(progress, cancel) -> result` built from the Qt-free core. The
worker turns its progress callbacks into signals and its outcome into exactly one of `succeeded`,
`failed` (with the message a user should read) or `cancelled`. Every signal carries the worker's
serial number, so the window can ignore a worker it has already replaced.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from level_desktop.core.errors import Cancelled, LevelError
from level_desktop.core.progress import CancelToken, ProgressCallback, ThrottledProgress

Job = Callable[[ProgressCallback, CancelToken], Any]
PROGRESS_INTERVAL_S = 0.05

log = logging.getLogger(__name__)


def unexpected_error_message(err: BaseException) -> str:
    """What a user reads when something that is not a LevelError goes wrong."""
    if isinstance(err, MemoryError):
        return "Level ran out of memory. Try a smaller file, a smaller model or a smaller grid."
    return (f"Level hit an unexpected problem ({type(err).__name__}: {err}). Nothing was saved "
            f"or changed. The details were written to the log; please report them.")


class Worker(QThread):
    """Runs one job in its own thread; cancel() asks it to stop at the job's next check."""

    progressed = Signal(int, str, float, str)  # serial, stage, fraction of the stage, message
    succeeded = Signal(int, object)  # serial, the job's result
    failed = Signal(int, str)  # serial, message for the user
    cancelled = Signal(int, str)  # serial, message for the user

    def __init__(self, serial: int, name: str, job: Job, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.serial = serial
        self.name = name
        self.cancel_token = CancelToken()
        self._job = job
        self.setObjectName(f"level-worker-{name}-{serial}")

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def _report(self, stage: str, fraction: float, message: str) -> None:
        self.progressed.emit(self.serial, stage, float(fraction), message)

    def run(self) -> None:
        progress = ThrottledProgress(self._report, PROGRESS_INTERVAL_S)
        try:
            result = self._job(progress, self.cancel_token)
        except Cancelled as err:
            self.cancelled.emit(self.serial, str(err))
            return
        except LevelError as err:
            self.failed.emit(self.serial, str(err))
            return
        except BaseException as err:  # whatever happens, the window must hear of it
            log.error("The %s job failed:\n%s", self.name, traceback.format_exc())
            self.failed.emit(self.serial, unexpected_error_message(err))
            return
        if self.cancel_token.cancelled:
            self.cancelled.emit(self.serial, str(Cancelled()))
        else:
            self.succeeded.emit(self.serial, result)
