"""Screenshots of the window at both levels on the debian 20k sample (precomputed MiniLM vectors,
default settings), for looking at: the top level, one massif drilled into, and the top level after
a topic-level Flatten. Writes PNGs to <repo>/screenshots/ (not committed).

    xvfb-run -a -s "-screen 0 1280x800x24" python scripts/topics_screenshots.py [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path,
                        default=Path(tempfile.gettempdir()) / "level-screenshots")
    parser.add_argument("--topic", type=int, default=None,
                        help="the topic to open (default: the largest with several clusters)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from common import ensure_display
    from gui_drill import debian_analysis

    ensure_display("topics_screenshots")
    from PySide6.QtCore import QCoreApplication, QSettings, Qt

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    from PySide6.QtGui import QPainter
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    args.work.mkdir(parents=True, exist_ok=True)
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope,
                      str(args.work / "config"))
    analysis, _ = debian_analysis(args.work)
    from level_desktop.gui.preferences import Preferences
    from level_desktop.gui.window import MainWindow

    window = MainWindow(Preferences())
    window.resize(1280, 800)
    window.show()
    window.show_analysis(analysis, None, in_sync=False)
    view = window.landscape.terrain_view
    out = REPO / "screenshots"
    out.mkdir(exist_ok=True)

    def settle(seconds: float = 1.0) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end or view.flying:
            app.processEvents()
            time.sleep(0.01)

    def shoot(name: str) -> None:
        settle()
        image = window.grab().toImage()
        painter = QPainter(image)  # QWidget.grab() leaves out the GL frame: paint it in
        painter.drawImage(view.mapTo(window, view.rect().topLeft()), view.grabFramebuffer())
        painter.end()
        view.doneCurrent()
        image.save(str(out / f"{name}.png"))
        sys.stdout.write(f"{out / name}.png\n")

    shoot("debian20k-1-top")
    topic = args.topic if args.topic is not None else next(
        t.id for t in analysis.topics if len(t.cluster_ids) >= 3)
    window.drill(topic)
    shoot("debian20k-2-drilled")
    window.go_back()
    settle()
    window.document.flatten(window.balance_panel.max_up.value())
    window.clear_selection()
    shoot("debian20k-3-flattened")
    window.document.undo()
    window.document.mark_clean()
    window.close()
    app.quit()


if __name__ == "__main__":
    main()
