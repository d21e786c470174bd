"""Short, readable labels where room is short: the toolbar's Undo/Redo read "Undo"/"Redo" (the
step in their tooltip, the Edit menu keeps it), and a long topic name in the breadcrumb and the
balance panel is elided with the whole name in the tooltip, so the window can stay narrow."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

PROJECT_V2 = Path(__file__).parents[1] / "data" / "project-v2.level"  # 2 topics of 2 clusters
LONG_NAME = "Runtime libraries and development headers for GNU Fortran and Haskell toolchains"[:80]


@pytest.fixture
def opened_window(window, qtbot, tmp_path: Path):
    """The window with a copy of the small v2 project open."""
    project = tmp_path / "p.level"
    shutil.copyfile(PROJECT_V2, project)
    with qtbot.waitSignal(window.analysis_shown, timeout=120_000):
        window.open_path(project)
    return window


def test_toolbar_undo_reads_undo_and_names_the_step_in_its_tooltip(opened_window, qtbot,
                                                                 screenshot) -> None:
    window = opened_window
    from PySide6.QtWidgets import QToolBar

    toolbar = window.findChild(QToolBar, "main-toolbar")
    undo_button = toolbar.widgetForAction(window.actions.undo)
    redo_button = toolbar.widgetForAction(window.actions.redo)
    assert undo_button.text() == "Undo"
    assert not undo_button.isEnabled()
    topic = window.analysis.topics[0].id
    window.document.drill(topic)
    window.document.flatten(3.0)
    step = window.document.undo_text
    assert step.startswith("Flatten")
    assert window.actions.undo.text() == f"&Undo {step}"  # the Edit menu's item says which step
    assert undo_button.text() == "Undo"  # the toolbar button stays short
    assert undo_button.isEnabled()
    assert undo_button.toolTip() == f"Undo {step} (Ctrl+Z)"
    assert undo_button.width() < toolbar.fontMetrics().horizontalAdvance(f"Undo {step}")
    window.actions.undo.trigger()
    assert redo_button.text() == "Redo"
    assert redo_button.toolTip() == f"Redo {step} (Ctrl+Shift+Z)"
    assert window.actions.undo.toolTip() == "Undo (Ctrl+Z)"  # nothing left to undo
    screenshot(window, "narrow-toolbar-undo")
