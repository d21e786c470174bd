"""Large and hostile inputs: each gets a clear outcome, never a crash or a swapping machine.

A smaller machine is simulated with $LEVEL_AVAILABLE_MEMORY, which the real memory guard reads in
place of the kernel's MemAvailable.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from level_desktop.core.errors import InputFileError, NoTextColumnError, TooLargeError
from level_desktop.core.loading import load_input, read_table
from level_desktop.core.memory import ANALYSIS_BYTES_PER_ROW, MEMORY_HEADROOM, available_memory


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _texts(n: int) -> list[list[str]]:
    return [[str(i), f"row number {i} says something about topic {i % 7}"] for i in range(n)]


def test_the_machines_free_memory_is_known() -> None:
    free = available_memory()
    assert free is not None
    assert free > 0


def test_a_file_larger_than_memory_is_refused_before_reading(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _csv(tmp_path / "big.csv", ["id", "text"], _texts(20_000))  # ~1 MB
    monkeypatch.setenv("LEVEL_AVAILABLE_MEMORY", str(4_000_000))
    with pytest.raises(TooLargeError) as caught:
        read_table(path)
    message = str(caught.value)
    assert "big.csv is 1 MB" in message or "big.csv is 2 MB" in message
    assert "this machine has 4 MB free" in message
    assert "the largest file like it Level can read here is about" in message


def test_more_rows_than_the_analysis_can_hold_are_refused_before_embedding(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _csv(tmp_path / "rows.csv", ["id", "text"], _texts(3_000))
    free = int(ANALYSIS_BYTES_PER_ROW * 1_000 / MEMORY_HEADROOM)  # room for 1,000 rows
    monkeypatch.setenv("LEVEL_AVAILABLE_MEMORY", str(free))
    with pytest.raises(TooLargeError, match=r"3,000 rows with text.*analyse about 1,000 rows"):
        load_input(path)
    monkeypatch.setenv("LEVEL_AVAILABLE_MEMORY", str(free * 4))
    assert len(load_input(path).texts) == 3_000


def test_the_cli_prints_the_memory_refusal_in_one_line(tmp_path: Path) -> None:
    path = _csv(tmp_path / "rows.csv", ["id", "text"], _texts(3_000))
    env = {**os.environ, "LEVEL_AVAILABLE_MEMORY": str(int(ANALYSIS_BYTES_PER_ROW * 1_000))}
    done = subprocess.run([sys.executable, "-m", "level_desktop.cli", "analyze", str(path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith("level: rows.csv has 3,000 rows with text")
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("*.level"))


def test_a_single_10_mb_cell_is_read_whole(tmp_path: Path) -> None:
    rows = _texts(60)
    huge = "word " * 2_000_000
    rows[30][1] = huge
    loaded = load_input(_csv(tmp_path / "cell.csv", ["id", "text"], rows))
    assert loaded.texts[30] == huge
    assert len(loaded.texts) == 60


def test_5000_columns_are_read_and_the_text_column_found(tmp_path: Path) -> None:
    header = [f"c{j}" for j in range(5000)]
    header[4321] = "text"
    rows = []
    for i in range(60):
        row = [str(i * j % 97) for j in range(5000)]
        row[4321] = f"a longer sentence of text in row {i}"
        rows.append(row)
    loaded = load_input(_csv(tmp_path / "wide.csv", header, rows))
    assert len(loaded.table.columns) == 5000
    assert loaded.text_column == "text"


def test_a_jsonl_line_that_is_not_json_is_named(tmp_path: Path) -> None:
    lines = [json.dumps({"text": f"record {i}"}) for i in range(60)]
    lines[41] = "{this is not json"
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"line 42 is not JSON"):
        read_table(path)


def test_a_jsonl_line_that_is_json_but_not_an_object_is_named(tmp_path: Path) -> None:
    lines = [json.dumps({"text": f"record {i}"}) for i in range(60)]
    lines[7] = "[1, 2, 3]"
    path = tmp_path / "list.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"line 8 is a JSON list, not an object"):
        read_table(path)


def test_a_parquet_file_without_a_string_column_says_so(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "numbers.parquet"
    pq.write_table(pa.table({"id": list(range(100)), "score": [i / 7 for i in range(100)]}),
                   path)
    with pytest.raises(NoTextColumnError, match="every column is empty or numeric"):
        load_input(path)
