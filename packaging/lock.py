"""Write, or check, packaging/constraints.txt: the exact version of everything the packaged app is
built from.

    python packaging/lock.py --python PATH/TO/KNOWN-GOOD/bin/python   # write the lock
    python packaging/lock.py --check                                  # this env == the lock?

Writing: the lock holds Level's dependencies and the `package` extra (PyInstaller), read from
pyproject.toml, and all they require in turn (markers and extras evaluated), at the versions
installed in the known-good environment given by --python — one where the source tests pass,
for example the .venv of scripts/install.sh --test. Only that closure is locked: the test and
benchmark tools installed beside it are not, so they never reach the bundle. Whatever the
known-good environment lacks (PyInstaller, usually) is resolved by pip against the versions
found there (`pip install --dry-run --report`), and pip and setuptools are locked too, since the
build environment installs Level with them. The output names the command that made it.

Checking (packaging/build.sh does it after installing): every distribution installed in this
environment, except level-desktop itself, is in the lock at the locked version, and every locked
one is installed, so the bundle is built from exactly the lock.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "packaging" / "constraints.txt"
PROJECT = "level-desktop"
LOCKED_EXTRAS = ("package",)
BUILD_TOOLS = ("pip", "setuptools")  # the build environment installs Level with these


def installed() -> dict[str, metadata.Distribution]:
    """This environment's distributions by canonical name."""
    found: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), dist)
    return found


def project_requirements() -> list[Requirement]:
    """Level's own requirements and those of LOCKED_EXTRAS, from pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = list(project["dependencies"])
    for extra in LOCKED_EXTRAS:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines + list(BUILD_TOOLS)]


def closure(roots: list[Requirement]) -> tuple[dict[str, str], list[Requirement]]:
    """Installed versions of `roots` and everything they require; the requirements not installed."""
    dists = installed()
    environment = default_environment()
    pinned: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    missing: list[Requirement] = []
    todo = [(req, "") for req in roots]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({**environment, "extra": extra}):
            continue
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        dist = dists.get(name)
        if dist is None:
            missing.append(req)
            continue
        pinned[name] = dist.version
        for line in dist.requires or []:
            child = Requirement(line)
            for wanted in ["", *sorted(req.extras)]:
                todo.append((child, wanted))
    return pinned, missing


def resolve_missing(missing: list[Requirement], pinned: dict[str, str]) -> dict[str, str]:
    """Versions pip would install for `missing`, held to the versions already pinned."""
    with tempfile.TemporaryDirectory(prefix="level-lock-") as tmp:
        constraints = Path(tmp) / "pinned.txt"
        constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pinned.items())))
        report = Path(tmp) / "report.json"
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--dry-run",
                        "--ignore-installed", "--report", str(report), "-c", str(constraints),
                        *[str(req) for req in missing]], check=True)
        items = json.loads(report.read_text())["install"]
    return {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
            for item in items}


def write_lock(out: Path, command: str) -> None:
    pinned, missing = closure(project_requirements())
    pinned.pop(PROJECT, None)
    closure_names = set(pinned)
    resolved = resolve_missing(missing, pinned) if missing else {}
    for name, version in resolved.items():
        if pinned.setdefault(name, version) != version:
            raise SystemExit(f"lock: pip chose {name} {version}, the environment has {pinned[name]}")
    added = sorted(set(resolved) - set(closure_names))
    header = [
        "# The packaged app's build environment, exactly: every distribution packaging/build.sh",
        "# installs (Level itself comes from the checkout). Generated, do not edit; regenerate with",
        f"#   {command}",
        f"# from a known-good environment (Python {platform.python_version()}, "
        f"{platform.machine()} {sys.platform}); "
        f"{len(closure_names)} versions from it,",
        f"# {len(added)} resolved by pip against them"
        + (f" ({', '.join(added)})." if added else "."),
    ]
    body = [f"{name}=={version}" for name, version in sorted(pinned.items())]
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write("\n".join(header + body) + "\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(out)
    print(f"lock: wrote {len(body)} pins to {out}")


def read_lock(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


def check_lock(path: Path) -> int:
    """0 when this environment holds exactly the lock (plus Level itself); 1 with the differences."""
    locked = read_lock(path)
    present = {name: dist.version for name, dist in installed().items() if name != PROJECT}
    problems = [f"{name} {version} is installed but not locked" for name, version in
                sorted(present.items()) if name not in locked]
    problems += [f"{name} is locked at {version} but installed at {present[name]}"
                 for name, version in sorted(locked.items())
                 if name in present and present[name] != version]
    problems += [f"{name}=={version} is locked but not installed"
                 for name, version in sorted(locked.items()) if name not in present]
    if problems:
        sys.stderr.write(f"lock: this environment differs from {path.name}:\n  "
                         + "\n  ".join(problems) + "\n")
        return 1
    print(f"lock: the build environment holds exactly {path.name} ({len(locked)} pins)")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", help="the known-good environment's interpreter (default: this)")
    parser.add_argument("--check", action="store_true", help="compare this environment to the lock")
    parser.add_argument("--lock", type=Path, default=LOCK)
    options = parser.parse_args(argv)
    if options.check:
        return check_lock(options.lock)
    if options.python and Path(options.python).absolute() != Path(sys.executable).absolute():
        # Run in the known-good environment, whose installed distributions are the source.
        return subprocess.run([options.python, __file__, "--lock", str(options.lock.absolute())],
                              check=False).returncode
    write_lock(options.lock, "python packaging/lock.py --python PATH/TO/KNOWN-GOOD/bin/python")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
