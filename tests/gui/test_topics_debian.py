"""Topics on a real dataset: 20,000 debian package descriptions (their MiniLM vectors are
precomputed in the shared data) through the core pipeline with default settings, shown in the
window — the top level, a massif drilled into, the topics flattened — with screenshots."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.gui, pytest.mark.slow]


class PrecomputedVectors:
    """An embedder serving vectors the same model made earlier, in row order."""

    name = "all-MiniLM-L6-v2 (precomputed)"
    cache_key = f"precomputed:{name}"
    device = "cpu"

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors

    def encode(self, texts: list[str], progress=None, cancel=None) -> np.ndarray:
        assert len(texts) == len(self.vectors)
        return self.vectors


def debian_20k(shared: Path, folder: Path) -> tuple[Path, np.ndarray]:
    data = np.load(shared / "vectors" / "debian-20k-minilm.npz")
    with open(shared / "debian-packages.csv", encoding="utf-8", newline="") as handle:
        by_name = {row["package"]: row for row in csv.DictReader(handle)}
    path = folder / "debian-20k.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, ["package", "section", "description"],
                                extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(by_name[str(p)] for p in data["package"])
    return path, data["vectors"].astype(np.float32)


def test_debian_topics_top_level_drilled_and_flattened(window, qtbot, screenshot, shared_data,
                                                       tmp_path) -> None:
    from level_desktop.core.pipeline import analyze
    from level_desktop.core.settings import Settings

    path, vectors = debian_20k(shared_data, tmp_path)
    analysis = analyze(path, Settings(), embedder=PrecomputedVectors(vectors))
    window.show_analysis(analysis, None, in_sync=False)
    view = window.landscape.terrain_view
    qtbot.waitUntil(lambda: not view.flying, timeout=5000)
    qtbot.wait(200)
    assert [label.text for label in view.labels] == [t.label for t in analysis.topics]
    assert sum(label.shown for label in view.labels) >= 5  # several massifs named at once
    screenshot(window, "topics-debian-01-top")

    topic = analysis.topics[0].id
    window.drill(topic)
    qtbot.waitUntil(lambda: not view.flying, timeout=5000)
    qtbot.wait(200)
    assert window.landscape.hill_ids == list(analysis.topics[topic].cluster_ids)
    screenshot(window, "topics-debian-02-drilled")

    window.go_back()
    qtbot.waitUntil(lambda: not view.flying, timeout=5000)
    before = window.balance.level_gini(None)
    window.flatten_action.trigger()
    view.flush()
    qtbot.wait(200)
    assert window.balance.level_gini(None) < before
    screenshot(window, "topics-debian-03-flattened")
    window.document.mark_clean()
