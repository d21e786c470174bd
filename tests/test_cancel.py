"""Cancel reaches inside every stage after embedding: each stage, started in a thread on the
fast path's vectors of real debian rows, raises Cancelled once cancel is set and stops before it
finishes (counted by its cancel checks and progress reports, never by a clock)."""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from level_desktop.core.clustering import (
    AutoClusterer,
    DBSCANClusterer,
    HDBSCANClusterer,
    cluster_stats,
)
from level_desktop.core.errors import Cancelled
from level_desktop.core.labeling import ClusterDocs
from level_desktop.core.labeling.keywords import KeywordLabeler
from level_desktop.core.progress import CancelToken, run_cancellable
from level_desktop.core.projection import ClusterLayoutProjector
from level_desktop.core.sampling import representatives
from level_desktop.core.terrain import build_terrain

ROWS = 3000
JOIN_S = 120  # only a safety net against a hung thread; nothing asserts on time


class CountingToken(CancelToken):
    """A real cancel token that also counts its checks and cancels itself at check `after`."""

    def __init__(self, after: int | None = None) -> None:
        super().__init__()
        self.after = after
        self.checks = 0

    def check(self) -> None:
        self.checks += 1
        if self.after is not None and self.checks >= self.after:
            self.cancel()
        super().check()


def run_in_thread(work: Callable[[], Any]) -> BaseException | None:
    """Run `work` in a thread as the window's worker does; the exception it ended with."""
    outcome: dict[str, BaseException] = {}

    def target() -> None:
        try:
            work()
        except BaseException as err:
            outcome["error"] = err

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(JOIN_S)
    assert not thread.is_alive(), "the stage did not stop"
    return outcome.get("error")


def assert_stops_part_way(stage: Callable[[CancelToken], Any]) -> None:
    """The stage checks cancel more than twice in a full run, and when cancelled at the middle
    check it raises Cancelled there and checks nothing more."""
    full = CountingToken()
    assert run_in_thread(lambda: stage(full)) is None
    assert full.checks > 2
    half = CountingToken(after=full.checks // 2)
    assert isinstance(run_in_thread(lambda: stage(half)), Cancelled)
    assert half.checks == full.checks // 2


@pytest.fixture(scope="module")
def debian(shared_data: Path) -> tuple[list[str], np.ndarray]:
    """The first 3,000 debian descriptions and their fast-path vectors."""
    from level_desktop.core.embedding import make_embedder

    with open(shared_data / "debian-packages.csv", encoding="utf-8", newline="") as handle:
        texts = [row["description"] for _, row in zip(range(ROWS), csv.DictReader(handle),
                                                      strict=False)]
    return texts, make_embedder("fast", corpus=texts).encode(texts)


@pytest.fixture(scope="module")
def clustered(debian: tuple[list[str], np.ndarray]) -> Any:
    return cluster_stats(debian[1], AutoClusterer().fit(debian[1]))


def test_kmeans_stops_at_the_iteration_it_is_cancelled_in(debian) -> None:
    vectors = debian[1]
    token = CancelToken()
    iterations: list[str] = []

    def progress(stage: str, fraction: float, message: str) -> None:
        iterations.append(message)
        if len(iterations) == 2:
            token.cancel()

    error = run_in_thread(lambda: AutoClusterer(progress=progress, cancel=token).fit(vectors))
    assert isinstance(error, Cancelled)
    assert iterations == ["k-means with k = 55: iteration 1", "k-means with k = 55: iteration 2"]


def test_kmeans_honours_cancel_in_its_seeding_and_its_passes(debian) -> None:
    assert_stops_part_way(lambda token: AutoClusterer(cancel=token).fit(debian[1]))


def test_cluster_statistics_and_representatives_stop_part_way(debian, clustered) -> None:
    vectors = np.concatenate([debian[1]] * 12)  # 36,000 rows: several chunks
    labels = np.concatenate([clustered.labels] * 12)
    assert_stops_part_way(lambda token: cluster_stats(vectors, labels, token))
    assert_stops_part_way(lambda token: representatives(vectors, labels, clustered.centroids,
                                                        5, token))


def test_density_clusterers_stop_between_and_during_their_library_calls(debian) -> None:
    from sklearn.decomposition import PCA

    points = PCA(n_components=5, random_state=0).fit_transform(debian[1])
    for clusterer in (DBSCANClusterer, HDBSCANClusterer):
        token = CancelToken()

        def progress(stage: str, fraction: float, message: str, token=token) -> None:
            token.cancel()  # the stage has begun: the next check, or the fit under way, stops

        made = clusterer(progress=progress, cancel=token)  # type: ignore[operator]
        assert isinstance(run_in_thread(lambda made=made: made.fit_reduced(points)), Cancelled)


def test_a_library_call_is_left_behind_as_soon_as_cancel_is_set() -> None:
    release = threading.Event()
    started = threading.Event()
    token = CancelToken()

    def blocking_call() -> str:
        started.set()
        release.wait(JOIN_S)
        return "finished"

    def cancel_once_started() -> None:
        started.wait(JOIN_S)
        token.cancel()

    canceller = threading.Thread(target=cancel_once_started)
    canceller.start()
    try:
        with pytest.raises(Cancelled):
            run_cancellable(blocking_call, token)
        assert not release.is_set()  # Cancelled came while the call was still running
    finally:
        release.set()
        canceller.join()
    assert run_cancellable(lambda: 7, CancelToken()) == 7
    with pytest.raises(ZeroDivisionError):
        run_cancellable(lambda: 1 / 0, CancelToken())


def test_keyword_naming_stops_between_pieces_of_clusters(debian, clustered) -> None:
    texts = debian[0]
    docs = [ClusterDocs(cluster_id=c, texts=[texts[i] for i in np.flatnonzero(
        clustered.labels == c)], representatives=[]) for c in range(len(clustered.sizes))]
    assert_stops_part_way(lambda token: KeywordLabeler().label(docs, cancel=token))


def test_the_cluster_map_stops_while_placing_discs_and_rows(debian, clustered) -> None:
    vectors = debian[1]
    assert_stops_part_way(lambda token: ClusterLayoutProjector(cancel=token).fit_transform(
        vectors, clustered.labels))
    radii = np.ones(len(clustered.sizes)) * 0.3
    start = np.zeros((len(radii), 2)) + np.linspace(0, 1e-3, len(radii))[:, None]
    assert_stops_part_way(lambda token: ClusterLayoutProjector._separate(
        start, radii, check=token.check))


def test_the_terrain_stops_between_hills(clustered) -> None:
    positions = np.random.default_rng(0).normal(size=(len(clustered.labels), 2))
    assert_stops_part_way(lambda token: build_terrain(positions, clustered.labels,
                                                      clustered.sizes, 100, token.check))


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["cluster", "label", "project", "terrain"])
def test_a_cancelled_analysis_stops_inside_the_stage(debian, tmp_path: Path, stage: str) -> None:
    """The whole pipeline on 3,000 debian rows (the fast path): cancelled at the stage's first
    report, it raises Cancelled and the stage never reports that it finished."""
    from level_desktop.core.pipeline import analyze
    from level_desktop.core.settings import Settings

    source = tmp_path / "debian.csv"
    with open(source, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["description"])
        writer.writerows([t] for t in debian[0])
    token = CancelToken()
    reports: list[tuple[str, float]] = []

    def progress(name: str, fraction: float, message: str) -> None:
        reports.append((name, fraction))
        if name == stage:
            token.cancel()

    settings = Settings(model="fast")
    assert isinstance(run_in_thread(lambda: analyze(source, settings, progress, token)),
                      Cancelled)
    assert reports[-1][0] == stage
    assert (stage, 1.0) not in reports
    later = {"cluster": "label", "label": "project", "project": "terrain"}
    assert all(name != later.get(stage) for name, _ in reports)
