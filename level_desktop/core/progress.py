"""Progress reporting and cancelling for long work, with no GUI dependency.

Every long function takes `progress(stage, fraction, message)` and a `CancelToken`; cancelling
raises `Cancelled` from the next check, so stages need no polling loops of their own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from level_desktop.core.errors import Cancelled

T = TypeVar("T")


class ProgressCallback(Protocol):
    def __call__(self, stage: str, fraction: float, message: str) -> None: ...


def no_progress(stage: str, fraction: float, message: str) -> None:
    """A progress callback that reports nowhere."""


class CancelToken:
    """A flag the user's side sets and the work checks between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise `Cancelled` if the user asked to stop."""
        if self._event.is_set():
            raise Cancelled()


class ThrottledProgress:
    """Forward progress at most every `interval` seconds, but always the first and the final call
    of a stage, so a fast inner loop cannot flood a terminal or a GUI event queue."""

    def __init__(self, target: ProgressCallback, interval: float = 0.1,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._target = target
        self._interval = interval
        self._clock = clock
        self._last_time = -1e9
        self._last_stage: str | None = None

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        now = self._clock()
        if stage != self._last_stage or fraction >= 1.0 or now - self._last_time >= self._interval:
            self._last_time = now
            self._last_stage = stage
            self._target(stage, fraction, message)


def run_cancellable(work: Callable[[], T], cancel: CancelToken | None,
                    poll_s: float = 0.05) -> T:
    """The result of `work()`, one library call that cannot stop half-way (a scikit-learn or
    UMAP fit), run in a helper thread so that a cancel is felt within `poll_s`.

    On cancel `Cancelled` is raised at once; the abandoned call runs on in the background until
    it returns, and its result is dropped. Used only where a stage has no steps to check between.
    """
    if cancel is None:
        return work()
    cancel.check()
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = work()
        except BaseException as err:  # handed to the waiting thread
            outcome["error"] = err
        finally:
            done.set()

    threading.Thread(target=target, name="level-uninterruptible", daemon=True).start()
    while not done.wait(poll_s):
        cancel.check()
    if "error" in outcome:
        raise outcome["error"]
    return cast(T, outcome["result"])
