"""Kill Level's writes at random moments (SIGKILL) and check that nothing is ever half-written.

Four kinds of write, each killed `--per-kind` times at a random moment within its own measured
duration: a full project save over an existing project, a weighted export over an existing
export, a weight edit (a DuckDB transaction on the open project) and a migration of an older
project. After each kill the target must open and be either unchanged (the same bytes for a
rename-based write; the old weights for a transaction) or the complete new version; temporary
files the killed process left must be ignored by the next open and removed by the next write.

Peer in the same run: the same export and save code writing straight to the target (no temporary
file, no rename), killed the same way — how often a plain write leaves a broken file.

No model runs: the analysis is tests/data/project-v1.level (60 rows) tiled to 6,000 rows.

    python benchmarks/kill_test.py                 # 15 kills per kind + 10 per peer
    python benchmarks/kill_test.py --per-kind 4 --naive 0 --out /tmp/k.json
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import pickle
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from level_desktop.core import export as export_module  # noqa: E402
from level_desktop.core import store  # noqa: E402
from level_desktop.core.analysis import Analysis  # noqa: E402

PROJECT_V1 = REPO / "tests" / "data" / "project-v1.level"
TIMES = 100  # 60 rows × 100
NEW_NOISE_WEIGHT = 0.25
KINDS = ("save", "export", "weights", "migrate")
PEERS = ("naive_save", "naive_export")


def _v0_to_v1(con) -> None:
    """A migration of the kind a real one does: add a column and fill every row of it."""
    con.execute("ALTER TABLE rows ADD COLUMN text_length INTEGER")
    con.execute("UPDATE rows SET text_length = length(text)")


def tiled_analysis() -> Analysis:
    with tempfile.TemporaryDirectory() as folder:  # opening a version-1 file upgrades it
        copy = Path(folder) / PROJECT_V1.name
        shutil.copyfile(PROJECT_V1, copy)
        a = store.load_project(copy)
        _ = a.embeddings  # read now: opening leaves them in the file, which goes with the folder
    n_in = a.source.n_rows
    return replace(
        a,
        source=replace(a.source, n_rows=n_in * TIMES, skipped_empty=a.source.skipped_empty * TIMES),
        columns={k: v * TIMES for k, v in a.columns.items()},
        row_index=np.concatenate([a.row_index + t * n_in for t in range(TIMES)]),
        texts=a.texts * TIMES,
        embeddings=np.tile(a.embeddings, (TIMES, 1)),
        labels=np.tile(a.labels, TIMES),
        positions=np.tile(a.positions, (TIMES, 1)),
        clusters=[replace(c, size=c.size * TIMES) for c in a.clusters],
        topics=[replace(t, size=t.size * TIMES) for t in a.topics],
        _terrains={},
    )


def new_weights(a: Analysis) -> dict[int, float]:
    return {c.id: 0.5 + c.id for c in a.clusters}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- the worker: one write, killed by the parent ---------------------------------------------

def _plain_text(target):
    """The peer's export: the same writer, straight into the target."""
    return open(target, "w", encoding="utf-8", newline="")


def worker(kind: str, folder: Path) -> None:
    import duckdb  # noqa: F401  (imported before "ready", so kills land in the write itself)
    import pyarrow  # noqa: F401

    store.MIGRATIONS[store.SCHEMA_VERSION - 1] = _v0_to_v1  # the last step, made heavier
    new = pickle.loads((folder.parent / "new.pickle").read_bytes())
    if kind == "naive_export":
        export_module.atomic_text = _plain_text
    if kind == "naive_save":
        store.atomic_path = contextlib.contextmanager(lambda target: (yield Path(target)))
    print("ready", flush=True)
    if kind in ("save", "naive_save"):
        store.save_project(new, folder / "project.level")
    elif kind in ("export", "naive_export"):
        export_module.write_weighted(new.export_data(), folder / "out.csv")
    elif kind == "weights":
        store.save_weights(folder / "project.level", new.weights, new.noise_weight)
    elif kind == "migrate":
        store.migrate_file(folder / "v0.level")  # what load_project does to an older file
    print("done", flush=True)


# ---- the parent: prepare, kill, check ---------------------------------------------------------

class Fixture:
    """The pristine files every run starts from, and what a complete new write looks like."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        old = tiled_analysis()
        self.old_weights, self.old_noise = dict(old.weights), old.noise_weight
        self.project = store.save_project(old, folder / "project.level")
        self.project_hash = sha256(self.project)
        self.export = folder / "out.csv"
        export_module.write_weighted(old.export_data(), self.export)
        self.export_hash = sha256(self.export)
        new = tiled_analysis()
        new.weights, new.noise_weight = new_weights(new), NEW_NOISE_WEIGHT
        self.new_weights = new.weights
        (folder / "new.pickle").write_bytes(pickle.dumps(new))
        export_module.write_weighted(new.export_data(), folder / "expected.csv")
        self.expected_export_hash = sha256(folder / "expected.csv")
        self.v0 = folder / "v0.level"
        shutil.copyfile(self.project, self.v0)
        import duckdb

        con = duckdb.connect(str(self.v0))
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                    [str(store.SCHEMA_VERSION - 1)])  # one version behind
        con.close()
        self.v0_hash = sha256(self.v0)

    def stage(self, work: Path) -> None:
        for name in ("project.level", "out.csv", "v0.level"):
            shutil.copyfile(self.folder / name, work / name)


def _weights_state(path: Path, fx: Fixture) -> str:
    a = store.load_project(path)
    if a.weights == fx.old_weights and a.noise_weight == fx.old_noise:
        return "unchanged"
    if a.weights == fx.new_weights and a.noise_weight == NEW_NOISE_WEIGHT:
        return "complete_new"
    return "mixed"


def check(kind: str, work: Path, fx: Fixture) -> str:
    """'unchanged', 'complete_new', or what went wrong."""
    try:
        if kind in ("save", "naive_save"):
            target = work / "project.level"
            if not target.exists():
                return "missing"
            if sha256(target) == fx.project_hash:
                store.load_project(target)
                return "unchanged"
            a = store.load_project(target)
            ok = (a.weights == fx.new_weights and a.noise_weight == NEW_NOISE_WEIGHT
                  and a.n_rows == 60 * TIMES and a.embeddings.shape[0] == a.n_rows)
            return "complete_new" if ok else "wrong_content"
        if kind in ("export", "naive_export"):
            target = work / "out.csv"
            if not target.exists():
                return "missing"
            digest = sha256(target)
            return {fx.export_hash: "unchanged", fx.expected_export_hash: "complete_new"}.get(
                digest, "partial_file")
        if kind == "weights":
            return _weights_state(work / "project.level", fx)
        if kind == "migrate":
            target = work / "v0.level"
            if sha256(target) == fx.v0_hash:
                return "unchanged"
            a = store.load_project(target)  # now the current version: opens without migrating
            import duckdb

            con = duckdb.connect(str(target), read_only=True)
            try:
                version = con.execute(
                    "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
                filled = con.execute(
                    "SELECT count(*) FROM rows WHERE text_length = length(text)").fetchone()[0]
            finally:
                con.close()
            return ("complete_new" if version == str(store.SCHEMA_VERSION) and filled == a.n_rows
                    else "wrong_content")
    except Exception as err:  # a file that does not open is exactly what this counts
        return f"does_not_open: {type(err).__name__}: {str(err)[:120]}"
    return "unknown"


def run_worker(kind: str, work: Path, delay: float | None) -> tuple[float, bool]:
    """Start a worker; kill it `delay` seconds after it is ready (None: let it finish).
    Returns (seconds from ready to the write's end, or to the kill; whether the kill came
    before the write had finished)."""
    proc = subprocess.Popen([sys.executable, __file__, "--worker", kind, "--dir", str(work)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise RuntimeError(f"worker {kind} did not start: {proc.stderr.read()[-2000:]}")
    start = time.perf_counter()
    if delay is None:
        done = proc.stdout.readline().strip() == "done"
        elapsed = time.perf_counter() - start
        proc.wait(timeout=600)
        if not done or proc.returncode != 0:
            raise RuntimeError(f"worker {kind} failed: {proc.stderr.read()[-2000:]}")
        return elapsed, False
    time.sleep(delay)
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    rest, _ = proc.communicate(timeout=60)
    return time.perf_counter() - start, "done" not in rest


def _leftovers(work: Path) -> list[Path]:
    return [p for p in work.iterdir() if p.name.startswith(".") and ".tmp" in p.name]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-kind", type=int, default=15)
    parser.add_argument("--naive", type=int, default=10, help="kills per peer (plain writes)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "kill_test.json"))
    parser.add_argument("--worker")
    parser.add_argument("--dir")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, Path(args.dir))
        return {}
    rng = random.Random(args.seed)
    results: dict[str, dict] = {}
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="level-kill-") as root:
        fx = Fixture(Path(root))  # built with the real migrations (the committed file is v1)
        store.MIGRATIONS[store.SCHEMA_VERSION - 1] = _v0_to_v1  # the last step, made heavier
        plan = [(k, args.per_kind) for k in KINDS] + [(k, args.naive) for k in PEERS if args.naive]
        for kind, count in plan:
            work = Path(root) / f"work-{kind}"
            work.mkdir()
            fx.stage(work)
            duration, _ = run_worker(kind, work, None)  # how long this write takes unharmed
            assert check(kind, work, fx) == "complete_new", check(kind, work, fx)
            outcomes: dict[str, int] = {}
            killed_mid = stale_seen = stale_cleaned = wal_left = 0
            for _ in range(count):
                shutil.rmtree(work)
                work.mkdir()
                fx.stage(work)
                _, killed = run_worker(kind, work, rng.uniform(0.0, duration * 1.1))
                killed_mid += killed
                leftovers = _leftovers(work)
                wal_left += any(p.suffix == ".wal" and not p.name.startswith(".")
                                for p in work.iterdir())
                outcome = check(kind, work, fx)  # opens with any leftover temp file present
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                if leftovers and not kind.startswith("naive"):
                    stale_seen += 1
                    target = work / {"export": "out.csv", "migrate": "v0.level"}.get(
                        kind, "project.level")
                    store.remove_stale(target)  # what the next write does first
                    stale_cleaned += not _leftovers(work)
            failures = sum(v for k, v in outcomes.items()
                           if k not in ("unchanged", "complete_new"))
            results[kind] = {"runs": count, "failures": failures, "outcomes": outcomes,
                             "killed_before_finishing": killed_mid,
                             "runs_leaving_a_temp_file": stale_seen,
                             "temp_files_cleaned_by_next_write": stale_cleaned,
                             "runs_leaving_a_duckdb_wal": wal_left,
                             "write_seconds_unharmed": round(duration, 3)}
            print(kind, results[kind], file=sys.stderr)
    level_kinds = [results[k] for k in KINDS]
    summary = {
        "script": "benchmarks/kill_test.py",
        "command": "python benchmarks/kill_test.py " + " ".join(argv or sys.argv[1:]),
        "rows": 60 * TIMES,
        "level": {"runs": sum(r["runs"] for r in level_kinds),
                  "failures": sum(r["failures"] for r in level_kinds),
                  "killed_before_finishing": sum(r["killed_before_finishing"]
                                                 for r in level_kinds)},
        "peer_plain_writes": {k: results[k] for k in PEERS if k in results},
        "by_kind": {k: results[k] for k in KINDS},
        "seconds": round(time.perf_counter() - began, 1),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
