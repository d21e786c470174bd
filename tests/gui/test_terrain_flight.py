"""The 3D view moving between terrains of one map (a drill-down and its return), on any Terrain:
the first frame shows the new terrain where the old view showed that map spot, the camera then
glides to the usual view; a double-click on a hill announces it."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from level_desktop.core.terrain import build_terrain
from level_desktop.gui.palette import cluster_colors

pytestmark = pytest.mark.gui


def two_levels(rng: np.random.Generator):
    """A map of four groups and the terrain of one group alone (its rows only), as a drill-down
    shows it: both in the same map units."""
    sizes = np.array([300, 200, 150, 100])
    centers = np.array([[-6.0, -6.0], [6.0, -5.0], [-5.0, 6.0], [6.0, 6.0]])
    labels = np.repeat(np.arange(4), sizes).astype(np.int32)
    positions = centers[labels] + rng.normal(scale=1.2, size=(len(labels), 2))
    top = build_terrain(positions, labels, sizes, grid=60)
    inside = labels == 1
    sub_labels = (positions[inside, 0] > 6.0).astype(np.int32)  # the group split in two
    sub = build_terrain(positions[inside], sub_labels, np.bincount(sub_labels), grid=60)
    return top, sub


def test_a_drill_down_flies_from_the_massif_to_the_usual_view(qtbot, rng) -> None:
    from level_desktop.gui.terrain_view import DEFAULT_CAMERA, TerrainView

    top, sub = two_levels(rng)
    view = TerrainView()
    qtbot.addWidget(view)
    view.resize(500, 400)
    with qtbot.waitExposed(view):
        view.show()
    view.set_terrain(top, [f"group {g}" for g in range(4)], cluster_colors(4), np.ones(4))
    assert view.camera()[1] == DEFAULT_CAMERA["distance"]
    before_scene = view.scene
    spot = before_scene.to_map(*view.camera()[0][:2])  # the map point the camera looks at
    view.set_terrain(sub, ["west half", "east half"], cluster_colors(2), np.ones(2), fly=True)
    start = view.camera()
    assert view.flying
    assert view.scene.to_map(*start[0][:2]) == pytest.approx(spot, abs=1e-6)
    # The sub-terrain spans a smaller map area over the same scene width: the camera starts
    # as far away as that zoom, so the new hills appear where the massif was.
    assert start[1] == pytest.approx(DEFAULT_CAMERA["distance"] * view.scene.scale
                                     / before_scene.scale)
    assert start[1] > 2 * DEFAULT_CAMERA["distance"]
    qtbot.waitUntil(lambda: not view.flying, timeout=5000)
    assert view.camera()[1] == pytest.approx(DEFAULT_CAMERA["distance"])
    assert view.camera()[0][:2] == pytest.approx((0.0, 0.0), abs=1e-6)
    assert [label.text for label in view.labels] == ["west half", "east half"]

    view.fly_ms = 0  # flights off: the new terrain appears in the usual view at once
    view.set_terrain(top, [f"group {g}" for g in range(4)], cluster_colors(4), np.ones(4),
                     fly=True)
    assert not view.flying
    assert view.camera()[1] == DEFAULT_CAMERA["distance"]

    i, j = top.cell_of(*top.centers[2])
    pixel = view.screen_position(view.surface_point(i, j))
    with qtbot.waitSignal(view.hill_activated) as activated:
        qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=pixel.toPoint())
    assert activated.args == [2]
    view.close()
