"""`--model auto`: take the full model when it would finish within a time budget, else the fast path.

Row count alone misjudges what is slow: MiniLM embeds ~200 short glosses a second on two cores but
only 40-80 long package descriptions. So auto mode projects the full model's time for *these* rows
on *this* device: it times the model on a small sample spread over the rows' length distribution
and scales by the rows' length-based cost (rows already in the embedding cache cost nothing). The
sample's vectors are kept, so the calibration is not wasted when the model wins. The measured
speed is remembered in Level's cache folder; when it already makes the answer obvious (four times
over or under the budget), the model is not even loaded.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from level_desktop.core.atomic import atomic_text
from level_desktop.core.embedding.base import Embedder, pick_device
from level_desktop.core.embedding.sentence_transformer import (
    CPU_SLICE,
    SentenceTransformerEmbedder,
)
from level_desktop.core.embedding.static import StaticEmbedder
from level_desktop.core.paths import cache_dir
from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress
from level_desktop.core.settings import DEFAULT_MODEL

DEFAULT_TIME_BUDGET_S = 60.0
CHARS_PER_TOKEN = 4.0  # a rough English ratio; only the truncation cap depends on it
MAX_TOKENS = 256  # MiniLM's max_seq_length: longer rows cost no more
ROW_OVERHEAD_TOKENS = 8  # special tokens and per-row work, in token units
SAMPLE_SHARE = 0.01
MIN_SAMPLE, MAX_SAMPLE = 48, 256
ALWAYS_FULL_ROWS = 100  # so few rows take the full model seconds at most: no need to measure
CLEAR_MARGIN = 4.0  # a remembered speed decides alone when the projection is this far off budget
SPEED_FILE = "model_speed.json"
FAST_PATH_PREFIX = "fast path"  # how ModelChoice.reason starts when the fast path was taken


def row_costs(texts: list[str], max_seq_length: int | None = None) -> np.ndarray:
    """Each row's relative cost for a transformer: its token count (estimated from characters,
    capped at the model's sequence length) plus a per-row overhead."""
    cap = (max_seq_length or MAX_TOKENS) * CHARS_PER_TOKEN
    chars = np.fromiter((len(t) for t in texts), dtype=np.float64, count=len(texts))
    return np.minimum(chars, cap) / CHARS_PER_TOKEN + ROW_OVERHEAD_TOKENS


def padded_cost(costs: np.ndarray, slice_rows: int = CPU_SLICE) -> float:
    """What the model pays for these rows: it embeds them longest first in slices of
    `slice_rows`, each padded to its longest row. A sample spread over every length pads far
    more than the whole set does (its neighbours in length are close), so speed is measured and
    projected in these units."""
    ordered = np.sort(np.asarray(costs, dtype=np.float64))[::-1]
    starts = np.arange(0, ordered.size, slice_rows)
    return float((ordered[starts] * np.minimum(slice_rows, ordered.size - starts)).sum())


def length_spread_sample(costs: np.ndarray, size: int) -> np.ndarray:
    """Row positions spread evenly over the cost-sorted rows (a systematic sample: every length
    band is represented in proportion), in the original order."""
    n = costs.size
    if size >= n:
        return np.arange(n)
    order = np.argsort(costs, kind="stable")
    picks = order[((np.arange(size) + 0.5) * n / size).astype(np.int64)]
    return np.sort(picks)


def sample_size(n_rows: int) -> int:
    return int(min(n_rows, max(MIN_SAMPLE, min(MAX_SAMPLE, round(n_rows * SAMPLE_SHARE)))))


@dataclass
class Calibration:
    """The full model timed on a sample of the rows to embed."""

    seconds_per_cost: float  # seconds per unit of `padded_cost`
    sample_rows: np.ndarray  # positions into the texts that were embedded
    sample_vectors: np.ndarray  # their vectors (kept: they are part of the result)
    load_s: float  # loading the model (paid anyway when it is chosen)
    sample_s: float  # embedding the sample


@dataclass
class ModelChoice:
    """What auto mode chose, and the one line that says why."""

    model: str  # "fast" or the full model's name
    reason: str
    rows_to_embed: int
    projected_full_s: float | None  # the full model's projected time for the rows to embed
    calibration_s: float = 0.0  # what deciding cost (model load + sample), 0 when remembered
    calibration: Calibration | None = field(default=None, repr=False)

    @property
    def is_fast_path(self) -> bool:
        return self.model == "fast"


def describe_seconds(seconds: float) -> str:
    """'about 40 seconds', 'about 14 minutes', 'about 2.5 hours'."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} seconds"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} minutes"
    return f"about {seconds / 3600:.1f} hours"


class SpeedMemory:
    """The last measured speed per (model, device, threads), in a small JSON file."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / SPEED_FILE

    @staticmethod
    def key(model_key: str, device: str) -> str:
        return f"{model_key}|{device}|{os.cpu_count()}"

    def get(self, model_key: str, device: str) -> float | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            value = float(data[self.key(model_key, device)])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return value if np.isfinite(value) and value > 0 else None

    def put(self, model_key: str, device: str, seconds_per_cost: float) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
        data[self.key(model_key, device)] = seconds_per_cost
        with contextlib.suppress(OSError):  # remembering is an optimisation, never an error
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_text(self.path) as handle:
                handle.write(json.dumps(data, indent=1, sort_keys=True))


def calibrate(embedder: Embedder, texts: list[str], costs: np.ndarray,
              progress: ProgressCallback = no_progress,
              cancel: CancelToken | None = None) -> Calibration:
    """Load `embedder`'s model and time it on a length-spread sample of `texts`.

    A first small slice loads the model and warms it up and is not timed; the rest gives the
    speed. Returns the sample's vectors in the order of `sample_rows`.
    """
    rows = length_spread_sample(costs, sample_size(len(texts)))
    progress("embed", 0.0, f"Timing {embedder.name} on {rows.size} sample rows")
    warm = rows[:: max(1, rows.size // 4)][:4]  # a few lengths, loads the model
    timed_rows = np.setdiff1d(rows, warm)
    start = time.perf_counter()
    warm_vectors = embedder.encode([texts[i] for i in warm], cancel=cancel)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    timed_vectors = embedder.encode([texts[i] for i in timed_rows], cancel=cancel)
    sample_s = time.perf_counter() - start
    seconds_per_cost = sample_s / max(padded_cost(costs[timed_rows]), 1e-9)
    return Calibration(seconds_per_cost=seconds_per_cost,
                       sample_rows=np.concatenate([warm, timed_rows]),
                       sample_vectors=np.concatenate([warm_vectors, timed_vectors]),
                       load_s=load_s, sample_s=sample_s)


def choose_model(texts: list[str], embedder: Embedder, device: str,
                 budget_s: float = DEFAULT_TIME_BUDGET_S, cached: np.ndarray | None = None,
                 memory: SpeedMemory | None = None, progress: ProgressCallback = no_progress,
                 cancel: CancelToken | None = None) -> ModelChoice:
    """Decide between the full model (`embedder`, not yet loaded) and the fast path.

    `cached` marks rows whose full-model vectors are already in the embedding cache (free).
    On a GPU the full model always wins: it is fast enough there.
    """
    need = np.ones(len(texts), dtype=bool) if cached is None else ~np.asarray(cached, dtype=bool)
    n_need = int(need.sum())
    full = embedder.name
    if device != "cpu":
        return ModelChoice(full, f"{full} on {device}", n_need, None)
    if n_need == 0:
        return ModelChoice(full, f"{full}: every row is in the embedding cache", 0, 0.0)
    if n_need <= ALWAYS_FULL_ROWS:
        return ModelChoice(full, f"{full}: only {n_need:,} rows to embed", n_need, None)
    todo = np.flatnonzero(need)
    costs = row_costs([texts[i] for i in todo], getattr(embedder, "max_seq_length", None))
    total_cost = padded_cost(costs)
    remembered = memory.get(embedder.cache_key, device) if memory else None
    if remembered is not None:
        projected = remembered * total_cost
        if projected > CLEAR_MARGIN * budget_s:
            return ModelChoice("fast", f"{FAST_PATH_PREFIX}: {full} would take "
                               f"{describe_seconds(projected)} for {n_need:,} rows", n_need,
                               projected)
        if projected * CLEAR_MARGIN < budget_s:
            return ModelChoice(full, f"{full}: {describe_seconds(projected)} for {n_need:,} rows",
                               n_need, projected)
    calibration = calibrate(embedder, [texts[i] for i in todo], costs, progress, cancel)
    calibration.sample_rows = todo[calibration.sample_rows]
    if memory is not None:
        memory.put(embedder.cache_key, device, calibration.seconds_per_cost)
    projected = calibration.seconds_per_cost * total_cost
    spent = calibration.load_s + calibration.sample_s
    if projected <= budget_s:
        return ModelChoice(full, f"{full}: {describe_seconds(projected)} for {n_need:,} rows",
                           n_need, projected, spent, calibration)
    return ModelChoice("fast", f"{FAST_PATH_PREFIX}: {full} would take "
                       f"{describe_seconds(projected)} for {n_need:,} rows", n_need, projected,
                       spent, calibration)


class WithKnownVectors:
    """An embedder that serves the calibration sample's vectors instead of computing them again."""

    def __init__(self, inner: Embedder, texts: list[str], vectors: np.ndarray) -> None:
        self.inner = inner
        self.name = inner.name
        self.cache_key = inner.cache_key
        self._known = {text: vector for text, vector in zip(texts, vectors, strict=True)}

    @property
    def device(self) -> str:
        return self.inner.device

    def encode(self, texts: list[str], progress: ProgressCallback = no_progress,
               cancel: CancelToken | None = None) -> np.ndarray:
        missing = [i for i, text in enumerate(texts) if text not in self._known]
        fresh = self.inner.encode([texts[i] for i in missing], progress, cancel)
        dim = fresh.shape[1] if fresh.size else len(next(iter(self._known.values())))
        out = np.empty((len(texts), dim), dtype=np.float32)
        out[missing] = fresh
        for i, text in enumerate(texts):
            if text in self._known:
                out[i] = self._known[text]
        return out


def choose_auto_embedder(texts: list[str], device: str = "auto", batch_size: int = 32,
                         max_seq_length: int | None = None,
                         time_budget: float = DEFAULT_TIME_BUDGET_S,
                         cached: np.ndarray | None = None,
                         progress: ProgressCallback = no_progress,
                         cancel: CancelToken | None = None) -> tuple[Embedder, ModelChoice]:
    """`--model auto`: the bundled MiniLM when it would embed `texts` within `time_budget` seconds
    here (or on a GPU), else the fast path learned from `texts`; and what was chosen, and why."""
    full = SentenceTransformerEmbedder(DEFAULT_MODEL, device=device, batch_size=batch_size,
                                       max_seq_length=max_seq_length)
    choice = choose_model(texts, full, pick_device(device), time_budget, cached,
                          SpeedMemory(cache_dir()), progress, cancel)
    if choice.is_fast_path:
        return StaticEmbedder().for_corpus(texts), choice
    if choice.calibration is not None:
        rows = choice.calibration.sample_rows
        return WithKnownVectors(full, [texts[i] for i in rows],
                                choice.calibration.sample_vectors), choice
    return full, choice
