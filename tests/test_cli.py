"""The whole CLI flow on sample-small.csv, run as a user runs it (a subprocess)."""

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


TOPIC_TREE = re.compile(r"^T(\d+) .*$", re.MULTILINE)
GINI_LINES = re.compile(r"^Gini ([\d.]+) \(original ([\d.]+)\).*\nTopics: Gini ([\d.]+) "
                        r"\(original ([\d.]+)\)", re.MULTILINE)


def test_topics_in_info_weights_and_export(tmp_path: Path) -> None:
    shutil.copyfile(Path(__file__).parent / "data" / "project-v2.level", tmp_path / "t.level")
    info = level("info", "t.level", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert "4 clusters in 2 topics" in info.stdout
    assert TOPIC_TREE.findall(info.stdout) == ["0", "1"]
    assert "  ├─ 2" in info.stdout
    assert "  └─ 3" in info.stdout
    assert GINI_LINES.search(info.stdout)

    topics = level("weights", "t.level", "--level", "topics", "--flatten", cwd=tmp_path)
    assert topics.returncode == 0, topics.stderr
    top_now, top_original = map(float, GINI_LINES.search(topics.stdout).groups()[2:])
    assert top_now == 0.0
    assert top_original > 0
    within = level("weights", "t.level", "--flatten", "--topic", "1", "--max-up", "2",
                   cwd=tmp_path)
    assert within.returncode == 0, within.stderr
    assert "(Gini within 0.000)" in within.stdout
    done = level("weights", "t.level", "--level", "topics", "--set", "1=0.5", cwd=tmp_path)
    assert done.returncode == 0, done.stderr

    from level_desktop.core.store import load_project

    saved = load_project(tmp_path / "t.level")
    assert saved.topic_weights[1] == 0.5
    assert saved.topic_weights[0] == pytest.approx(50.5 / 2 / 24.5)  # level T = half the total
    balance = saved.balance()
    assert balance.level_gini(1) == pytest.approx(0.0, abs=1e-9)

    exported = level("export", "t.level", "--weighted", "w.csv", "--resampled", "r.csv",
                     cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    with open(tmp_path / "w.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[-5:] == ["cluster_id", "cluster_label", "topic_id", "topic_label",
                                  "weight"]
    row_weight = dict(zip(balance.cluster_ids.tolist(), balance.row_weights_of_clusters,
                          strict=True))
    for row in rows:
        cluster = int(row["cluster_id"])
        assert int(row["topic_id"]) == int(saved.cluster_topic[cluster])
        assert row["topic_label"] == saved.topics[int(row["topic_id"])].label
        assert float(row["weight"]) == pytest.approx(row_weight[cluster], rel=1e-5)
    with open(tmp_path / "r.csv", encoding="utf-8", newline="") as handle:
        resampled = list(csv.DictReader(handle))
    expected = sum(round(size * row_weight[c]) for c, size in enumerate(saved.sizes))
    assert len(resampled) == expected
    assert list(resampled[0])[-4:] == ["cluster_id", "cluster_label", "topic_id", "topic_label"]

    reset = level("weights", "t.level", "--reset", cwd=tmp_path)
    assert reset.returncode == 0
    assert load_project(tmp_path / "t.level").balance().is_unweighted


@pytest.mark.parametrize(("args", "message"), [
    (["--level", "topics", "--set", "4=0.5"], "There is no topic 4; topics are numbered 0 to 1."),
    (["--level", "topics", "--set", "noise=0"], "--set takes ID=WEIGHT"),
    (["--level", "topics", "--topic", "1", "--flatten"], "--topic picks the topic"),
    (["--flatten", "--topic", "9"], "There is no topic 9"),
])
def test_topic_weight_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    shutil.copyfile(Path(__file__).parent / "data" / "project-v2.level", tmp_path / "t.level")
    done = level("weights", "t.level", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_opening_a_version_1_project_says_topics_were_computed(tmp_path: Path) -> None:
    shutil.copyfile(Path(__file__).parent / "data" / "project-v1.level", tmp_path / "p.level")
    info = level("info", "p.level", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert "grouped into 1 topic" in info.stderr
    again = level("info", "p.level", cwd=tmp_path)
    assert "topic" not in again.stderr


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


def test_flatten_caps_at_the_projects_limit_unless_max_up_is_given(tmp_path: Path) -> None:
    """--max-up defaults to the project's flatten limit (the window's), not a number of its own."""
    from level_desktop.core.balance import flatten
    from level_desktop.core.store import load_project, save_labels

    shutil.copyfile(Path(__file__).parent / "data" / "project-v2.level", tmp_path / "t.level")
    project = load_project(tmp_path / "t.level")
    sizes = project.balance().counted_sizes
    assert flatten(sizes, 3.0).max() > 1.2  # so a cap of 1.2 is visible in the weights
    save_labels(tmp_path / "t.level", project.clusters, project.settings.replace(max_up=1.2),
                project.fingerprints, topics=project.topics)
    done = level("weights", "t.level", "--flatten", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    weights = load_project(tmp_path / "t.level").weights
    assert [weights[c] for c in sorted(weights)] == pytest.approx(flatten(sizes, 1.2).tolist())
    given = level("weights", "t.level", "--flatten", "--max-up", "3", cwd=tmp_path)
    assert given.returncode == 0, given.stderr
    weights = load_project(tmp_path / "t.level").weights
    assert [weights[c] for c in sorted(weights)] == pytest.approx(flatten(sizes, 3.0).tolist())
