"""Names in the topic tree stay readable: the tree asks (its size hint) for room for its longest
name, up to a cap, and every name row's tooltip gives the whole name and its description."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics

from level_desktop.core.store import load_project
from level_desktop.gui.palette import cluster_colors
from level_desktop.gui.topic_model import Column

pytestmark = pytest.mark.gui

PROJECT_V2 = Path(__file__).parents[1] / "data" / "project-v2.level"  # 2 topics of 2 clusters


def opened(tmp_path: Path, qtbot, long_name: str | None = None):
    from level_desktop.gui.topic_tree import TopicTree

    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "topics.level"
    shutil.copy(PROJECT_V2, path)
    analysis = load_project(path)
    if long_name is not None:
        analysis.topics[0].label = long_name
    tree = TopicTree()
    qtbot.addWidget(tree)
    colors = cluster_colors(max(len(analysis.topics), len(analysis.clusters)))
    tree.set_analysis(analysis, analysis.balance(), colors, colors)
    return tree, analysis


def test_tooltips_give_the_whole_name_and_description(tmp_path: Path, qtbot) -> None:
    tree, analysis = opened(tmp_path, qtbot)
    model = tree.topics
    topic = analysis.topics[0]
    tip = model.topic_index(topic.id, Column.LABEL).data(Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith(topic.label)
    if topic.description and topic.description != topic.label:
        assert topic.description in tip
    cluster = analysis.clusters[topic.cluster_ids[0]]
    tip = model.cluster_index(cluster.id, Column.LABEL).data(Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith(cluster.label)


def test_the_tree_asks_for_room_for_its_longest_name(tmp_path: Path, qtbot) -> None:
    from level_desktop.gui.topic_tree import NAME_COLUMN_MAX_PX

    short_tree, _ = opened(tmp_path, qtbot)
    longer_tree, _ = opened(tmp_path / "longer", qtbot, long_name="a much longer topic name here")
    others = sum(longer_tree.columnWidth(c) for c in Column if c != Column.LABEL)
    assert longer_tree.sizeHint().width() > short_tree.sizeHint().width()
    assert longer_tree.sizeHint().width() <= others + NAME_COLUMN_MAX_PX + 60
    assert longer_tree.minimumWidth() == short_tree.minimumWidth()  # the window may shrink
    longer_tree.resize(longer_tree.sizeHint().width(), 300)
    longer_tree.show()
    qtbot.waitExposed(longer_tree)
    bold = QFont(longer_tree.font())
    bold.setBold(True)
    name_width = QFontMetrics(bold).horizontalAdvance("a much longer topic name here")
    assert longer_tree.columnWidth(Column.LABEL) >= name_width  # the whole name fits
