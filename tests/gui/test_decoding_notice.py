"""The window says how a file's bytes became text when that was not plain UTF-8, and an export
of such a file says what it converted."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

pytestmark = pytest.mark.gui
ANALYSIS_TIMEOUT_MS = 600_000
JOB_TIMEOUT_MS = 120_000
ROWS = 400


@pytest.fixture
def utf8_with_one_bad_byte(shared_data: Path, tmp_path: Path) -> Path:
    """400 debian rows as UTF-8 with "café 中文 naïve résumé" in every row and one invalid
    byte (0xFF) in data row 150."""
    with open(shared_data / "debian-packages.csv", encoding="utf-8", newline="") as handle:
        rows = [r for _, r in zip(range(ROWS), csv.DictReader(handle), strict=False)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["package", "description"])
    for i, row in enumerate(rows, start=1):
        bad = "\udcff" if i == 150 else ""
        writer.writerow([row["package"], f"café 中文 naïve résumé{bad} {row['description']}"])
    path = tmp_path / "broken.csv"
    path.write_bytes(out.getvalue().encode("utf-8", errors="surrogateescape"))
    return path


def test_a_replaced_byte_is_shown_in_the_window_and_the_export_says_so(
        window, qtbot, drop_file, utf8_with_one_bad_byte: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, screenshot) -> None:
    from level_desktop.core.settings import Settings

    window.preferences.set_default_settings(Settings(model="fast"))
    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_TIMEOUT_MS):
        drop_file(window, utf8_with_one_bad_byte)
    notice = window.details.source_note
    expected = ("Read as UTF-8; 1 invalid byte in 1 row (data rows 150) replaced with \ufffd.")
    assert notice.isVisible()
    assert notice.text() == expected
    assert expected in window.statusBar().currentMessage()
    screenshot(window, "decoding-notice")

    target = tmp_path / "weighted.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    with qtbot.waitSignal(window.job_finished, timeout=JOB_TIMEOUT_MS):
        window.export_csv("weighted")
    note = ("The input was not valid UTF-8: 1 invalid byte in 1 row written as U+FFFD (\ufffd) "
            "in this UTF-8 export.")
    assert note in window.statusBar().currentMessage()
    assert window.details.source_note.text() == note
    assert "café 中文 naïve résumé\ufffd" in target.read_text(encoding="utf-8")
