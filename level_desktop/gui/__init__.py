"""The PySide6 + pyqtgraph window: a thin layer over level_desktop.core."""
