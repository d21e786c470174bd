"""`level compare`, `level weights --match-comparison / --zero-leaks` and `level export
--comparison-columns`, run as a user runs them (a subprocess), on sample-small.csv as training
rows (fast path, PCA map) and an eval file with copies of some of its rows."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def level(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "level_desktop.cli", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=600)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def analysed(sample_csv: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("cli-compare")
    env = {**os.environ, "LEVEL_CACHE_DIR": str(folder / "cache"),
           "XDG_CONFIG_HOME": str(folder / "config"), "XDG_DATA_HOME": str(folder / "data")}
    train = _rows(sample_csv)
    # The eval set: 8 rows copied (4 exact, 4 edited), and 40 rows of the file's own kind
    # taken from one section only, so that section is a coverage gap.
    haskell = [r for r in train if r["section"] == "haskell"]
    copies = [dict(train[i]) for i in range(0, 40, 5)]
    for r in copies[4:]:
        r["description"] = r["description"].upper()
    with open(folder / "eval.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["package", "section", "description"])
        writer.writeheader()
        writer.writerows(copies + (haskell * 3)[:40])
    done = level("analyze", str(sample_csv), "-o", "p.level", "--model", "fast",
                 "--projection", "pca", cwd=folder, env=env)
    assert done.returncode == 0, done.stderr
    return folder, env


@pytest.fixture
def project(analysed, tmp_path: Path):
    folder, env = analysed
    shutil.copyfile(folder / "p.level", tmp_path / "p.level")
    shutil.copyfile(folder / "eval.csv", tmp_path / "eval.csv")
    return tmp_path, env


def test_compare_reports_both_sets_gaps_and_leaks(project) -> None:
    folder, env = project
    done = level("compare", "p.level", "eval.csv", "--leaks", "leaks.csv", cwd=folder, env=env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Read 48 rows from eval.csv (text column 'description'); 48 with text" in out
    assert re.search(r"Total variation between the two sets: 0\.\d{3} over topics", out)
    assert "Coverage gaps (topics" in out
    found = re.search(r"Leaks: (\d+) comparison rows have a copy in training \((\d+) exact", out)
    assert found is not None
    assert int(found[1]) >= 8
    assert int(found[2]) >= 8
    leaks = _rows(folder / "leaks.csv")
    copied = {str(i) for i in range(0, 40, 5)}
    assert copied <= {r["training_row"] for r in leaks}
    info = level("info", "p.level", cwd=folder, env=env)
    assert info.returncode == 0, info.stderr
    assert "Comparison set: eval.csv, 48 rows" in info.stdout
    assert "Distance to the comparison set" in info.stdout


def test_match_comparison_zero_leaks_and_export(project) -> None:
    folder, env = project
    assert level("compare", "p.level", "eval.csv", cwd=folder, env=env).returncode == 0
    done = level("weights", "p.level", "--match-comparison", "--level", "topics",
                 "--zero-leaks", cwd=folder, env=env)
    assert done.returncode == 0, done.stderr
    distance = re.search(r"total variation over topics\): (\d\.\d+) weighted, (\d\.\d+) raw",
                         done.stdout)
    assert distance is not None
    assert float(distance[1]) < float(distance[2])
    assert "now weigh 0 in exports" in done.stdout
    done = level("export", "p.level", "--weighted", "w.csv", "--comparison-columns",
                 cwd=folder, env=env)
    assert done.returncode == 0, done.stderr
    rows = _rows(folder / "w.csv")
    leaking = {i for i, r in enumerate(rows) if r["leak"] == "1"}
    assert set(range(0, 40, 5)) <= leaking
    assert all(float(rows[i]["weight"]) == 0 for i in leaking)
    assert sum(int(r["in_comparison"]) for r in rows if r["in_comparison"]) == 48
    done = level("weights", "p.level", "--keep-leaks", cwd=folder, env=env)
    assert done.returncode == 0
    assert "carry their cluster's weight again" in done.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["weights", "p.level", "--match-comparison"], "There is no comparison set"),
    (["weights", "p.level", "--zero-leaks"], "There is no comparison set"),
    (["export", "p.level", "--weighted", "w.csv", "--comparison-columns"],
     "holds no comparison set"),
    (["compare", "p.level", "missing.csv"], "missing.csv"),
    (["compare", "p.level", "eval.csv", "--text-column", "nope"], "no column named 'nope'"),
])
def test_user_errors_exit_2_with_one_line(project, args: list[str], message: str) -> None:
    folder, env = project
    done = level(*args, cwd=folder, env=env)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("level: ")]
    assert len(errors) == 1  # one line for the user (after any progress lines), no traceback
    assert message in errors[0]
    assert "Traceback" not in done.stderr
