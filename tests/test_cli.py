"""The whole CLI flow on sample-small.csv, run as a user runs it (a subprocess)."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def level(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "level_desktop.cli", *args], cwd=cwd,
                          capture_output=True, text=True, env=os.environ.copy(), timeout=900)


def test_analyze_info_weights_export(sample_csv: Path, tmp_path: Path) -> None:
    done = level("analyze", str(sample_csv), "-o", "s.level", "--projection", "pca", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "600 with text" in done.stdout
    assert "clusters (auto)" in done.stdout
    assert "Traceback" not in done.stderr
    info = level("info", "s.level", cwd=tmp_path)
    assert info.returncode == 0
    assert "Gini" in info.stdout
    flat = level("weights", "s.level", "--flatten", "--max-up", "2", cwd=tmp_path)
    assert flat.returncode == 0, flat.stderr
    import re

    now, original = map(float, re.search(r"Gini ([\d.]+) \(original ([\d.]+)\)",
                                         flat.stdout).groups())
    assert now < original
    exported = level("export", "s.level", "--weighted", "w.csv", "--resampled", "r.csv",
                     cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    with open(tmp_path / "w.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 600
    assert {"cluster_id", "cluster_label", "weight"} <= set(rows[0])
    assert len({r["weight"] for r in rows}) > 1
    evaluated = level("evaluate", "s.level", "--label-column", "section", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "Column 'section': 12 labels over 600 rows" in evaluated.stdout
    assert "Gini of label sizes" in evaluated.stdout
    reset = level("weights", "s.level", "--reset", cwd=tmp_path)
    assert reset.returncode == 0
    assert "weight" in reset.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["analyze", "missing.csv"], "does not exist"),
    (["analyze", "{sample}", "--text-column", "nope"], "no column named 'nope'"),
    (["analyze", "{sample}", "--method", "magic"], "Unknown clustering method 'magic'"),
    (["analyze", "{sample}", "--grid", "3"], "grid must be 10 to 1000"),
    (["info", "missing.level"], "does not exist"),
    (["evaluate", "{project}", "--label-column", "topic"], "no column named 'topic'"),
    (["export", "{sample}", "--weighted", "x.csv"], "cannot be"),
])
def test_user_errors_exit_2_with_one_line(sample_csv: Path, tmp_path: Path, args: list[str],
                                          message: str) -> None:
    (tmp_path / "in").mkdir()
    project = tmp_path / "in" / "project.level"  # a copy: opening a v1 file upgrades it in place
    shutil.copyfile(Path(__file__).parent / "data" / "project-v1.level", project)
    done = level(*[a.format(sample=sample_csv, project=project) for a in args], cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("*.level"))


def test_help_is_quick_and_imports_no_heavy_library(tmp_path: Path) -> None:
    code = ("import sys; from level_desktop.cli import build_parser; build_parser(); "
            "heavy = [m for m in ('torch', 'sentence_transformers', 'umap', 'sklearn', 'duckdb') "
            "if m in sys.modules]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.stdout.strip() == "[]"
