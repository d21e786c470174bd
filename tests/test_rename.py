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


# ----- topics (the landscape's top level) take names the same way ------------------------------

V2 = Path(__file__).parent / "data" / "project-v2.level"  # two topics, none named by the user


@pytest.fixture
def topics_project(tmp_path: Path) -> Path:
    path = tmp_path / "t.level"
    shutil.copyfile(V2, path)
    load_project(path)  # opening migrates the copy to the current schema once, here
    return path


def test_topic_rename_is_one_undoable_step_that_marks_unsaved(topics_project: Path) -> None:
    document = Document.open(topics_project)
    events: list[Event] = []
    document.subscribe(Event.LABELS, lambda: events.append(Event.LABELS))
    old = document.topic_label(0)
    clusters = document.require_analysis().clusters
    assert document.rename_topic(0, " Perl   and  fonts ")
    renamed = document.require_analysis().topics[0]
    assert (renamed.label, renamed.user_named, renamed.labeler) == ("Perl and fonts", True, "user")
    assert document.require_analysis().clusters is clusters  # cluster names untouched
    assert document.unsaved_kind == "topic names"
    assert document.undo_text == f"Rename topic “{old}” → “Perl and fonts”"
    assert events == [Event.LABELS]
    assert document.undo()
    assert document.topic_label(0) == old
    assert not document.require_analysis().topics[0].user_named
    assert not document.dirty
    assert not document.rename_topic(0, old)  # its name already: no step


@pytest.mark.parametrize(("topic", "name", "message"), [
    (0, "  ", "A topic's name cannot be empty"),
    (0, "y" * 81, "at most 80 characters"),
    (42, "Fonts", "There is no topic 42"),
])
def test_unusable_topic_names_are_refused_in_words(topics_project: Path, topic: int, name: str,
                                                   message: str) -> None:
    document = Document.open(topics_project)
    with pytest.raises(RenameError, match=message):
        document.rename_topic(topic, name)
    assert not document.dirty


def test_a_name_another_topic_has_is_refused(topics_project: Path) -> None:
    document = Document.open(topics_project)
    assert len(document.require_analysis().topics) >= 2
    other = document.topic_label(1)
    with pytest.raises(RenameError, match=f"Topic 1 is already called “{other}”"):
        document.rename_topic(0, other.lower())


def test_a_topic_rename_is_saved_with_names_and_weights_then_reopened(topics_project: Path
                                                                     ) -> None:
    document = Document.open(topics_project)
    document.rename_topic(0, "Everything Perl")
    plan = document.save_plan()
    assert plan.names_and_weights  # the topic names must be written, not only the weights
    assert not plan.weights_only
    plan.write()
    document.mark_saved(plan)
    assert not document.dirty
    assert document.save_plan().weights_only  # now the file holds them
    reopened = load_project(topics_project)
    assert (reopened.topics[0].label, reopened.topics[0].user_named) == ("Everything Perl", True)
    assert not any(t.user_named for t in reopened.topics[1:])
    with duckdb.connect(str(topics_project), read_only=True) as con:  # the column was added
        assert con.execute("SELECT count(*) FROM topics WHERE user_named").fetchone() == (1,)


def test_a_full_save_keeps_the_topic_names(topics_project: Path, tmp_path: Path) -> None:
    document = Document.open(topics_project)
    document.rename_topic(1, "Misc")
    reopened = load_project(document.save(tmp_path / "copy.level"))
    assert (reopened.topics[1].label, reopened.topics[1].user_named) == ("Misc", True)


def test_naming_again_keeps_topic_names_unless_told_to_rename_all(topics_project: Path) -> None:
    document = Document.open(topics_project)
    document.rename_topic(0, "Everything Perl")
    analysis = document.snapshot()
    kept = relabel(analysis, analysis.settings)
    assert (kept.topics[0].label, kept.topics[0].user_named) == ("Everything Perl", True)
    assert all(t.labeler == "keywords" and not t.user_named for t in kept.topics[1:])
    replaced = relabel(analysis, analysis.settings, rename_all=True)
    assert replaced.topics[0].label != "Everything Perl"
    assert not any(t.user_named for t in replaced.topics)


def test_export_carries_the_topic_name(topics_project: Path, tmp_path: Path) -> None:
    document = Document.open(topics_project)
    document.rename_topic(0, "Everything Perl")
    members = {str(c) for c in document.require_analysis().topics[0].cluster_ids}
    out = tmp_path / "w.csv"
    write_weighted(document.snapshot().export_data(), out)
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["topic_label"] for r in rows if r["cluster_id"] in members} == {"Everything Perl"}
    assert "Everything Perl" not in {r["topic_label"] for r in rows
                                     if r["cluster_id"] not in members}


def test_cli_rename_topic_then_relabel(topics_project: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    old = load_project(topics_project).topics[0].label
    assert level_main(["rename", str(topics_project), "--topic", "0", "Everything Perl"]) == 0
    assert f"Topic 0: “{old}” → “Everything Perl”" in capsys.readouterr().out
    assert level_main(["relabel", str(topics_project)]) == 0
    assert load_project(topics_project).topics[0].label == "Everything Perl"
    assert level_main(["relabel", str(topics_project), "--rename-all"]) == 0
    assert load_project(topics_project).topics[0].label != "Everything Perl"


def test_cli_rename_topic_errors_exit_2_in_words(topics_project: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    before = topics_project.read_bytes()
    assert level_main(["rename", str(topics_project), "--topic", "9", "x"]) == 2
    err = capsys.readouterr().err
    assert "There is no topic 9" in err
    assert "Traceback" not in err
    assert topics_project.read_bytes() == before
