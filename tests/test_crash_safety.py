"""Writes that survive being killed: temporary files, renames, stale leftovers, migrations.

The kill test itself (SIGKILL at random moments, 52 times over four kinds of write) runs
benchmarks/kill_test.py in a subprocess, as a user's crash would happen: in another process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from level_desktop.core import store
from level_desktop.core.atomic import atomic_path, atomic_text, remove_stale, stale_temp_files
from level_desktop.core.errors import ProjectFileError

REPO = Path(__file__).resolve().parents[1]
PROJECT_V1 = REPO / "tests" / "data" / "project-v1.level"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_stale_temp_file_is_ignored_then_removed_by_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n", encoding="utf-8")
    stale = tmp_path / f".out.csv.{_dead_pid()}.abc123.tmp"
    stale.write_text("half a fil", encoding="utf-8")
    stale_wal = tmp_path / f"{stale.name}.wal"
    stale_wal.write_bytes(b"x")
    assert set(stale_temp_files(target)) == {stale, stale_wal}
    assert target.read_text(encoding="utf-8") == "old\n"  # the leftover is never read
    with atomic_text(target) as handle:
        handle.write("new\n")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert not stale.exists()
    assert not stale_wal.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_a_live_writers_temp_file_is_left_alone(tmp_path: Path) -> None:
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        theirs = tmp_path / f".out.csv.{live.pid}.abc123.tmp"
        theirs.write_text("being written", encoding="utf-8")
        assert remove_stale(tmp_path / "out.csv") == 0
        assert theirs.exists()
    finally:
        live.kill()
        live.wait()
    assert remove_stale(tmp_path / "out.csv") == 1


def test_an_error_mid_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n", encoding="utf-8")

    def write_half() -> None:
        with atomic_text(target) as handle:
            handle.write("new but")
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_half()
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_the_temp_file_sits_beside_the_target_and_names_its_process(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "p.level") as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(f".p.level.{os.getpid()}.")
        tmp.write_bytes(b"x")
    assert (tmp_path / "p.level").read_bytes() == b"x"


def _v0_copy(tmp_path: Path) -> Path:
    path = tmp_path / "old.level"
    shutil.copyfile(PROJECT_V1, path)
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    con.close()
    return path


def test_a_migration_upgrades_the_file_on_a_copy(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def add_length(con) -> None:
        con.execute("ALTER TABLE rows ADD COLUMN text_length INTEGER")
        con.execute("UPDATE rows SET text_length = length(text)")

    monkeypatch.setitem(store.MIGRATIONS, 0, add_length)
    path = _v0_copy(tmp_path)
    analysis = store.load_project(path)
    assert analysis.n_rows == 60
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                       ).fetchone() == (str(store.SCHEMA_VERSION),)
    assert con.execute("SELECT count(*) FROM rows WHERE text_length = length(text)"
                       ).fetchone() == (60,)
    con.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.level"]


def test_a_failing_migration_leaves_the_file_as_it_was(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def half_then_fail(con) -> None:
        con.execute("ALTER TABLE rows ADD COLUMN text_length INTEGER")
        con.execute("SELECT error('the upgrade broke')")

    monkeypatch.setitem(store.MIGRATIONS, 0, half_then_fail)
    path = _v0_copy(tmp_path)
    before = path.read_bytes()
    with pytest.raises(ProjectFileError, match="the upgrade broke"):
        store.load_project(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.level"]


@pytest.mark.slow
def test_sigkill_at_random_moments_never_leaves_a_broken_file(tmp_path: Path) -> None:
    """52 kills: 13 each of a save, an export, a weight edit and a migration."""
    out = tmp_path / "kill.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "kill_test.py"), "--per-kind", "13",
         "--naive", "0", "--seed", "7", "--out", str(out)],
        capture_output=True, text=True, timeout=1500, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["level"]["runs"] == 52
    assert result["level"]["failures"] == 0, result["by_kind"]
    # Most kills must land before the write finished, or the test shows nothing.
    assert result["level"]["killed_before_finishing"] >= 26
