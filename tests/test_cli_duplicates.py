"""`level duplicates`, `level weights --[no-]collapse-duplicates` and the row budget of
`level export --resampled --rows/--fraction`, run as a user runs them (a subprocess), on a small
CSV with exact copies and lightly edited copies of some rows (fast embedding path, PCA map)."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow



def level(*args: str, cwd: Path, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "level_desktop.cli", *args], cwd=cwd,
                          capture_output=True, text=True, env=env or os.environ.copy(),
                          timeout=600)



@pytest.fixture(scope="module")
def analysed(duplicated_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One analysed project (no duplicates computed yet), copied by each test."""
    folder = tmp_path_factory.mktemp("dups")
    shutil.copyfile(duplicated_csv, folder / "dups.csv")
    env = {**os.environ, "LEVEL_CACHE_DIR": str(folder / "cache"),
           "XDG_CONFIG_HOME": str(folder / "config"), "XDG_DATA_HOME": str(folder / "data")}
    done = level("analyze", "dups.csv", "-o", "d.level", "--model", "fast", "--projection", "pca",
                 cwd=folder, env=env)
    assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture
def project(analysed: Path, tmp_path: Path) -> Path:
    shutil.copy(analysed / "dups.csv", tmp_path / "dups.csv")
    shutil.copy(analysed / "d.level", tmp_path / "d.level")
    return tmp_path / "d.level"


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _groups_by_package(project: Path) -> dict[str, str]:
    assert level("export", project.name, "--weighted", "g.csv", cwd=project.parent).returncode == 0
    return {r["package"]: r["duplicate_group"] for r in _read(project.parent / "g.csv")}


def test_duplicates_finds_stores_and_reports_the_groups(project: Path) -> None:
    cwd = project.parent
    before = level("export", "d.level", "--weighted", "w.csv", cwd=cwd)
    assert before.returncode == 0, before.stderr
    assert "duplicate_group" not in _read(cwd / "w.csv")[0]  # not computed yet: no column
    done = level("duplicates", "d.level", cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert "(20 exact copies)" in done.stdout
    n_groups, in_groups, saved = map(int, re.search(
        r"([\d,]+) duplicate groups at cosine >= 0.95 .*: ([\d,]+) of 190 rows .* saves "
        r"([\d,]+) rows", done.stdout).groups())
    assert n_groups >= 20
    assert in_groups >= 40
    assert saved == in_groups - n_groups
    assert "near-duplicates" in done.stdout
    assert "Largest groups:" in done.stdout
    groups = _groups_by_package(project)
    originals = [p for p in groups if not p.endswith(("-copy", "-edit"))]
    for i in range(0, 60, 3):  # every exact copy shares its original's group
        assert groups[originals[i]] != ""
        assert groups[originals[i] + "-copy"] == groups[originals[i]]
    assert sum(v != "" for v in groups.values()) == in_groups
    assert len({v for v in groups.values() if v}) == n_groups


def test_threshold_is_stored_and_a_higher_one_finds_no_more(project: Path) -> None:
    from level_desktop.core.store import load_duplicate_groups

    cwd = project.parent
    assert level("duplicates", "d.level", "--threshold", "0.9", cwd=cwd).returncode == 0
    loose, threshold = load_duplicate_groups(project) or (None, None)
    assert threshold == pytest.approx(0.9)
    assert level("duplicates", "d.level", "--threshold", "0.99", cwd=cwd).returncode == 0
    strict, threshold = load_duplicate_groups(project) or (None, None)
    assert threshold == pytest.approx(0.99)
    assert loose is not None
    assert strict is not None
    assert (strict >= 0).sum() <= (loose >= 0).sum()
    assert (strict >= 0).sum() >= 40  # the 20 exact copies and their originals at least


def test_budget_exactly_n_distinct_rows_seeded_in_input_order(project: Path) -> None:
    cwd = project.parent
    order = {r["package"]: i for i, r in enumerate(_read(cwd / "dups.csv"))}
    runs = {}
    for name, seed in (("a.csv", "7"), ("b.csv", "7"), ("c.csv", "8")):
        done = level("export", "d.level", "--resampled", name, "--rows", "60", "--seed", seed,
                     cwd=cwd)
        assert done.returncode == 0, done.stderr
        assert "Wrote 60 rows" in done.stdout
        runs[name] = [r["package"] for r in _read(cwd / name)]
    rows = runs["a.csv"]
    assert len(rows) == 60
    assert len(set(rows)) == 60
    positions = [order[p] for p in rows]
    assert positions == sorted(positions)  # input order kept
    assert runs["a.csv"] == runs["b.csv"]  # seeded
    assert runs["a.csv"] != runs["c.csv"]
    fraction = level("export", "d.level", "--resampled", "f.csv", "--fraction", "0.5", cwd=cwd)
    assert fraction.returncode == 0, fraction.stderr
    assert len(_read(cwd / "f.csv")) == 95
    everything = level("export", "d.level", "--resampled", "all.csv", "--rows", "190", cwd=cwd)
    assert everything.returncode == 0
    assert sorted(r["package"] for r in _read(cwd / "all.csv")) == sorted(order)


def test_budget_follows_the_cluster_weights(project: Path) -> None:
    cwd = project.parent
    assert level("weights", "d.level", "--set", "0=0", cwd=cwd).returncode == 0
    done = level("export", "d.level", "--resampled", "r.csv", "--rows", "100", cwd=cwd)
    assert done.returncode == 0, done.stderr
    rows = _read(cwd / "r.csv")
    assert len(rows) == 100
    assert all(r["cluster_id"] != "0" for r in rows)  # weight 0: never drawn


def test_collapsed_budget_takes_at_most_one_row_per_group(project: Path) -> None:
    cwd = project.parent
    assert level("duplicates", "d.level", cwd=cwd).returncode == 0
    groups = _groups_by_package(project)
    units = len({g for g in groups.values() if g}) + sum(g == "" for g in groups.values())
    on = level("weights", "d.level", "--collapse-duplicates", cwd=cwd)
    assert on.returncode == 0, on.stderr
    assert "Duplicates collapsed" in on.stdout
    for seed in ("1", "2", "3"):
        done = level("export", "d.level", "--resampled", "r.csv", "--rows", str(units - 5),
                     "--seed", seed, cwd=cwd)
        assert done.returncode == 0, done.stderr
        assert "duplicates collapsed" in done.stdout
        picked = [groups[r["package"]] for r in _read(cwd / "r.csv")]
        assert len(picked) == units - 5
        assert max(Counter(g for g in picked if g).values()) == 1
    # Without a budget (weights 1), every unit gives one row: each group one row, not all.
    done = level("export", "d.level", "--resampled", "r.csv", "--seed", "4", cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert "duplicates collapsed" in done.stdout
    picked = [groups[r["package"]] for r in _read(cwd / "r.csv")]
    assert len(picked) == units
    assert max(Counter(g for g in picked if g).values()) == 1
    # A budget above the number of groups and unique rows takes more than one row per group,
    # and still no row twice.
    done = level("export", "d.level", "--resampled", "r.csv", "--rows", str(units + 10), cwd=cwd)
    assert done.returncode == 0, done.stderr
    packages = [r["package"] for r in _read(cwd / "r.csv")]
    assert len(packages) == units + 10 == len(set(packages))


def test_collapse_flag_round_trip_changes_the_exported_weights(project: Path) -> None:
    from level_desktop.core.store import load_collapse_duplicates

    cwd = project.parent
    assert level("duplicates", "d.level", cwd=cwd).returncode == 0
    assert not load_collapse_duplicates(project)
    assert level("weights", "d.level", "--collapse-duplicates", cwd=cwd).returncode == 0
    assert load_collapse_duplicates(project)
    assert level("export", "d.level", "--weighted", "on.csv", cwd=cwd).returncode == 0
    on = _read(cwd / "on.csv")
    sizes = Counter(r["duplicate_group"] for r in on if r["duplicate_group"])
    for r in on:
        expected = 1.0 / sizes[r["duplicate_group"]] if r["duplicate_group"] else 1.0
        assert float(r["weight"]) == pytest.approx(expected, rel=1e-5)
    assert np.isclose(sum(float(r["weight"]) for r in on), len(sizes) + sum(
        not r["duplicate_group"] for r in on))
    assert level("weights", "d.level", "--no-collapse-duplicates", cwd=cwd).returncode == 0
    assert not load_collapse_duplicates(project)
    assert level("export", "d.level", "--weighted", "off.csv", cwd=cwd).returncode == 0
    assert {r["weight"] for r in _read(cwd / "off.csv")} == {"1"}
    assert level("info", "d.level", cwd=cwd).returncode == 0  # the file still opens


@pytest.mark.parametrize(("args", "message"), [
    (["export", "d.level", "--resampled", "r.csv", "--rows", "0"], "--rows must be at least 1"),
    (["export", "d.level", "--resampled", "r.csv", "--rows", "-3"], "--rows must be at least 1"),
    (["export", "d.level", "--resampled", "r.csv", "--fraction", "0"], "above 0 and at most 1"),
    (["export", "d.level", "--resampled", "r.csv", "--fraction", "1.5"], "above 0 and at most 1"),
    (["export", "d.level", "--resampled", "r.csv", "--rows", "5", "--fraction", "0.5"],
     "either --rows or --fraction"),
    (["export", "d.level", "--weighted", "w.csv", "--rows", "5"], "add --resampled"),
    (["weights", "d.level", "--collapse-duplicates"], "Run `level duplicates d.level` first"),
    (["duplicates", "d.level", "--threshold", "1.5"], "threshold"),
])
def test_user_errors_exit_2_with_one_line(project: Path, args: list[str], message: str) -> None:
    before = project.read_bytes()
    done = level(*args, cwd=project.parent)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(project.parent.glob("[rw].csv"))
    assert project.read_bytes() == before


def test_v1_project_gains_groups_and_older_readers_are_unaffected(tmp_path: Path) -> None:
    """A v1 file has no groups (absent table = not computed); computing them adds the table
    and the project still loads."""
    from level_desktop.core.store import (
        load_collapse_duplicates,
        load_duplicate_groups,
        load_project,
        save_duplicate_groups,
    )

    project = tmp_path / "p.level"
    shutil.copy(Path(__file__).parent / "data" / "project-v1.level", project)
    assert load_duplicate_groups(project) is None
    assert not load_collapse_duplicates(project)
    n = load_project(project).n_rows
    groups = np.full(n, -1, dtype=np.int32)
    groups[:4] = [0, 0, 1, 1]
    save_duplicate_groups(project, groups, 0.95)
    stored = load_duplicate_groups(project)
    assert stored is not None
    assert stored[0].tolist() == groups.tolist()
    assert stored[1] == 0.95
    assert load_project(project).n_rows == n


def test_flatten_with_collapse_levels_the_collapsed_sizes(project: Path, tmp_path: Path) -> None:
    """`level weights --flatten --collapse-duplicates` is the window's Collapse Duplicates then
    Flatten All Clusters, whatever the order of the flags: the clusters are levelled over the
    sizes that count each group once."""
    from level_desktop.core.document import Document

    cwd = project.parent
    assert level("duplicates", "d.level", cwd=cwd).returncode == 0
    shutil.copy(project, tmp_path / "window.level")
    done = level("weights", "d.level", "--flatten", "--collapse-duplicates", cwd=cwd)
    assert done.returncode == 0, done.stderr
    window = Document.open(tmp_path / "window.level")
    window.collapse_duplicates(True)
    window.flatten_clusters(3.0)
    cli = Document.open(project).require_analysis()
    assert cli.collapse_duplicates
    expected = window.require_analysis().weights
    assert expected != {c: 1.0 for c in expected}  # the flatten moved something
    assert cli.weights == pytest.approx(expected)


def test_info_shows_the_groups_and_each_hills_share_of_duplicates(project: Path) -> None:
    cwd = project.parent
    before = level("info", "d.level", cwd=cwd)
    assert before.returncode == 0, before.stderr
    assert "Near-duplicates" not in before.stdout
    header = next(line for line in before.stdout.splitlines() if line.startswith("topic/"))
    assert header.split()[-1] == "effective"  # no groups yet: the table keeps its six columns
    found = level("duplicates", "d.level", cwd=cwd)
    assert found.returncode == 0, found.stderr
    n_groups, in_groups = map(int, re.search(r"([\d,]+) duplicate groups at .*: ([\d,]+) of",
                                             found.stdout).groups())
    info = level("info", "d.level", cwd=cwd)
    assert info.returncode == 0, info.stderr
    assert (f"Near-duplicates: {n_groups:,} groups at cosine >= 0.95, {in_groups:,} of 190 rows "
            f"({in_groups / 190:.1%}) in groups; not collapsed") in info.stdout
    header = next(line for line in info.stdout.splitlines() if line.startswith("topic/cluster"))
    assert header.split()[-1] == "dups"
    from level_desktop.core.store import load_project

    saved = load_project(project)
    in_group = saved.duplicate_groups >= 0
    checked = 0
    for line in info.stdout.splitlines():  # each cluster row's dups cell is its share in groups
        if match := re.match(r"^  [├└]─ (\d+) .* ([\d.]+)%$", line):
            cluster = int(match[1])
            assert float(match[2]) == pytest.approx(
                100 * in_group[saved.labels == cluster].mean(), abs=0.05)
            checked += 1
    assert checked == len(saved.clusters)
    assert level("weights", "d.level", "--collapse-duplicates", cwd=cwd).returncode == 0
    collapsed = level("info", "d.level", cwd=cwd)
    assert "in groups; collapsed: each group weighs as one row" in collapsed.stdout
