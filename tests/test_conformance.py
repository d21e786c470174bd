"""One conformance suite per registry: every registered backend keeps its stage's contract.

A backend registered later is picked up by these tests with no change here (scikit-learn's
common estimator checks are the model). Backends that pay UMAP's compile or run the real model
are marked slow.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from test_chat_endpoint import FakeChatServer, llm  # noqa: F401 (fixtures)
from test_gemini import TOPICS, FakeGemini, docs, gemini, with_key  # noqa: F401 (fixtures)
from test_image_embedding import image_set  # noqa: F401 (a fixture)

import level_desktop.core.backends  # noqa: F401  (every backend registered, the image one too)
from level_desktop.core.clustering import CLUSTERERS
from level_desktop.core.embedding import EMBEDDERS
from level_desktop.core.export import EXPORTERS, ExportData
from level_desktop.core.labeling import LABELERS, ClusterLabel
from level_desktop.core.loading import READERS, read_table
from level_desktop.core.projection import PROJECTORS
from level_desktop.core.settings import Settings

SLOW = {("embedding", "auto"), ("embedding", "all-MiniLM-L6-v2"), ("clustering", "dbscan"),
        ("clustering", "hdbscan"), ("projection", "umap")}


def backends(registry, images: bool | None = None) -> list:
    """One pytest param per registered backend, marked slow where it runs a real model or UMAP.
    `images`: only the embedders of image files (True) or of texts (False)."""
    return [pytest.param(name, id=name,
                         marks=[pytest.mark.slow] if (registry.stage, name) in SLOW else [])
            for name in registry.names
            if images is None or bool(registry.entry(name).suffixes) == images]


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    """Unit vectors in three well-separated groups (240 rows, 24-d)."""
    rng = np.random.default_rng(0)
    centres = np.eye(24)[:3] * 4
    points = np.concatenate([c + rng.normal(scale=0.4, size=(80, 24)) for c in centres])
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


TEXTS = [row for rows in TOPICS.values() for row in rows] + [
    "A short text", "Another row about package managers", "ŝpecial characters — and dashes"]


# ---- embedders ----

@pytest.mark.parametrize("name", backends(EMBEDDERS, images=False))
def test_embedders_return_float32_unit_rows(name: str) -> None:
    settings = Settings(model=name, device="cpu")
    embedder = EMBEDDERS.create(name, settings, corpus=TEXTS)
    vectors = embedder.encode(TEXTS)
    assert vectors.dtype == np.float32
    assert vectors.ndim == 2
    assert vectors.shape[0] == len(TEXTS)
    assert vectors.shape[1] >= 2
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert isinstance(embedder.cache_key, str)
    assert embedder.cache_key


@pytest.mark.parametrize("name", backends(EMBEDDERS, images=True))
def test_image_embedders_return_float32_unit_rows(
        name: str, tiny_dinov2: Path, image_set: dict[str, list[Path]]) -> None:  # noqa: F811
    # The real-model path is the same code; a tiny DINOv2 from a config stands in for its weights.
    settings = Settings(model=str(tiny_dinov2), device="cpu")
    embedder = EMBEDDERS.create(name, settings)
    items = [str(p) for p in image_set["good"][:6]]
    vectors = embedder.encode(items)
    assert vectors.dtype == np.float32
    assert vectors.shape[0] == len(items)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert embedder.cache_key
    assert EMBEDDERS.entry(name).suffixes


# ---- clusterers ----

@pytest.mark.parametrize("name", backends(CLUSTERERS))
def test_clusterers_label_every_row_and_repeat_under_a_seed(name: str,
                                                            blobs: np.ndarray) -> None:
    settings = Settings(method=name, seed=7, min_samples=5)
    labels = CLUSTERERS.create(name, settings).fit(blobs)
    assert labels.shape == (len(blobs),)
    assert np.issubdtype(labels.dtype, np.integer)
    assert labels.min() >= -1
    assert (labels >= 0).any()
    again = CLUSTERERS.create(name, settings).fit(blobs)
    np.testing.assert_array_equal(labels, again)


# ---- projectors ----

@pytest.mark.parametrize("name", backends(PROJECTORS))
def test_projectors_give_finite_2d_positions(name: str, blobs: np.ndarray) -> None:
    entry = PROJECTORS.entry(name)
    projector = PROJECTORS.create(name, Settings(seed=3))
    if entry.needs_clusters:
        labels = np.repeat(np.arange(3), 80).astype(np.int32)
        positions = projector.fit_transform(blobs, labels)  # type: ignore[call-arg]
    else:
        positions = projector.fit_transform(blobs)
    assert positions.shape == (len(blobs), 2)
    assert np.isfinite(positions).all()
    assert positions.std(axis=0).min() > 0


# ---- labelers ----

@pytest.mark.parametrize("name", backends(LABELERS))
def test_labelers_name_every_cluster_distinctly(name: str, gemini: FakeGemini,  # noqa: F811
                                                with_key: str,  # noqa: F811
                                                llm: FakeChatServer) -> None:  # noqa: F811
    clusters = docs(4)
    settings = Settings(labeler=name, llm_url=llm.url, llm_model="tiny-model")
    labeler = LABELERS.create(name, settings)
    named = labeler.label(clusters)
    assert sorted(named) == [c.cluster_id for c in clusters]
    assert all(isinstance(lab, ClusterLabel) for lab in named.values())
    names = [lab.label for lab in named.values()]
    assert all(names)
    assert len(set(names)) == len(names)
    assert {lab.labeler for lab in named.values()} == {name}  # the fake server always answers
    offline = ("keywords", "numbered")  # the others ask a (fake) service once per cluster
    assert gemini.requests + llm.requests == (0 if name in offline else len(clusters))


# ---- readers ----

HEADER = ["id", "text"]
ROWS = [[str(i), f"row number {i}, with a comma"] for i in range(60)]


def _write_sample(path: Path, reader: str) -> None:
    if reader in ("csv", "tsv"):
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, delimiter="\t" if reader == "tsv" else ",").writerows(
                [HEADER, *ROWS])
    elif reader == "jsonl":
        path.write_text("".join(json.dumps(dict(zip(HEADER, r, strict=True))) + "\n"
                                for r in ROWS), encoding="utf-8")
    elif reader == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({h: [r[i] for r in ROWS] for i, h in enumerate(HEADER)}), path)
    else:
        pytest.fail(f"no sample file for the new reader {reader!r}: add one here")


@pytest.mark.parametrize("name", backends(READERS))
def test_readers_return_the_table(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"sample{READERS.entry(name).suffixes[0]}"
    _write_sample(path, name)
    table = read_table(path)
    assert table.format == name
    assert table.column_names == HEADER
    assert table.columns["text"] == [r[1] for r in ROWS]


# ---- exporters ----

@pytest.mark.parametrize("name", backends(EXPORTERS))
def test_exporters_write_a_file_that_reads_back(name: str, tmp_path: Path) -> None:
    n = len(ROWS)
    data = ExportData(source_path=str(tmp_path / "input.csv"),
                      columns={h: [r[i] for r in ROWS] for i, h in enumerate(HEADER)},
                      row_index=np.arange(n), labels=np.arange(n) % 3,
                      cluster_names={0: "zero", 1: "one", 2: "two"},
                      weights={0: 1.0, 1: 2.0, 2: 0.5})
    suffix = EXPORTERS.entry(name).suffixes[0]
    exporter = EXPORTERS.create(name)
    assert exporter.write_weighted(data, tmp_path / f"weighted{suffix}") == n
    weighted = read_table(tmp_path / f"weighted{suffix}")
    assert weighted.column_names == [*HEADER, "cluster_id", "cluster_label", "weight"]
    assert weighted.columns["text"] == data.columns["text"]
    assert weighted.columns["cluster_label"][:3] == ["zero", "one", "two"]
    written = exporter.write_resampled(data, tmp_path / f"resampled{suffix}", seed=1)
    assert read_table(tmp_path / f"resampled{suffix}").n_rows == written
