"""Where Level keeps files of its own (caches), apart from the project files a user names.

Its own module so that stages needing a cache folder (UMAP's compiled kernels) do not import the
project store.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Where Level keeps caches: $LEVEL_CACHE_DIR, else the XDG cache folder."""
    env = os.environ.get("LEVEL_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "level"
