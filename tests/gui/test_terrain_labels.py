"""Crowded landscapes stay readable: only the tallest hills' labels (plus the selected one) are in
the scene; pointing at any other hill names it."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from level_desktop.core.terrain import build_terrain
from level_desktop.gui.palette import cluster_colors

pytestmark = pytest.mark.gui


def many_hills(rng: np.random.Generator, n: int = 16):
    """n groups on a 4 × 4 lattice, the group sizes all different."""
    sizes = np.arange(40, 40 + 10 * n, 10)[::-1]
    centers = np.array([[x, y] for x in range(4) for y in range(4)], dtype=float)[:n] * 8.0
    labels = np.repeat(np.arange(n), sizes).astype(np.int32)
    positions = centers[labels] + rng.normal(scale=1.0, size=(len(labels), 2))
    return build_terrain(positions, labels, sizes, grid=60), sizes


def labels_in_scene(view) -> list[int]:
    return sorted(c for c, label in enumerate(view.labels) if label in view.items)


def test_only_the_tallest_hills_are_named_and_hover_names_the_rest(qtbot, rng) -> None:
    from level_desktop.gui.terrain_view import TerrainView

    terrain, sizes = many_hills(rng)
    view = TerrainView()
    qtbot.addWidget(view)
    view.resize(600, 480)
    view.fly_ms = 0
    with qtbot.waitExposed(view):
        view.show()
    view.label_limit = 5
    n = len(sizes)
    view.set_terrain(terrain, [f"hill {c}" for c in range(n)], cluster_colors(n), np.ones(n))
    peaks = view.scene.label_anchors(view.heights)[:, 2]
    tallest = sorted(np.argsort(-peaks, kind="stable")[:5].tolist())
    assert labels_in_scene(view) == tallest
    assert len(view.labels) == n  # every hill keeps its label, out of the scene

    low = int(np.argmin(peaks))
    view.set_selected(low)
    view.flush()
    assert labels_in_scene(view) == sorted([*tallest, low])
    view.set_selected(None)
    view.flush()
    assert labels_in_scene(view) == tallest

    # Pointing at a low hill's top names it; leaving the hills takes the name away again.
    i, j = terrain.cell_of(*terrain.centers[low])
    spot = view.screen_position(view.surface_point(i, j))
    assert spot is not None
    QTest.mouseMove(view, QPoint(round(spot.x()), round(spot.y())))
    qtbot.waitUntil(lambda: low in labels_in_scene(view), timeout=2000)
    assert view.hill_at(spot.x(), spot.y()) == low
    view.set_hovered(None)
    assert labels_in_scene(view) == tallest

    # A weight change re-ranks the hills: a raised hill gets its name.
    weights = np.ones(n)
    weights[low] = 50.0
    view.show_weights(weights)
    view.flush()
    assert low in labels_in_scene(view)
    assert len(labels_in_scene(view)) == 5

    view.label_limit = None
    view.show_weights(np.ones(n))
    view.flush()
    assert labels_in_scene(view) == list(range(n))
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(2, 2))  # still a working view
