"""Names the user gives clusters: one undoable document step, saved with the project (names and
weights only), kept when the clusters are named again unless the user asks to rename all,
exported, and the same through `level rename`."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import pytest

from level_desktop.cli import main as level_main
from level_desktop.core.document import Document, Event
from level_desktop.core.errors import RenameError
from level_desktop.core.export import write_weighted
from level_desktop.core.pipeline import relabel
from level_desktop.core.store import load_project

V1 = Path(__file__).parent / "data" / "project-v1.level"  # written before names could be edited


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "p.level"
    shutil.copyfile(V1, path)
    load_project(path)  # a version-1 file is migrated (rewritten) when first opened
    return path


def test_rename_is_one_undoable_step_that_marks_unsaved(project: Path) -> None:
    document = Document.open(project)
    events: list[Event] = []
    document.subscribe(Event.LABELS, lambda: events.append(Event.LABELS))
    old = document.cluster_label(1)
    assert document.rename(1, "  My   fonts ")
    assert document.cluster_label(1) == "My fonts"  # spaces folded
    renamed = document.require_analysis().clusters[1]
    assert (renamed.user_named, renamed.labeler, renamed.fallback_reason) == (True, "user", None)
    assert document.dirty
    assert document.unsaved_kind == "cluster names"
    assert document.undo_text == f"Rename “{old}” → “My fonts”"
    assert events == [Event.LABELS]
    assert document.undo()
    assert document.cluster_label(1) == old
    assert not document.require_analysis().clusters[1].user_named
    assert not document.dirty
    assert document.redo()
    assert document.cluster_label(1) == "My fonts"
    assert not document.rename(1, "My fonts")  # nothing to change: no step
    assert document.history_size == 1


@pytest.mark.parametrize(("cluster_id", "name", "message"), [
    (1, "   ", "cannot be empty"),
    (1, "x" * 81, "at most 80 characters"),
    (99, "Fonts", "There is no cluster 99"),
])
def test_unusable_names_are_refused_in_words(project: Path, cluster_id: int, name: str,
                                             message: str) -> None:
    document = Document.open(project)
    with pytest.raises(RenameError, match=message):
        document.rename(cluster_id, name)
    assert not document.dirty


def test_a_name_another_cluster_has_is_refused(project: Path) -> None:
    document = Document.open(project)
    other = document.cluster_label(0)
    with pytest.raises(RenameError, match=f"Cluster 0 is already called “{other}”"):
        document.rename(1, other.upper())


def test_saved_names_and_weights_only_then_reopened(project: Path) -> None:
    document = Document.open(project)
    document.rename(2, "Perl things")
    document.set_weight(0, 2.0)
    plan = document.save_plan()
    assert plan.names_and_weights
    assert not plan.weights_only
    plan.write()
    document.mark_saved(plan)
    assert not document.dirty
    assert not document.save_plan().names_and_weights  # the file holds these names now
    reopened = load_project(project)
    assert reopened.clusters[2].label == "Perl things"
    assert reopened.clusters[2].user_named
    assert not reopened.clusters[1].user_named
    assert reopened.weights[0] == 2.0
    with duckdb.connect(str(project), read_only=True) as con:  # the old file gained the column
        assert con.execute("SELECT count(*) FROM clusters WHERE user_named").fetchone() == (1,)


def test_a_full_save_keeps_the_user_names(project: Path, tmp_path: Path) -> None:
    document = Document.open(project)
    document.rename(0, "Haskell")
    saved = document.save(tmp_path / "copy.level")
    reopened = load_project(saved)
    assert (reopened.clusters[0].label, reopened.clusters[0].user_named) == ("Haskell", True)


def test_naming_again_keeps_user_names_unless_told_to_rename_all(project: Path) -> None:
    document = Document.open(project)
    document.rename(1, "My fonts")
    analysis = document.snapshot()
    kept = relabel(analysis, analysis.settings)
    assert kept.clusters[1].label == "My fonts"
    assert kept.clusters[1].user_named
    assert all(not c.user_named and c.labeler == "keywords"
               for c in kept.clusters if c.id != 1)
    replaced = relabel(analysis, analysis.settings, rename_all=True)
    assert replaced.clusters[1].label != "My fonts"
    assert not any(c.user_named for c in replaced.clusters)
    document.relabel(replaced)
    assert document.cluster_label(1) != "My fonts"
    assert document.undo()
    assert document.cluster_label(1) == "My fonts"


def test_export_carries_the_user_name(project: Path, tmp_path: Path) -> None:
    document = Document.open(project)
    document.rename(1, "My fonts")
    out = tmp_path / "w.csv"
    write_weighted(document.snapshot().export_data(), out)
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    cluster_1 = {r["cluster_label"] for r in rows if r["cluster_id"] == "1"}
    assert cluster_1 == {"My fonts"}


def test_cli_rename_then_relabel(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert level_main(["rename", str(project), "1", "My fonts"]) == 0
    assert "→ “My fonts”" in capsys.readouterr().out
    assert load_project(project).clusters[1].label == "My fonts"
    assert level_main(["relabel", str(project)]) == 0
    assert load_project(project).clusters[1].label == "My fonts"
    assert level_main(["relabel", str(project), "--rename-all"]) == 0
    reopened = load_project(project)
    assert reopened.clusters[1].label != "My fonts"
    assert not reopened.clusters[1].user_named


@pytest.mark.parametrize(("args", "message"), [
    (["5", "x"], "There is no cluster 5"),
    (["1", ""], "cannot be empty"),
])
def test_cli_rename_errors_exit_2_in_words(project: Path, capsys: pytest.CaptureFixture[str],
                                           args: list[str], message: str) -> None:
    before = project.read_bytes()
    assert level_main(["rename", str(project), *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert project.read_bytes() == before
