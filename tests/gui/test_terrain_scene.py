"""The Qt-free parts of the landscape: scene scale, colours, label anchors and picking."""

from __future__ import annotations

import numpy as np
import pytest

from level_desktop.core.terrain import build_terrain
from level_desktop.gui.palette import BASE_COLORS, cluster_colors, hex_to_rgb, rgb_to_hex
from level_desktop.gui.terrain_scene import (
    GROUND_RGB,
    PEAK_SCENE_HEIGHT,
    SCENE_HALF_WIDTH,
    TerrainScene,
    pick_vertex,
)


@pytest.fixture
def scene_and_terrain(rng: np.random.Generator):
    sizes = np.array([120, 60, 20])
    labels = np.repeat(np.arange(3), sizes).astype(np.int32)
    centers = np.array([[0.0, 0.0], [5.0, 1.0], [-4.0, 4.0]])
    positions = centers[labels] + rng.normal(scale=0.5, size=(len(labels), 2))
    terrain = build_terrain(positions, labels, sizes, grid=50)
    return TerrainScene.from_terrain(terrain, cluster_colors(3)), terrain


def test_colours_are_distinct_and_round_trip() -> None:
    colors = cluster_colors(60)
    assert colors.shape == (60, 3)
    assert len({rgb_to_hex(c) for c in colors}) == 60
    assert rgb_to_hex(hex_to_rgb(BASE_COLORS[0])) == BASE_COLORS[0]


def test_the_scene_scale_is_fixed_by_the_unweighted_terrain(scene_and_terrain) -> None:
    scene, terrain = scene_and_terrain
    assert scene.xs.min() == pytest.approx(-SCENE_HALF_WIDTH, abs=1e-4)
    assert scene.xs.max() == pytest.approx(SCENE_HALF_WIDTH, abs=1e-4)
    unweighted = terrain.heights(np.ones(3))
    assert scene.surface_z(unweighted).max() == pytest.approx(PEAK_SCENE_HEIGHT, rel=1e-4)
    lowered = terrain.heights(np.array([0.5, 1.0, 1.0]))
    assert scene.surface_z(lowered).max() < PEAK_SCENE_HEIGHT  # never normalised back up


def test_vertex_colours_follow_the_owning_hill(scene_and_terrain) -> None:
    scene, terrain = scene_and_terrain
    weights = np.ones(3)
    heights, owners = terrain.heights(weights), terrain.owners(weights)
    colors = scene.vertex_colors(heights, owners)
    assert colors.shape == (*heights.shape, 4)
    assert colors.dtype == np.uint8
    i, j = terrain.cell_of(*terrain.centers[0])
    top = colors[i, j, :3] / 255
    assert np.abs(top - scene.palette[0]).sum() < np.abs(top - GROUND_RGB).sum()
    bare = owners < 0
    assert bare.any()
    assert np.allclose(colors[bare][:, :3].mean(axis=0) / 255, GROUND_RGB, atol=0.1)
    faded = scene.vertex_colors(heights, owners, selected=1)
    assert not np.array_equal(faded[i, j], colors[i, j])  # cluster 0 fades when 1 is selected


def test_labels_float_above_their_hill(scene_and_terrain) -> None:
    scene, terrain = scene_and_terrain
    heights = terrain.heights(np.ones(3))
    anchors = scene.label_anchors(heights)
    assert anchors.shape == (3, 2 + 1)
    assert anchors[0, 2] > anchors[2, 2]  # the big cluster's label sits higher
    lowered = scene.label_anchors(terrain.heights(np.array([0.2, 1.0, 1.0])))
    assert lowered[0, 2] < anchors[0, 2]


def test_pick_finds_the_vertex_nearest_the_camera() -> None:
    vertices = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 5.0], [3.0, 0.0, 0.0]])
    # Orthographic top-down camera: x, y map to the screen, larger z is nearer (ndc z smaller).
    mvp = np.array([[0.1, 0, 0, 0], [0, 0.1, 0, 0], [0, 0, -0.1, 0], [0, 0, 0, 1.0]])
    assert pick_vertex(mvp, vertices, 200, 200, 100, 100) == 1
    assert pick_vertex(mvp, vertices, 200, 200, 130, 100) == 2
    assert pick_vertex(mvp, vertices, 200, 200, 10, 10) is None


def test_scene_and_map_coordinates_round_trip(scene_and_terrain) -> None:
    scene, terrain = scene_and_terrain
    x, y = terrain.centers[1]
    sx, sy = scene.to_scene(x, y)
    assert (sx, sy) == pytest.approx(tuple(scene.centers[1]), abs=1e-4)
    assert scene.to_map(sx, sy) == pytest.approx((x, y))


def test_each_topic_numbers_its_cluster_colours_afresh() -> None:
    from level_desktop.gui.palette import colors_within_topics

    colors = colors_within_topics(np.array([0, 1, 0, 1, 1, 2]))
    assert np.allclose(colors[[0, 1, 5]], cluster_colors(1)[0])  # each topic's first cluster
    assert len({rgb_to_hex(c) for c in colors[[1, 3, 4]]}) == 3  # one topic's clusters differ
