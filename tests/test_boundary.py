"""The core and the CLI never load Qt or OpenGL (also enforced by import-linter contracts)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import level_desktop.core


def test_core_and_cli_import_no_qt() -> None:
    modules = [m.name for m in pkgutil.iter_modules(level_desktop.core.__path__)]
    assert {"pipeline", "store", "balance", "terrain"} <= set(modules)
    imports = "; ".join(f"import level_desktop.core.{m}" for m in modules)
    code = (f"import sys; {imports}; import level_desktop.cli; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'shiboken6', 'pyqtgraph', 'OpenGL') or m.startswith('level_desktop.gui')]; "
            "print(bad)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
