"""Write files through a temporary file in the same folder, renamed into place when complete."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success rename it over `target`, on any
    error remove it, so `target` is either the old file or the complete new one."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        for leftover in (tmp_path, Path(f"{tmp_path}.wal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


@contextlib.contextmanager
def atomic_text(target: str | Path, encoding: str = "utf-8") -> Iterator[IO[str]]:
    with atomic_path(target) as tmp, open(tmp, "w", encoding=encoding, newline="") as handle:
        yield handle
