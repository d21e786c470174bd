"""Property and fuzz tests (hypothesis): the loader, the balance maths and the exports.

The loader, fed random bytes or random CSV dialects, either returns a table or raises a
LevelError with a message for the user — never another exception. Flatten keeps the total, obeys
the cap and keeps weights non-negative; Gini and flatness stay in range. Exports keep every row
(weighted) and draw exactly round(size × weight) rows per cluster (resampled).
The example counts are the `max_examples` of each test's settings.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from level_desktop.core.balance import flatness, flatten, gini
from level_desktop.core.errors import LevelError
from level_desktop.core.export import ExportData, write_resampled, write_weighted
from level_desktop.core.loading import DELIMITERS, load_input

# Derandomized, so every run tries the same examples (a failure reproduces); no example database.
FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
LOADER_BYTES_EXAMPLES = 400
LOADER_DIALECT_EXAMPLES = 300
BALANCE_EXAMPLES = 500
EXPORT_EXAMPLES = 150

SUFFIXES = [".csv", ".tsv", ".txt", ".jsonl", ".json", ".parquet", ""]


def _load(raw: bytes, suffix: str):
    """load_input on `raw`; a LevelError is a valid outcome and is returned, not raised."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(raw)
        try:
            return load_input(path, min_rows=1)
        except LevelError as err:
            error = err
    assert str(error).strip(), "a LevelError must carry a message for the user"
    return error


# ---- the loader ------------------------------------------------------------------------------

_PREFIXES = [b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, b"PAR1", b"{", b"id,text\n",
             b"\x00", b"\xff\xfe\x00"]


@settings(FUZZ, max_examples=LOADER_BYTES_EXAMPLES)
@given(prefix=st.sampled_from(_PREFIXES), body=st.binary(max_size=3000),
       suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_give_a_table_or_a_level_error(prefix: bytes, body: bytes,
                                                    suffix: str) -> None:
    _load(prefix + body, suffix)


_CELL = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                max_size=40)


@st.composite
def _dialect_files(draw):
    width = draw(st.integers(1, 5))
    header = draw(st.lists(st.sampled_from(["", "text", "id", "text", "a b", "x"]) | _CELL,
                           min_size=width, max_size=width))  # empty and duplicate names
    rows = draw(st.lists(st.lists(_CELL, min_size=width, max_size=width), min_size=1,
                         max_size=30))
    ragged = draw(st.booleans())
    if ragged:  # some rows one field short or one field long
        rows = [r[:-1] if i % 3 == 1 else ([*r, "extra"] if i % 3 == 2 else r)
                for i, r in enumerate(rows)]
    delimiter = draw(st.sampled_from(DELIMITERS))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    line_end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator=line_end)
    writer.writerow(header)
    writer.writerows(rows)
    # QUOTE_MINIMAL leaves a lone "\r" unquoted (only "\n" is in its line terminator): such a
    # file is ambiguous, so its cells are not compared.
    ambiguous = (ragged or encoding == "utf-16-le"
                 or (quoting == csv.QUOTE_MINIMAL and any("\r" in c for r in rows for c in r)))
    return rows, delimiter, buffer.getvalue().encode(encoding), ambiguous


@settings(FUZZ, max_examples=LOADER_DIALECT_EXAMPLES)
@given(case=_dialect_files(), suffix=st.sampled_from([".csv", ".tsv", ".txt"]))
def test_random_csv_dialects_give_a_table_or_a_level_error(case, suffix: str) -> None:
    rows, delimiter, raw, ambiguous = case
    result = _load(raw, suffix)
    if isinstance(result, LevelError):
        return
    table = result.table
    assert len(set(table.column_names)) == len(table.column_names)  # names made unique
    assert all(len(col) == table.n_rows for col in table.columns.values())
    if table.delimiter == delimiter and not ambiguous:
        # Read with the delimiter it was written with: every cell comes back as written
        # (csv.writer quotes a lone empty field, so no row is written as a blank line).
        got = [[table.columns[n][i] for n in table.column_names] for i in range(table.n_rows)]
        assert got == rows


# ---- balance -------------------------------------------------------------------------------

_SIZES = st.lists(st.integers(1, 100_000), min_size=1, max_size=80)


@settings(FUZZ, max_examples=BALANCE_EXAMPLES)
@given(sizes=_SIZES, max_up=st.floats(1.0, 20.0))
def test_flatten_keeps_the_total_respects_the_cap_and_levels(sizes: list[int],
                                                             max_up: float) -> None:
    s = np.array(sizes, dtype=np.float64)
    w = flatten(s, max_up)
    assert np.all(w >= 0)
    assert np.all(w <= max_up * (1 + 1e-9))
    assert math.isclose((s * w).sum(), s.sum(), rel_tol=1e-9)
    assert gini(s * w) <= gini(s) + 1e-9
    assert flatness(s * w) >= flatness(s) - 1e-9


@settings(FUZZ, max_examples=BALANCE_EXAMPLES)
@given(sizes=st.lists(st.floats(0, 1e6, allow_nan=False), min_size=0, max_size=80))
def test_gini_and_flatness_stay_in_range(sizes: list[float]) -> None:
    s = np.array(sizes, dtype=np.float64)
    g, f = gini(s), flatness(s)
    assert -1e-9 <= g < 1
    assert -1e-9 <= f <= 1 + 1e-9


# ---- exports -------------------------------------------------------------------------------

@st.composite
def _export_cases(draw):
    n = draw(st.integers(1, 120))
    has_text = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    if not any(has_text):
        has_text[0] = True
    row_index = np.flatnonzero(has_text).astype(np.int64)
    k = draw(st.integers(1, 6))
    labels = np.array(draw(st.lists(st.integers(-1, k - 1), min_size=len(row_index),
                                    max_size=len(row_index))), dtype=np.int32)
    weights = {c: draw(st.floats(0, 5).map(lambda x: round(x, 3))) for c in range(k)}
    noise_weight = draw(st.floats(0, 5).map(lambda x: round(x, 3)))
    columns = {"id": [str(i) for i in range(n)],
               "text": [f"row {i}, \"q\"\n{i}\r" if t else "" for i, t in enumerate(has_text)]}
    data = ExportData(source_path="nowhere.csv", columns=columns, row_index=row_index,
                      labels=labels, cluster_names={c: f"c{c}" for c in range(k)},
                      weights=weights, noise_weight=noise_weight)
    return data, draw(st.integers(0, 2**31 - 1))


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@settings(FUZZ, max_examples=EXPORT_EXAMPLES)
@given(case=_export_cases())
def test_exports_keep_rows_and_draw_the_expected_counts(case) -> None:
    data, seed = case
    n = len(data.columns["id"])
    with tempfile.TemporaryDirectory() as folder:
        weighted = Path(folder) / "w.csv"
        assert write_weighted(data, weighted) == n
        rows = _read(weighted)
        assert [r["id"] for r in rows] == data.columns["id"]  # row for row, in order
        assert [r["text"] for r in rows] == data.columns["text"]
        resampled = Path(folder) / "r.csv"
        count = write_resampled(data, resampled, seed=seed)
        drawn = _read(resampled)
    assert count == len(drawn)
    expected = 0
    position_of = {int(r): p for p, r in enumerate(data.row_index)}
    per_row = Counter(int(r["id"]) for r in drawn)
    for c in np.unique(data.labels):
        members = [int(data.row_index[p]) for p in np.flatnonzero(data.labels == c)]
        w = data.noise_weight if c < 0 else data.weights[int(c)]
        target = round(len(members) * w)
        expected += target
        assert sum(per_row[m] for m in members) == target
        if w <= 1:
            assert all(per_row[m] <= 1 for m in members)  # never drawn twice
        if target >= len(members):
            assert all(per_row[m] >= 1 for m in members)  # no row lost
    assert count == expected
    assert all(int(i) in position_of for i in per_row)  # only rows with text
    ids = [int(r["id"]) for r in drawn]
    assert ids == sorted(ids)  # input order
