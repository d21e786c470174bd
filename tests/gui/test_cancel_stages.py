"""Cancel in the window after embedding: the analysis stops inside the stage it is in, and the
window is usable at once and after (the same file analyses to the end)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

pytestmark = [pytest.mark.gui, pytest.mark.slow]
ROWS = 8000  # the fast path; clustering these takes over a second even on a quiet machine
ANALYSIS_TIMEOUT_MS = 600_000
STOP_TIMEOUT_MS = 120_000  # a safety net only: nothing asserts on time


@pytest.fixture
def debian_csv(shared_data: Path, tmp_path: Path) -> Path:
    target = tmp_path / "debian-8000.csv"
    with open(shared_data / "debian-packages.csv", encoding="utf-8", newline="") as source, \
            open(target, "w", encoding="utf-8", newline="") as out:
        reader, writer = csv.reader(source), csv.writer(out)
        for _, row in zip(range(ROWS + 1), reader, strict=False):
            writer.writerow(row)
    return target


def test_cancel_while_clustering_stops_the_work_and_the_window_stays_usable(
        window, qtbot, drop_file, debian_csv: Path) -> None:
    from level_desktop.core.settings import Settings

    window.preferences.set_default_settings(Settings(model="fast"))
    stages: list[str] = []
    outcomes: list[tuple[str, str]] = []
    window.job_finished.connect(lambda name, outcome: outcomes.append((name, outcome)))

    def on_progress(stage: str, fraction: float, message: str) -> None:
        stages.append(stage)

    window.jobs.progressed.connect(on_progress)
    drop_file(window, debian_csv)
    qtbot.waitUntil(lambda: "cluster" in stages, timeout=ANALYSIS_TIMEOUT_MS)
    with qtbot.waitActive(window):
        window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert outcomes == [("inspect", "done"), ("analyze", "cancelled")]  # free at once
    window.jobs.progressed.disconnect(on_progress)
    assert "embed" in stages
    assert stages[-1] == "cluster"  # cancelled inside clustering
    assert window.analysis is None
    assert not window.progress_panel.isVisible()
    assert window.open_action.isEnabled()
    qtbot.waitUntil(lambda: window.jobs.running_threads == 0, timeout=STOP_TIMEOUT_MS)

    shown = []
    window.analysis_shown.connect(shown.append)
    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_TIMEOUT_MS):
        drop_file(window, debian_csv)  # still usable: the same file analyses to the end
    assert shown[0].n_rows == ROWS
    assert len(shown[0].clusters) > 10
