"""Compare the packaged app's project with the source install's: same clusters, same names.

Usage: .venv/bin/python packaging/compare_projects.py FROZEN.level UNFROZEN.level

Both files are read with the source install's code (so this also checks that a project written
by the packaged app opens in Level as installed). The cluster count, the names and the sizes
must match; the embeddings' largest difference is reported. Exit 0 when they match, 1 if not.
"""

from __future__ import annotations

import sys

import numpy as np

from level_desktop.core.store import load_project


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    frozen, unfrozen = (load_project(path) for path in argv)
    frozen_labels = [c.label for c in frozen.clusters]
    unfrozen_labels = [c.label for c in unfrozen.clusters]
    same_count = len(frozen_labels) == len(unfrozen_labels)
    same_labels = frozen_labels == unfrozen_labels
    same_sizes = frozen.sizes.tolist() == unfrozen.sizes.tolist()
    same_rows = bool(np.array_equal(frozen.labels, unfrozen.labels))
    drift = (float(np.abs(frozen.embeddings - unfrozen.embeddings).max())
             if frozen.embeddings.shape == unfrozen.embeddings.shape else float("nan"))
    print(f"frozen:   {len(frozen_labels)} clusters, {frozen.n_rows} rows, model {frozen.model} "
          f"on {frozen.device}, projection {frozen.settings.projection}")
    print(f"unfrozen: {len(unfrozen_labels)} clusters, {unfrozen.n_rows} rows, model "
          f"{unfrozen.model} on {unfrozen.device}, projection {unfrozen.settings.projection}")
    print(f"cluster count {'same' if same_count else 'DIFFERENT'}; "
          f"labels {'identical' if same_labels else 'DIFFERENT'}; "
          f"sizes {'identical' if same_sizes else 'DIFFERENT'}; "
          f"row assignments {'identical' if same_rows else 'different'}; "
          f"largest embedding difference {drift:.2e}")
    if not same_labels:
        for i, (a, b) in enumerate(zip(frozen_labels, unfrozen_labels, strict=False)):
            if a != b:
                print(f"  cluster {i}: frozen {a!r} vs unfrozen {b!r}")
    print("labels: " + "; ".join(frozen_labels))
    return 0 if same_count and same_labels else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
