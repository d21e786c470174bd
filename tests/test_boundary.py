"""The core and the CLI never load Qt or OpenGL (also enforced by import-linter contracts)."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = ["analysis", "atomic", "balance", "clustering", "embedding", "errors", "export",
                "gemini", "labeling", "loading", "pipeline", "progress", "projection", "registry",
                "sampling", "secrets", "settings", "store", "terrain"]


def test_core_and_cli_import_no_qt() -> None:
    imports = "; ".join(f"import level_desktop.core.{m}" for m in CORE_MODULES)
    code = (f"import sys; {imports}; import level_desktop.cli; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'shiboken6', 'pyqtgraph', 'OpenGL', 'level_desktop.gui')]; print(bad)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
