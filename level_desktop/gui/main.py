"""`level-desktop [FILE]` and `python -m level_desktop`: create the application and open the window."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtWidgets import QApplication

from level_desktop import __version__
from level_desktop.gui.window import MainWindow

ORGANIZATION = "Level"
APPLICATION = "Level"


def create_application(argv: list[str]) -> QApplication:
    """The QApplication, set up for the 3D view (shared GL contexts must be set before it exists)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app = QApplication.instance()
    if app is None:
        QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
        app = QApplication(["level-desktop", *argv])
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    app.setApplicationVersion(__version__)
    return app


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="level-desktop",
        description="See the shape of a text dataset as a 3D landscape, and level it.")
    parser.add_argument("file", nargs="?", help="a CSV, TSV, JSON Lines or Parquet file to "
                                                "analyse at once, or a .level project to open")
    parser.add_argument("--version", action="version", version=f"Level {__version__}")
    return parser.parse_args(argv)


def open_main_window(argv: list[str]) -> MainWindow:
    """Show the window; a FILE on the command line starts analysing (or opening) at once."""
    arguments = parse_arguments(argv)
    window = MainWindow()
    window.show()
    if arguments.file:
        path = Path(arguments.file).expanduser()
        QTimer.singleShot(0, lambda: window.open_path(path))
    return window


def run(argv: list[str]) -> int:
    app = create_application(argv)
    window = open_main_window(app.arguments()[1:])  # Qt's own options already taken out
    code = app.exec()
    del window
    return code


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
