"""The open document: one analysis, its weights, the selection, where it is saved, undo and redo.

Why it exists: the window and `level weights` used to keep this state themselves (the window in
a QUndoStack, a dirty flag and a path; the CLI by writing weights back by hand). Here it is kept
once, without Qt. Every change a user makes is a `Command` (do/undo) on a `CommandStack`;
"unsaved" has one source of truth — the revision now differs from the revision last saved; views
subscribe to typed `Event`s and redraw from the document's state. The weights are the analysis's
own (`Analysis.weights`), edited through the `Balance` view, so nothing needs merging before a
save or an export.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from level_desktop.core.balance import NOISE_ID, flatten
from level_desktop.core.comparison import Gap, coverage_gaps, match_weights, total_variation
from level_desktop.core.errors import ComparisonError

if TYPE_CHECKING:
    from level_desktop.core.analysis import Analysis, ClusterInfo, TopicInfo
    from level_desktop.core.balance import Balance
    from level_desktop.core.comparison import ComparisonSet
    from level_desktop.core.settings import Settings

PROJECT_SUFFIX = ".level"
MERGE_WINDOW_S = 1.0  # spin-box steps on one cluster this close together undo as one step
MAX_NAME_CHARS = 80  # a name the user gives a cluster (the table and the map show ~40)

Listener = Callable[[], None]
Clock = Callable[[], float]


class Event(Enum):
    """What changed; listeners read the new state from the document."""

    ANALYSIS = "analysis"  # another analysis is open (or none): redraw everything
    LABELS = "labels"  # the clusters' names (and the labeler settings) changed
    WEIGHTS = "weights"  # one or more weights changed
    SELECTION = "selection"  # another cluster (or none) is selected
    HISTORY = "history"  # what undo and redo would do, or whether there are unsaved changes
    SAVED = "saved"  # the document was saved (its path may be new)
    VIEW = "view"  # the level in view changed (drilled into a topic, or back to the topics)
    COMPARISON = "comparison"  # a comparison set was added or removed, or its leaks (un)zeroed
    DUPLICATES = "duplicates"  # near-duplicate groups were found (or replaced)


def needs_consent(labeler: str, settings: Settings | None = None) -> bool:
    """Whether naming clusters with `labeler` (built from `settings`, default: the defaults)
    sends rows off this machine, so the user must be asked first; the labeler registry knows."""
    from level_desktop.core.labeling import LABELERS
    from level_desktop.core.settings import Settings

    return LABELERS.entry(labeler).sends_rows(settings if settings is not None else Settings())


# ----- commands --------------------------------------------------------------------------------


class Command:
    """One undoable change. `do` applies it (also when redone), `undo` reverts it."""

    text = ""

    def do(self, document: Document) -> None:
        raise NotImplementedError

    def undo(self, document: Document) -> None:
        raise NotImplementedError

    def merge(self, later: Command) -> bool:
        """Absorb `later` (already done) into this command; False when they stay two steps."""
        return False


@dataclass(frozen=True)
class WeightState:
    """Every cluster's weight, the noise weight and every topic's weight, as one value."""

    weights: tuple[float, ...]
    noise_weight: float
    topic_weights: tuple[float, ...] = ()  # in `Balance.topic_ids` order; () = leave as they are

    @classmethod
    def of(cls, balance: Balance) -> WeightState:
        return cls(tuple(float(w) for w in balance.weights), balance.noise_weight,
                   tuple(float(w) for w in balance.topic_weights))

    def with_weight(self, balance: Balance, cluster_id: int, weight: float) -> WeightState:
        if cluster_id == NOISE_ID:
            return dataclasses.replace(self, noise_weight=float(weight))
        index = int(np.flatnonzero(balance.cluster_ids == cluster_id)[0])
        weights = list(self.weights)
        weights[index] = float(weight)
        return dataclasses.replace(self, weights=tuple(weights))

    def with_topic_weight(self, balance: Balance, topic: int, weight: float) -> WeightState:
        index = int(np.flatnonzero(balance.topic_ids == topic)[0])
        weights = list(self.topic_weights)
        weights[index] = float(weight)
        return dataclasses.replace(self, topic_weights=tuple(weights))

    def apply_to(self, balance: Balance) -> None:
        balance.set_weights(np.array(self.weights, dtype=np.float64), noise_weight=self.noise_weight,
                            topic_weights=(np.array(self.topic_weights, dtype=np.float64)
                                           if self.topic_weights else None))


class WeightCommand(Command):
    """Move the weights from one state to another; quick edits of one cluster (or one topic)
    merge into one step. `key` names what was edited: a cluster id, or ("topic", id)."""

    def __init__(self, before: WeightState, after: WeightState, text: str,
                 key: Hashable | None = None, at: float = 0.0) -> None:
        self.before, self.after, self.text = before, after, text
        self.key = key
        self.at = at  # when the last edit merged into this command happened (clock seconds)

    def do(self, document: Document) -> None:
        self.after.apply_to(document.require_balance())

    def undo(self, document: Document) -> None:
        self.before.apply_to(document.require_balance())

    def merge(self, later: Command) -> bool:
        if (not isinstance(later, WeightCommand) or self.key is None
                or later.key != self.key or later.at - self.at > MERGE_WINDOW_S):
            return False
        self.after, self.text, self.at = later.after, later.text, later.at
        return True


@dataclass(frozen=True)
class Naming:
    """What a relabel changes: the clusters and topics (with their names), the settings, the
    fingerprints."""

    clusters: list[ClusterInfo]
    settings: Settings
    fingerprints: dict[str, str]
    topics: list[TopicInfo]

    @classmethod
    def of(cls, analysis: Analysis) -> Naming:
        return cls(analysis.clusters, analysis.settings, analysis.fingerprints, analysis.topics)

    def apply_to(self, analysis: Analysis) -> None:
        analysis.clusters, analysis.settings = self.clusters, self.settings
        analysis.fingerprints, analysis.topics = self.fingerprints, self.topics


class RelabelCommand(Command):
    """Swap the clusters' names (and the settings that made them); weights and rows stay."""

    def __init__(self, before: Naming, after: Naming) -> None:
        self.before, self.after = before, after
        self.text = f"Name clusters with {after.settings.labeler}"

    def do(self, document: Document) -> None:
        self.after.apply_to(document.require_analysis())
        document.emit(Event.LABELS)

    def undo(self, document: Document) -> None:
        self.before.apply_to(document.require_analysis())
        document.emit(Event.LABELS)


class RenameCommand(Command):
    """One cluster's name, given by the user (kept when the clusters are named again)."""

    def __init__(self, before: list[ClusterInfo], after: list[ClusterInfo], text: str) -> None:
        self.before, self.after, self.text = before, after, text

    def do(self, document: Document) -> None:
        document.require_analysis().clusters = self.after
        document.emit(Event.LABELS)

    def undo(self, document: Document) -> None:
        document.require_analysis().clusters = self.before
        document.emit(Event.LABELS)


class ZeroLeaksCommand(Command):
    """Whether the training rows the comparison set copies weigh 0 (issue 17)."""

    def __init__(self, before: bool, after: bool) -> None:
        self.before, self.after = before, after
        self.text = "Zero the leaking rows" if after else "Keep the leaking rows"

    def do(self, document: Document) -> None:
        document.require_analysis().zero_leaks = self.after
        document.emit(Event.COMPARISON)

    def undo(self, document: Document) -> None:
        document.require_analysis().zero_leaks = self.before
        document.emit(Event.COMPARISON)


class RenameTopicCommand(Command):
    """One topic's name, given by the user (kept when the topics are named again)."""

    def __init__(self, before: list[TopicInfo], after: list[TopicInfo], text: str) -> None:
        self.before, self.after, self.text = before, after, text

    def do(self, document: Document) -> None:
        document.require_analysis().topics = self.after
        document.emit(Event.LABELS)

    def undo(self, document: Document) -> None:
        document.require_analysis().topics = self.before
        document.emit(Event.LABELS)


def usable_name(name: str, what: str, own_id: int, others: list[tuple[int, str]]) -> str:
    """`name` with its spaces folded, when a cluster or topic (`what`) numbered `own_id` may take
    it; `others` are every (id, name) of its kind. Raises `RenameError` saying why not."""
    from level_desktop.core.errors import RenameError

    name = " ".join(name.split())
    if not name:
        raise RenameError(f"A {what}'s name cannot be empty.")
    if len(name) > MAX_NAME_CHARS:
        raise RenameError(f"A {what}'s name can be at most {MAX_NAME_CHARS} characters "
                          f"(this one has {len(name)}).")
    taken = next(((i, label) for i, label in others
                  if i != own_id and label.casefold() == name.casefold()), None)
    if taken is not None:
        raise RenameError(f"{what.capitalize()} {taken[0]} is already called “{taken[1]}”; "
                          f"choose another name.")
    return name


class CollapseCommand(Command):
    """Count each near-duplicate group as one row (or every row again); the weights stay and
    multiply with it. The groups themselves are a finding, not an edit: they stay on undo."""

    def __init__(self, collapse: bool) -> None:
        self.collapse = collapse
        self.text = "Collapse duplicates" if collapse else "Keep every duplicate"

    def do(self, document: Document) -> None:
        document.require_balance().set_collapse(self.collapse)

    def undo(self, document: Document) -> None:
        document.require_balance().set_collapse(not self.collapse)


class CommandStack:
    """Done commands below `index`, undone ones above it (glue's CommandStack, without Qt).

    Each state the stack can be in has a revision number, never reused, so "is this what was
    saved?" is one comparison that stays right across undo, redo, merges and new branches.
    """

    def __init__(self, serials: itertools.count[int]) -> None:
        self._serials = serials
        self._commands: list[tuple[Command, int]] = []  # (command, revision after it)
        self.index = 0
        self.base_revision = next(serials)

    @property
    def revision(self) -> int:
        return self._commands[self.index - 1][1] if self.index else self.base_revision

    def __len__(self) -> int:
        return len(self._commands)

    def push(self, command: Command, document: Document, may_merge: bool) -> None:
        command.do(document)
        del self._commands[self.index:]
        if may_merge and self._commands and self._commands[-1][0].merge(command):
            self._commands[-1] = (self._commands[-1][0], next(self._serials))
        else:
            self._commands.append((command, next(self._serials)))
        self.index = len(self._commands)

    def undo(self, document: Document) -> bool:
        if not self.index:
            return False
        self.index -= 1
        self._commands[self.index][0].undo(document)
        return True

    def redo(self, document: Document) -> bool:
        if self.index == len(self._commands):
            return False
        self._commands[self.index][0].do(document)
        self.index += 1
        return True

    def undo_text(self) -> str:
        return self._commands[self.index - 1][0].text if self.index else ""

    def redo_text(self) -> str:
        return self._commands[self.index][0].text if self.index < len(self._commands) else ""


# ----- saving ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavePlan:
    """A save decided now and written later (perhaps in a worker thread): a frozen copy of the
    analysis, where, whether the file already holds everything but the weights, and the revision
    it captures."""

    snapshot: Analysis
    path: Path
    weights_only: bool
    revision: int
    names_and_weights: bool = False  # the file holds these rows: write names and weights only
    new_duplicate_groups: bool = False  # groups found since the file was written: add them
    new_comparison: bool = False  # the comparison set differs from the file's: write it

    def write(self) -> Path:
        """Write the project file (atomically), or just its weights (and names)."""
        from level_desktop.core.store import (
            save_collapse_duplicates,
            save_duplicate_groups,
            save_labels,
            save_project,
            save_weights,
        )

        snapshot = self.snapshot
        if not (self.weights_only or self.names_and_weights):
            save_project(snapshot, self.path)
            return self.path
        if self.new_duplicate_groups and snapshot.duplicate_groups is not None:
            save_duplicate_groups(self.path, snapshot.duplicate_groups,
                                  snapshot.duplicate_threshold or float("nan"))
        if self.weights_only:
            save_weights(self.path, snapshot.weights, snapshot.noise_weight,
                         snapshot.topic_weights)
        else:
            save_labels(self.path, snapshot.clusters, snapshot.settings,
                        snapshot.fingerprints, topics=snapshot.topics,
                        weights=snapshot.weights, noise_weight=snapshot.noise_weight,
                        topic_weights=snapshot.topic_weights)
        save_collapse_duplicates(self.path, snapshot.collapse_duplicates)
        if self.new_comparison:  # added (or removed) since the file was written
            from level_desktop.core.store import save_comparison

            save_comparison(self.path, snapshot.comparison, snapshot.zero_leaks)
        elif snapshot.comparison is not None:  # the set is in the file; its flag may not be
            from level_desktop.core.store import save_zero_leaks

            save_zero_leaks(self.path, snapshot.zero_leaks)
        return self.path


def project_path(path: str | Path) -> Path:
    """`path` with the .level suffix added when it lacks it."""
    path = Path(path)
    return path if path.suffix.lower() == PROJECT_SUFFIX else path.with_name(
        path.name + PROJECT_SUFFIX)


# ----- the document ----------------------------------------------------------------------------


class Document:
    """The analysis on screen (or in `level weights`) and everything a user does to it."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._serials = itertools.count(1)
        self._listeners: dict[Event, list[Listener]] = {event: [] for event in Event}
        self.analysis: Analysis | None = None
        self.balance: Balance | None = None
        self.path: Path | None = None
        self.selected: int | None = None
        self.view_topic: int | None = None  # None: the topics; a topic id: drilled into it
        self._stack = CommandStack(self._serials)
        self._saved_revision = self._stack.revision
        self._file_clusters: list[ClusterInfo] | None = None  # the names the file at `path` holds
        self._file_groups: np.ndarray | None = None  # the duplicate groups that file holds
        self._saved_clusters: list[ClusterInfo] | None = None  # the names when last saved/shown
        self._file_topics: list[TopicInfo] | None = None  # the topic names the file holds
        self._saved_topics: list[TopicInfo] | None = None  # the topic names when last saved/shown
        self._saved_weights: WeightState | None = None  # the weights when last saved/shown
        self._saved_comparison: ComparisonSet | None = None  # the comparison set when saved/shown
        self._file_comparison: ComparisonSet | None = None  # the comparison set the file holds

    # ----- events --------------------------------------------------------------------------

    def subscribe(self, event: Event, listener: Listener) -> None:
        self._listeners[event].append(listener)

    def unsubscribe(self, event: Event, listener: Listener) -> None:
        self._listeners[event].remove(listener)

    def emit(self, event: Event) -> None:
        for listener in list(self._listeners[event]):
            listener()

    def _on_balance_changed(self) -> None:
        self.emit(Event.WEIGHTS)

    # ----- state ---------------------------------------------------------------------------

    def require_analysis(self) -> Analysis:
        if self.analysis is None:
            raise RuntimeError("No analysis is open.")
        return self.analysis

    def require_balance(self) -> Balance:
        if self.balance is None:
            raise RuntimeError("No analysis is open.")
        return self.balance

    @property
    def revision(self) -> int:
        return self._stack.revision

    @property
    def dirty(self) -> bool:
        """Whether there are changes that are not in the file (the one "unsaved" flag): a step
        of the history, or a comparison set added or removed since the last save."""
        return self.revision != self._saved_revision or self._comparison_unsaved

    @property
    def _comparison_unsaved(self) -> bool:
        return self.analysis is not None and self.analysis.comparison is not self._saved_comparison

    @property
    def unsaved_kind(self) -> str:
        """What changed since the last save, in words: "weights", "cluster names" or both."""
        if self.analysis is None or self.balance is None:
            return ""
        if self._comparison_unsaved and self.revision == self._saved_revision:
            return "comparison rows"  # nothing else changed
        names = self.analysis.clusters is not self._saved_clusters
        topic_names = (self.analysis.topics is not self._saved_topics  # and other names
                       and [t.label for t in self.analysis.topics]
                       != [t.label for t in self._saved_topics or []])
        weights = WeightState.of(self.balance) != self._saved_weights
        if topic_names:  # a topic renamed (with or without clusters)
            what = "cluster and topic names" if names else "topic names"
            return f"weights and {what}" if weights else what
        return ("weights and cluster names" if names and weights else
                "cluster names" if names else "weights")

    def mark_clean(self) -> None:
        """Let the state now count as saved (the user chose to drop the changes)."""
        if self.analysis is not None:
            self._remember_saved(self.analysis, self.revision)
            self.emit(Event.HISTORY)

    def _remember_saved(self, analysis: Analysis, revision: int) -> None:
        self._saved_revision = revision
        self._saved_clusters = analysis.clusters
        self._saved_topics = analysis.topics
        self._saved_weights = WeightState.of(analysis.balance())
        self._saved_comparison = analysis.comparison

    @property
    def needs_save_prompt(self) -> bool:
        """Whether dropping this document now would lose the user's changes."""
        return self.analysis is not None and self.dirty

    @property
    def can_undo(self) -> bool:
        return self._stack.index > 0

    @property
    def can_redo(self) -> bool:
        return self._stack.index < len(self._stack)

    @property
    def undo_text(self) -> str:
        return self._stack.undo_text()

    @property
    def redo_text(self) -> str:
        return self._stack.redo_text()

    @property
    def history_size(self) -> int:
        """How many steps there are to undo and redo together."""
        return len(self._stack)

    @property
    def display_name(self) -> str:
        """The name a user knows the document by: the project file's, else the source table's."""
        if self.path is not None:
            return self.path.name
        return Path(self.analysis.source.path).name if self.analysis is not None else ""

    def cluster_label(self, cluster_id: int) -> str:
        if cluster_id == NOISE_ID:
            return "noise"
        return next(c.label for c in self.require_analysis().clusters if c.id == cluster_id)

    def topic_label(self, topic: int) -> str:
        return next((t.label for t in self.require_analysis().topics if t.id == topic),
                    f"Topic {topic}")

    # ----- opening and showing -------------------------------------------------------------

    def show(self, analysis: Analysis, path: Path | None = None, in_file: bool = False) -> None:
        """Make `analysis` the document (from a run, or read from `path`); history starts anew and
        there is nothing unsaved yet.

        `in_file`: the file at `path` holds exactly this analysis (it was just read from there),
        so a save there need only write the weights; otherwise the first save writes it all.
        """
        if self.balance is not None:
            self.balance.unsubscribe(self._on_balance_changed)
        self.analysis = analysis
        self.balance = analysis.balance()
        self.balance.subscribe(self._on_balance_changed)
        self.path = Path(path) if path is not None else None
        self._stack = CommandStack(self._serials)
        self._remember_saved(analysis, self._stack.revision)
        self._file_clusters = analysis.clusters if in_file else None
        self._file_topics = analysis.topics if in_file else None
        self._file_groups = analysis.duplicate_groups if in_file else None
        self._file_comparison = analysis.comparison if in_file else None
        self.selected = analysis.clusters[0].id if analysis.clusters else None
        self.view_topic = None
        self.emit(Event.ANALYSIS)
        self.emit(Event.HISTORY)

    @classmethod
    def open(cls, path: str | Path, clock: Clock = time.monotonic) -> Document:
        """A document holding the project saved at `path`."""
        from level_desktop.core.store import load_project

        document = cls(clock)
        document.show(load_project(path), Path(path), in_file=True)
        return document

    def snapshot(self) -> Analysis:
        """A copy of the analysis that later edits do not reach: for a worker, a save, an export."""
        return self.require_analysis().snapshot()

    # ----- saving --------------------------------------------------------------------------

    def save_plan(self, path: str | Path | None = None) -> SavePlan:
        """What saving to `path` (default: where it was saved) writes; `mark_saved` when done.

        Only the weights are written when the file there already holds these rows and names.
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            raise RuntimeError("The document has no file yet; a path is needed.")
        analysis = self.require_analysis()
        in_file = (target == self.path and self._file_clusters is not None
                   and target.exists())  # the file there holds these rows
        weights_only = (in_file and self._file_clusters is analysis.clusters
                        and self._file_topics is analysis.topics)
        new_comparison = in_file and analysis.comparison is not self._file_comparison
        return SavePlan(self.snapshot(), target, weights_only, self.revision,
                        names_and_weights=in_file and not weights_only,
                        new_duplicate_groups=analysis.duplicate_groups is not self._file_groups,
                        new_comparison=new_comparison)

    def mark_saved(self, plan: SavePlan) -> None:
        """`plan` was written: its revision is now the saved one, its path the document's."""
        self.path = plan.path
        self._remember_saved(plan.snapshot, plan.revision)
        self._file_clusters = plan.snapshot.clusters
        self._file_topics = plan.snapshot.topics
        self._file_groups = plan.snapshot.duplicate_groups
        self._file_comparison = plan.snapshot.comparison
        self.emit(Event.SAVED)
        self.emit(Event.HISTORY)

    def save(self, path: str | Path | None = None) -> Path:
        """Save now, in this thread (the CLI; the window runs `save_plan().write()` in a worker)."""
        plan = self.save_plan(path)
        plan.write()
        self.mark_saved(plan)
        return plan.path

    # ----- changes (each one undoable) -------------------------------------------------------

    def _push(self, command: Command, may_merge: bool = False) -> None:
        self._stack.push(command, self, may_merge and self.revision != self._saved_revision)
        self.emit(Event.HISTORY)

    def _push_weights(self, after: WeightState, text: str, key: Hashable | None = None) -> bool:
        before = WeightState.of(self.require_balance())
        if after == before:
            return False
        self._push(WeightCommand(before, after, text, key, self._clock()),
                   may_merge=key is not None)
        return True

    def set_weight(self, cluster_id: int, weight: float) -> bool:
        """One cluster's weight (NOISE_ID: the noise rows'); False when it already was that."""
        balance = self.require_balance()
        if cluster_id != NOISE_ID:
            balance.weight(cluster_id)  # an unknown cluster raises here, in the user's words
        after = WeightState.of(balance).with_weight(balance, cluster_id, weight)
        return self._push_weights(after, f"Weight of {self.cluster_label(cluster_id)} → "
                                         f"{weight:.2f}", cluster_id)

    def set_noise_weight(self, weight: float) -> bool:
        return self.set_weight(NOISE_ID, weight)

    def set_topic_weight(self, topic: int, weight: float) -> bool:
        """One topic's weight (its rows weigh it times their cluster's weight); False when it
        already was that. Quick edits of one topic merge into one step."""
        balance = self.require_balance()
        balance.topic_weight(topic)  # an unknown topic raises here, in the user's words
        after = WeightState.of(balance).with_topic_weight(balance, topic, weight)
        return self._push_weights(after, f"Weight of topic {self.topic_label(topic)} → "
                                         f"{weight:.2f}", ("topic", topic))

    def flatten(self, max_up: float) -> bool:
        """Level the level in view (water-filling up to `max_up`): at the top the topics (topic
        weights), drilled into a topic that topic's clusters (their weights, keeping the topic's
        total). The other level's weights and the noise weight stay."""
        balance = self.require_balance()
        state = WeightState.of(balance)
        if self.view_topic is None:
            after = dataclasses.replace(state, topic_weights=tuple(
                float(w) for w in balance.flattened_topic_weights(max_up)))
            text = f"Flatten topics (max ×{max_up:g})"
        else:
            after = dataclasses.replace(state, weights=tuple(
                float(w) for w in balance.flattened_within(self.view_topic, max_up)))
            text = f"Flatten {self.topic_label(self.view_topic)} (max ×{max_up:g})"
        return self._push_weights(after, text)

    def flatten_clusters(self, max_up: float) -> bool:
        """Level all clusters at once, ignoring topics (topic weights back to 1)."""
        balance = self.require_balance()
        weights = flatten(balance.counted_sizes, max_up)
        return self._push_weights(WeightState(tuple(float(w) for w in weights),
                                              balance.noise_weight,
                                              (1.0,) * balance.topic_ids.size),
                                  f"Flatten all clusters (max ×{max_up:g})")

    def reset(self) -> bool:
        """Every weight — clusters, topics and noise — back to 1."""
        balance = self.require_balance()
        return self._push_weights(WeightState((1.0,) * balance.sizes.size, 1.0,
                                              (1.0,) * balance.topic_ids.size), "Reset weights")

    def relabel(self, relabelled: Analysis) -> bool:
        """Take the cluster names (and labeler settings) of `relabelled`, a relabel of this
        document's rows; the weights set meanwhile stay."""
        analysis = self.require_analysis()
        if [c.id for c in relabelled.clusters] != [c.id for c in analysis.clusters]:
            raise RuntimeError("The relabelled analysis has other clusters than the document.")
        self._push(RelabelCommand(Naming.of(analysis), Naming.of(relabelled)))
        return True

    def rename(self, cluster_id: int, name: str) -> bool:
        """Give cluster `cluster_id` the name `name` (the user's: naming the clusters again keeps
        it unless told to rename all); False when it already has that name. A name that is
        empty, longer than `MAX_NAME_CHARS` or another cluster's raises `RenameError`."""
        from level_desktop.core.errors import RenameError

        analysis = self.require_analysis()
        index = next((i for i, c in enumerate(analysis.clusters) if c.id == cluster_id), None)
        if index is None:
            raise RenameError(f"There is no cluster {cluster_id} "
                              f"(clusters are numbered 0 to {len(analysis.clusters) - 1}).")
        name = usable_name(name, "cluster", cluster_id,
                           [(c.id, c.label) for c in analysis.clusters])
        old = analysis.clusters[index]
        if old.label == name:
            return False
        after = list(analysis.clusters)
        after[index] = dataclasses.replace(old, label=name, labeler="user", fallback_reason=None,
                                           user_named=True)
        self._push(RenameCommand(analysis.clusters, after,
                                 f"Rename “{old.label}” → “{name}”"))
        return True

    def rename_topic(self, topic: int, name: str) -> bool:
        """Give topic `topic` the name `name`, as `rename` does for a cluster (one undo step,
        kept when the topics are named again unless told to rename all); False when it already
        has that name. A name that is empty, too long or another topic's raises `RenameError`."""
        from level_desktop.core.errors import RenameError

        analysis = self.require_analysis()
        index = next((i for i, t in enumerate(analysis.topics) if t.id == topic), None)
        if index is None:
            raise RenameError(f"There is no topic {topic} " + (
                f"(topics are numbered 0 to {len(analysis.topics) - 1})." if analysis.topics
                else "(this analysis has no topics)."))
        name = usable_name(name, "topic", topic, [(t.id, t.label) for t in analysis.topics])
        old = analysis.topics[index]
        if old.label == name:
            return False
        after = list(analysis.topics)
        after[index] = dataclasses.replace(old, label=name, labeler="user", fallback_reason=None,
                                           user_named=True)
        self._push(RenameTopicCommand(analysis.topics, after,
                                      f"Rename topic “{old.label}” → “{name}”"))
        return True

    def collapse_duplicates(self, collapse: bool = True) -> bool:
        """Count each near-duplicate group as one row (`collapse`), or every row again, as one
        undoable step that multiplies with the topic and cluster weights; False when it already
        is so. Collapsing needs the groups (`set_duplicate_groups`)."""
        from level_desktop.core.errors import SettingsError

        analysis = self.require_analysis()
        if collapse and analysis.duplicate_groups is None:
            raise SettingsError("This project has no duplicate groups yet: find them first "
                                "(Analysis > Collapse Duplicates, or `level duplicates`).")
        if bool(analysis.collapse_duplicates) == bool(collapse):
            return False
        self._push(CollapseCommand(bool(collapse)))
        return True

    def undo(self) -> bool:
        done = self._stack.undo(self)
        if done:
            self.emit(Event.HISTORY)
        return done

    def redo(self) -> bool:
        done = self._stack.redo(self)
        if done:
            self.emit(Event.HISTORY)
        return done

    # ----- not part of the history ---------------------------------------------------------

    def drill(self, topic: int) -> None:
        """Show one topic's clusters (not a step in the history)."""
        self.require_balance().topic_weight(topic)  # an unknown topic raises in words
        if topic != self.view_topic:
            self.view_topic = int(topic)
            self.emit(Event.VIEW)

    def back(self) -> None:
        """Back to the topics (not a step in the history)."""
        if self.view_topic is not None:
            self.view_topic = None
            self.emit(Event.VIEW)

    def select(self, cluster_id: int | None) -> None:
        """Select a cluster (NOISE_ID: the noise rows; None: nothing)."""
        if cluster_id == self.selected:
            return
        self.selected = cluster_id
        self.emit(Event.SELECTION)

    def set_duplicate_groups(self, groups: np.ndarray, threshold: float) -> None:
        """The near-duplicate groups found for the rows (group per analysed row, −1 = unique)
        at `threshold`: a finding, not a step in the history. While duplicates are collapsed the
        new groups apply at once. Saved with the project."""
        analysis, balance = self.require_analysis(), self.require_balance()
        groups = np.asarray(groups, dtype=np.int32)
        if groups.shape != (analysis.n_rows,):
            raise ValueError("One duplicate group per analysed row is needed.")
        analysis.duplicate_groups, analysis.duplicate_threshold = groups, float(threshold)
        self.emit(Event.DUPLICATES)
        balance.set_collapsed_sizes(*analysis.collapsed_sizes())

    def set_flatten_limit(self, max_up: float) -> None:
        """Change only the flatten limit kept in the settings (no new analysis, no history)."""
        analysis = self.require_analysis()
        analysis.settings = analysis.settings.replace(max_up=max_up)

    # ----- the comparison set (issue 17) -----------------------------------------------------

    def set_comparison(self, comparison: ComparisonSet | None, stored: bool = False) -> None:
        """Lay a comparison set over the training landscape (None: remove it). Not a step in the
        history: like a new analysis, it is a computed result; the edits it enables are.

        `stored`: the project file at `path` holds it already (`level compare`, or the window's
        job wrote it there). Otherwise the document is unsaved until the next save writes it,
        so closing asks first.
        """
        analysis = self.require_analysis()
        analysis.comparison = comparison
        analysis.zero_leaks = False
        if stored:
            self._saved_comparison = self._file_comparison = comparison
        self.emit(Event.COMPARISON)
        self.emit(Event.HISTORY)

    def comparison_shares(self, level: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(training effective sizes, comparison row counts) over the hills of a level: None =
        the topics (in `Balance.topic_ids` order), a topic id = its clusters (id order)."""
        comparison = self.require_analysis().comparison
        if comparison is None:
            raise ComparisonError("There is no comparison set; add one first (level compare).")
        balance = self.require_balance()
        counts = comparison.cluster_counts(len(balance.cluster_ids))[balance.cluster_ids]
        if level is None:
            index = np.searchsorted(balance.topic_ids, balance.topic_of_cluster)
            return balance.topic_effective_sizes, np.bincount(
                index, weights=counts, minlength=balance.topic_ids.size)
        inside = balance.clusters_in(level)
        return balance.cluster_effective_sizes[inside], counts[inside].astype(np.float64)

    def comparison_distance(self, level: int | None = None) -> float | None:
        """Total variation between the training set's effective distribution at a level and
        the comparison set's (0 = the same shape); None without a comparison set."""
        if self.require_analysis().comparison is None:
            return None
        return total_variation(*self.comparison_shares(level))

    def match_comparison(self, max_up: float) -> bool:
        """Weights that make the level in view follow the comparison set (capped at `max_up`):
        at the top the topic weights (over Σ size × cluster weight per topic), drilled into a
        topic that topic's cluster weights (keeping its row total); the rest stay."""
        balance = self.require_balance()
        state = WeightState.of(balance)
        if self.view_topic is None:
            _, target = self.comparison_shares(None)
            index = np.searchsorted(balance.topic_ids, balance.topic_of_cluster)
            base = np.bincount(index, weights=balance.sizes * balance.weights,
                               minlength=balance.topic_ids.size)
            after = dataclasses.replace(state, topic_weights=tuple(
                float(w) for w in match_weights(base, target, max_up)))
            text = f"Match the comparison set: topics (max ×{max_up:g})"
        else:
            _, target = self.comparison_shares(self.view_topic)
            inside = balance.clusters_in(self.view_topic)
            weights = balance.weights
            weights[inside] = match_weights(balance.sizes[inside], target, max_up)
            after = dataclasses.replace(state, weights=tuple(float(w) for w in weights))
            text = (f"Match the comparison set: {self.topic_label(self.view_topic)} "
                    f"(max ×{max_up:g})")
        return self._push_weights(after, text)

    def match_comparison_clusters(self, max_up: float) -> bool:
        """All clusters at once follow the comparison set (topic weights back to 1)."""
        balance = self.require_balance()
        comparison = self.require_analysis().comparison
        if comparison is None:
            raise ComparisonError("There is no comparison set; add one first (level compare).")
        target = comparison.cluster_counts(len(balance.cluster_ids))[balance.cluster_ids]
        weights = match_weights(balance.sizes, target, max_up)
        return self._push_weights(WeightState(tuple(float(w) for w in weights),
                                              balance.noise_weight,
                                              (1.0,) * balance.topic_ids.size),
                                  f"Match the comparison set: all clusters (max ×{max_up:g})")

    def set_zero_leaks(self, zero: bool) -> bool:
        """Give the training rows the comparison set copies weight 0 in exports (or back); False
        when it already was so."""
        analysis = self.require_analysis()
        if analysis.comparison is None:
            raise ComparisonError("There is no comparison set, so no leaks to zero; add one "
                                  "first (level compare).")
        if analysis.zero_leaks == zero:
            return False
        self._push(ZeroLeaksCommand(analysis.zero_leaks, zero))
        return True

    def comparison_hill_scales(self, level: int | None = None) -> np.ndarray | None:
        """Per hill in view (topics, or one topic's clusters in id order): the multiplier of its
        unit hill that draws the comparison set on the unweighted terrain's scale — its share
        of the comparison rows over its share of the training rows (1 where both sets agree).
        None without a comparison set."""
        if self.require_analysis().comparison is None:
            return None
        balance = self.require_balance()
        _, counts = self.comparison_shares(level)
        sizes = balance.topic_sizes if level is None else balance.sizes[
            balance.clusters_in(level)]
        total = max(float(balance.sizes.sum()), 1e-12)
        _, all_counts = self.comparison_shares(None)
        comparison_total = max(float(all_counts.sum()), 1e-12)
        return (counts / comparison_total) / np.maximum(sizes / total, 1e-12)

    def comparison_gaps(self, level: int | None = None) -> list[Gap]:
        """The coverage gaps among the hills of a level (raw training sizes), largest shortfall
        first; `Gap.cluster` is the hill's index in view."""
        balance = self.require_balance()
        _, counts = self.comparison_shares(level)
        sizes = balance.topic_sizes if level is None else balance.sizes[
            balance.clusters_in(level)]
        return coverage_gaps(sizes, counts.astype(np.int64))

    @property
    def file_holds_rows(self) -> bool:
        """Whether the file at `path` holds this document's rows (opened from there or saved
        there): a comparison set can then be written into it at once."""
        return self.path is not None and self._file_clusters is not None and self.path.exists()
