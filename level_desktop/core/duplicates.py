"""Near-duplicate rows: exact copies (by a normalised text key) and semantic near-duplicates
(cosine at or above a threshold), joined into groups.

Why: a redundant pool spends a row budget on copies, and a hill made of copies looks bigger than
its content is. Grouping the copies lets Level show a hill's redundancy and count each group as
one row ("Collapse duplicates": `collapse_weights`).

How, as SemDeDup does (arXiv 2303.09540): vectors are compared only within each cluster (and,
optionally, against the rows of its nearest clusters), in tiles of at most `block_rows` ×
`block_rows` similarities, so memory stays bounded however large a cluster is; the work is
Σ size_c² / 2 dot products instead of n² / 2. Pairs at or above the threshold and exact copies
are edges; the groups are the connected components of that graph (so a chain a~b~c is one group
even where a and c are further apart than the threshold).

Exact copies: two rows are exact duplicates when their texts are equal after Unicode NFKC,
case-folding, collapsing runs of white space and dropping trailing full stops and spaces
(`text_key`). Other punctuation is kept on purpose: in package descriptions and code, "C++" and
"C" or "C#" are different things.

Defaults, measured by `benchmarks/duplicates.py` (benchmarks/results/duplicates.json) on all
63,666 debian descriptions plus 2,000 lightly perturbed copies (fast-path vectors, default
k-means clusters):

    cosine   copies found   pairs with word Jaccard >= 0.8   rows in groups   largest group
    0.90     0.986          0.69                             50 %             779
    0.93     0.983          0.83                             43 %             372
    0.95     0.975          0.92                             37 %             279
    0.96     0.967          0.96                             33 %             196
    0.98     0.911          1.00                             22 %             172

0.95 is the highest threshold that still finds at least 97 % of the copies; below it the pairs
are less and less textually alike and groups chain into hundreds of rows (at 0.9, SemHash's
default, half the rows fall in groups). Against a brute-force search at 0.95, comparing within
clusters only finds 98.7 % of the pairs but only 93.9 % of the rows that have a near-duplicate
(a row near a cluster's border has its twin next door); also comparing each cluster with its 1 /
2 / 3 / 5 nearest clusters finds 95.2 / 96.0 / 96.4 / 96.9 % of those rows. Two neighbouring
clusters is the default: about 3 times the within-cluster time, and still far faster than
SemHash on the same rows and vectors.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from level_desktop.core.errors import SettingsError
from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress
from level_desktop.core.vectors import normalize_rows

STAGE = "duplicates"
DEFAULT_THRESHOLD = 0.95  # cosine; chosen by benchmarks/duplicates.py (see the module docstring)
DEFAULT_NEIGHBOUR_CLUSTERS = 2  # nearest other clusters each cluster is also compared with
BLOCK_ROWS = 2_048  # a tile holds at most BLOCK_ROWS² float32 similarities (16 MB)
UNIQUE = -1  # the group id of a row that duplicates no other row

_SPACE = re.compile(r"\s+")


def text_key(text: str) -> str:
    """The key two exact duplicates share: NFKC, case-folded, white space collapsed, trailing
    full stops and spaces dropped."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", folded).strip().rstrip(". ").strip()


def exact_duplicate_pairs(texts: Sequence[str]) -> np.ndarray:
    """(p, 2) int64 pairs (first row with a key, later row with the same key), first < later."""
    first: dict[str, int] = {}
    pairs: list[tuple[int, int]] = []
    for i, text in enumerate(texts):
        j = first.setdefault(text_key(text), i)
        if j != i:
            pairs.append((j, i))
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


@dataclass(frozen=True)
class Duplicates:
    """The duplicate groups of n rows.

    `group[i]` is row i's group id (0..n_groups−1, numbered by each group's first row) or −1 when
    row i duplicates no other row. `pairs` are the semantic pairs found (i < j, cosine ≥
    threshold, with their `similarities`); `exact_pairs` link each exact copy to the first row
    with its text key. Both kinds of edge make the groups.
    """

    group: np.ndarray  # (n,) int32
    pairs: np.ndarray  # (p, 2) int64
    similarities: np.ndarray  # (p,) float32
    exact_pairs: np.ndarray  # (q, 2) int64
    threshold: float

    @property
    def n_rows(self) -> int:
        return len(self.group)

    @property
    def n_groups(self) -> int:
        return int(self.group.max()) + 1 if self.group.size and self.group.max() >= 0 else 0

    @property
    def is_duplicate(self) -> np.ndarray:
        """True for each row that has a near-duplicate (or exact copy) elsewhere."""
        return self.group != UNIQUE

    def group_sizes(self) -> np.ndarray:
        """Rows in each group, by group id."""
        return np.bincount(self.group[self.group >= 0], minlength=self.n_groups)

    def members(self, group_id: int) -> np.ndarray:
        """The rows of one group, ascending."""
        return np.flatnonzero(self.group == group_id)

    def groups_among(self, rows: np.ndarray) -> list[np.ndarray]:
        """Every member of each group with a row among `rows` (e.g. one hill's rows), largest
        group first (ties: lower id first)."""
        return groups_among(self.group, rows)

    def collapse_weights(self) -> np.ndarray:
        """A weight per row that turns each group into the weight of one row: 1/|group| for its
        members, 1 for unique rows. Multiply it into the cluster and topic weights."""
        weights = np.ones(self.n_rows, dtype=np.float64)
        member = self.group >= 0
        weights[member] = 1.0 / self.group_sizes()[self.group[member]]
        return weights

    def rows_saved(self) -> int:
        """How many rows collapsing would remove: Σ (|group| − 1)."""
        return int(self.is_duplicate.sum()) - self.n_groups


def groups_among(group: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
    """From a group per row (−1 = unique): the rows of each group with a member among `rows`,
    ascending, largest group first (ties: lower id first). One pass over the rows, so the
    window can list a hill's groups at once on a large project."""
    group = np.asarray(group)
    ids = np.unique(group[np.asarray(rows, dtype=np.int64)])
    ids = ids[ids >= 0]
    if ids.size == 0:
        return []
    members = np.flatnonzero(np.isin(group, ids))  # ascending
    members = members[np.argsort(group[members], kind="stable")]  # by group, rows ascending
    parts = np.split(members, np.flatnonzero(np.diff(group[members])) + 1)
    sizes = np.array([len(part) for part in parts])
    return [parts[i] for i in np.argsort(-sizes, kind="stable")]


def duplicate_share(is_duplicate: np.ndarray, labels: np.ndarray) -> dict[int, float]:
    """Per label (a cluster, a topic, −1 for noise): the share of its rows that are
    near-duplicates of another row."""
    labels = np.asarray(labels)
    ids, inverse = np.unique(labels, return_inverse=True)
    totals = np.bincount(inverse, minlength=len(ids))
    dups = np.bincount(inverse, weights=np.asarray(is_duplicate, dtype=np.float64),
                       minlength=len(ids))
    return {int(c): float(d / t) for c, d, t in zip(ids, dups, totals, strict=True)}


def _check_settings(threshold: float, block_rows: int, neighbour_clusters: int) -> None:
    if not 0.0 < threshold <= 1.0:
        raise SettingsError(f"The duplicate threshold must be a cosine above 0 and at most 1; "
                            f"{threshold} was given.")
    if block_rows < 1:
        raise SettingsError(f"The duplicate block size must be at least 1 row; {block_rows} "
                            "was given.")
    if neighbour_clusters < 0:
        raise SettingsError("The number of neighbouring clusters to compare must not be "
                            f"negative; {neighbour_clusters} was given.")


def _tile_pairs(left: np.ndarray, right: np.ndarray, threshold: float, diagonal: bool
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (into left, into right) and cosines of one tile's pairs at or above the
    threshold; only i < j when `diagonal` (left and right are the same block)."""
    sims = left @ right.T
    i, j = np.nonzero(sims >= threshold)
    if diagonal:
        upper = i < j
        i, j = i[upper], j[upper]
    return i, j, sims[i, j]


def _cluster_plan(labels: np.ndarray, x: np.ndarray, neighbour_clusters: int
                  ) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """The (rows, other rows, same) comparisons to make: each cluster with itself, and with
    its nearest other clusters (by centroid cosine) when asked."""
    ids = np.unique(labels)
    members = [np.flatnonzero(labels == c) for c in ids]
    plan = [(m, m, True) for m in members]
    if neighbour_clusters > 0 and len(ids) > 1:
        centroids = normalize_rows(np.stack([x[m].sum(axis=0) for m in members]))
        sims = centroids @ centroids.T
        np.fill_diagonal(sims, -np.inf)
        done: set[tuple[int, int]] = set()
        for a in range(len(ids)):
            for b in np.argsort(-sims[a])[:neighbour_clusters]:
                key = (min(a, int(b)), max(a, int(b)))
                if key not in done:
                    done.add(key)
                    plan.append((members[key[0]], members[key[1]], False))
    return plan


def semantic_pairs(vectors: np.ndarray, labels: np.ndarray | None = None,
                   threshold: float = DEFAULT_THRESHOLD,
                   neighbour_clusters: int = DEFAULT_NEIGHBOUR_CLUSTERS,
                   block_rows: int = BLOCK_ROWS, progress: ProgressCallback = no_progress,
                   cancel: CancelToken | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of rows in the same cluster (or a neighbouring one) whose cosine is at
    least `threshold`, and their cosines. `labels=None` compares every row with every row."""
    _check_settings(threshold, block_rows, neighbour_clusters)
    x = normalize_rows(vectors)
    labels = np.zeros(len(x), dtype=np.int64) if labels is None else np.asarray(labels)
    plan = _cluster_plan(labels, x, neighbour_clusters)
    work = [len(a) * len(b) / (2.0 if same else 1.0) for a, b, same in plan]
    total = max(sum(work), 1.0)
    done = 0.0
    found_i: list[np.ndarray] = []
    found_j: list[np.ndarray] = []
    found_s: list[np.ndarray] = []
    progress(STAGE, 0.0, "Looking for near-duplicate rows")
    for (rows, cols, same), cost in zip(plan, work, strict=True):
        x_rows = x[rows]  # gathered once per comparison: the tiles below are plain slices
        x_cols = x_rows if same else x[cols]
        for r0 in range(0, len(rows), block_rows):
            for c0 in range(r0 if same else 0, len(cols), block_rows):
                if cancel is not None:
                    cancel.check()
                i, j, s = _tile_pairs(x_rows[r0:r0 + block_rows], x_cols[c0:c0 + block_rows],
                                      threshold, same and c0 == r0)
                found_i.append(rows[r0 + i])
                found_j.append(cols[c0 + j])
                found_s.append(s)
        done += cost
        progress(STAGE, done / total, "Looking for near-duplicate rows")
    if not found_i:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float32)
    a = np.concatenate(found_i).astype(np.int64)
    b = np.concatenate(found_j).astype(np.int64)
    s = np.concatenate(found_s).astype(np.float32)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    # A pair across two clusters can be planned once only, but keep pairs unique and sorted
    # whatever the plan: code = lo·n + hi.
    codes, first = np.unique(lo * len(x) + hi, return_index=True)
    pairs = np.stack([codes // len(x), codes % len(x)], axis=1)
    return pairs, s[first]


def connected_groups(n: int, edges: np.ndarray) -> np.ndarray:
    """A group id per row from (p, 2) edges: the connected components with at least two rows,
    numbered 0.. by their first row; −1 for a row with no edge."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])),
                       shape=(n, n))
    _, component = connected_components(graph, directed=False)
    sizes = np.bincount(component)
    group = np.full(n, UNIQUE, dtype=np.int32)
    shared = sizes[component] > 1
    # Renumber by first row so the ids do not depend on scipy's internal order.
    _, first_rows = np.unique(component, return_index=True)
    kept = np.flatnonzero(sizes > 1)
    rank = np.full(len(sizes), UNIQUE, dtype=np.int32)
    rank[kept[np.argsort(first_rows[kept], kind="stable")]] = np.arange(len(kept), dtype=np.int32)
    group[shared] = rank[component[shared]]
    return group


def find_duplicates(texts: Sequence[str], vectors: np.ndarray, labels: np.ndarray | None = None,
                    threshold: float = DEFAULT_THRESHOLD,
                    neighbour_clusters: int = DEFAULT_NEIGHBOUR_CLUSTERS,
                    block_rows: int = BLOCK_ROWS, progress: ProgressCallback = no_progress,
                    cancel: CancelToken | None = None) -> Duplicates:
    """Exact and semantic near-duplicates of the rows, grouped; see the module docstring.

    `vectors` are the rows' embeddings (any scale: they are normalised), `labels` their clusters
    (−1 noise rows are compared among themselves); without labels every pair is compared.
    """
    if len(texts) != len(vectors) or (labels is not None and len(labels) != len(vectors)):
        raise ValueError("texts, vectors and labels must describe the same rows")
    _check_settings(threshold, block_rows, neighbour_clusters)
    exact = exact_duplicate_pairs(texts)
    if cancel is not None:
        cancel.check()
    pairs, sims = semantic_pairs(vectors, labels, threshold, neighbour_clusters, block_rows,
                                 progress, cancel)
    group = connected_groups(len(texts), np.concatenate([pairs, exact]))
    progress(STAGE, 1.0, f"{int((group >= 0).sum()):,} rows have a near-duplicate")
    return Duplicates(group=group, pairs=pairs, similarities=sims, exact_pairs=exact,
                      threshold=float(threshold))
