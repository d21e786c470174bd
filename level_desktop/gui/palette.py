"""One colour per cluster, shared by the terrain, the map and the table (Qt-free)."""

from __future__ import annotations

import colorsys

import numpy as np

# Tableau-like qualitative colours without greys, so no hill looks like bare ground.
BASE_COLORS = (
    "#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7",
    "#9c755f", "#499894", "#d37295", "#8cd17d", "#a0cbe8", "#ffbe7d", "#b6992d", "#d4a6c8",
    "#86bcb6", "#f1ce63", "#e377c2", "#17becf",
)
NOISE_COLOR = "#9a9a9a"
GOLDEN_ANGLE = 0.381966  # of a turn: hues that stay apart however many are added


def hex_to_rgb(color: str) -> tuple[float, float, float]:
    """'#rrggbb' as three floats in [0, 1]."""
    value = color.lstrip("#")
    return tuple(int(value[i:i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


def rgb_to_hex(rgb: np.ndarray | tuple[float, float, float]) -> str:
    r, g, b = (round(float(c) * 255) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def cluster_colors(k: int) -> np.ndarray:
    """(k, 3) floats in [0, 1]: the base colours first, then golden-angle hues."""
    colors = [hex_to_rgb(c) for c in BASE_COLORS[:k]]
    for i in range(len(colors), k):
        hue = (0.07 + i * GOLDEN_ANGLE) % 1.0
        saturation = 0.45 + 0.2 * (i % 3) / 2
        colors.append(colorsys.hsv_to_rgb(hue, saturation, 0.82))
    return np.array(colors, dtype=np.float32).reshape(k, 3)


def colors_within_topics(cluster_topic: np.ndarray) -> np.ndarray:
    """(k, 3): each cluster's colour on its topic's drilled-in view and in the table.

    Only one topic's clusters are ever drawn together, so the colours start afresh in each
    topic: the clusters of a topic are told apart by the same well-separated base colours.
    """
    cluster_topic = np.asarray(cluster_topic, dtype=np.int64)
    colors = np.zeros((cluster_topic.size, 3), dtype=np.float32)
    for topic in np.unique(cluster_topic):
        members = np.flatnonzero(cluster_topic == topic)
        colors[members] = cluster_colors(members.size)
    return colors
