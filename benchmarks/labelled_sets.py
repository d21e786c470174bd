"""The labelled sets the benchmarks score against: texts, hidden labels and MiniLM vectors."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import SHARED_DATA, read_csv

from level_desktop.core.pipeline import embed_texts
from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress
from level_desktop.core.settings import DEFAULT_MODEL
from level_desktop.core.vectors import normalize_rows

DEBIAN_VECTORS = SHARED_DATA / "vectors" / "debian-20k-minilm.npz"


@dataclass
class LabelledSet:
    """Texts, their hidden labels and their unit vectors, row for row."""

    name: str
    note: str
    texts: list[str]
    labels: np.ndarray  # str per row
    vectors: np.ndarray  # (n, d) float32 unit vectors
    vectors_from: str


class PrecomputedEmbedder:
    """Hands back vectors made earlier by the same model, so `analyze()` runs every other stage."""

    def __init__(self, texts: list[str], vectors: np.ndarray, source: str,
                 name: str = DEFAULT_MODEL) -> None:
        self.name = name
        self.cache_key = f"precomputed:{name}:{source}"
        self.texts = texts
        self.vectors = vectors
        self._row_of = {t: i for i, t in enumerate(texts)}

    @property
    def device(self) -> str:
        return "precomputed"

    def encode(self, texts: list[str], progress: ProgressCallback = no_progress,
               cancel: CancelToken | None = None) -> np.ndarray:
        if texts == self.texts:
            return self.vectors
        try:
            return self.vectors[[self._row_of[t] for t in texts]]
        except KeyError as err:
            raise ValueError("A text reached the embedder that has no precomputed vector.") from err


def load_debian(vectors_path: Path) -> LabelledSet:
    """The precomputed 20k sample joined on `package` with debian-packages.csv."""
    data = np.load(vectors_path)
    rows = {r["package"]: r for r in read_csv(SHARED_DATA / "debian-packages.csv")}
    picked = [rows[str(p)] for p in data["package"]]
    return LabelledSet(
        name="debian-packages (20k sample)",
        note=(f"the {len(picked):,}-row seeded sample of debian-packages.csv whose MiniLM vectors "
              f"are in {vectors_path.name}, not the full 63,666 rows"),
        texts=[r["description"] for r in picked],
        labels=np.array([r["section"] for r in picked]),
        vectors=normalize_rows(data["vectors"].astype(np.float32)),
        vectors_from=str(vectors_path))


def load_fortunes(vectors_path: Path | None) -> LabelledSet:
    """fortunes.csv; vectors from `vectors_path` (CSV row order) or Level's embed stage and cache."""
    from level_desktop.core.embedding import make_embedder
    from level_desktop.core.store import EmbeddingCache

    rows = read_csv(SHARED_DATA / "fortunes.csv")
    texts = [r["text"] for r in rows]
    labels = np.array([r["category"] for r in rows])
    if vectors_path is not None and vectors_path.exists():
        data = np.load(vectors_path)
        vectors = data["vectors"].astype(np.float32)
        if vectors.shape[0] != len(rows):
            raise ValueError(f"{vectors_path} has {vectors.shape[0]} vectors for {len(rows)} rows.")
        if "category" in data.files and not np.array_equal(data["category"], labels):
            raise ValueError(f"{vectors_path} is not in fortunes.csv's row order.")
        source = str(vectors_path)
    else:
        vectors, device = embed_texts(texts, make_embedder(), cache=EmbeddingCache())
        source = f"Level's embed stage ({DEFAULT_MODEL}, {device})"
    return LabelledSet(name="fortunes", note=f"all {len(rows):,} rows of fortunes.csv",
                       texts=texts, labels=labels, vectors=normalize_rows(vectors),
                       vectors_from=source)


def add_set_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every labelled-set benchmark takes: which sets, seeds, and vector files."""
    parser.add_argument("--sets", nargs="+", choices=("debian", "fortunes"),
                        default=["debian", "fortunes"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    parser.add_argument("--debian-vectors", type=Path, default=DEBIAN_VECTORS)
    parser.add_argument("--fortunes-vectors", type=Path, default=None,
                        help="MiniLM vectors of fortunes.csv in row order (npz: `vectors`); "
                             "without it (or when absent) Level embeds the file (cached)")
