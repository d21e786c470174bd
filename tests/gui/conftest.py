"""GUI test set-up: each file of `gui` tests runs in its own Python process with faulthandler on.

The parent pytest hands the tests marked `gui` of one file to a child `python -X faulthandler -m
pytest NODEID...`, reads back the child's reports and shows them as its own; a GL driver crash
therefore fails the test it happened in, with the crashing stack, and the file's tests after it,
instead of ending the run. One process per file rather than per test: each child pays Python,
Qt, torch and the first window once (about 3 s of CPU), and CI has two cores. Children share one
embedding cache, so the real model embeds the sample once per run. Inside a child, the fixtures
below open the real window on the xcb platform (an X display such as xvfb-run's is needed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHILD_ENV = "LEVEL_GUI_TEST_CHILD"
CACHE_ENV = "LEVEL_GUI_TEST_CACHE"
REPORTS_ENV = "LEVEL_GUI_TEST_REPORTS"
CHILD_TIMEOUT_S = 3000  # one file's tests
GUI_TESTS = Path(__file__).resolve().parent
REPO = GUI_TESTS.parents[1]
SCREENSHOTS = REPO / "screenshots"
IN_CHILD = os.environ.get(CHILD_ENV) == "1"

if IN_CHILD:
    # Must happen before pytest-qt creates the QApplication (STACK-NOTES: shared GL contexts).
    from PySide6.QtCore import QCoreApplication, Qt

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


# ----- the parent: one child process per file of GUI tests -----------------------------------


def _child_basetemp(item: pytest.Item) -> Path:
    base = item.config._tmp_path_factory.getbasetemp()  # the run's own temporary folder
    return base / "gui" / item.path.stem


def _shared_cache(item: pytest.Item) -> Path:
    """The parent's own cache folder (tests/conftest.py's run_cache_dir: the same path)."""
    path = item.config._tmp_path_factory.getbasetemp() / "level-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _failure(item: pytest.Item, when: str, text: str) -> pytest.TestReport:
    return pytest.TestReport(item.nodeid, item.location, {k: 1 for k in item.keywords},
                             "failed", text, when)


def _is_gui_item(item: pytest.Item) -> bool:
    return item.get_closest_marker("gui") is not None and GUI_TESTS in item.path.parents


class _FileRun:
    """One child's run of a file's GUI tests: each test's reports, and how the child ended."""

    def __init__(self, reports: dict[str, list[pytest.TestReport]], returncode: int | None,
                 output: str, seconds: float) -> None:
        self.reports, self.returncode, self.output, self.seconds = (reports, returncode, output,
                                                                    seconds)


_file_runs: dict[Path, _FileRun] = {}


def _run_file_in_child(item: pytest.Item) -> _FileRun:
    """Run every selected GUI test of item's file in one child process."""
    nodeids = [other.nodeid for other in item.session.items
               if other.path == item.path and _is_gui_item(other)]
    basetemp = _child_basetemp(item)
    if basetemp.exists():
        shutil.rmtree(basetemp)
    basetemp.parent.mkdir(parents=True, exist_ok=True)
    reports_file = basetemp.parent / f"{basetemp.name}.reports.jsonl"
    reports_file.unlink(missing_ok=True)
    env = {**os.environ, CHILD_ENV: "1", CACHE_ENV: str(_shared_cache(item)),
           REPORTS_ENV: str(reports_file), "PYTHONFAULTHANDLER": "1"}
    command = [sys.executable, "-X", "faulthandler", "-m", "pytest", *nodeids, "-q",
               "-p", "no:cacheprovider", f"--basetemp={basetemp}", "--no-header"]
    start = time.monotonic()
    try:
        child = subprocess.run(command, cwd=item.config.rootpath, env=env, capture_output=True,
                               text=True, timeout=CHILD_TIMEOUT_S, check=False)
        output, returncode = child.stdout + child.stderr, child.returncode
    except subprocess.TimeoutExpired as err:
        output = f"{err.stdout or ''}{err.stderr or ''}"
        returncode = None
    reports: dict[str, list[pytest.TestReport]] = {}
    if reports_file.exists():
        for line in reports_file.read_text(encoding="utf-8").splitlines():
            report = item.config.hook.pytest_report_from_serializable(
                config=item.config, data=json.loads(line))
            if report is not None:
                reports.setdefault(report.nodeid, []).append(report)
    return _FileRun(reports, returncode, output, time.monotonic() - start)


def _run_in_child(item: pytest.Item) -> list[pytest.TestReport]:
    if not os.environ.get("DISPLAY"):
        skip = (str(item.path), item.location[1] or 0,
                "Skipped: GUI tests need an X display; run them under "
                "xvfb-run -a -s \"-screen 0 1280x800x24 -noreset\"")
        return [pytest.TestReport(item.nodeid, item.location, {}, "skipped", skip, "setup")]
    if item.path not in _file_runs:
        _file_runs[item.path] = _run_file_in_child(item)
    run = _file_runs[item.path]
    reports = list(run.reports.get(item.nodeid, []))
    phases = {r.when for r in reports}
    if "teardown" in phases:
        return reports
    when = "setup" if not phases else "call" if "call" not in phases else "teardown"
    if not phases and any(r for r in run.reports.values()):
        # Another test of the file ended the process before this one could run.
        text = (f"Not run: the test process of {item.path.name} ended before this test "
                f"(status {run.returncode}; see the failure of the test it ended in).")
    elif run.returncode is None:
        text = (f"The test process of {item.path.name} ran past {CHILD_TIMEOUT_S} s and was "
                f"stopped.\n{run.output[-8000:]}")
    else:
        text = (f"The test process of {item.path.name} ended with status {run.returncode} after "
                f"{run.seconds:.0f} s (a crash shows its stack below).\n{run.output[-8000:]}")
    return [*reports, _failure(item, when, text)]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    if IN_CHILD or not _is_gui_item(item):
        return None
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for report in _run_in_child(item):
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    # What pytest's own protocol does after a test: tear down the fixtures and collectors (set
    # up by an earlier in-process test) that the next test does not share, or the next
    # in-process test finds them still set up.
    item.session._setupstate.teardown_exact(nextitem)
    return True


_child_config: list[pytest.Config] = []


def pytest_configure(config: pytest.Config) -> None:
    if IN_CHILD:
        _child_config.append(config)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """In a child, hand each report to the parent through a file."""
    target = os.environ.get(REPORTS_ENV) if IN_CHILD else None
    if not target or not _child_config:
        return
    config = _child_config[0]
    data = config.hook.pytest_report_to_serializable(config=config, report=report)
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(data) + "\n")


# ----- the child: the window and its helpers -------------------------------------------------


@pytest.fixture(scope="session")
def session_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cache folder the parent shares with all GUI test processes (run_cache_dir)."""
    shared = os.environ.get(CACHE_ENV)
    return Path(shared) if shared else tmp_path_factory.mktemp("level-cache")


@pytest.fixture(scope="session")
def sample_resource() -> Path:
    """The sample CSV shipped inside the package (what "Try the sample" opens)."""
    from level_desktop.gui.window import sample_csv_path

    return sample_csv_path()


@pytest.fixture
def window(qtbot, tmp_path: Path) -> Iterator:
    """The real main window, shown, with its settings in tmp_path and PCA maps for speed."""
    from PySide6.QtCore import QSettings, QThread

    from level_desktop.core.settings import Settings
    from level_desktop.gui.main import create_application
    from level_desktop.gui.preferences import Preferences
    from level_desktop.gui.window import MainWindow

    create_application([])
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope,
                      str(tmp_path / "config"))
    preferences = Preferences()
    preferences.set_default_settings(Settings())  # the default map, as users see it
    main_window = MainWindow(preferences)
    with qtbot.waitExposed(main_window):
        main_window.show()
    yield main_window
    main_window.document.mark_clean()
    main_window.close()
    running = [t.objectName() for t in main_window.findChildren(QThread) if t.isRunning()]
    assert not running, f"worker threads still running after close: {running}"


@pytest.fixture
def screenshot(tmp_path: Path):
    """save(window, name): a full-window PNG in the test's folder and in <repo>/screenshots/."""

    def save(main_window, name: str) -> Path:
        from PySide6.QtGui import QPainter

        image = main_window.grab().toImage()
        landscape = getattr(main_window, "landscape", None)  # dialogs have none
        if landscape is not None and landscape.isVisible() and not landscape.showing_map:
            view = landscape.terrain_view  # QWidget.grab() leaves out the GL labels: paint them in
            painter = QPainter(image)
            painter.drawImage(view.mapTo(main_window, view.rect().topLeft()),
                              view.grabFramebuffer())
            painter.end()
            view.doneCurrent()
        path = tmp_path / f"{name}.png"
        image.save(str(path))
        SCREENSHOTS.mkdir(exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / path.name)
        return path

    return save



ANALYSIS_TIMEOUT_MS = 900_000  # the first analysis embeds 600 rows on a shared 2-core CPU


@pytest.fixture
def drop_file(qtbot):
    """drop(window, path, onto=None): a real drag-enter and drop of a file URL at the centre of
    `onto` (a widget of the window), or of the window."""
    from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    def drop(main_window, path: Path, onto=None) -> None:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        centre = (QPoint(main_window.width() // 2, main_window.height() // 2) if onto is None
                  else onto.mapTo(main_window, onto.rect().center()))
        target = main_window.childAt(centre) or main_window
        local = target.mapFrom(main_window, centre)
        enter = QDragEnterEvent(local, Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(target, enter)
        assert enter.isAccepted(), "the window refused the drag"
        event = QDropEvent(QPointF(local), Qt.DropAction.CopyAction, mime,
                           Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(target, event)
        assert event.isAccepted(), "the window refused the drop"

    return drop


@pytest.fixture
def analysed_window(window, qtbot, drop_file, sample_resource: Path):
    """The window after dropping the shipped sample and waiting for the real pipeline."""
    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_TIMEOUT_MS):
        drop_file(window, sample_resource)
    qtbot.waitUntil(lambda: window.landscape.terrain_view.heights is not None)
    return window


@pytest.fixture
def record_message_boxes(monkeypatch: pytest.MonkeyPatch):
    """Replace QMessageBox.warning/question by recorders; `answers` sets question replies."""
    from PySide6.QtWidgets import QMessageBox

    class Recorder:
        def __init__(self) -> None:
            self.warnings: list[str] = []
            self.questions: list[str] = []
            self.answers: list[QMessageBox.StandardButton] = []

        def warning(self, parent, title, text, *args, **kwargs):
            self.warnings.append(text)
            return QMessageBox.StandardButton.Ok

        def question(self, parent, title, text, *args, **kwargs):
            self.questions.append(text)
            return self.answers.pop(0) if self.answers else QMessageBox.StandardButton.Cancel

    recorder = Recorder()
    monkeypatch.setattr(QMessageBox, "warning", recorder.warning)
    monkeypatch.setattr(QMessageBox, "question", recorder.question)
    return recorder


@pytest.fixture
def uncached_sample(tmp_path: Path, sample_resource: Path):
    """uncached_sample(name): the sample with every text changed, so none is in the cache and
    the model really embeds."""
    import csv
    import uuid

    def make(name: str = "uncached.csv") -> Path:
        with open(sample_resource, encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        header, body = rows[0], rows[1:]
        column = header.index("description")
        tag = uuid.uuid4().hex[:8]
        target = tmp_path / name
        with open(target, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for i, row in enumerate(body):
                row[column] = f"{row[column]} (variant {tag}-{i})"
                writer.writerow(row)
        return target

    return make
