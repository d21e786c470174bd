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
    from level_desktop.core.settings import Settings

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


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
    print(f"Read {src.n_rows:,} rows from {Path(src.path).name} (text column "
          f"{src.text_column!r}); {analysis.n_rows:,} with text"
          + (f", {src.skipped_empty:,} empty skipped" if src.skipped_empty else "")
          + (f", {src.ragged_rows:,} rows with a different field count" if src.ragged_rows
             else ""))
    if src.decode_report and (note := src.decode_report.summary()):
        print(f"Encoding: {note}")
    where = ("from the embedding cache" if analysis.device == "cache"
             else f"on {analysis.device}")
    print(f"Embedded with {analysis.model} {where}; "
          f"{len(analysis.clusters)} clusters ({analysis.settings.method}), "
          f"{analysis.noise_size:,} noise rows.")
    _print_table(analysis, analysis.balance(), limit=args.show)
    _print_fallbacks(analysis)
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in analysis.timings.items())
    print(f"Saved {output} in {elapsed:.1f}s ({stages}).")
    return 0


def _print_table(analysis: Analysis, balance: Balance, limit: int | None = None) -> None:
    total = balance.sizes.sum() + balance.noise_size
    rows = [(c.id, c.label, c.size, c.size / total, balance.weight(c.id),
             c.size * balance.weight(c.id)) for c in analysis.clusters]
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
    print(f"Gini {balance.gini:.3f} (original {balance.original_gini:.3f}); "
          f"flatness {balance.flatness:.3f} (original {balance.original_flatness:.3f})")


def _print_fallbacks(analysis: Analysis) -> None:
    from level_desktop.core.labeling import fallback_summary, labeler_in_words

    if note := fallback_summary(analysis.clusters, labeler_in_words(analysis.settings.labeler)):
        print(f"level: {note}", file=sys.stderr)


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
    save_labels(args.project, analysis.clusters, settings, analysis.fingerprints)
    _print_table(analysis, analysis.balance())
    _print_fallbacks(analysis)
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    """Give a cluster the user's name, through the same document (and undo step) as the window."""
    from level_desktop.core.document import Document

    document = Document.open(args.project)
    before = document.cluster_label(args.cluster_id) if any(
        c.id == args.cluster_id for c in document.require_analysis().clusters) else ""
    if document.rename(args.cluster_id, args.name):
        document.save()
        print(f"Cluster {args.cluster_id}: “{before}” → “{document.cluster_label(args.cluster_id)}”"
              f" (kept when the clusters are named again; relabel --rename-all replaces it)")
    else:
        print(f"Cluster {args.cluster_id} is already called “{before}”.")
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
    src = analysis.source
    print(f"Project {args.project}: {Path(src.path).name}, column {src.text_column!r}, "
          f"{analysis.n_rows:,} rows; model {analysis.model} on {analysis.device}; "
          f"method {analysis.settings.method}, projection {analysis.settings.projection}")
    _print_table(analysis, document.require_balance())
    return 0


def _parse_assignment(text: str) -> tuple[int, float]:
    from level_desktop.core.errors import SettingsError

    try:
        key, value = text.split("=", 1)
        return (-1 if key.strip() == "noise" else int(key)), float(value)
    except ValueError:
        raise SettingsError(f"--set takes ID=WEIGHT, e.g. 3=0.5 (got {text!r}).") from None


def cmd_weights(args: argparse.Namespace) -> int:
    """The same document as the window's: open, flatten / set / reset, save (just the weights)."""
    from level_desktop.core.document import Document

    document = Document.open(args.project)
    if args.reset:
        document.reset()
    if args.flatten:
        document.flatten(args.max_up)
    for item in args.set or []:
        document.set_weight(*_parse_assignment(item))
    if args.noise_weight is not None:
        document.set_noise_weight(args.noise_weight)
    if document.dirty:
        document.save()
    _print_table(document.require_analysis(), document.require_balance())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from level_desktop.core.document import Document
    from level_desktop.core.export import write_resampled, write_weighted

    data = Document.open(args.project).snapshot().export_data()
    if args.weighted:
        n = write_weighted(data, args.weighted)
        print(f"Wrote {n:,} rows with cluster_id, cluster_label and weight to {args.weighted}")
    if args.resampled:
        n = write_resampled(data, args.resampled, seed=args.seed)
        print(f"Wrote {n:,} resampled rows to {args.resampled} (seed {args.seed})")
    if data.conversion_note:
        print(data.conversion_note)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="level", description="See the shape of a text dataset and level it (headless).")
    sub = parser.add_subparsers(dest="command", required=True)

    a = sub.add_parser("analyze", help="read, embed, cluster, name and map a file into a project")
    a.add_argument("input", help="CSV, TSV, JSON Lines or Parquet file")
    a.add_argument("-o", "--output", help="project file to write (default: ./NAME.level)")
    add_settings_flags(a)
    a.add_argument("--no-cache", action="store_true", help="do not use the embedding cache")
    a.add_argument("--show", type=int, default=25, help="clusters to list (0 = all)")
    a.set_defaults(func=cmd_analyze)

    i = sub.add_parser("info", help="show a project's clusters, weights, Gini and flatness")
    i.add_argument("project")
    i.set_defaults(func=cmd_info)

    w = sub.add_parser("weights", help="change a project's cluster weights")
    w.add_argument("project")
    w.add_argument("--set", nargs="+", metavar="ID=W", help="set cluster ID's weight (noise=W too)")
    w.add_argument("--flatten", action="store_true", help="propose weights that level the clusters")
    w.add_argument("--max-up", type=float, default=3.0, help="largest up-weight for --flatten")
    w.add_argument("--noise-weight", type=float, help="weight of the noise rows")
    w.add_argument("--reset", action="store_true", help="set every weight back to 1")
    w.set_defaults(func=cmd_weights)

    r = sub.add_parser("relabel", help="name a project's clusters again "
                                       "(the only command that asks Gemini again)")
    r.add_argument("project")
    add_settings_flags(r, stages=("labeling",), default_note="(default: the project's)")
    r.add_argument("--rename-all", action="store_true",
                   help="replace the names you gave clusters too (default: keep them)")
    r.set_defaults(func=cmd_relabel)

    n = sub.add_parser("rename", help="give a cluster your own name (kept when naming again)")
    n.add_argument("project")
    n.add_argument("cluster_id", type=int, metavar="ID", help="the cluster's id (level info)")
    n.add_argument("name", help="the new name, in quotes")
    n.set_defaults(func=cmd_rename)

    v = sub.add_parser("evaluate", help="Gini of a label column before and after the weights")
    v.add_argument("project")
    v.add_argument("--label-column", required=True, help="the input column holding labels")
    v.set_defaults(func=cmd_evaluate)

    e = sub.add_parser("export", help="write a weighted or resampled CSV")
    e.add_argument("project")
    e.add_argument("--weighted", metavar="OUT.csv", help="every row plus cluster and weight")
    e.add_argument("--resampled", metavar="OUT.csv", help="rows drawn per cluster by weight")
    e.add_argument("--seed", type=int, default=42, help="seed for resampling (default 42)")
    e.set_defaults(func=cmd_export)
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
