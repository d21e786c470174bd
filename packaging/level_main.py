"""The packaged app's entry script (PyInstaller runs this file as __main__ inside the bundle)."""

from __future__ import annotations

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a child process of the bundle must not start the app again
    from level_desktop.app import main

    sys.exit(main())
