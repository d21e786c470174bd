"""Thumbnails of an image set's rows, for the details panel and the map's hover card.

The image of a row is found from the analysis (its image column, its source's folder), decoded
by `core.images.thumbnail` (EXIF turn, decompression-bomb limit, JPEG draft decoding, so a large
photo costs milliseconds) and kept in a small cache, since the same representatives are shown
again and again as the user clicks around. A file that is gone or unreadable gets a grey tile.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap

from level_desktop.core.analysis import Analysis
from level_desktop.core.images import row_image_path, thumbnail

THUMBNAIL_SIDE = 72
HOVER_SIDE = 160
CACHE_SIZE = 256

_cache: OrderedDict[tuple[str, int], QPixmap] = OrderedDict()


def is_image_analysis(analysis: Analysis) -> bool:
    column = analysis.settings.image_column
    return column is not None and column in analysis.columns


def image_path(analysis: Analysis, position: int) -> Path | None:
    """The image file of analysed row `position`; None for a text analysis."""
    column = analysis.settings.image_column
    if column is None or column not in analysis.columns:
        return None
    return row_image_path(analysis.columns, column, int(analysis.row_index[position]),
                          analysis.source.path, analysis.source.format)


def thumbnail_pixmap(path: Path, side: int = THUMBNAIL_SIDE) -> QPixmap:
    """A pixmap at most `side` pixels a side; a grey square when the file cannot be read."""
    key = (str(path), side)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    image = thumbnail(path, side)
    if image is None:
        pixmap = QPixmap(side, side)
        pixmap.fill(QColor("#c8c8c8"))
    else:
        data = image.tobytes("raw", "RGB")
        qimage = QImage(data, image.width, image.height, 3 * image.width,
                        QImage.Format.Format_RGB888).copy()  # own the bytes
        pixmap = QPixmap.fromImage(qimage).scaled(
            side, side, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation)
    _cache[key] = pixmap
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return pixmap


def thumbnail_icon(analysis: Analysis, position: int, side: int = THUMBNAIL_SIDE) -> QIcon | None:
    """The icon of row `position` for a list item; None for a text analysis."""
    path = image_path(analysis, position)
    return None if path is None else QIcon(thumbnail_pixmap(path, side))


def hover_card(analysis: Analysis, position: int, side: int = HOVER_SIDE
               ) -> tuple[QPixmap, str] | None:
    """The map's hover card for row `position`: its picture and its text (caption or path)."""
    path = image_path(analysis, position)
    if path is None:
        return None
    return thumbnail_pixmap(path, side), analysis.texts[position]
