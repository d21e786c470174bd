"""Shared fixtures. Tests never touch the user's real cache, settings or keyring."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from level_desktop.core.clustering import CLUSTERERS
from level_desktop.core.settings import Param

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LEVEL_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "sample-small.csv").exists():
        pytest.fail(f"The shared datasets are missing: expected them in {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_csv(shared_data: Path) -> Path:
    return shared_data / "sample-small.csv"


DUPLICATED_BASE_ROWS = 150  # distinct rows; 20 exact copies and 20 edited copies follow them


@pytest.fixture(scope="session")
def duplicated_csv(sample_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dups.csv: the sample's first DUPLICATED_BASE_ROWS rows, then exact copies of the text of
    every third one (package name + "-copy") and upper-cased, suffixed copies of the next ones
    (+ "-edit") — known near-duplicates for the redundancy tests."""
    with open(sample_csv, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))[:DUPLICATED_BASE_ROWS]
    out = list(rows)
    for i in range(0, 60, 3):  # exact copies (the text; the package name marks the copy)
        out.append({**rows[i], "package": rows[i]["package"] + "-copy"})
    for i in range(1, 60, 3):  # lightly edited copies
        out.append({**rows[i], "package": rows[i]["package"] + "-edit",
                    "description": rows[i]["description"].upper() + " (updated)"})
    target = tmp_path_factory.mktemp("duplicated") / "dups.csv"
    with open(target, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["package", "section", "description"])
        writer.writeheader()
        writer.writerows(out)
    return target


def run_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's one cache folder (Level's LEVEL_CACHE_DIR): the embedding cache and umap's
    compiled kernels, shared by this process and the GUI tests' child processes, so the real
    model embeds each text once and numba compiles umap once per run (a minute of CPU each)."""
    path = tmp_path_factory.getbasetemp() / "level-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def session_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the whole run (see run_cache_dir)."""
    return run_cache_dir(tmp_path_factory)


@pytest.fixture(scope="session", autouse=True)
def isolated_session_cache(session_cache_dir: Path) -> Iterator[None]:
    """The cache folder for module- and session-scoped fixtures too (they are set up before the
    per-test environment below), so no fixture writes into the user's cache folder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEVEL_CACHE_DIR", str(session_cache_dir))
        yield


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, session_cache_dir: Path,
                         tmp_path: Path) -> None:
    monkeypatch.setenv("LEVEL_CACHE_DIR", str(session_cache_dir))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")


@pytest.fixture(scope="session")
def sample_analysis(sample_csv: Path, session_cache_dir: Path):
    """The real pipeline on sample-small.csv (real MiniLM; PCA map to keep the suite quick)."""
    from level_desktop.core.pipeline import analyze
    from level_desktop.core.settings import Settings
    from level_desktop.core.store import EmbeddingCache

    cache = EmbeddingCache(session_cache_dir / "embeddings.duckdb")
    return analyze(sample_csv, Settings(projection="pca", model="all-MiniLM-L6-v2"), cache=cache)


@pytest.fixture(scope="session")
def tiny_dinov2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DINOv2 built from a config (random weights, a few hundred KB) with its image processor,
    saved as a model folder: the image path's real code on a model small enough for tests."""
    import torch
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    folder = tmp_path_factory.mktemp("tiny-dinov2")
    torch.manual_seed(0)
    config = Dinov2Config(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                          num_attention_heads=2, patch_size=14, image_size=56)
    Dinov2Model(config).save_pretrained(folder)
    BitImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 56, "width": 56},
                      image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]
                      ).save_pretrained(folder)
    return folder


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(42)


TILT = Param("toy_tilt", float, 0.0, "Toy tilt", "where the toy splits the first coordinate",
             minimum=-1.0, maximum=1.0)


class ToyClusterer:
    """Two clusters: rows whose first coordinate is above `toy_tilt`, and the rest."""

    name = "toy"

    def __init__(self, toy_tilt: float, seed: int) -> None:
        self.toy_tilt = toy_tilt
        self.seed = seed

    def fit(self, vectors: np.ndarray) -> np.ndarray:
        return (np.asarray(vectors)[:, 0] > self.toy_tilt).astype(np.int32)


@pytest.fixture
def toy_clusterer() -> Iterator[None]:
    """A toy clusterer with one parameter of its own (`toy_tilt`), registered for one test: it
    must reach the CLI, the dialog and the fingerprints with no other file changed."""
    CLUSTERERS.register("toy", ToyClusterer, parameters=(TILT, "seed"),
                        display_name="Toy split (for tests)",
                        description="splits the rows at a tilt")
    try:
        yield
    finally:
        CLUSTERERS.unregister("toy")
