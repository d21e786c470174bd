"""The app's one entry point: `level-desktop`, `python -m level_desktop` and the packaged `level`.

What runs depends on the first argument:

- nothing, a data file or a `.level` project → the window (level_desktop.gui);
- a CLI subcommand (analyze, info, weights, export, relabel, evaluate) or -h/--help → the
  headless CLI, so the packaged app is also `level analyze data.csv -o out.level`;
- `--self-test` → level_desktop.selftest (analyse the bundled sample, render the terrain once);
- `--version` → the version, without starting Qt.

Inside a PyInstaller bundle the Hugging Face libraries are forced offline before anything can
import them: the bundled model is all the app needs, and the app never reaches the network.
"""

from __future__ import annotations

import os
import sys
from typing import Literal

from level_desktop import __version__

CLI_COMMANDS = frozenset({"analyze", "embed", "info", "weights", "duplicates", "export", "relabel",
                          "rename", "evaluate", "compare"})
HELP_FLAGS = frozenset({"-h", "--help"})
SELF_TEST_FLAG = "--self-test"
VERSION_FLAG = "--version"
EXIT_NO_GUI = 2
WINDOW_USAGE = ("Level: run with no arguments (or a data file or .level project) to open the "
                "window; `--self-test` checks the installation. The headless commands:\n\n")

# Set before anything imports huggingface_hub, transformers or sentence-transformers.
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY")
QUIET_VARIABLES = {"TOKENIZERS_PARALLELISM": "false", "TRANSFORMERS_VERBOSITY": "error",
                   "HF_HUB_DISABLE_PROGRESS_BARS": "1"}  # no model-loading chatter on stderr

Mode = Literal["window", "cli", "self-test", "version"]


def is_frozen() -> bool:
    """True inside a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def prepare_environment(frozen: bool | None = None) -> None:
    """Keep the model libraries offline and quiet; inside a bundle, offline is not negotiable."""
    frozen = is_frozen() if frozen is None else frozen
    for name in OFFLINE_VARIABLES:
        if frozen:
            os.environ[name] = "1"
        else:
            os.environ.setdefault(name, "1")
    for name, value in QUIET_VARIABLES.items():
        os.environ.setdefault(name, value)


def choose_mode(argv: list[str]) -> Mode:
    """Which part of Level the command line asks for (the window unless it says otherwise)."""
    if not argv:
        return "window"
    first = argv[0]
    if first == SELF_TEST_FLAG:
        return "self-test"
    if first == VERSION_FLAG:
        return "version"
    if first in CLI_COMMANDS or first in HELP_FLAGS:
        return "cli"
    return "window"


def run_cli(argv: list[str]) -> int:
    """The headless CLI; help also says how to open the window."""
    from level_desktop.cli import main as cli_main

    if argv and argv[0] in HELP_FLAGS:
        sys.stdout.write(WINDOW_USAGE)
    try:
        return cli_main(argv)
    except SystemExit as done:  # argparse's --help and usage errors
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)


def run_window(argv: list[str]) -> int:
    """The window (needs a display)."""
    try:
        from level_desktop.gui.main import run
    except ImportError as err:
        sys.stderr.write(f"level: the window cannot start ({err}). The headless commands still "
                         f"work: level --help\n")
        return EXIT_NO_GUI
    return run(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    prepare_environment()
    mode = choose_mode(argv)
    if mode == "version":
        sys.stdout.write(f"Level {__version__}\n")
        return 0
    if mode == "cli":
        return run_cli(argv)
    if mode == "self-test":
        from level_desktop.selftest import main as self_test

        return self_test(argv[1:])
    return run_window(argv)


if __name__ == "__main__":
    sys.exit(main())
