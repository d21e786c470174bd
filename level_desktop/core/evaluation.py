"""What the current cluster weights do to a label column the user already has.

Level never clusters on labels, but a curator with a partly labelled set wants to know whether
leveling the clusters also levels the labels they care about: rows per label before, the labels'
effective rows after the weights (each row counts its cluster's weight), and the Gini of both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from level_desktop.core.analysis import Analysis
from level_desktop.core.balance import flatness, gini
from level_desktop.core.errors import UnknownColumnError


@dataclass(frozen=True)
class LabelShare:
    """One label's analysed rows and their weighted total."""

    label: str
    rows: int
    effective: float

    @property
    def mean_weight(self) -> float:
        return self.effective / self.rows if self.rows else 0.0


@dataclass
class LabelBalance:
    """Label sizes before and after the current weights; rows with an empty label kept apart."""

    label_column: str
    labels: list[LabelShare]  # most rows first, then by name
    unlabelled_rows: int  # analysed rows whose label is empty
    unlabelled_effective: float
    rows_without_text: int  # not analysed, so in no count here (they export with weight 0)
    gini_before: float
    gini_after: float
    flatness_before: float
    flatness_after: float
    weighted: bool  # False when every weight is 1 (then before and after are the same)

    @property
    def labelled_rows(self) -> int:
        return sum(s.rows for s in self.labels)

    @property
    def labelled_effective(self) -> float:
        return sum(s.effective for s in self.labels)

    def lines(self) -> list[str]:
        """The report as text lines, for the CLI to print."""
        head = (f"Column {self.label_column!r}: {len(self.labels)} labels over "
                f"{self.labelled_rows:,} rows; {self.unlabelled_rows:,} rows have no label")
        if self.rows_without_text:
            head += f", {self.rows_without_text:,} rows without text were not analysed"
        out = [head + ".",
               f"Gini of label sizes: {self.gini_before:.3f} before → {self.gini_after:.3f} after "
               f"the current weights (0 = all labels the same size).",
               f"Flatness:            {self.flatness_before:.3f} before → "
               f"{self.flatness_after:.3f} after (1 = all labels the same size)."]
        if not self.weighted:
            out.append("Every weight is 1, so nothing has changed yet.")
        if not self.labels:
            return out
        width = max(5, *(len(s.label) for s in self.labels))
        rows_total = max(self.labelled_rows, 1)
        after_total = self.labelled_effective or 1.0
        out.append("")
        out.append(f"{'label':<{width}}  {'rows':>7}  {'share':>6}  {'after':>9}  {'share':>6}  "
                   f"{'weight':>6}")
        for s in self.labels:
            out.append(f"{s.label:<{width}}  {s.rows:>7,}  {s.rows / rows_total:>6.1%}  "
                       f"{s.effective:>9,.1f}  {s.effective / after_total:>6.1%}  "
                       f"{s.mean_weight:>6.2f}")
        if self.unlabelled_rows:
            out.append(f"{'(no label)':<{width}}  {self.unlabelled_rows:>7,}  {'':>6}  "
                       f"{self.unlabelled_effective:>9,.1f}")
        return out


def row_weights(analysis: Analysis) -> np.ndarray:
    """The weight of every analysed row: its cluster's weight, or the noise weight."""
    ids = np.array([c.id for c in analysis.clusters], dtype=np.int64)
    table = np.ones(int(ids.max()) + 1 if ids.size else 0)
    for cid, w in analysis.weights.items():
        table[int(cid)] = w
    labels = analysis.labels
    return np.where(labels >= 0, table[np.maximum(labels, 0)] if table.size else 1.0,
                    analysis.noise_weight)


def label_balance(analysis: Analysis, label_column: str) -> LabelBalance:
    """Rows per label of `label_column` before and after the analysis' current weights."""
    if label_column not in analysis.columns:
        raise UnknownColumnError(
            f"The project has no column named {label_column!r} to read labels from. Its columns "
            f"are: {', '.join(analysis.columns)}.")
    values = analysis.columns[label_column]
    labels = np.array([(values[i] or "").strip() for i in analysis.row_index], dtype=object)
    weights = row_weights(analysis)
    empty = labels == ""
    names, codes = np.unique(labels[~empty].astype(str), return_inverse=True)
    rows = np.bincount(codes, minlength=names.size)
    effective = np.bincount(codes, weights=weights[~empty], minlength=names.size)
    order = sorted(range(names.size), key=lambda i: (-rows[i], names[i]))
    return LabelBalance(
        label_column=label_column,
        labels=[LabelShare(str(names[i]), int(rows[i]), float(effective[i])) for i in order],
        unlabelled_rows=int(empty.sum()),
        unlabelled_effective=float(weights[empty].sum()),
        rows_without_text=int(analysis.source.skipped_empty),
        gini_before=gini(rows), gini_after=gini(effective),
        flatness_before=flatness(rows), flatness_after=flatness(effective),
        weighted=not analysis.balance().is_unweighted)
