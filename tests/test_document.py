"""The Qt-free document: every operation undoes and redoes, "unsaved" follows the saved revision,
views hear typed events, and a real .level project (DuckDB) round-trips through open and save."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from level_desktop.core.balance import NOISE_ID, flatten
from level_desktop.core.document import (
    MERGE_WINDOW_S,
    Document,
    Event,
    needs_consent,
    project_path,
)
from level_desktop.core.errors import SettingsError
from level_desktop.core.store import load_project

PROJECT_V1 = Path(__file__).parent / "data" / "project-v1.level"  # 4 clusters, weight 0: 0.5


class Clock:
    """A clock the test moves by hand, so merging spin-box steps is deterministic."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "levelled.level"
    shutil.copy(PROJECT_V1, path)
    return path


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def doc(project: Path, clock: Clock) -> Document:
    return Document.open(project, clock=clock)


@pytest.fixture
def events(doc: Document) -> list[Event]:
    heard: list[Event] = []
    for event in Event:
        doc.subscribe(event, lambda e=event: heard.append(e))
    return heard


def weights(doc: Document) -> dict[int, float]:
    assert doc.balance is not None
    return doc.balance.weight_map()


def test_open_reads_the_project_clean(doc: Document, project: Path) -> None:
    assert doc.path == project
    assert doc.analysis is not None
    assert doc.analysis.n_rows == 60
    assert weights(doc) == {0: 0.5, 1: 1.0, 2: 1.0, 3: 1.0}
    assert not doc.dirty
    assert not doc.needs_save_prompt
    assert not doc.can_undo
    assert not doc.can_redo
    assert doc.selected == 0
    assert doc.display_name == "levelled.level"


def test_set_weight_undo_redo_and_the_dirty_flag(doc: Document, events: list[Event]) -> None:
    assert doc.set_weight(2, 3.0)
    assert weights(doc)[2] == 3.0
    assert doc.analysis is not None
    assert doc.analysis.weights[2] == 3.0
    assert doc.dirty
    assert doc.needs_save_prompt
    assert doc.undo_text == "Weight of perl file git → 3.00"
    assert events == [Event.WEIGHTS, Event.HISTORY]
    assert doc.undo()
    assert weights(doc)[2] == 1.0
    assert not doc.dirty  # back at the saved revision
    assert doc.redo_text == "Weight of perl file git → 3.00"
    assert doc.redo()
    assert weights(doc)[2] == 3.0
    assert doc.dirty
    assert not doc.redo()  # nothing left to redo
    assert not doc.set_weight(2, 3.0)  # already that: no step
    assert doc.history_size == 1


def test_noise_weight_is_its_own_step(doc: Document) -> None:
    assert doc.set_noise_weight(0.0)
    assert doc.balance is not None
    assert doc.balance.noise_weight == 0.0
    assert doc.undo_text == "Weight of noise → 0.00"
    doc.undo()
    assert doc.balance.noise_weight == 1.0
    assert doc.set_weight(NOISE_ID, 2.0)
    assert doc.balance.noise_weight == 2.0


def test_bad_weights_raise_in_words_and_leave_no_step(doc: Document) -> None:
    with pytest.raises(SettingsError, match="no cluster 9"):
        doc.set_weight(9, 1.0)
    with pytest.raises(SettingsError, match="≥ 0"):
        doc.set_weight(1, -1.0)
    with pytest.raises(SettingsError, match="at least 1"):
        doc.flatten(0.5)
    assert doc.history_size == 0
    assert not doc.dirty


def test_quick_edits_of_one_cluster_merge(doc: Document, clock: Clock) -> None:
    doc.set_weight(1, 1.1)
    clock.now += MERGE_WINDOW_S / 2
    doc.set_weight(1, 1.2)
    assert doc.history_size == 1
    assert doc.undo_text == "Weight of package contains compiler → 1.20"
    clock.now += MERGE_WINDOW_S * 2  # a pause: a new step
    doc.set_weight(1, 1.3)
    doc.set_weight(2, 0.5)  # another cluster: a new step
    assert doc.history_size == 3
    doc.undo()
    doc.undo()
    assert weights(doc)[1] == pytest.approx(1.2)
    doc.undo()
    assert weights(doc)[1] == 1.0
    assert not doc.dirty


def test_an_edit_after_a_save_does_not_merge_into_the_saved_step(doc: Document,
                                                                 clock: Clock) -> None:
    doc.set_weight(1, 1.1)
    doc.save()
    doc.set_weight(1, 1.2)  # within the merge window, but the saved state must stay reachable
    assert doc.history_size == 2
    doc.undo()
    assert not doc.dirty


def test_flatten_and_reset_undo(doc: Document, events: list[Event]) -> None:
    assert doc.balance is not None
    expected = flatten(doc.balance.sizes, 2.0)
    doc.drill(0)  # the project's 4 clusters make one topic: flatten within it levels them all
    assert doc.flatten(2.0)
    np.testing.assert_allclose(doc.balance.weights, expected)
    assert doc.undo_text == f"Flatten {doc.topic_label(0)} (max ×2)"
    assert doc.reset()
    assert doc.balance.is_unweighted
    assert doc.undo_text == "Reset weights"
    assert not doc.reset()  # already flat ones: no step
    doc.undo()
    np.testing.assert_allclose(doc.balance.weights, expected)
    doc.undo()
    assert weights(doc)[0] == 0.5
    assert not doc.dirty
    assert events.count(Event.WEIGHTS) == 4


def test_a_new_step_drops_the_redo_branch(doc: Document) -> None:
    doc.flatten(3.0)
    doc.undo()
    doc.set_weight(3, 2.0)
    assert not doc.can_redo
    assert doc.history_size == 1


def test_relabel_swaps_names_keeps_weights_and_undoes(doc: Document,
                                                      events: list[Event]) -> None:
    analysis = doc.analysis
    assert analysis is not None
    old = [c.label for c in analysis.clusters]
    doc.set_weight(1, 2.0)
    relabelled = dataclasses.replace(
        doc.snapshot(), clusters=[dataclasses.replace(c, label=f"new {c.id}")
                                  for c in analysis.clusters],
        settings=analysis.settings.replace(labeler="keywords"), weights={})
    doc.select(2)
    events.clear()
    doc.relabel(relabelled)
    assert [c.label for c in analysis.clusters] == [f"new {c}" for c in range(4)]
    assert weights(doc)[1] == 2.0  # the relabelled copy's weights are not taken
    assert doc.selected == 2
    assert doc.unsaved_kind == "weights and cluster names"
    assert events == [Event.LABELS, Event.HISTORY]
    doc.undo()
    assert [c.label for c in analysis.clusters] == old
    assert doc.unsaved_kind == "weights"
    doc.redo()
    assert analysis.clusters[0].label == "new 0"


def test_relabel_with_the_real_labeler(doc: Document) -> None:
    from level_desktop.core.pipeline import relabel

    doc.set_weight(0, 3.0)
    analysis = doc.snapshot()
    doc.relabel(relabel(analysis, analysis.settings.replace(labeler="keywords")))
    assert weights(doc)[0] == 3.0
    assert all(c.labeler == "keywords" for c in doc.require_analysis().clusters)
    with pytest.raises(RuntimeError):
        doc.relabel(dataclasses.replace(analysis, clusters=analysis.clusters[:2]))


def test_selection_is_an_event_not_a_step(doc: Document, events: list[Event]) -> None:
    doc.select(3)
    doc.select(3)
    doc.select(NOISE_ID)
    doc.select(None)
    assert events == [Event.SELECTION] * 3
    assert doc.selected is None
    assert not doc.dirty
    assert doc.history_size == 0


def test_save_writes_weights_only_then_reopens(doc: Document, project: Path,
                                               events: list[Event]) -> None:
    doc.flatten(3.0)
    flattened = weights(doc)
    plan = doc.save_plan()
    assert plan.weights_only
    assert plan.path == project
    doc.save()
    assert not doc.dirty
    assert Event.SAVED in events
    again = Document.open(project)
    assert weights(again) == pytest.approx(flattened)
    assert again.analysis is not None
    assert again.analysis.n_rows == 60


def test_save_as_and_after_relabel_write_the_whole_project(doc: Document, tmp_path: Path) -> None:
    analysis = doc.require_analysis()
    doc.relabel(dataclasses.replace(analysis, clusters=[
        dataclasses.replace(c, label=f"renamed {c.id}") for c in analysis.clusters]))
    assert not doc.save_plan().weights_only  # the file holds the old names
    other = project_path(tmp_path / "copy")
    assert other.name == "copy.level"
    assert not doc.save_plan(other).weights_only
    doc.save(other)
    assert doc.path == other
    assert not doc.dirty
    assert doc.display_name == "copy.level"
    assert doc.save_plan().weights_only  # now the file there holds these names
    back = load_project(other)
    assert [c.label for c in back.clusters] == [f"renamed {c}" for c in range(4)]
    assert back.weights[0] == 0.5


def test_a_save_of_an_older_revision_leaves_later_edits_unsaved(doc: Document) -> None:
    doc.set_weight(1, 2.0)
    plan = doc.save_plan()  # the window writes this in a worker thread …
    doc.set_weight(2, 2.0)  # … while the user goes on
    plan.write()
    doc.mark_saved(plan)
    assert doc.dirty
    assert plan.snapshot.weights[2] == 1.0  # the snapshot did not see the later edit
    doc.undo()
    assert not doc.dirty  # the saved revision is reachable by undo


def test_a_fresh_analysis_is_clean_until_edited_and_saves_in_full(tmp_path: Path,
                                                                  project: Path) -> None:
    analysis = load_project(project)
    doc = Document()
    doc.show(analysis)
    assert doc.path is None
    assert not doc.dirty
    assert doc.display_name == Path(analysis.source.path).name
    with pytest.raises(RuntimeError):
        doc.save_plan()
    target = tmp_path / "fresh.level"
    target.write_bytes(b"")  # even where a file exists, a new analysis is written in full
    assert not doc.save_plan(target).weights_only
    doc.save(target)
    assert load_project(target).n_rows == 60


def test_mark_clean_drops_the_prompt_but_keeps_the_history(doc: Document) -> None:
    doc.set_weight(1, 0.5)
    doc.mark_clean()
    assert not doc.needs_save_prompt
    assert doc.can_undo


def test_needs_consent_only_for_labelers_that_send_rows() -> None:
    assert needs_consent("gemini")
    assert not needs_consent("keywords")


def test_unsubscribed_listeners_hear_nothing(doc: Document) -> None:
    heard: list[str] = []

    def listener() -> None:
        heard.append("weights")

    doc.subscribe(Event.WEIGHTS, listener)
    doc.set_weight(1, 2.0)
    doc.unsubscribe(Event.WEIGHTS, listener)
    doc.undo()
    assert heard == ["weights"]


PROJECT_V2 = Path(__file__).parent / "data" / "project-v2.level"  # 2 topics: {0, 1}, {2, 3}


@pytest.fixture
def doc2(tmp_path: Path, clock: Clock) -> Document:
    path = tmp_path / "topics.level"
    shutil.copy(PROJECT_V2, path)
    return Document.open(path, clock=clock)


def test_topic_weight_undo_redo_merge_and_save(doc2: Document, clock: Clock) -> None:
    assert doc2.balance is not None
    assert doc2.balance.topic_weight_map() == {0: 1.0, 1: 2.0}
    assert doc2.set_topic_weight(0, 0.5)
    clock.now += 0.2
    assert doc2.set_topic_weight(0, 0.4)  # a quick second step on the same topic merges
    assert doc2.history_size == 1
    assert doc2.balance.row_weights_of_clusters.tolist() == [0.2, 0.4, 2.0, 2.0]
    assert doc2.dirty
    assert doc2.undo_text.startswith("Weight of topic ")
    doc2.undo()
    assert doc2.balance.topic_weight_map() == {0: 1.0, 1: 2.0}
    assert not doc2.dirty
    doc2.redo()
    assert doc2.balance.topic_weight(0) == 0.4
    assert doc2.unsaved_kind == "weights"
    doc2.save()
    assert load_project(doc2.path).topic_weights == {0: 0.4, 1: 2.0}
    with pytest.raises(SettingsError, match="no topic 5"):
        doc2.set_topic_weight(5, 1.0)


def test_flatten_acts_on_the_level_in_view_and_undoes(doc2: Document) -> None:
    views: list[int | None] = []
    doc2.subscribe(Event.VIEW, lambda: views.append(doc2.view_topic))
    balance = doc2.balance
    assert balance is not None
    clusters_before = balance.weights.tolist()
    total = (balance.sizes * balance.weights).sum()  # the rows under the cluster weights alone
    assert doc2.flatten(3.0)  # top level: the topics (their weights replace the old ones)
    assert balance.weights.tolist() == clusters_before
    assert balance.cluster_effective_sizes.sum() == pytest.approx(total)
    assert balance.level_gini(None) == pytest.approx(0.0, abs=1e-9)
    assert doc2.undo_text == "Flatten topics (max ×3)"
    doc2.drill(1)
    doc2.drill(1)  # already there: no event
    assert views == [1]
    assert doc2.flatten(3.0)  # drilled: topic 1's clusters (sizes 14, 12)
    inside = balance.clusters_in(1)
    assert (balance.sizes[inside] * balance.weights[inside]).sum() == pytest.approx(26)
    assert balance.level_gini(1) == pytest.approx(0.0, abs=1e-9)
    assert balance.weights[:2].tolist() == clusters_before[:2]
    doc2.undo()
    assert balance.weights.tolist() == clusters_before
    assert balance.level_gini(None) == pytest.approx(0.0, abs=1e-9)  # topics still flat
    doc2.undo()
    assert balance.topic_weight_map() == {0: 1.0, 1: 2.0}
    assert not doc2.dirty
    doc2.back()
    assert views == [1, None]
    assert doc2.history_size == 2  # moving between levels is not a step
    doc2.redo()
    doc2.redo()
    assert balance.level_gini(1) == pytest.approx(0.0, abs=1e-9)
    assert doc2.reset()
    assert balance.is_unweighted
    doc2.undo()
    assert not balance.is_unweighted


def test_relabel_names_the_topics_too(doc2: Document) -> None:
    from level_desktop.core.pipeline import relabel

    analysis = doc2.analysis
    assert analysis is not None
    before = analysis.topics
    renamed = relabel(analysis, analysis.settings.replace(representatives=2))
    assert [len(t.representatives) for t in renamed.topics] == [2, 2]
    assert doc2.relabel(renamed)
    assert analysis.topics is renamed.topics
    doc2.undo()
    assert analysis.topics is before


def test_terrain_per_level(doc2: Document) -> None:
    analysis = doc2.analysis
    assert analysis is not None
    top = analysis.terrain(None)
    assert top.unit_hills.shape[0] == 2
    assert top.heights(np.ones(2)).max() == pytest.approx(10.0, rel=1e-5)
    drilled = analysis.terrain(1)
    assert drilled.unit_hills.shape[0] == len(analysis.topics[1].cluster_ids) == 2
    assert drilled.heights(np.ones(2)).max() == pytest.approx(10.0, rel=1e-5)
    assert analysis.terrain(1) is drilled  # cached per level
    with pytest.raises(IndexError):
        analysis.terrain(2)
