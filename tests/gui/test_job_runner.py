"""The one worker class and its runner, with plain jobs: replacement, cancel, errors, progress."""

from __future__ import annotations

import time

import pytest

from level_desktop.core.errors import InputFileError
from level_desktop.core.progress import CancelToken, ProgressCallback
from level_desktop.gui.job_runner import CANCELLED, DONE, FAILED, JobRunner

pytestmark = pytest.mark.gui


def counting_job(result: str, steps: int, step_s: float = 0.01):
    """A job that reports every step and checks for cancel between steps, like the pipeline."""

    def job(progress: ProgressCallback, cancel: CancelToken) -> str:
        for i in range(steps):
            cancel.check()
            progress("embed", i / steps, f"step {i}")
            time.sleep(step_s)
        return result

    return job


def failing_job(error: BaseException):
    def job(progress: ProgressCallback, cancel: CancelToken) -> None:
        raise error

    return job


@pytest.fixture
def runner(qapp):
    job_runner = JobRunner()
    yield job_runner
    job_runner.stop_all()


def record_ends(runner: JobRunner) -> list[tuple[str, str, str]]:
    ends: list[tuple[str, str, str]] = []
    runner.ended.connect(lambda name, outcome, message: ends.append((name, outcome, message)))
    return ends


def test_a_new_job_cuts_off_the_old_one(runner, qtbot) -> None:
    results: list[str] = []
    ends = record_ends(runner)
    runner.start("first", counting_job("old", steps=500), results.append)
    qtbot.wait(50)
    runner.start("second", counting_job("new", steps=5), results.append)
    qtbot.waitUntil(lambda: bool(ends))
    qtbot.waitUntil(lambda: runner.running_threads == 0, timeout=2000)
    qtbot.wait(100)
    assert results == ["new"]
    assert ends == [("second", DONE, "")]


def test_cancel_frees_the_window_at_once_and_the_thread_stops(runner, qtbot) -> None:
    ends = record_ends(runner)
    runner.start("analyze", counting_job("never", steps=10_000), lambda result: None)
    qtbot.waitUntil(lambda: runner.running_threads == 1)
    runner.cancel()
    assert ends == [("analyze", CANCELLED, "Cancelled. Nothing was changed.")]
    assert not runner.busy
    qtbot.waitUntil(lambda: runner.running_threads == 0, timeout=1000)


def test_errors_reach_the_window_as_messages(runner, qtbot) -> None:
    ends = record_ends(runner)
    runner.start("inspect", failing_job(InputFileError("photo.csv is a PNG image.")), print)
    qtbot.waitUntil(lambda: len(ends) == 1)
    assert ends[0] == ("inspect", FAILED, "photo.csv is a PNG image.")
    runner.start("export", failing_job(ZeroDivisionError("division by zero")), print)
    qtbot.waitUntil(lambda: len(ends) == 2)
    name, outcome, message = ends[1]
    assert (name, outcome) == ("export", FAILED)
    assert message.startswith("Level hit an unexpected problem (ZeroDivisionError: division by zero)")
    assert "Traceback" not in message


def test_progress_is_forwarded_but_throttled(runner, qtbot) -> None:
    seen: list[str] = []
    runner.progressed.connect(lambda stage, fraction, message: seen.append(message))
    ends = record_ends(runner)
    runner.start("analyze", counting_job("done", steps=200, step_s=0.002), lambda result: None)
    qtbot.waitUntil(lambda: bool(ends))
    assert seen[0] == "step 0"
    assert 1 <= len(seen) < 50  # 200 reports in ~0.4 s, forwarded at most every 50 ms
