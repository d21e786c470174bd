"""Write files so that a crash at any moment leaves either the old file or the complete new one.

Every write goes to a temporary file in the target's folder (named after the target and the writing
process), which is flushed and fsynced, renamed over the target, and the folder fsynced so the
rename itself survives a power cut. A temporary file left by a killed process is never read; the
next write to the same target (or `remove_stale`) deletes it once its process is gone.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

TEMP_SUFFIX = ".tmp"


def _temp_prefix(target: Path) -> str:
    return f".{target.name}."


def fsync_file(path: str | Path) -> None:
    """Flush a closed file's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder: str | Path) -> None:
    """Make a rename in `folder` durable (a no-op where folders cannot be opened, on Windows)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # Windows' os.kill(pid, 0) would send Ctrl-C:
        return True  # there, leftovers are only ignored, never removed
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except OSError:
        return False
    return True


def stale_temp_files(target: str | Path) -> list[Path]:
    """Temporary files beside `target` whose writing process no longer runs."""
    target = Path(target)
    prefix = _temp_prefix(target)
    out = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return []
    for entry in entries:
        name = entry.name
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix):]
        base = rest.removesuffix(".wal")
        if not base.endswith(TEMP_SUFFIX):
            continue
        pid_text = base.split(".", 1)[0]
        if pid_text.isdigit() and not _process_alive(int(pid_text)):
            out.append(entry)
    return out


def remove_stale(target: str | Path) -> int:
    """Delete temporary files a killed writer left beside `target`; return how many."""
    removed = 0
    for leftover in stale_temp_files(target):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
            removed += 1
    return removed


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; when the block ends without error, fsync it,
    rename it over `target` and fsync the folder; on any error remove it. `target` is always
    either the old file or the complete new one."""
    target = Path(target)
    remove_stale(target)
    fd, tmp = tempfile.mkstemp(prefix=f"{_temp_prefix(target)}{os.getpid()}.",
                               suffix=TEMP_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        fsync_file(tmp_path)
        os.replace(tmp_path, target)
        fsync_folder(target.parent)
    finally:
        for leftover in (tmp_path, Path(f"{tmp_path}.wal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


@contextlib.contextmanager
def atomic_text(target: str | Path, encoding: str = "utf-8") -> Iterator[IO[str]]:
    """A text file handle whose content replaces `target` only once it is complete on disk."""
    with atomic_path(target) as tmp, open(tmp, "w", encoding=encoding, newline="") as handle:
        yield handle
        handle.flush()
