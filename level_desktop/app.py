"""`level-desktop [FILE]`: the window's entry point (the GUI lives in level_desktop.gui)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    try:
        from level_desktop.gui.main import run
    except ImportError:
        return 2
    return run(sys.argv[1:] if argv is None else argv)
