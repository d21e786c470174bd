"""How much memory an input will need, checked against what the machine has free, so a file too
large for it is refused with a message naming the limit instead of the kernel killing Level.

The figures come from measurements (see the constants). `LEVEL_AVAILABLE_MEMORY` (bytes) stands in
for the free memory, to try a smaller machine.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from level_desktop.core.errors import TooLargeError

# Memory, measured: reading debian-packages.csv (31 MB) peaks 10.4× its size, pypi-summaries.csv
# (16 MB, 200k short rows) 11.5× (the bytes, the text, the parser's buffer, one object per cell).
LOAD_BYTES_PER_FILE_BYTE = 12
LOAD_BYTES_PER_CELL = 64
# The analysis after loading. Before issue 19, 1M rows grew past 23 GB (24 KB a row): the
# embedding cache took a million vectors in one query and several stages held extra n × d copies.
# Those now work in chunks. Measured (benchmarks/stage_probe.py): 200,000 rows on the fast path
# peaked at 2.3 GB (11.5 KB a row, counting every byte as per-row) and 1,000,000 rows from
# vectors at the figure in benchmarks/results/million_rows.json. 12 KB a row stays above both.
ANALYSIS_BYTES_PER_ROW = 12_000
# Never plan to use more than this share of the memory that is free.
MEMORY_HEADROOM = 0.8


def available_memory() -> int | None:
    """Bytes of memory free for Level now: $LEVEL_AVAILABLE_MEMORY (to try a smaller machine),
    else the kernel's MemAvailable, else free physical pages; None where nothing says."""
    forced = os.environ.get("LEVEL_AVAILABLE_MEMORY", "").strip()
    if forced:
        with contextlib.suppress(ValueError):
            return int(float(forced))
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def estimate_load_memory(size: int, head: bytes) -> int:
    """Peak bytes to read a file of `size` bytes whose first bytes are `head`."""
    separators = sum(head.count(c) for c in (b",", b"\t", b";", b"|", b"\n"))
    cells = separators * size / max(len(head), 1)
    return int(size * LOAD_BYTES_PER_FILE_BYTE + cells * LOAD_BYTES_PER_CELL)


def check_load_memory(path: Path) -> None:
    """Refuse, before reading, a file whose reading alone would not fit in free memory."""
    free = available_memory()
    if free is None:
        return
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(1 << 20)
    need = estimate_load_memory(size, head)
    budget = free * MEMORY_HEADROOM
    if need > budget:
        largest = size * budget / need
        raise TooLargeError(
            f"{path.name} is {_gb(size)}; reading it would take about {_gb(need)} of memory and "
            f"this machine has {_gb(free)} free, so the largest file like it Level can read "
            f"here is about {_gb(largest)}. Split the file, or close other programs.")


def check_analysis_memory(rows: int, name: str) -> None:
    """Refuse, before any embedding, more rows than the analysis can hold in free memory."""
    free = available_memory()
    if free is None:
        return
    budget = free * MEMORY_HEADROOM
    need = rows * ANALYSIS_BYTES_PER_ROW
    if need > budget:
        limit = int(budget // ANALYSIS_BYTES_PER_ROW)
        raise TooLargeError(
            f"{name} has {rows:,} rows with text; analysing them would take about {_gb(need)} "
            f"of memory and this machine has {_gb(free)} free, so Level can analyse about "
            f"{limit:,} rows here. Analyse a sample of the file, or close other programs.")
