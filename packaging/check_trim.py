"""Fail the build when the packaged app would miss a module or library it loads.

    python packaging/check_trim.py [--report build/trim-check.json] [--keep-run DIR]

Runs, in the environment the bundle is built from, what the frozen app must be able to do:
`level analyze` of a slice of the bundled sample with the default settings, then
`level --self-test` (loads the bundled MiniLM, embeds, clusters, names, draws one frame; needs
an X display, so it goes under xvfb-run when there is none) — one after the other in one child
process (the model is loaded once) with empty caches, settings and Hugging Face home. The child
records every module in sys.modules and every shared library in /proc/self/maps when it exits.
Any of them that packaging/trim.py drops (a module in EXCLUDED_MODULES, a file matching
TRIMMED_FILES) is printed and the exit status is 1: packaging/build.sh runs this before
PyInstaller, so trimming can never break an import the app makes. Modules only a worker
subprocess imports are not seen (Level starts none on these paths).
"""

from __future__ import annotations

import argparse
import atexit
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from trim import excluded_module, trimmed_files  # noqa: E402  (packaging/ is not a package)

ANALYZE_ROWS = 200  # enough rows for the default clustering; the model load is the point
XVFB = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24 -noreset"]


def record_on_exit(out: Path) -> None:
    """In the child: write what the process loaded to `out` when it exits (however it exits)."""

    def dump() -> None:
        modules = {name: getattr(module, "__file__", None)
                   for name, module in list(sys.modules.items()) if module is not None}
        libraries = sorted({line.split(maxsplit=5)[5] for line in
                            Path("/proc/self/maps").read_text().splitlines()
                            if len(line.split(maxsplit=5)) == 6 and ".so" in line})
        torch = sys.modules.get("torch")
        cuda = getattr(getattr(torch, "version", None), "cuda", None)
        out.write_text(json.dumps({"modules": modules, "libraries": libraries,
                                   "path": [p for p in sys.path if p], "torch_cuda": cuda}))

    atexit.register(dump)


def bundle_path(file: str, roots: list[str]) -> str | None:
    """Where `file` lands inside the bundle: its path below the deepest sys.path entry holding it."""
    resolved = os.path.realpath(file)
    best = None
    for root in roots:
        root = os.path.realpath(root)
        if resolved.startswith(root + os.sep) and (best is None or len(root) > len(best)):
            best = root
    return None if best is None else os.path.relpath(resolved, best).replace(os.sep, "/")


def violations(record: dict) -> tuple[list[str], int, int]:
    """What trimming would take away from this run, and how many modules and libraries it saw."""
    pattern = trimmed_files(cuda_build=record["torch_cuda"] is not None)
    roots = record["path"]
    found = []
    for name, file in sorted(record["modules"].items()):
        if (entry := excluded_module(name)) is not None:
            found.append(f"module {name} is imported, but EXCLUDED_MODULES drops {entry!r}")
        elif file and (inside := bundle_path(file, roots)) and pattern.search(inside):
            found.append(f"module {name} is imported, but TRIMMED_FILES drops {inside}")
    for library in record["libraries"]:
        if (inside := bundle_path(library, roots)) and pattern.search(inside):
            found.append(f"library {inside} is loaded, but TRIMMED_FILES drops it")
    return found, len(record["modules"]), len(record["libraries"])


def sample_slice(folder: Path) -> Path:
    """The first ANALYZE_ROWS rows of the bundled sample, as a CSV in `folder`."""
    from importlib import resources

    sample = Path(str(resources.files("level_desktop").joinpath("resources", "sample.csv")))
    with sample.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[:ANALYZE_ROWS + 1]
    out = folder / "slice.csv"
    with out.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return out


def run_child(commands: list[list[str]], folder: Path) -> dict:
    """Run `level ARGS` for each of `commands` in one child with empty caches; its record."""
    out = folder / "loaded.json"
    env = {**os.environ, "LEVEL_CACHE_DIR": str(folder / "cache"),
           "XDG_CONFIG_HOME": str(folder / "config"), "XDG_CACHE_HOME": str(folder / "xdg-cache"),
           "HF_HOME": str(folder / "hf-home"), "HF_HUB_OFFLINE": "1",
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    command = [sys.executable, __file__, "--child", str(out), json.dumps(commands)]
    if not os.environ.get("DISPLAY"):
        if shutil.which("xvfb-run") is None:
            raise SystemExit("check_trim: the self-test needs a display; install xvfb (xvfb-run)")
        command = XVFB + command
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    names = " and ".join(args[0] for args in commands)
    print(f"check_trim: level {names} exited {done.returncode} "
          f"in {time.perf_counter() - start:.0f} s")
    if done.returncode != 0 or not out.exists():
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-6000:])
        raise SystemExit(f"check_trim: `level {names}` failed in the build environment")
    return json.loads(out.read_text())


def keep_run(folder: Path, target: Path) -> None:
    """Move the slice and the project into `target`, replacing what an earlier build left."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("slice.csv", "out.level"):
        part = target / f".{name}.part"
        shutil.copyfile(folder / name, part)
        os.replace(part, target / name)


def run_commands(commands: list[list[str]]) -> int:
    """In the child: each command through Level's entry point, stopping at the first failure."""
    from level_desktop.app import main as level_main

    for args in commands:
        status = level_main(args)
        if status != 0:
            return status
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, help="write what each run loaded to this JSON")
    parser.add_argument("--keep-run", type=Path,
                        help="keep the analysed slice and its project in this folder")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("commands", nargs="?", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child is not None:
        record_on_exit(options.child)
        return run_commands(json.loads(options.commands))

    with tempfile.TemporaryDirectory(prefix="level-trim-check-") as tmp:
        folder = Path(tmp)
        # --time-budget: auto's own code path, with a choice (MiniLM) that cannot depend on load
        analyze = ["analyze", str(sample_slice(folder)), "-o", str(folder / "out.level"),
                   "--show", "0", "--time-budget", "3600"]
        record = run_child([analyze, ["--self-test"]], folder)
        if options.keep_run is not None:
            keep_run(folder, options.keep_run)
    problems, n_modules, n_libraries = violations(record)
    print(f"check_trim: {n_modules} modules and {n_libraries} shared libraries loaded, "
          f"{len(problems)} of them trimmed")
    if options.report:
        options.report.parent.mkdir(parents=True, exist_ok=True)
        options.report.write_text(json.dumps({**record, "trimmed_but_loaded": problems},
                                             indent=1) + "\n")
    if problems:
        sys.stderr.write("check_trim: FAILED — packaging/trim.py trims what the app loads:\n  "
                         + "\n  ".join(problems) + "\n")
        return 1
    print("check_trim: nothing the self-test or analyze loads is trimmed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
