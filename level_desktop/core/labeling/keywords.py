"""The offline `keywords` labeler: class-based TF-IDF over each cluster's rows (every cluster's
rows joined into one document), stop words removed.

A term found in only a few of a cluster's rows does not name it, however often those rows repeat
it (`MIN_ROW_SHARE`): on the fast path's broad clusters a handful of long descriptions used to
lend their words to the whole hill ("algorithm campaign wesnoth" for a hill of generic tools).
Measured with `benchmarks/names.py` (benchmarks/results/names.json).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from level_desktop.core.labeling.base import STAGE, ClusterDocs, ClusterLabel
from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress

MAX_TERMS = 4
MIN_TERMS = 2
DESCRIPTION_CHARS = 120
COUNT_ROWS = 500  # cancel is checked every this many rows: each step well under a second
MIN_ROW_SHARE = 0.04  # a naming term is in at least this share of the cluster's rows...
MIN_GATED_TERMS = 3  # ...unless fewer terms than this pass, then every term may name it
# Words are counted on at most this many rows of a cluster (a seeded sample, its counts scaled
# up to the cluster's size): naming a million rows costs what naming 450,000 does, and the
# names barely move (their agreement with counting every row is measured in
# benchmarks/results/million_rows.json).
MAX_COUNT_ROWS = 3_000


def _counted_rows(texts: list[str], max_rows: int | None, seed: int) -> list[str]:
    """All rows, or a seeded sample of `max_rows` of them in their order."""
    if max_rows is None or len(texts) <= max_rows:
        return texts
    chosen = np.sort(np.random.default_rng(seed).choice(len(texts), max_rows, replace=False))
    return [texts[j] for j in chosen]


def class_tfidf_terms(clusters: list[ClusterDocs], top: int = 10,
                      cancel: CancelToken | None = None,
                      min_row_share: float = MIN_ROW_SHARE,
                      max_rows: int | None = MAX_COUNT_ROWS) -> dict[int, list[str]]:
    """The most distinctive terms of each cluster by c-TF-IDF: tf(t, c) · log(1 + A / f(t)),
    A = mean words per cluster, f(t) = the term's frequency over all clusters; only terms found
    in at least `min_row_share` of the cluster's rows, unless fewer than MIN_GATED_TERMS are.

    Words are counted row by row (cancel checked every COUNT_ROWS rows) and summed per cluster
    (the same counts as one document per cluster), which also gives the rows holding each term.
    A cluster of more than `max_rows` rows is counted on a seeded sample of that many, its counts
    scaled by size / sample so that the term frequencies across clusters stay estimates of the
    full ones (its row shares are the sample's).
    """
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import CountVectorizer

    texts = [_counted_rows(c.texts, max_rows, seed=i) for i, c in enumerate(clusters)]
    sizes = np.array([len(t) for t in texts], dtype=np.int64)  # rows counted per cluster
    scale = np.array([len(c.texts) for c in clusters], dtype=np.float64) / np.maximum(sizes, 1)

    def docs() -> Iterator[str]:
        for n, text in enumerate(t for rows in texts for t in rows):
            if cancel is not None and n % COUNT_ROWS == 0:
                cancel.check()
            yield text

    member = np.repeat(np.arange(len(clusters)), sizes)
    shape = (len(clusters), int(sizes.sum()))
    owner = csr_matrix((np.ones(member.size), (member, np.arange(member.size))), shape=shape)
    scaled_owner = csr_matrix((scale[member], (member, np.arange(member.size))), shape=shape)
    vectorizer = CountVectorizer(stop_words="english", lowercase=True,
                                 token_pattern=r"(?u)\b[^\W\d_][\w\-+#.]*[^\W_]\b",
                                 max_features=50_000)
    try:
        per_row = vectorizer.fit_transform(docs()).astype(np.float64).tocsr()
    except ValueError:  # every word is a stop word
        return {c.cluster_id: [] for c in clusters}
    counts = (scaled_owner @ per_row).tocsr()
    per_row.data[:] = 1.0
    row_share = (owner @ per_row).multiply(1.0 / np.maximum(sizes, 1)[:, None]).tocsr()
    vocab = vectorizer.get_feature_names_out()
    words_per_cluster = np.asarray(counts.sum(axis=1)).ravel()
    tf = counts.multiply(1.0 / np.maximum(words_per_cluster, 1)[:, None]).tocsr()
    term_freq = np.asarray(counts.sum(axis=0)).ravel()
    average = words_per_cluster.mean()
    idf = np.log1p(average / np.maximum(term_freq, 1))
    scores = tf.multiply(idf[None, :]).tocsr()
    widespread = row_share.copy()
    widespread.data = (widespread.data >= min_row_share).astype(np.float64)
    gated = scores.multiply(widespread).tocsr()
    gated.eliminate_zeros()
    out = {}
    for row, cluster in enumerate(clusters):
        s = gated.getrow(row)
        if s.nnz < MIN_GATED_TERMS:
            s = scores.getrow(row)
        order = np.argsort(-s.data, kind="stable")[:top]
        out[cluster.cluster_id] = [str(vocab[s.indices[j]]) for j in order]
    return out


def _shorten(text: str, limit: int = DESCRIPTION_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rsplit(" ", 1)[0] + "…"


class KeywordLabeler:
    """Offline names from c-TF-IDF terms; names are made distinct across clusters."""

    name = "keywords"

    def label(self, clusters: list[ClusterDocs], progress: ProgressCallback = no_progress,
              cancel: CancelToken | None = None) -> dict[int, ClusterLabel]:
        progress(STAGE, 0.0, "Finding each cluster's distinctive words")
        terms = class_tfidf_terms(clusters, cancel=cancel)
        used: set[str] = set()
        out: dict[int, ClusterLabel] = {}
        for cluster in clusters:
            words = terms.get(cluster.cluster_id, [])
            distinct = _dedupe_stems(words)
            name = ""
            # Three terms; a fourth only if that is what makes the name unique.
            for n in (3, MAX_TERMS):
                candidate = " ".join(distinct[:n])
                if len(distinct) >= MIN_TERMS and candidate not in used:
                    name = candidate
                    break
            if not name:
                base = " ".join(distinct[:3]) or "Cluster"
                name = f"{base} ({cluster.cluster_id})"
            used.add(name)
            example = cluster.representatives[0] if cluster.representatives else ""
            about = ", ".join(words[:5]) if words else "no distinctive words"
            description = f"About {about}. E.g. “{_shorten(example)}”"
            out[cluster.cluster_id] = ClusterLabel(name, description, self.name, terms=words)
        progress(STAGE, 1.0, f"Named {len(clusters)} clusters")
        return out


def _dedupe_stems(words: list[str]) -> list[str]:
    """Drop a term whose crude stem (first 5 letters) an earlier term already has."""
    seen, out = set(), []
    for w in words:
        stem = w[:5]
        if stem not in seen:
            seen.add(stem)
            out.append(w)
    return out
