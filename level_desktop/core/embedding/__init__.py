"""The embed stage: one L2-normalised float32 vector per text, by a backend chosen by name.

`EMBEDDERS` lists the named backends: `auto` (the default: the bundled MiniLM, or the fast static
path on a CPU-only machine for large inputs), the bundled `all-MiniLM-L6-v2`, and `fast` (the
static path, `static.StaticEmbedder`). Any other name is a sentence-transformers model id or
folder, embedded like the bundled model (`sentence_transformer.SentenceTransformerEmbedder`).
"""

from __future__ import annotations

from level_desktop.core.embedding.base import STAGE, Embedder, bundled_model_path, pick_device
from level_desktop.core.embedding.choice import DEFAULT_TIME_BUDGET_S, choose_auto_embedder
from level_desktop.core.embedding.sentence_transformer import SentenceTransformerEmbedder
from level_desktop.core.embedding.static import StaticEmbedder
from level_desktop.core.registry import Registry
from level_desktop.core.settings import DEFAULT_MODEL, Settings

__all__ = ["AUTO", "EMBEDDERS", "FAST", "STAGE", "Embedder", "SentenceTransformerEmbedder",
           "StaticEmbedder", "bundled_model_path", "choose_auto_embedder", "make_embedder",
           "pick_device"]

FAST = "fast"
AUTO = "auto"
SENTENCE_TRANSFORMER_PARAMS = ("model", "device", "batch_size", "max_seq_length")


def _auto(model: str = AUTO, device: str = "auto", batch_size: int = 32,
          max_seq_length: int | None = None, time_budget: float = DEFAULT_TIME_BUDGET_S,
          corpus: list[str] | None = None) -> Embedder:
    if corpus is None:
        return SentenceTransformerEmbedder(DEFAULT_MODEL, device=device, batch_size=batch_size,
                                           max_seq_length=max_seq_length)
    embedder, _ = choose_auto_embedder(corpus, device, batch_size, max_seq_length, time_budget)
    return embedder


def _fast(corpus: list[str] | None = None) -> Embedder:
    fast = StaticEmbedder()
    return fast.for_corpus(corpus) if corpus is not None else fast


def _sentence_transformer(model: str = DEFAULT_MODEL, device: str = "auto", batch_size: int = 32,
                          max_seq_length: int | None = None,
                          corpus: list[str] | None = None) -> Embedder:
    return SentenceTransformerEmbedder(model, device=device, batch_size=batch_size,
                                       max_seq_length=max_seq_length)


EMBEDDERS: Registry[Embedder] = Registry(
    "embedding", runtime=("corpus",), other="or a sentence-transformers model id or local folder")
EMBEDDERS.register(AUTO, _auto, parameters=(*SENTENCE_TRANSFORMER_PARAMS, "time_budget"),
                   display_name="auto (MiniLM when it fits the time budget, else the fast path)",
                   description="the bundled all-MiniLM-L6-v2 when it would embed the rows within "
                               "the time budget here (always on a GPU), else the fast static path")
EMBEDDERS.register(DEFAULT_MODEL, _sentence_transformer, parameters=SENTENCE_TRANSFORMER_PARAMS,
                   display_name=f"{DEFAULT_MODEL} (bundled, offline)",
                   description="the bundled sentence-transformers MiniLM, 384-d")
EMBEDDERS.register(FAST, _fast, display_name="fast (static word pieces + topics)",
                   description="MiniLM's word-piece table with corpus TF-IDF + LSA; seconds on a CPU")


def embedder_entry_name(model: str) -> str:
    """The `EMBEDDERS` entry that embeds with `model`: a registered name (any case), else the
    sentence-transformers entry, which takes any model id or folder."""
    for name in EMBEDDERS.names:
        if name.lower() == model.lower():
            return name
    return DEFAULT_MODEL


def make_embedder(model: str = DEFAULT_MODEL, device: str = "auto", batch_size: int = 32,
                  max_seq_length: int | None = None, corpus: list[str] | None = None) -> Embedder:
    """The embedder for a model name, id or folder.

    `fast` is the static path (MiniLM's own word-piece table with corpus TF-IDF + LSA, learned from
    `corpus`); `auto` takes it on a CPU-only machine for large inputs and MiniLM otherwise.
    """
    settings = Settings(model=model, device=device, batch_size=batch_size,
                        max_seq_length=max_seq_length)
    return EMBEDDERS.create(embedder_entry_name(model), settings, corpus=corpus)
