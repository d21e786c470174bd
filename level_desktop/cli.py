"""`level`: the headless pipeline — analyze, info, weights, export.

Errors a user can cause print one line on stderr and exit with status 2; Ctrl-C stops cleanly
(project files and exports are written atomically, so nothing is left half-written).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from level_desktop.core.analysis import Analysis
    from level_desktop.core.balance import Balance
    from level_desktop.core.comparison import ComparisonSet
    from level_desktop.core.document import Document
    from level_desktop.core.settings import Settings

EXIT_USER_ERROR = 2
DEFAULT_DUPLICATE_THRESHOLD = 0.95  # = core.duplicates.DEFAULT_THRESHOLD (kept import-free)
EXIT_INTERRUPTED = 130
FAR_SIMILARITY = 0.5  # = core.comparison.FAR_SIMILARITY (kept import-free)


class TerminalProgress:
    """A one-line progress bar on a terminal; plain throttled lines otherwise."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 28) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.width = width
        self._last = 0.0
        self._stage = ""

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        from level_desktop.core.pipeline import overall_fraction

        now = time.monotonic()
        new_stage = stage != self._stage
        if not new_stage and fraction < 1.0 and now - self._last < (0.1 if self.tty else 2.0):
            return
        self._last, self._stage = now, stage
        total = overall_fraction(stage, fraction)
        if self.tty:
            filled = int(total * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r[{bar}] {total:4.0%} {stage}: {message[:60]:<60}")
            self.stream.flush()
        else:
            self.stream.write(f"{total:4.0%} {stage}: {message}\n")
            self.stream.flush()

    def done(self) -> None:
        if self.tty and self._stage:
            self.stream.write("\n")
            self.stream.flush()


def add_settings_flags(parser: argparse.ArgumentParser, stages: tuple[str, ...] | None = None,
                       default_note: str | None = None) -> None:
    """One flag per `Settings` field (`stages`: only the fields that choose those stages'
    backends, and the parameters those backends read) and per parameter a backend declares,
    with type and help from the field's description and the registries."""
    from level_desktop.core.backends import REGISTRIES, choices_help, declared_parameters
    from level_desktop.core.settings import cli_fields, field_param

    wanted: set[str] | None = None
    if stages is not None:
        wanted = {f.name for f in cli_fields() if f.metadata.get("choices") in stages}
        wanted |= {p.name for s in stages for p in REGISTRIES[s].parameters()}
    params = [field_param(f.name) for f in cli_fields() if wanted is None or f.name in wanted]
    choices = {f.name: f.metadata.get("choices") for f in cli_fields()}
    for param in [*params, *declared_parameters(stages)]:
        stage = choices.get(param.name)
        help_text = (choices_help(stage, None if default_note else param.default) if stage
                     else param.help)
        if param.name not in choices:  # declared by a backend: say which
            readers = [n for r in REGISTRIES.values() for n in r.readers_of(param.name)]
            help_text = f"{help_text} ({', '.join(readers)})"
        if default_note:
            help_text = f"{help_text} {default_note}"
        if param.kind is bool:
            parser.add_argument(param.flag, dest=param.name, action="store_true", default=None,
                                help=help_text)
        else:
            parser.add_argument(param.flag, dest=param.name, type=param.kind, help=help_text)


def _settings_from_args(args: argparse.Namespace, base: Settings | None = None) -> Settings:
    """`base` (default: the defaults) with every settings flag the user gave."""
    from level_desktop.core.backends import declared_parameters
    from level_desktop.core.settings import Settings, cli_fields

    settings = base if base is not None else Settings()
    changes = {f.name: getattr(args, f.name) for f in cli_fields()
               if getattr(args, f.name, None) is not None}
    declared = {p.name: getattr(args, p.name) for p in declared_parameters()
                if getattr(args, p.name, None) is not None}
    if declared:
        changes["params"] = {**settings.params, **declared}
    return settings.replace(**changes)


def cmd_analyze(args: argparse.Namespace) -> int:
    from level_desktop.core.pipeline import analyze
    from level_desktop.core.store import EmbeddingCache, save_project

    settings = _settings_from_args(args)
    output = Path(args.output) if args.output else Path.cwd() / (Path(args.input).stem + ".level")
    progress = TerminalProgress()
    start = time.perf_counter()
    try:
        analysis = analyze(args.input, settings, progress=progress,
                           cache=None if args.no_cache else EmbeddingCache())
    finally:
        progress.done()
    save_project(analysis, output)
    elapsed = time.perf_counter() - start
    src = analysis.source
    if analysis.settings.image_column is not None:
        _print_image_source(analysis)
    else:
        print(f"Read {src.n_rows:,} rows from {Path(src.path).name} (text column "
              f"{src.text_column!r}); {analysis.n_rows:,} with text"
              + (f", {src.skipped_empty:,} empty skipped" if src.skipped_empty else "")
              + (f", {src.ragged_rows:,} rows with a different field count" if src.ragged_rows
                 else ""))
    if src.decode_report and (note := src.decode_report.summary()):
        print(f"Encoding: {note}")
    where = {"cache": "from the embedding cache",
             "file": f"(vectors read from column {analysis.settings.vectors_column!r})"
             }.get(analysis.device, f"on {analysis.device}")
    if analysis.model_choice:
        print(f"Model (auto): {analysis.model_choice}")
    print(f"Embedded with {analysis.model} {where}; "
          f"{len(analysis.clusters)} clusters ({analysis.settings.method}) in "
          f"{len(analysis.topics)} topics, {analysis.noise_size:,} noise rows.")
    _print_table(analysis, analysis.balance(), limit=args.show)
    _print_fallbacks(analysis)
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in analysis.timings.items())
    print(f"Saved {output} in {elapsed:.1f}s ({stages}).")
    return 0


def _print_image_source(analysis: Analysis) -> None:
    """What was read of an image set: rows, images used, skipped ones and why, caption column."""
    src, settings = analysis.source, analysis.settings
    caption = (f"; clusters named from column {settings.text_column!r}" if settings.text_column
               else "; no caption column, so clusters are numbered"
               if settings.labeler == "numbered" else "")
    print(f"Read {src.n_rows:,} rows from {Path(src.path).name} (image column "
          f"{settings.image_column!r}); {analysis.n_rows:,} images used"
          + (f", {src.skipped_empty:,} rows skipped (no path or no usable image)"
             if src.skipped_empty else "") + caption)
    if src.image_problems:
        print(f"Images: {src.image_problems}")


def _print_table(analysis: Analysis, balance: Balance, limit: int | None = None) -> None:
    total = balance.sizes.sum() + balance.noise_size
    effective = dict(zip(balance.cluster_ids.tolist(), balance.cluster_effective_sizes,
                         strict=True))
    rows = [(c.id, c.label, c.size, c.size / total, balance.weight(c.id), effective[c.id])
            for c in analysis.clusters]
    if balance.noise_size:
        rows.append((-1, "noise", balance.noise_size, balance.noise_size / total,
                     balance.noise_weight, balance.noise_size * balance.noise_weight))
    shown = rows if limit is None or limit <= 0 else rows[:limit]
    label_width = min(40, max(len("label"), *(len(r[1]) for r in shown)))
    print(f"{'id':>4}  {'label':<{label_width}}  {'size':>7}  {'share':>6}  {'weight':>6}  "
          f"{'effective':>9}")
    for cid, label, size, share, weight, eff in shown:
        print(f"{cid:>4}  {label[:label_width]:<{label_width}}  {size:>7,}  {share:>6.1%}  "
              f"{weight:>6.2f}  {eff:>9.1f}")
    if len(shown) < len(rows):
        print(f"  … {len(rows) - len(shown)} more (level info PROJECT shows all)")
    _print_gini(balance)


def _print_gini(balance: Balance) -> None:
    """Gini and flatness at both levels: all clusters, then the topics."""
    print(f"Gini {balance.gini:.3f} (original {balance.original_gini:.3f}); "
          f"flatness {balance.flatness:.3f} (original {balance.original_flatness:.3f})")
    if balance.topic_ids.size < balance.cluster_ids.size:
        print(f"Topics: Gini {balance.level_gini(None):.3f} "
              f"(original {balance.original_level_gini(None):.3f}); "
              f"flatness {balance.level_flatness(None):.3f} "
              f"(original {balance.original_level_flatness(None):.3f})")


def _print_tree(analysis: Analysis, balance: Balance) -> None:
    """Topics with their clusters, as a tree: size, share, weight and effective size of each,
    and the Gini within each topic of more than one cluster."""
    total = balance.sizes.sum() + balance.noise_size
    names = analysis.cluster_names
    effective = dict(zip(balance.cluster_ids.tolist(), balance.cluster_effective_sizes,
                         strict=True))
    topic_effective = balance.topic_effective_sizes
    width = min(40, max([len("label"), *(len(t.label) for t in analysis.topics),
                         *(len(n) + 4 for n in names.values())]))
    topic_dups, cluster_dups = _duplicate_columns(analysis)
    print(f"{'topic/cluster':<14}  {'label':<{width}}  {'size':>7}  {'share':>6}  {'weight':>6}  "
          f"{'effective':>9}" + (f"  {'dups':>6}" if cluster_dups else ""))
    for index, topic in enumerate(analysis.topics):
        within = (f"  (Gini within {balance.level_gini(topic.id):.3f})"
                  if len(topic.cluster_ids) > 1 else "")
        print(f"T{topic.id:<13}  {topic.label[:width]:<{width}}  {topic.size:>7,}  "
              f"{topic.size / total:>6.1%}  {balance.topic_weight(topic.id):>6.2f}  "
              f"{topic_effective[index]:>9.1f}{_dups_cell(topic_dups, topic.id)}{within}")
        for n, cid in enumerate(topic.cluster_ids):
            branch = "└─" if n == len(topic.cluster_ids) - 1 else "├─"
            size = int(balance.sizes[cid])
            label = f"  {names[cid]}"
            print(f"  {branch} {cid:<9}  {label[:width]:<{width}}  {size:>7,}  "
                  f"{size / total:>6.1%}  {balance.weight(cid):>6.2f}  {effective[cid]:>9.1f}"
                  f"{_dups_cell(cluster_dups, cid)}")
    if balance.noise_size:
        print(f"{'noise':<14}  {'noise':<{width}}  {balance.noise_size:>7,}  "
              f"{balance.noise_size / total:>6.1%}  {balance.noise_weight:>6.2f}  "
              f"{balance.noise_size * balance.noise_weight:>9.1f}{_dups_cell(cluster_dups, -1)}")
    _print_gini(balance)


def _duplicate_columns(analysis: Analysis) -> tuple[dict[int, float], dict[int, float]]:
    """Per topic and per cluster (−1: noise), the share of rows in a near-duplicate group;
    empty without groups (`level duplicates` not run), so the table keeps its six columns."""
    if analysis.duplicate_groups is None:
        return {}, {}
    import numpy as np

    from level_desktop.core.duplicates import duplicate_share

    in_group = np.asarray(analysis.duplicate_groups) >= 0
    return (duplicate_share(in_group, analysis.row_topics),
            duplicate_share(in_group, analysis.labels))


def _dups_cell(shares: dict[int, float], key: int) -> str:
    """The dups column's cell (blank when the table has no such column)."""
    return f"  {shares.get(key, 0.0):>6.1%}" if shares else ""


def _print_duplicates_summary(analysis: Analysis, project: str) -> None:
    """`level info`'s line on the near-duplicate groups: how many, how many rows, at which
    threshold, and whether each group weighs as one row."""
    import math

    groups = analysis.duplicate_groups
    if groups is None:
        return
    n_groups = int(groups.max()) + 1 if groups.size and groups.max() >= 0 else 0
    in_groups = int((groups >= 0).sum())
    threshold = analysis.duplicate_threshold
    known = threshold is not None and math.isfinite(threshold)  # nan: an older file's groups
    at = f" at cosine >= {threshold:g}" if known else ""
    collapse = ("collapsed: each group weighs as one row (level weights "
                "--no-collapse-duplicates undoes it)" if analysis.collapse_duplicates else
                f"not collapsed (level weights {project} --collapse-duplicates)")
    print(f"Near-duplicates: {n_groups:,} groups{at}, {in_groups:,} of {len(groups):,} rows "
          f"({in_groups / max(len(groups), 1):.1%}) in groups; {collapse}")


def _print_notices(analysis: Analysis) -> None:
    for notice in analysis.notices:
        print(f"level: {notice}", file=sys.stderr)


def _print_fallbacks(analysis: Analysis) -> None:
    from level_desktop.core.labeling import fallback_summary, labeler_in_words

    if note := fallback_summary(analysis.clusters, labeler_in_words(analysis.settings.labeler)):
        print(f"level: {note}", file=sys.stderr)


def cmd_embed(args: argparse.Namespace) -> int:
    from level_desktop.core.ray_embedding import embed_on_ray

    progress = TerminalProgress()
    try:
        result = embed_on_ray(args.input, Path(args.output), address=args.ray_address,
                              model=args.model, text_column=args.text_column,
                              num_workers=args.workers, shard_rows=args.shard_rows,
                              device=args.device, progress=progress)
    finally:
        progress.done()
    print(f"Embedded {result.n_rows:,} rows with {result.model} on Ray ({result.workers} workers) "
          f"into {result.output_dir}: {len(result.shards_computed)} shards computed, "
          f"{len(result.shards_kept)} kept from an earlier run, {result.seconds:.1f}s.")
    print(f"Next: level analyze {result.output_dir} --vectors-column vector")
    return 0


def cmd_relabel(args: argparse.Namespace) -> int:
    from level_desktop.core.pipeline import relabel
    from level_desktop.core.store import load_project, save_labels

    analysis = load_project(args.project)
    settings = _settings_from_args(args, analysis.settings)
    progress = TerminalProgress()
    try:
        analysis = relabel(analysis, settings, progress=progress, rename_all=args.rename_all)
    finally:
        progress.done()
    save_labels(args.project, analysis.clusters, settings, analysis.fingerprints,
                topics=analysis.topics)
    _print_table(analysis, analysis.balance())
    _print_fallbacks(analysis)
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    """Give a cluster the user's name, through the same document (and undo step) as the window."""
    from level_desktop.core.document import Document

    document = Document.open(args.project)
    if args.topic:
        return _rename_topic(document, args.cluster_id, args.name)
    before = document.cluster_label(args.cluster_id) if any(
        c.id == args.cluster_id for c in document.require_analysis().clusters) else ""
    if document.rename(args.cluster_id, args.name):
        document.save()
        print(f"Cluster {args.cluster_id}: “{before}” → “{document.cluster_label(args.cluster_id)}”"
              f" (kept when the clusters are named again; relabel --rename-all replaces it)")
    else:
        print(f"Cluster {args.cluster_id} is already called “{before}”.")
    return 0


def _rename_topic(document: Document, topic: int, name: str) -> int:
    """`level rename PROJECT --topic ID NAME`: the topic's name, as the window's F2 gives it."""
    before = document.topic_label(topic)
    if document.rename_topic(topic, name):
        document.save()
        print(f"Topic {topic}: “{before}” → “{document.topic_label(topic)}” (kept when the "
              f"topics are named again; relabel --rename-all replaces it)")
    else:
        print(f"Topic {topic} is already called “{before}”.")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from level_desktop.core.evaluation import label_balance
    from level_desktop.core.store import load_project

    print("\n".join(label_balance(load_project(args.project), args.label_column).lines()))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from level_desktop.core.document import Document

    document = Document.open(args.project)
    analysis = document.require_analysis()
    _print_notices(analysis)
    src = analysis.source
    print(f"Project {args.project}: {Path(src.path).name}, column {src.text_column!r}, "
          f"{analysis.n_rows:,} rows; model {analysis.model} on {analysis.device}; "
          f"method {analysis.settings.method}, projection {analysis.settings.projection}; "
          f"{len(analysis.clusters)} clusters in {len(analysis.topics)} topics")
    if src.decode_report and (note := src.decode_report.summary()):
        print(f"Encoding: {note}")
    _print_duplicates_summary(analysis, args.project)
    _print_tree(analysis, document.require_balance())
    if (comparison := analysis.comparison) is not None:
        leaking = len(comparison.leaks.comparison_rows())
        print(f"Comparison set: {Path(comparison.path).name}, {comparison.n_placed:,} rows, "
              f"{leaking:,} copied from training"
              + (" (the copied training rows weigh 0 in exports)" if analysis.zero_leaks
                 else "") + f"; level compare {args.project} FILE replaces it")
        _print_distance(document)
    return 0


def _default_max_up() -> float:
    """The flatten limit a new project starts with: the one `Settings` default."""
    from level_desktop.core.settings import Settings

    return Settings().max_up


def _parse_assignment(text: str, topics: bool = False) -> tuple[int, float]:
    from level_desktop.core.errors import SettingsError

    try:
        key, value = text.split("=", 1)
        if topics and key.strip() == "noise":
            raise ValueError
        return (-1 if key.strip() == "noise" else int(key)), float(value)
    except ValueError:
        example = "--level topics --set 2=0.5" if topics else "--set 3=0.5 (or noise=0)"
        raise SettingsError(f"--set takes ID=WEIGHT, e.g. {example} (got {text!r}).") from None


def cmd_weights(args: argparse.Namespace) -> int:
    """The same document as the window's: open, flatten / set / reset, save (just the weights).

    `--level topics` flattens or sets topic weights; `--level clusters` (the default) cluster
    weights — `--flatten` levels all clusters, or with `--topic T` only topic T's clusters."""
    from level_desktop.core.document import Document
    from level_desktop.core.errors import SettingsError

    document = Document.open(args.project)
    _print_notices(document.require_analysis())
    if args.max_up is None:  # the window's Flatten starts from the same setting
        args.max_up = document.require_analysis().settings.max_up
    topics = args.level == "topics"
    if args.topic is not None and topics:
        raise SettingsError("--topic picks the topic whose clusters --level clusters acts on; "
                            "leave it out with --level topics.")
    if args.collapse_duplicates is not None:  # first, so --flatten levels the sizes it counts
        _set_collapse_duplicates(document, args.project, args.collapse_duplicates)
    if args.reset:
        document.reset()
    if args.flatten:
        if topics:
            document.flatten(args.max_up)
        elif args.topic is not None:
            document.drill(args.topic)
            document.flatten(args.max_up)
        else:
            document.flatten_clusters(args.max_up)
    if args.match_comparison:
        _match_comparison(document, args)
    if args.zero_leaks is not None:
        _zero_leaks(document, args.zero_leaks)
    for item in args.set or []:
        key, weight = _parse_assignment(item, topics)
        if topics:
            document.set_topic_weight(key, weight)
        else:
            document.set_weight(key, weight)
    if args.noise_weight is not None:
        document.set_noise_weight(args.noise_weight)
    if document.dirty:
        document.save()
    _print_tree(document.require_analysis(), document.require_balance())
    _print_distance(document)
    return 0


def _match_comparison(document: Document, args: argparse.Namespace) -> None:
    """--match-comparison at the level asked: the topics, one topic's clusters, or all
    clusters."""
    from level_desktop.core.errors import SettingsError

    if args.flatten:
        raise SettingsError("Give either --flatten or --match-comparison, not both.")
    if args.level == "topics":
        document.back()
        document.match_comparison(args.max_up)
    elif args.topic is not None:
        document.drill(args.topic)
        document.match_comparison(args.max_up)
    else:
        document.match_comparison_clusters(args.max_up)


def _zero_leaks(document: Document, zero: bool) -> None:
    analysis = document.require_analysis()
    document.set_zero_leaks(zero)
    comparison = analysis.comparison
    n = len(comparison.leaks.training_rows()) if comparison is not None else 0
    if zero:
        print(f"The {n:,} training rows the comparison set copies now weigh 0 in exports (and "
              f"are never drawn); cluster and topic weights are unchanged, so the tables below "
              f"still count them.")
    else:
        print(f"The {n:,} leaking training rows carry their cluster's weight again.")


def _print_distance(document: Document) -> None:
    """Total variation between the training set (weighted and raw) and the comparison set."""
    analysis = document.require_analysis()
    if analysis.comparison is None:
        return
    from level_desktop.core.comparison import total_variation

    train, comp = document.comparison_shares(None)
    raw = document.require_balance().topic_sizes
    line = (f"Distance to the comparison set (total variation over topics): "
            f"{total_variation(train, comp):.3f} weighted, {total_variation(raw, comp):.3f} raw")
    if document.view_topic is not None:
        line += (f"; within topic {document.view_topic}: "
                 f"{document.comparison_distance(document.view_topic):.3f}")
    print(line)


def _set_collapse_duplicates(document: Document, project: str, collapse: bool) -> None:
    """Set the document's collapse flag (saved with the weights); collapsing needs the groups
    `level duplicates` finds."""
    from level_desktop.core.errors import SettingsError

    groups = document.require_analysis().duplicate_groups
    if collapse and groups is None:
        raise SettingsError(f"{Path(project).name} has no duplicate groups yet. Run `level "
                            f"duplicates {project}` first, then --collapse-duplicates.")
    document.collapse_duplicates(collapse)
    if not collapse or groups is None:
        print("Duplicates no longer collapsed: every row keeps its cluster's weight.")
        return
    n_groups = int(groups.max()) + 1 if groups.size and groups.max() >= 0 else 0
    in_groups = int((groups >= 0).sum())
    print(f"Duplicates collapsed: {n_groups:,} groups of {in_groups:,} rows each weigh as one "
          f"row ({in_groups - n_groups:,} rows' weight removed).")


def cmd_duplicates(args: argparse.Namespace) -> int:
    """Find the near-duplicate groups on the project's vectors and clusters, store and report."""
    import numpy as np

    from level_desktop.core.duplicates import find_duplicates
    from level_desktop.core.store import load_collapse_duplicates, load_project, save_duplicate_groups

    analysis = load_project(args.project)
    progress = TerminalProgress()
    try:
        found = find_duplicates(analysis.texts, analysis.embeddings, analysis.labels,
                                threshold=args.threshold, progress=progress)
    finally:
        progress.done()
    save_duplicate_groups(args.project, found.group, found.threshold)
    n = found.n_rows
    in_groups = int(found.is_duplicate.sum())
    print(f"{found.n_groups:,} duplicate groups at cosine >= {found.threshold:g} "
          f"({len(found.exact_pairs):,} exact copies): {in_groups:,} of {n:,} rows "
          f"({in_groups / max(n, 1):.1%}) are in groups; collapsing saves "
          f"{found.rows_saved():,} rows.")
    _print_duplicate_shares(analysis, found.is_duplicate, limit=args.show)
    sizes = found.group_sizes()
    largest = np.argsort(-sizes, kind="stable")[:args.groups]
    if len(largest):
        print("Largest groups:")
    for g in largest:
        members = found.members(int(g))
        print(f"  group {int(g)}: {len(members):,} rows")
        for pos in members[:args.texts]:
            text = " ".join(analysis.texts[pos].split())
            print(f"    {text[:90]}")
    if load_collapse_duplicates(args.project):
        print("Duplicates are collapsed in this project (level weights --no-collapse-duplicates "
              "undoes it); the new groups apply.")
    else:
        print(f"Next: level weights {args.project} --collapse-duplicates")
    return 0


def _print_duplicate_shares(analysis: Analysis, is_duplicate: object, limit: int) -> None:
    """The clusters with the largest share of near-duplicate rows."""
    import numpy as np

    from level_desktop.core.duplicates import duplicate_share

    shares = duplicate_share(np.asarray(is_duplicate), analysis.labels)
    sizes = dict(zip(*np.unique(analysis.labels, return_counts=True), strict=True))
    names = {**analysis.cluster_names, -1: "noise"}
    top = sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    top = [(c, share) for c, share in top if share > 0]
    if not top:
        return
    width = min(40, max(len("label"), *(len(names.get(c, f"Cluster {c}")) for c, _ in top)))
    print(f"{'id':>4}  {'label':<{width}}  {'size':>7}  {'near-duplicates':>15}")
    for c, share in top:
        label = names.get(c, f"Cluster {c}")
        print(f"{c:>4}  {label[:width]:<{width}}  {int(sizes[c]):>7,}  {share:>15.1%}")


def cmd_compare(args: argparse.Namespace) -> int:
    """Embed OTHER with the project's model, place it on the clusters, find its leaks, store it
    in the project and report both sets side by side."""
    from level_desktop.core.comparing import compare_file, write_leaks
    from level_desktop.core.document import Document
    from level_desktop.core.store import EmbeddingCache, save_comparison

    document = Document.open(args.project)
    analysis = document.require_analysis()
    _print_notices(analysis)
    progress = TerminalProgress()
    start = time.perf_counter()
    try:
        comparison = compare_file(analysis, args.other, args.text_column,
                                  cache=None if args.no_cache else EmbeddingCache(),
                                  progress=progress, threshold=args.threshold)
    finally:
        progress.done()
    save_comparison(args.project, comparison)
    document.set_comparison(comparison, stored=True)
    print(f"Read {comparison.n_rows:,} rows from {Path(comparison.path).name} (text column "
          f"{comparison.text_column!r}); {comparison.n_placed:,} with text, embedded with "
          f"{analysis.model} and placed on the {len(analysis.clusters)} clusters in "
          f"{time.perf_counter() - start:.1f}s; stored in {args.project}.")
    _print_comparison(document, comparison, args.show)
    if args.leaks:
        n = write_leaks(analysis, comparison, args.leaks)
        print(f"Wrote {n:,} leak pairs to {args.leaks}")
    return 0


def _print_comparison(document: Document, comparison: ComparisonSet, show: int) -> None:
    """Both sets per topic, the coverage gaps (topics and clusters), far rows and leaks."""
    import numpy as np

    from level_desktop.core.comparison import coverage_gaps, far_rows, shares, total_variation

    analysis = document.require_analysis()
    balance = document.require_balance()
    k = len(analysis.clusters)
    topic_train = balance.topic_sizes
    _, topic_comp = document.comparison_shares(None)
    p, q = shares(topic_train), shares(topic_comp)
    names = analysis.topic_names
    width = min(40, max([len("label"), *(len(n) for n in names.values())]))
    print(f"{'topic':>5}  {'label':<{width}}  {'training':>8}  {'share':>6}  "
          f"{'compared':>8}  {'share':>6}  {'ratio':>6}")
    for i, t in enumerate(balance.topic_ids.tolist()):
        ratio = f"{q[i] / p[i]:>6.2f}" if p[i] > 0 else f"{'-':>6}"
        print(f"{t:>5}  {names.get(t, f'Topic {t}')[:width]:<{width}}  "
              f"{int(topic_train[i]):>8,}  {p[i]:>6.1%}  {int(topic_comp[i]):>8,}  "
              f"{q[i]:>6.1%}  {ratio}")
    print(f"Total variation between the two sets: {total_variation(topic_train, topic_comp):.3f}"
          f" over topics, {total_variation(balance.sizes, comparison.cluster_counts(k)):.3f}"
          f" over clusters (0 = the same shape, 1 = disjoint)")
    for level, gaps, label_of in (
            ("topics", coverage_gaps(topic_train, topic_comp.astype(np.int64)),
             lambda g: names.get(int(balance.topic_ids[g.cluster]), "")),
            ("clusters", coverage_gaps(balance.sizes, comparison.cluster_counts(k)),
             lambda g: analysis.cluster_names.get(g.cluster, ""))):
        if not gaps:
            print(f"No coverage gaps among the {level}.")
            continue
        print(f"Coverage gaps ({level} whose share in the comparison set is at least twice "
              f"their training share), largest shortfall first:")
        for g in gaps[:show]:
            hill = int(balance.topic_ids[g.cluster]) if level == "topics" else g.cluster
            print(f"  {hill:>4}  {label_of(g)[:40]:<40}  {g.train_share:>6.1%} → "
                  f"{g.comparison_share:>6.1%}  ({g.comparison_rows:,} rows, ×{g.ratio:.1f})")
    far = far_rows(comparison.placement)
    print(f"{len(far):,} comparison rows sit far from every training row (cosine < "
          f"{FAR_SIMILARITY}){':' if len(far) else '.'}")
    for r in far[:show]:
        text = " ".join(comparison.texts[r].split())
        print(f"  row {int(comparison.row_index[r]):>6}  "
              f"{comparison.placement.nearest_similarity[r]:.2f}  {text[:80]}")
    best = comparison.leaks.best()
    n_exact = int(best.exact.sum())
    print(f"Leaks: {len(best):,} comparison rows have a copy in training ({n_exact:,} exact, "
          f"{len(best) - n_exact:,} near at cosine >= {comparison.leaks.threshold:g}); "
          f"{len(comparison.leaks.training_rows()):,} training rows are copied"
          f"{':' if len(best) else '.'}")
    for c, t, sim, exact in list(zip(best.comparison, best.training, best.similarity,
                                     best.exact, strict=True))[:show]:
        kind = "exact" if exact else f"{sim:.3f}"
        print(f"  row {int(comparison.row_index[c]):>6} ~ training row "
              f"{int(analysis.row_index[t]):>6}  {kind:>5}  "
              f"{' '.join(comparison.texts[c].split())[:60]}")
    if len(best):
        print(f"Next: level weights {document.path} --zero-leaks (and/or --match-comparison)")


def cmd_export(args: argparse.Namespace) -> int:
    from level_desktop.core.document import Document
    from level_desktop.core.export import write_budgeted, write_resampled, write_weighted

    budget = _export_budget(args)  # checked before anything is read or written
    document = Document.open(args.project)
    _print_notices(document.require_analysis())
    data = document.snapshot().export_data(  # with the duplicate groups, where found
        comparison_columns=args.comparison_columns)
    if args.comparison_columns and not data.comparison_columns:
        from level_desktop.core.errors import ComparisonError

        raise ComparisonError(f"{Path(args.project).name} holds no comparison set; add one with "
                              f"`level compare {args.project} OTHER.csv` first.")
    if args.weighted:
        n = write_weighted(data, args.weighted)
        added = ("cluster_id, cluster_label, topic_id, topic_label and weight (topic × cluster)"
                 if data.has_topics else "cluster_id, cluster_label and weight")
        extra = " and duplicate_group" if data.duplicate_groups is not None else ""
        extra += " and in_comparison, leak" if data.comparison_columns else ""
        print(f"Wrote {n:,} rows with {added}{extra} to {args.weighted}")
    if args.resampled and budget is not None:
        from level_desktop.core.budget import rows_for_fraction

        n_rows = budget if isinstance(budget, int) else rows_for_fraction(
            len(data.row_index), budget)
        n = write_budgeted(data, args.resampled, n_rows, seed=args.seed)
        how = " (duplicates collapsed)" if data.collapse_duplicates else ""
        print(f"Wrote {n:,} rows drawn by the effective weights{how} to {args.resampled} "
              f"(seed {args.seed})")
    elif args.resampled:
        n = write_resampled(data, args.resampled, seed=args.seed)
        how = (" (duplicates collapsed: a group counts as one row)"
               if data.collapse_duplicates and data.duplicate_groups is not None else "")
        print(f"Wrote {n:,} resampled rows{how} to {args.resampled} (seed {args.seed})")
    if data.conversion_note:
        print(data.conversion_note)
    return 0


def _export_budget(args: argparse.Namespace) -> int | float | None:
    """--rows N or --fraction F for the resampled export, checked; None for neither."""
    from level_desktop.core.budget import rows_for_fraction
    from level_desktop.core.errors import SettingsError

    if args.rows is None and args.fraction is None:
        return None
    if args.rows is not None and args.fraction is not None:
        raise SettingsError("Give either --rows or --fraction, not both.")
    if not args.resampled:
        raise SettingsError("--rows and --fraction choose the size of --resampled OUT.csv; "
                            "add --resampled OUT.csv.")
    if args.rows is not None:
        if args.rows <= 0:
            raise SettingsError(f"--rows must be at least 1; {args.rows} was given.")
        return int(args.rows)
    rows_for_fraction(1, args.fraction)  # raises for a fraction outside (0, 1]
    return float(args.fraction)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="level", description="See the shape of a text dataset and level it (headless).")
    sub = parser.add_subparsers(dest="command", required=True)

    a = sub.add_parser("analyze", help="read, embed, cluster, name and map a file into a project")
    a.add_argument("input", help="CSV, TSV, JSON Lines or Parquet file, or a folder of images")
    a.add_argument("-o", "--output", help="project file to write (default: ./NAME.level)")
    add_settings_flags(a)
    a.add_argument("--no-cache", action="store_true", help="do not use the embedding cache")
    a.add_argument("--show", type=int, default=25, help="clusters to list (0 = all)")
    a.set_defaults(func=cmd_analyze)

    m = sub.add_parser("embed", help="embed a file as a Ray Data job into Parquet shards of vectors "
                                     "(needs the `ray` extra)")
    m.add_argument("input", help="CSV, TSV, JSON Lines or Parquet file")
    m.add_argument("-o", "--output", required=True, help="folder for the shards (resumable)")
    m.add_argument("--ray-address", help="join this Ray cluster (default: start a local Ray)")
    m.add_argument("--model", default="all-MiniLM-L6-v2",
                   help="sentence-transformers model id or folder (default: the bundled MiniLM)")
    m.add_argument("--text-column", help="column holding the text (default: auto-detected)")
    m.add_argument("--workers", type=int, default=2, help="model actors (default 2)")
    m.add_argument("--shard-rows", type=int, default=10_000, help="rows per shard (default 10,000)")
    m.add_argument("--device", default="auto", help="auto, cpu, cuda (default auto)")
    m.set_defaults(func=cmd_embed)

    i = sub.add_parser("info", help="show a project's topics and clusters, weights, Gini and "
                                    "flatness at both levels")
    i.add_argument("project")
    i.set_defaults(func=cmd_info)

    w = sub.add_parser("weights", help="change a project's topic and cluster weights "
                                       "(a row weighs topic weight × cluster weight)")
    w.add_argument("project")
    w.add_argument("--level", choices=("clusters", "topics"), default="clusters",
                   help="which weights --set and --flatten change (default: clusters)")
    w.add_argument("--topic", type=int, metavar="T",
                   help="with --level clusters --flatten: level only topic T's clusters")
    w.add_argument("--set", nargs="+", metavar="ID=W",
                   help="set cluster ID's (or with --level topics topic ID's) weight; noise=W")
    w.add_argument("--flatten", action="store_true",
                   help="weights that level the clusters (or the topics, with --level topics)")
    w.add_argument("--max-up", type=float, default=None,
                   help="largest up-weight for --flatten and --match-comparison (default: the "
                        "project's flatten limit, as in the window; "
                        f"{_default_max_up():g} unless changed)")
    w.add_argument("--noise-weight", type=float, help="weight of the noise rows")
    w.add_argument("--reset", action="store_true",
                   help="set every weight (topics, clusters, noise) back to 1")
    w.add_argument("--match-comparison", action="store_true",
                   help="weights that make the clusters (or topics, --level topics; or topic T's "
                        "clusters, --topic T) follow the comparison set (level compare), capped "
                        "by --max-up")
    w.add_argument("--zero-leaks", dest="zero_leaks", action="store_true", default=None,
                   help="training rows the comparison set copies weigh 0 in exports")
    w.add_argument("--keep-leaks", dest="zero_leaks", action="store_false",
                   help="give the leaking training rows their cluster's weight again")
    w.add_argument("--collapse-duplicates", dest="collapse_duplicates", action="store_true",
                   default=None, help="count each duplicate group (level duplicates) as one row")
    w.add_argument("--no-collapse-duplicates", dest="collapse_duplicates", action="store_false",
                   help="give every row of a duplicate group its cluster's weight again")
    w.set_defaults(func=cmd_weights)

    r = sub.add_parser("relabel", help="name a project's clusters again "
                                       "(the only command that asks Gemini again)")
    r.add_argument("project")
    add_settings_flags(r, stages=("labeling",), default_note="(default: the project's)")
    r.add_argument("--rename-all", action="store_true",
                   help="replace the names you gave clusters and topics too (default: keep "
                        "them)")
    r.set_defaults(func=cmd_relabel)

    n = sub.add_parser("rename", help="give a cluster (or with --topic a topic) your own name "
                                      "(kept when naming again)")
    n.add_argument("project")
    n.add_argument("--topic", action="store_true",
                   help="ID is a topic's id: rename the topic rather than a cluster")
    n.add_argument("cluster_id", type=int, metavar="ID",
                   help="the cluster's id, or the topic's with --topic (level info)")
    n.add_argument("name", help="the new name, in quotes")
    n.set_defaults(func=cmd_rename)

    v = sub.add_parser("evaluate", help="Gini of a label column before and after the weights")
    v.add_argument("project")
    v.add_argument("--label-column", required=True, help="the input column holding labels")
    v.set_defaults(func=cmd_evaluate)

    e = sub.add_parser("export", help="write a weighted or resampled CSV")
    e.add_argument("project")
    e.add_argument("--weighted", metavar="OUT.csv", help="every row plus cluster and weight")
    e.add_argument("--resampled", metavar="OUT.csv",
                   help="rows drawn per cluster by weight (a duplicate group counts as one row "
                        "when collapsed)")
    e.add_argument("--seed", type=int, default=42, help="seed for resampling (default 42)")
    e.add_argument("--rows", type=int, metavar="N",
                   help="--resampled: exactly N distinct rows that follow the effective weights")
    e.add_argument("--fraction", type=float, metavar="F",
                   help="--resampled: the same, with N = F x the rows (0 < F <= 1)")
    e.add_argument("--comparison-columns", action="store_true",
                   help="--weighted: add in_comparison (comparison rows whose nearest training "
                        "row this is) and leak (1 when the comparison set copies the row)")
    e.set_defaults(func=cmd_export)

    c = sub.add_parser("compare", help="lay a second file (an eval set) over a project: both "
                                       "sets per topic, coverage gaps, far rows and leaks")
    c.add_argument("project")
    c.add_argument("other", help="CSV, TSV, JSON Lines or Parquet file to compare")
    c.add_argument("--text-column", help="its text column (default: the project's column name "
                                         "when the file has it, else auto-detected)")
    c.add_argument("--leaks", metavar="LEAKS.csv", help="write every leak pair to this CSV")
    c.add_argument("--threshold", type=float, default=DEFAULT_DUPLICATE_THRESHOLD,
                   help=f"cosine at or above which a comparison row copies a training row "
                        f"(default {DEFAULT_DUPLICATE_THRESHOLD})")
    c.add_argument("--show", type=int, default=10, help="gaps, far rows and leaks to list "
                                                        "(default 10)")
    c.add_argument("--no-cache", action="store_true", help="do not use the embedding cache")
    c.set_defaults(func=cmd_compare)

    d = sub.add_parser("duplicates", help="find near-duplicate rows and store their groups")
    d.add_argument("project")
    d.add_argument("--threshold", type=float, default=DEFAULT_DUPLICATE_THRESHOLD,
                   help=f"cosine at or above which two rows are near-duplicates "
                        f"(default {DEFAULT_DUPLICATE_THRESHOLD})")
    d.add_argument("--show", type=int, default=10,
                   help="clusters to list by share of near-duplicates (default 10)")
    d.add_argument("--groups", type=int, default=5, help="largest groups to list (default 5)")
    d.add_argument("--texts", type=int, default=3, help="texts per listed group (default 3)")
    d.set_defaults(func=cmd_duplicates)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "export" and not (args.weighted or args.resampled):
        parser.error("export needs --weighted OUT.csv or --resampled OUT.csv")
    from level_desktop.core.errors import Cancelled, LevelError

    try:
        return args.func(args)
    except Cancelled as err:
        print(f"level: {err}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except LevelError as err:
        print(f"level: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("\nlevel: stopped; no file was changed.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `level info P | head`
        sys.stderr.close()
        return 0
    except MemoryError:
        print("level: out of memory. Try a smaller file or --batch-size 8.", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as err:
        if os.environ.get("LEVEL_DEBUG"):
            raise
        print(f"level: internal error ({type(err).__name__}: {err}). No file was changed. "
              f"Run with LEVEL_DEBUG=1 for details and please report it.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
