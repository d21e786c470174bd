"""A fast CPU embedder: MiniLM's own word-piece vectors, weighted by the corpus, plus topic axes.

Each row becomes two unit halves, concatenated and renormalised:

* static: the sum of the bundled all-MiniLM-L6-v2's input word-piece embeddings over the row's
  tokens, each weighted by sublinear TF-IDF learned from the corpus (384 dims);
* LSA: the same TF-IDF row projected onto the corpus's top singular vectors (128 dims).

No transformer layer runs, so 20,000 rows take seconds rather than many minutes, and nothing
is built or downloaded: the word-piece table and tokenizer are read from the bundled model
folder once per process. The word weights and the topic axes are learned from the corpus, so
vectors are comparable only within one fit: `cache_key` carries a digest of that corpus. Name
the corpus with `for_corpus(texts)` before reading `cache_key`; otherwise the first `encode`
call's texts become the corpus. Measured against MiniLM in `benchmarks/fast_embedding.py`.

A fit is kept on disk in Level's cache folder, named by `cache_key` (so by the corpus digest):
a later embedder for the same corpus (a comparison set added to the project, a re-analysis)
loads it instead of learning again, and so embeds any text exactly as the project's rows were.
Without it, the fit is learned again (seeded: the same model, only slower).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from level_desktop.core.atomic import atomic_path
from level_desktop.core.embedding.base import STAGE, bundled_model_path
from level_desktop.core.errors import ModelError
from level_desktop.core.paths import cache_dir
from level_desktop.core.progress import (
    CancelToken,
    ProgressCallback,
    no_progress,
    run_cancellable,
)
from level_desktop.core.settings import DEFAULT_MODEL
from level_desktop.core.vectors import normalize_rows

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix
    from tokenizers import Tokenizer

FAST_NAME = f"{DEFAULT_MODEL} (static, corpus TF-IDF + LSA)"
FORMAT_VERSION = 1  # bump when the vectors for the same corpus would change
# The row-count rule auto mode used before it projected MiniLM's time (embedding/choice.py);
# kept for callers that want a rule without loading the model.
FAST_PATH_MIN_ROWS = 2_000
MAX_CHARS = 10_000  # longer rows are cut: bounds the tokenizer on pathological rows
SVD_MAX_ROWS = 30_000  # the topic axes are fitted on a seeded sample of at most this many rows
SVD_MIN_DF = 2  # word pieces in fewer rows than this take no part in the topic axes
SVD_ITERATIONS = 5  # power iterations of the randomized SVD
FIT_SHARE = 0.7  # share of the embed progress bar spent learning from the corpus
FIT_FOLDER = "static-fits"  # under the cache folder: one .npz per fitted corpus
FITS_KEPT = 8  # fits kept on disk (a few MB each); the least recently used go first


def should_use_fast_path(n_rows: int, device: str) -> bool:
    """Whether auto mode should embed `n_rows` new rows with the fast path on `device`.

    True on the CPU from FAST_PATH_MIN_ROWS rows (MiniLM would take over about a minute);
    a GPU runs MiniLM fast enough that its better clusters are worth the wait.
    """
    return device == "cpu" and n_rows >= FAST_PATH_MIN_ROWS


@dataclass(frozen=True)
class _WordPieces:
    """The tokenizer and the input word-piece embedding table of one model folder."""

    tokenizer: Tokenizer
    table: np.ndarray  # (vocabulary, dimension) float32


_TABLES: dict[str, _WordPieces] = {}
_TABLES_LOCK = threading.Lock()


def load_word_pieces(model_dir: str | Path) -> _WordPieces:
    """Read a BERT-style model folder's tokenizer and word-piece table once per process."""
    key = str(Path(model_dir).resolve())
    with _TABLES_LOCK:
        if key not in _TABLES:
            _TABLES[key] = _read_word_pieces(Path(key))
        return _TABLES[key]


def _read_word_pieces(folder: Path) -> _WordPieces:
    from safetensors import safe_open
    from tokenizers import Tokenizer

    tokenizer_file = folder / "tokenizer.json"
    weights_file = folder / "model.safetensors"
    if not tokenizer_file.exists() or not weights_file.exists():
        raise ModelError(f"{folder} has no tokenizer.json and model.safetensors: the fast embedder "
                         f"needs a BERT-style model folder such as the bundled {DEFAULT_MODEL}.")
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    with safe_open(str(weights_file), framework="numpy") as weights:
        # safe_open is not iterable: keys() is its only listing.
        names = [n for n in weights.keys() if n.endswith("word_embeddings.weight")]  # noqa: SIM118
        if len(names) != 1:
            raise ModelError(f"{weights_file} holds no single word-embedding table.")
        table = np.ascontiguousarray(weights.get_tensor(names[0]), dtype=np.float32)
    if table.shape[0] < tokenizer.get_vocab_size():
        raise ModelError(f"{folder}: the tokenizer's vocabulary is larger than its embedding table.")
    return _WordPieces(tokenizer=tokenizer, table=table)


def corpus_digest(texts: list[str]) -> str:
    """An order-sensitive digest of the texts (what a fit depends on)."""
    digest = hashlib.blake2b(digest_size=16)
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


class StaticEmbedder:
    """Embedder protocol: fast CPU vectors of MiniLM word pieces and corpus topic axes.

    `encode` returns unit float32 rows of width 384 + `lsa_dims`. A row without tokens is zero.
    """

    def __init__(self, model_dir: str | Path | None = None, lsa_dims: int = 128,
                 batch_size: int = 512, seed: int = 42, keep_fits: bool = True) -> None:
        self.model_dir = Path(model_dir) if model_dir else bundled_model_path()
        self.lsa_dims = lsa_dims
        self.batch_size = batch_size
        self.seed = seed
        self.keep_fits = keep_fits  # load and store fits in the cache folder
        self.fit_loaded = False  # whether the fit in use was read from disk, not learned here
        self.name = FAST_NAME if model_dir is None else f"{self.model_dir.name} (static, TF-IDF + LSA)"
        self._nonce = uuid.uuid4().hex
        self._corpus: list[str] | None = None
        self._corpus_key: str | None = None
        self.idf_: np.ndarray | None = None  # (vocabulary,) float32
        self.components_: np.ndarray | None = None  # (lsa_dims, vocabulary) float32

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def fitted(self) -> bool:
        return self.idf_ is not None and self.components_ is not None

    @property
    def cache_key(self) -> str:
        """Changes with the corpus the weights and axes are (or will be) learned from."""
        base = f"static:{self.name}:tfidf-lsa{self.lsa_dims}:s{self.seed}:v{FORMAT_VERSION}"
        return f"{base}:{self._corpus_key or 'unfitted-' + self._nonce}"

    @property
    def dimension(self) -> int:
        return int(load_word_pieces(self.model_dir).table.shape[1]) + self.lsa_dims

    def for_corpus(self, texts: list[str]) -> StaticEmbedder:
        """Name the corpus to learn from (cheap: the learning happens in `encode`)."""
        self._corpus = list(texts)
        self._corpus_key = corpus_digest(self._corpus)
        self.idf_ = self.components_ = None
        return self

    def encode(self, texts: list[str], progress: ProgressCallback = no_progress,
               cancel: CancelToken | None = None) -> np.ndarray:
        """Unit float32 vectors (n, 384 + lsa_dims); learns from the corpus first if needed."""
        pieces = load_word_pieces(self.model_dir)
        start = 0.0
        counts = None
        if (self.idf_ is None or self.components_ is None) and self._corpus is None \
                and self._corpus_key is None:
            self.for_corpus(texts)
        if (self.idf_ is None or self.components_ is None) and self._load_fit():
            progress(STAGE, 0.0, "Read the word weights and topic axes learned from these rows")
            self._corpus = None
        if self.idf_ is None or self.components_ is None:
            corpus = self._corpus or []
            progress(STAGE, 0.0, f"Learning word weights and topics from {len(corpus):,} rows")
            corpus_counts = self._counts(corpus, progress, cancel, 0.0, FIT_SHARE * 0.8)
            self.idf_, self.components_ = self._fit_counts(corpus_counts, progress, cancel)
            self.fit_loaded = False
            self._store_fit()
            if corpus_digest(texts) == self._corpus_key:
                counts = corpus_counts  # the usual case: embed the corpus just read
            self._corpus = None  # the digest in cache_key is all that is kept
            start = FIT_SHARE
        if counts is None:
            counts = self._counts(texts, progress, cancel, start, start + (1 - start) * 0.5)
            start += (1 - start) * 0.5
        return self._transform(counts, pieces.table, self.idf_, self.components_, progress, cancel,
                               start)

    def fit_path(self) -> Path:
        """Where this corpus's fit is kept: the cache folder, named by a digest of `cache_key`."""
        name = hashlib.blake2b(self.cache_key.encode("utf-8"), digest_size=16).hexdigest()
        return cache_dir() / FIT_FOLDER / f"{name}.npz"

    def _load_fit(self) -> bool:
        """Take the fit kept for this corpus, if there is one and it is whole; True if taken."""
        if not self.keep_fits or self._corpus_key is None:
            return False
        path = self.fit_path()
        try:
            with np.load(path, allow_pickle=False) as stored:
                if str(stored["cache_key"]) != self.cache_key:
                    return False
                idf = np.asarray(stored["idf"], dtype=np.float32)
                columns = np.asarray(stored["columns"], dtype=np.int64)
                used = np.asarray(stored["components"], dtype=np.float32)
        except (OSError, KeyError, ValueError):
            return False  # none kept, or a damaged file: learn again
        vocabulary = load_word_pieces(self.model_dir).table.shape[0]
        if idf.shape != (vocabulary,) or used.shape != (self.lsa_dims, columns.size) or (
                columns.size and (columns.min() < 0 or columns.max() >= vocabulary)):
            return False
        components = np.zeros((self.lsa_dims, vocabulary), dtype=np.float32)
        components[:, columns] = used
        self.idf_, self.components_ = idf, components
        self.fit_loaded = True
        with contextlib.suppress(OSError):
            path.touch()  # recently used: kept longest
        return True

    def _store_fit(self) -> None:
        """Keep the fit just learned (only the word pieces the topic axes use); a cache folder
        that cannot be written only costs the next embedder a refit."""
        if not self.keep_fits or self._corpus_key is None or not self.fitted:
            return
        assert self.idf_ is not None
        assert self.components_ is not None
        path = self.fit_path()
        columns = np.flatnonzero(self.components_.any(axis=0)).astype(np.int32)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp, open(tmp, "wb") as handle:
                np.savez(handle, cache_key=np.array(self.cache_key), idf=self.idf_,
                         columns=columns, components=self.components_[:, columns])
            kept = sorted(path.parent.glob("*.npz"), key=lambda p: p.stat().st_mtime,
                          reverse=True)
            for old in kept[FITS_KEPT:]:
                old.unlink(missing_ok=True)
        except OSError:
            pass

    def _counts(self, texts: list[str], progress: ProgressCallback, cancel: CancelToken | None,
                lo: float, hi: float) -> csr_matrix:
        """Word-piece counts per row, tokenised in batches with progress and cancel checks."""
        import scipy.sparse as sp

        pieces = load_word_pieces(self.model_dir)
        vocabulary = pieces.table.shape[0]
        n = len(texts)
        blocks = []
        for begin in range(0, n, self.batch_size):
            if cancel is not None:
                cancel.check()
            batch = [t[:MAX_CHARS] for t in texts[begin:begin + self.batch_size]]
            ids = [e.ids for e in pieces.tokenizer.encode_batch_fast(batch, add_special_tokens=False)]
            lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
            indptr = np.concatenate([[0], np.cumsum(lengths)])
            indices = np.fromiter((i for x in ids for i in x), dtype=np.int32, count=int(indptr[-1]))
            block = sp.csr_matrix((np.ones(indices.size, dtype=np.float32), indices, indptr),
                                  shape=(len(ids), vocabulary))
            block.sum_duplicates()
            blocks.append(block)
            done = min(n, begin + self.batch_size)
            progress(STAGE, lo + (hi - lo) * done / n, f"Read the words of {done:,} of {n:,} rows")
        if not blocks:
            return sp.csr_matrix((0, vocabulary), dtype=np.float32)
        return sp.vstack(blocks, format="csr")

    def _fit_counts(self, counts: csr_matrix, progress: ProgressCallback,
                    cancel: CancelToken | None) -> tuple[np.ndarray, np.ndarray]:
        """Smoothed IDF over the corpus, then a seeded truncated SVD of its TF-IDF rows."""
        from sklearn.decomposition import TruncatedSVD

        n, vocabulary = counts.shape
        document_freq = np.bincount(counts.indices, minlength=vocabulary)
        idf = (np.log((n + 1) / (document_freq + 1)) + 1).astype(np.float32)
        components = np.zeros((self.lsa_dims, vocabulary), dtype=np.float32)
        if cancel is not None:
            cancel.check()
        tfidf = _tfidf(counts, idf)
        if n > SVD_MAX_ROWS:
            rows = np.random.default_rng(self.seed).choice(n, SVD_MAX_ROWS, replace=False)
            tfidf = tfidf[np.sort(rows)]
        columns = np.flatnonzero(document_freq >= min(SVD_MIN_DF, n))
        dims = min(self.lsa_dims, tfidf.shape[0] - 1, columns.size - 1)
        if cancel is not None:
            cancel.check()
        if dims >= 1:
            progress(STAGE, FIT_SHARE * 0.8, f"Finding {dims} topic axes")
            svd = TruncatedSVD(dims, n_iter=SVD_ITERATIONS, random_state=self.seed)
            # One library call of tens of seconds on a busy CPU: cancel is felt during it.
            run_cancellable(partial(svd.fit, tfidf[:, columns]), cancel)
            components[:dims, columns] = svd.components_
        progress(STAGE, FIT_SHARE, "Learned word weights and topic axes")
        return idf, components

    def _transform(self, counts: csr_matrix, table: np.ndarray, idf: np.ndarray,
                   components: np.ndarray, progress: ProgressCallback, cancel: CancelToken | None,
                   lo: float) -> np.ndarray:
        n = counts.shape[0]
        out = np.empty((n, table.shape[1] + self.lsa_dims), dtype=np.float32)
        for begin in range(0, n, self.batch_size):
            if cancel is not None:
                cancel.check()
            tfidf = _tfidf(counts[begin:begin + self.batch_size], idf)
            static = normalize_rows(tfidf @ table)
            topics = normalize_rows(tfidf @ components.T)
            out[begin:begin + static.shape[0]] = normalize_rows(np.hstack([static, topics]))
            done = min(n, begin + self.batch_size)
            progress(STAGE, lo + (1 - lo) * done / n, f"Embedded {done:,} of {n:,} rows")
        return out


def _tfidf(counts: csr_matrix, idf: np.ndarray) -> csr_matrix:
    """Sublinear TF times IDF, rows L2-normalised."""
    import scipy.sparse as sp

    weighted = counts.copy()
    weighted.data = (1 + np.log(weighted.data)) * idf[weighted.indices]
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return (sp.diags(1 / norms) @ weighted).tocsr()
