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


def test_elided_label_shows_what_fits_and_the_whole_text_on_hover(qtbot) -> None:
    from level_desktop.gui.elided_label import ELLIPSIS, ElidedLabel

    label = ElidedLabel(LONG_NAME)
    label.setToolTip("Where you are")
    qtbot.addWidget(label)
    label.show()
    label.resize(label.sizeHint())
    assert not label.is_elided
    assert label.toolTip() == "Where you are"
    label.resize(120, label.height())
    shown = super(ElidedLabel, label).text()
    assert shown.endswith(ELLIPSIS)
    assert LONG_NAME.startswith(shown[:-1])
    assert label.fontMetrics().horizontalAdvance(shown) <= label.contentsRect().width()
    assert label.text() == LONG_NAME  # callers always read the whole text
    assert label.toolTip() == f"{LONG_NAME}\nWhere you are"
    assert label.minimumSizeHint().width() < 40  # a layout may shrink it this far
    assert label.sizeHint().width() > label.fontMetrics().horizontalAdvance(LONG_NAME)


def test_a_long_topic_name_is_elided_and_the_window_stays_narrow(opened_window, qtbot,
                                                                 screenshot) -> None:
    window = opened_window
    topic = window.analysis.topics[0].id
    window.document.rename_topic(topic, LONG_NAME)
    window.document.drill(topic)
    qtbot.waitUntil(lambda: window.breadcrumb.text == f"All topics › {LONG_NAME}")
    window.resize(900, 700)
    qtbot.waitUntil(lambda: window.width() <= 900)
    assert window.minimumSizeHint().width() < 900  # the name no longer sets a minimum width
    window.central.main_splitter.setSizes([600, 300])
    qtbot.waitUntil(lambda: window.breadcrumb.topic_label.is_elided)
    crumb = window.breadcrumb.topic_label
    assert crumb.toolTip() == LONG_NAME
    caption = window.balance_panel.level_caption
    assert caption.text() == f"Within {LONG_NAME}"
    assert caption.is_elided
    assert caption.toolTip() == f"Within {LONG_NAME}"

    def fits(label) -> bool:  # nothing drawn past the label's edge
        shown = super(type(label), label).text()
        return label.fontMetrics().horizontalAdvance(shown) <= label.contentsRect().width()

    qtbot.waitUntil(lambda: all(fits(label) for label in (crumb, caption, window.view_hint)))
    assert len(super(type(crumb), crumb).text()) > 20  # the hint gave way, not the name
    details = window.details  # wrapped title and facts get their lines, none cut off
    qtbot.waitUntil(lambda: details.facts.height() >= details.facts.heightForWidth(
        details.facts.width()))
    for label in (details.title, details.description):
        assert label.height() >= label.heightForWidth(label.width())
    screenshot(window, "narrow-long-topic-name")
