"""An image set in the window: a folder of images dropped on it is embedded (a tiny DINOv2 built
from a config), drawn as a landscape, and a selected cluster's details show its representative
images as thumbnails; the column dialog offers a table's column of image paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

pytestmark = pytest.mark.gui
ANALYSIS_TIMEOUT_MS = 600_000
# Six colour families, a few shapes each, so the thumbnails show what each cluster holds.
COLOURS = {"red": (205, 50, 45), "orange": (235, 140, 30), "green": (50, 160, 70),
           "teal": (30, 150, 150), "blue": (45, 80, 200), "violet": (140, 60, 180)}
PER_COLOUR = 14


def draw(path: Path, colour: tuple[int, int, int], seed: int) -> None:
    """A 160x120 picture: a tinted background and a lighter disc or bar somewhere on it."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    background = tuple(int(c * 0.55) for c in colour)
    image = Image.new("RGB", (160, 120), background)
    pen = ImageDraw.Draw(image)
    x, y = int(rng.integers(10, 100)), int(rng.integers(10, 60))
    size = int(rng.integers(30, 55))
    light = tuple(min(255, int(c * 1.2) + 30) for c in colour)
    if seed % 2:
        pen.ellipse((x, y, x + size, y + size), fill=light)
    else:
        pen.rectangle((x, y, x + size + 20, y + size // 2), fill=light)
    pixels = np.asarray(image, dtype=np.int16) + rng.normal(0, 8, (120, 160, 3)).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=92)


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    for c, (name, colour) in enumerate(COLOURS.items()):
        for i in range(PER_COLOUR):
            draw(folder / name / f"{name}_{i:02d}.jpg", colour, seed=100 * c + i)
    (folder / "broken.jpg").write_text("not a picture")
    return folder


def test_a_dropped_folder_of_images_becomes_a_landscape_with_thumbnails(
        window, qtbot, drop_file, screenshot, tiny_dinov2: Path, image_folder: Path) -> None:
    from level_desktop.core.settings import Settings

    window.preferences.set_default_settings(Settings(model=str(tiny_dinov2), device="cpu"))
    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_TIMEOUT_MS):
        drop_file(window, image_folder)
    qtbot.waitUntil(lambda: window.landscape.terrain_view.heights is not None)
    analysis = window.analysis
    assert analysis.settings.image_column == "path"
    assert analysis.n_rows == len(COLOURS) * PER_COLOUR
    assert analysis.source.image_problems == "1 image skipped: 1 not an image."
    assert "image column “path”" in window.source_label.text()
    assert "1 skipped" in window.source_label.text()
    assert "1 not an image" in window.source_label.toolTip()
    assert [t.label for t in analysis.topics] == [f"Topic {t.id}" for t in analysis.topics]
    assert window.landscape.terrain_view.heights.max() > 0
    screenshot(window, "images-01-landscape")

    target = max(analysis.clusters, key=lambda c: c.size)
    tree = window.topic_tree
    source = tree.topics.cluster_index(target.id)
    tree.expand(tree.model().mapFromSource(source.parent()))
    row = tree.model().mapFromSource(source)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=tree.visualRect(row).center())
    assert window.selected_cluster == target.id
    details = window.details
    assert details.representatives.count() == len(target.representatives)
    assert details.representatives.iconSize().width() > 0
    for i, position in enumerate(target.representatives):
        item = details.representatives.item(i)
        assert item.text() == analysis.texts[position]  # the path relative to the folder
        pixmap = item.icon().pixmap(96, 96)
        assert not pixmap.isNull()
        # The thumbnail is the picture itself: its mean colour is the file's.
        from PIL import Image

        picture = np.asarray(Image.open(image_folder / analysis.texts[position]).convert("RGB"))
        shown = pixmap.toImage().convertToFormat(pixmap.toImage().Format.Format_RGB888)
        data = np.frombuffer(shown.constBits(), np.uint8, shown.sizeInBytes())
        pixels = data.reshape(shown.height(), shown.bytesPerLine())[:, :shown.width() * 3]
        assert np.abs(pixels.reshape(-1, 3).mean(0) - picture.reshape(-1, 3).mean(0)).max() < 12
    screenshot(window, "images-02-details-thumbnails")

    # The map: hovering a row shows its picture beside the pointer.
    window.map_action.trigger()
    map_view = window.landscape.map_view
    qtbot.wait(100)
    inside = np.flatnonzero(np.isin(analysis.labels, analysis.topics[
        int(analysis.cluster_topic[target.id])].cluster_ids))
    row = int(inside[0])
    view_box = map_view.getPlotItem().getViewBox()
    scene_point = view_box.mapViewToScene(QPointF(*map(float, analysis.positions[row])))
    pixel = map_view.mapFromScene(scene_point)
    qtbot.mouseMove(map_view.viewport(), pixel)
    qtbot.waitUntil(lambda: map_view.hover_label.isVisible())
    shown = map_view.hover_row
    assert shown is not None
    assert shown in inside  # drilled into the topic: only its rows are on the map
    assert np.linalg.norm(analysis.positions[shown] - analysis.positions[row]) <= np.linalg.norm(
        np.ptp(analysis.positions[inside], axis=0)) * 0.1  # the nearest point, or one beside it
    assert not map_view.hover_label.pixmap().isNull()
    assert map_view.hover_label.toolTip() == analysis.texts[shown]
    screenshot(window, "images-03-map-hover")


def test_the_column_dialog_offers_a_tables_image_column(qtbot, tmp_path: Path,
                                                        image_folder: Path) -> None:
    from level_desktop.core.images import image_column_candidates
    from level_desktop.core.loading import read_table, text_column_candidates
    from level_desktop.gui.column_dialog import ColumnDialog

    files = sorted(image_folder.rglob("*_0*.jpg"))
    table_path = image_folder / "list.csv"
    table_path.write_text("caption,file\n" + "".join(
        f"a {p.parent.name} picture,{p.relative_to(image_folder).as_posix()}\n" for p in files),
        encoding="utf-8")
    table = read_table(table_path)
    images = image_column_candidates(table)
    dialog = ColumnDialog(table_path.name, table.columns, text_column_candidates(table), "file",
                          image_candidates=images)
    qtbot.addWidget(dialog)
    assert dialog.column_box.itemData(0) == "file"
    assert "image paths" in dialog.column_box.itemText(0)
    assert dialog.chosen_column() == "file"
    assert [dialog.column_box.itemData(i) for i in range(dialog.column_box.count())] == [
        "file", "caption"]


def test_file_open_folder_analyses_the_chosen_folder_of_images(
        window, qtbot, monkeypatch: pytest.MonkeyPatch, tiny_dinov2: Path,
        image_folder: Path) -> None:
    """File > Open Folder… (Ctrl+Alt+O): the folder the user picks in the system's folder
    dialog is analysed as an image set, the same as a dropped folder."""
    from PySide6.QtWidgets import QFileDialog

    from level_desktop.core.settings import Settings

    action = window.open_folder_action
    file_menu = window.menuBar().actions()[0].menu()
    assert action in file_menu.actions()
    assert action.shortcut().toString() == "Ctrl+Alt+O"
    asked: list[str] = []

    def choose(parent, caption: str, start: str = "", *args: object) -> str:
        asked.append(caption)
        return str(image_folder)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", choose)
    window.preferences.set_default_settings(Settings(model=str(tiny_dinov2), device="cpu"))
    with qtbot.waitActive(window):
        window.activateWindow()
    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_TIMEOUT_MS):
        qtbot.keyClick(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier
                       | Qt.KeyboardModifier.AltModifier)
        assert asked == ["Open a folder of images"]  # the shortcut opened the folder dialog
    analysis = window.analysis
    assert Path(analysis.source.path) == image_folder.resolve()
    assert analysis.settings.image_column == "path"
    assert analysis.n_rows == len(COLOURS) * PER_COLOUR
    assert window.preferences.recent_files()[0] == str(image_folder.resolve())


def test_open_folder_cancelled_in_the_dialog_changes_nothing(
        window, monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: "")
    window.open_folder_action.trigger()
    assert window.analysis is None
    assert not window.jobs.busy


def test_gemini_naming_of_an_image_set_asks_before_sending_thumbnails(
        window, qtbot, drop_file, record_message_boxes, tiny_dinov2: Path,
        image_folder: Path) -> None:
    from PySide6.QtWidgets import QMessageBox

    from level_desktop.core.settings import Settings

    window.preferences.set_default_settings(Settings(model=str(tiny_dinov2), device="cpu",
                                                     labeler="gemini"))
    record_message_boxes.answers.append(QMessageBox.StandardButton.No)
    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_TIMEOUT_MS) as shown:
        drop_file(window, image_folder)
    assert len(record_message_boxes.questions) == 1
    assert ("sends a small copy (at most 384 pixels) of the 5 most representative images of "
            "each cluster" in record_message_boxes.questions[0])
    analysis = shown.args[0]
    assert analysis.settings.labeler == "numbered"  # the user said no: nothing sent, numbered
    assert not window.preferences.has_gemini_consent(str(image_folder))
