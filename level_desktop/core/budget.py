"""A row budget: exactly N rows that follow per-row weights, without repeats while they can be
avoided.

Why: with a fixed budget, leveling trades rows of big hills for rows of small ones instead of
swapping unique rows for copies (the resampled export keeps the total and repeats rows). The
weights are the effective ones: cluster weight × topic weight × collapse weight
(`Duplicates.collapse_weights`).

How: each row's chance of being in the subset is π_i = min(1, c·w_i), with c chosen so that
Σ π_i = N (rows whose weight would ask for more than one copy are simply kept); the rows are then
drawn by systematic sampling in a seeded random order (Madow's πps), which takes exactly N
distinct rows and gives each row exactly its π_i. With duplicate groups, the units drawn are the
groups (weight: the sum of their members' weights) and one member is drawn per chosen group, in
proportion to the members' weights, so no group gives two rows while a group is left untouched.
When N exceeds the units left, every unit gives one row and the rest of the budget is drawn the
same way from the rows not yet taken, and, once every row is taken, from all rows again.
"""

from __future__ import annotations

import numpy as np

from level_desktop.core.errors import SettingsError

DEFAULT_SEED = 42


def rows_for_fraction(n_rows: int, fraction: float) -> int:
    """The budget for a fraction of n rows (rounded, at least one row when n > 0)."""
    if not 0.0 < fraction <= 1.0:
        raise SettingsError(f"The fraction of rows to export must be above 0 and at most 1; "
                            f"{fraction} was given.")
    return max(1, round(n_rows * fraction)) if n_rows else 0


def inclusion_probabilities(weights: np.ndarray, k: int) -> np.ndarray:
    """π_i = min(1, c·w_i) with Σ π_i = k, for k ≤ the number of positive weights."""
    w = np.asarray(weights, dtype=np.float64)
    positive = int((w > 0).sum())
    if not 0 <= k <= positive:
        raise ValueError(f"cannot draw {k} of {positive} rows with positive weight")
    if k == 0:
        return np.zeros_like(w)
    if k == positive:
        return (w > 0).astype(np.float64)
    order = np.argsort(-w, kind="stable")
    sorted_w = w[order]
    # With t rows kept for certain (the t heaviest), c = (k − t) / (weight of the rest); the
    # right t is the first at which the heaviest of the rest gets π < 1.
    rest = np.cumsum(sorted_w[::-1])[::-1]  # rest[t] = Σ sorted_w[t:]
    t = np.arange(k + 1)
    ok = sorted_w[t] * (k - t) < rest[t]  # t = k always passes: rest[k] > 0 as k < positive
    certain = int(np.argmax(ok))
    pi = np.zeros_like(w)
    pi[order[:certain]] = 1.0
    if certain < k:
        pi[order[certain:]] = sorted_w[certain:] * (k - certain) / rest[certain]
    return np.minimum(pi, 1.0)


def systematic_draw(weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Exactly k distinct positions, position i with probability π_i (`inclusion_probabilities`):
    systematic sampling over a random order."""
    pi = inclusion_probabilities(weights, k)
    certain = np.flatnonzero(pi >= 1.0)
    m = k - len(certain)
    if m == 0:
        return np.sort(certain)
    rest = np.flatnonzero((pi > 0) & (pi < 1.0))
    rest = rest[rng.permutation(len(rest))]
    cumulative = np.cumsum(pi[rest])
    cumulative *= m / cumulative[-1]  # Σ π of the rest is m, up to rounding
    points = rng.random() + np.arange(m)
    picks = rest[np.minimum(np.searchsorted(cumulative, points, side="right"), len(rest) - 1)]
    chosen = np.unique(np.concatenate([certain, picks]))
    if len(chosen) < k:  # only if rounding put two points in one row's interval
        left = np.setdiff1d(rest, chosen)
        chosen = np.union1d(chosen, rng.choice(left, k - len(chosen), replace=False,
                                               p=pi[left] / pi[left].sum()))
    return chosen


def _one_per_unit(units: np.ndarray, weights: np.ndarray, available: np.ndarray, k: int,
                  rng: np.random.Generator) -> np.ndarray:
    """k rows from the available ones, at most one per unit: k units drawn (unit weight = the sum
    of its available members' weights), then one member of each in proportion to weight."""
    rows = np.flatnonzero(available)
    unit_ids, inverse = np.unique(units[rows], return_inverse=True)
    unit_weight = np.bincount(inverse, weights=weights[rows], minlength=len(unit_ids))
    chosen_units = systematic_draw(unit_weight, k, rng)
    # One member per chosen unit: Efraimidis–Spirakis keys u^(1/w), the largest key per unit.
    keys = np.log(rng.random(len(rows))) / weights[rows]
    in_chosen = np.isin(inverse, chosen_units)
    cand, cand_unit, cand_key = rows[in_chosen], inverse[in_chosen], keys[in_chosen]
    order = np.lexsort((-cand_key, cand_unit))
    _, first = np.unique(cand_unit[order], return_index=True)
    return cand[order[first]]


def budget_rows(weights: np.ndarray, n_rows: int, groups: np.ndarray | None = None,
                seed: int = DEFAULT_SEED) -> np.ndarray:
    """Positions (sorted; a position repeats only when N exceeds the rows with weight) of exactly
    `n_rows` rows that follow `weights`; see the module docstring. `groups` gives each row's
    duplicate group (−1 = none): at most one row per group while the budget allows."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise SettingsError("Row weights must be finite numbers of at least 0.")
    if n_rows < 0:
        raise SettingsError(f"The number of rows to export must not be negative; {n_rows} "
                            "was given.")
    positive = w > 0
    if n_rows and not positive.any():
        raise SettingsError("Every row has weight 0, so no row can be exported.")
    units = np.arange(len(w), dtype=np.int64)
    if groups is not None:
        g = np.asarray(groups, dtype=np.int64)
        if g.shape != w.shape:
            raise ValueError("groups and weights must describe the same rows")
        units = np.where(g >= 0, g + len(w), units)  # group ids never clash with row positions
    rng = np.random.default_rng(seed)
    taken: list[np.ndarray] = []
    available = positive.copy()
    left = n_rows
    while left > 0:
        if not available.any():
            available = positive.copy()  # every row taken: the next copies follow the weights
        n_units = len(np.unique(units[available]))
        k = min(left, n_units)
        picks = _one_per_unit(units, w, available, k, rng)
        available[picks] = False
        taken.append(picks)
        left -= k
    return np.sort(np.concatenate(taken)) if taken else np.zeros(0, dtype=np.int64)

