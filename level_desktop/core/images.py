"""Image inputs: a column of image paths in a table, or a folder of images.

Image datasets reach Level in two shapes: a CSV/TSV/JSONL/Parquet file with a column of image
paths (relative to that file, or absolute), or a folder of images. This module finds that column,
lists such a folder in a stable order, resolves the paths, and decodes the images in a background
thread pool, counting missing, unreadable and non-image files the way the text loader counts
empty texts: they are skipped and reported, never a crash.

PIL's decompression-bomb limit (`Image.MAX_IMAGE_PIXELS`) is kept: an image above twice that many
pixels is counted as unreadable. Huge images are shrunk while they are decoded (JPEG's draft mode,
then a reducing resize), so the model's image processor never holds a 50-megapixel array.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from level_desktop.core.errors import InputFileError, TooFewRowsError, UnknownColumnError
from level_desktop.core.labeling.base import ClusterDocs
from level_desktop.core.loading import MIN_ROWS, SourceTable, read_table, text_column_candidates
from level_desktop.core.memory import check_analysis_memory
from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress

if TYPE_CHECKING:
    from PIL.Image import Image

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
# A column is an image column when at least this share of its filled values end in an image
# suffix, and at least this share of a sample of those exists on disk.
IMAGE_SHARE = 0.5
EXISTS_SHARE = 0.5
EXISTS_SAMPLE = 200
# Images whose shorter side exceeds this are shrunk while decoding (the model sees 224-518 pixels).
DEFAULT_MAX_SHORT_SIDE = 1024
FOLDER_COLUMN = "path"
FOLDER_FORMAT = "folder"

MISSING = "missing"
UNREADABLE = "unreadable"
NOT_IMAGE = "not an image"
TOO_LARGE = "too large"
PROBLEMS = (MISSING, NOT_IMAGE, UNREADABLE, TOO_LARGE)

T = TypeVar("T")
_END = object()


class ImageProblem(Exception):
    """One image that cannot be used; `kind` is one of PROBLEMS. Caught and counted, never shown
    as an error on its own."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


@dataclass
class ProblemCounts:
    """How many images were skipped and why, with a few examples of each for the report."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PROBLEMS, 0))
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, path: str | Path) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        shown = self.examples.setdefault(kind, [])
        if len(shown) < 3:
            shown.append(str(path))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def merged(self, other: ProblemCounts) -> ProblemCounts:
        """The counts of both (the checks before embedding, and the decoding while embedding)."""
        out = ProblemCounts(dict(self.counts), {k: list(v) for k, v in self.examples.items()})
        for kind, n in other.counts.items():
            out.counts[kind] = out.counts.get(kind, 0) + n
            shown = out.examples.setdefault(kind, [])
            shown.extend(other.examples.get(kind, [])[:3 - len(shown)])
        return out

    def summary(self) -> str:
        """One line for the user, e.g. '3 images skipped: 2 missing, 1 not an image'."""
        parts = [f"{n:,} {kind}" for kind, n in self.counts.items() if n]
        if not parts:
            return "No image was skipped."
        noun = "image" if self.total == 1 else "images"
        return f"{self.total:,} {noun} skipped: {', '.join(parts)}."


# ---------------------------------------------------------------------------------------------
# Finding the images


_SUFFIX_TUPLE = tuple(sorted(IMAGE_SUFFIXES))
# Column detection looks at this many filled values per column (spread over the rows), so that a
# large text file pays microseconds, not seconds, for the question "is this an image column?".
SUFFIX_SAMPLE = 2000
# A caption or label column, by name (lower case): its text names the clusters of an image set.
CAPTION_NAMES = ("caption", "captions", "text", "label", "labels", "class", "category",
                 "description", "title", "alt", "alt_text", "prompt", "tags", "name")


def has_image_suffix(value: str) -> bool:
    return value.strip().lower().endswith(_SUFFIX_TUPLE)


def resolve_image_path(value: str, base_dir: Path) -> Path:
    """A path from the table as a file on disk: `~` expanded, relative paths taken from the
    folder of the input file (not from the current directory, which the user never chose)."""
    text = value.strip()
    if text.startswith("file://"):
        text = text[len("file://"):]
    path = Path(text).expanduser()
    return path if path.is_absolute() else base_dir / path


def base_dir_of(input_path: Path) -> Path:
    """The folder relative image paths are resolved against: the folder itself, or the file's."""
    return input_path if input_path.is_dir() else input_path.parent


@dataclass
class ImageColumnCandidate:
    name: str
    image_share: float  # of the filled values, the share that end in an image suffix
    exists_share: float  # of a sample of those, the share found on disk


def image_column_candidates(table: SourceTable) -> list[ImageColumnCandidate]:
    """Columns whose values are mostly image file names that exist on disk, best first."""
    base = base_dir_of(table.path)
    out = []
    for name, values in table.columns.items():
        filled = [v for v in _spread_sample(values, 4 * SUFFIX_SAMPLE) if v.strip()]
        if not filled:
            continue
        filled = _spread_sample(filled, SUFFIX_SAMPLE)
        with_suffix = [v for v in filled if has_image_suffix(v)]
        image_share = len(with_suffix) / len(filled)
        if image_share < IMAGE_SHARE:
            continue
        sample = _spread_sample(with_suffix, EXISTS_SAMPLE)
        exists_share = sum(resolve_image_path(v, base).is_file() for v in sample) / len(sample)
        if exists_share < EXISTS_SHARE:
            continue
        out.append(ImageColumnCandidate(name, image_share, exists_share))
    out.sort(key=lambda c: -(c.image_share * c.exists_share))
    return out


def detect_image_column(table: SourceTable) -> str | None:
    """The image column of a table, or None when it has none."""
    candidates = image_column_candidates(table)
    return candidates[0].name if candidates else None


def _spread_sample(values: list[T], n: int) -> list[T]:
    """Up to n values spread evenly over the list (the first rows alone can mislead)."""
    if len(values) <= n:
        return values
    idx = np.linspace(0, len(values) - 1, n).round().astype(int)
    return [values[i] for i in idx]


def image_column_of(table: SourceTable, image_column: str | None,
                    text_column: str | None) -> str | None:
    """The column the pipeline reads images from, or None for a text analysis: a folder's path
    column; the column the user named; else the detected one, unless the user named a text
    column and no image column (then the file is read as text)."""
    if table.format == FOLDER_FORMAT:
        return FOLDER_COLUMN
    if image_column is not None:
        return image_column
    return detect_image_column(table) if text_column is None else None


def caption_column(table: SourceTable, image_column: str, requested: str | None = None
                   ) -> str | None:
    """The column whose text names an image set's clusters: the one the user named, else the
    first column called like a caption or label (CAPTION_NAMES) that holds text; None when the
    file has none (a folder never has one), and the clusters are numbered."""
    if requested is not None:
        if requested not in table.columns:
            raise UnknownColumnError(
                f"{table.path.name} has no column named {requested!r}. "
                f"Its columns are: {', '.join(table.column_names)}.")
        return requested
    texts = {c.name for c in text_column_candidates(table)}
    for name in table.columns:
        if name != image_column and name in texts and name.strip().lower() in CAPTION_NAMES:
            return name
    return None


def image_base_dir(source_path: str | Path, source_format: str) -> Path:
    """The folder a saved analysis's relative image paths are taken from: the folder itself for
    a folder of images, else the input file's folder (decided by the format, not the disk, so a
    moved folder does not change the answer)."""
    path = Path(source_path)
    return path if source_format == FOLDER_FORMAT else path.parent


def row_image_path(columns: dict[str, list[str]], image_column: str, row: int,
                   source_path: str | Path, source_format: str) -> Path:
    """The image file of input row `row` of a saved analysis (it need not exist any more)."""
    return resolve_image_path(columns[image_column][row],
                              image_base_dir(source_path, source_format))


def read_input_table(path: str | Path) -> SourceTable:
    """A table file as read_table reads it, or a folder of images as a one-column table."""
    source = Path(path)
    return folder_table(source) if source.is_dir() else read_table(source)


def list_image_folder(folder: str | Path, recursive: bool = True) -> list[Path]:
    """Every image file under `folder` (by suffix), hidden files and folders left out, in a
    stable order: sorted by the path relative to the folder, so a re-run lists the same rows."""
    root = Path(folder)
    if not root.is_dir():
        raise InputFileError(f"{root} is not a folder.")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recursive else []
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def folder_table(folder: str | Path, recursive: bool = True) -> SourceTable:
    """A folder of images as a one-column table of paths relative to the folder, so the rest of
    the pipeline (and the export, which keeps the path column) treats it like any input file."""
    root = Path(folder)
    paths = list_image_folder(root, recursive)
    if not paths:
        raise InputFileError(
            f"{root} holds no image files (looked for {', '.join(sorted(IMAGE_SUFFIXES))}).")
    return SourceTable(path=root, format=FOLDER_FORMAT,
                       columns={FOLDER_COLUMN: [p.relative_to(root).as_posix() for p in paths]})


# ---------------------------------------------------------------------------------------------
# Reading the images


def check_image(path: Path) -> None:
    """Raise ImageProblem unless `path` is a file whose header PIL reads as an image within the
    decompression-bomb limit. Reads only the header: cheap enough to run on every row up front."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise ImageProblem(MISSING, str(path))
    try:
        with Image.open(path) as image:
            image.size  # noqa: B018 - the header is parsed by open; size proves it was
    except Image.DecompressionBombError as err:
        raise ImageProblem(TOO_LARGE, str(err)) from err
    except UnidentifiedImageError as err:
        raise ImageProblem(NOT_IMAGE, str(path)) from err
    except (OSError, ValueError, SyntaxError) as err:
        raise ImageProblem(UNREADABLE, str(err)) from err


def decode_image(path: Path, max_short_side: int = DEFAULT_MAX_SHORT_SIDE) -> Image:
    """The image at `path` as RGB, turned as its EXIF orientation says, its shorter side shrunk
    to `max_short_side` when larger.

    Raises ImageProblem (missing, not an image, unreadable, too large) instead of PIL's errors.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            if opened.format == "JPEG":
                # Decode at 1/2, 1/4 or 1/8 scale straight from the DCT: a big photo costs little.
                opened.draft("RGB", _target_size(opened.size, max_short_side))
            image = opened.convert("RGB")  # forces the full decode; a truncated file fails here
            ImageOps.exif_transpose(image, in_place=True)  # a phone photo stands upright
    except FileNotFoundError as err:
        raise ImageProblem(MISSING, str(path)) from err
    except Image.DecompressionBombError as err:
        raise ImageProblem(TOO_LARGE, str(err)) from err
    except UnidentifiedImageError as err:
        raise ImageProblem(NOT_IMAGE, str(path)) from err
    except IsADirectoryError as err:
        raise ImageProblem(NOT_IMAGE, str(path)) from err
    except (OSError, ValueError, SyntaxError) as err:
        raise ImageProblem(UNREADABLE, str(err)) from err
    return downscale(image, max_short_side)


def downscale(image: Image, max_short_side: int) -> Image:
    """Shrink so the shorter side is at most `max_short_side`, keeping the aspect ratio."""
    from PIL import Image as PILImage

    size = _target_size(image.size, max_short_side)
    if size == image.size:
        return image
    return image.resize(size, PILImage.Resampling.BICUBIC, reducing_gap=3.0)


def _target_size(size: tuple[int, int], max_short_side: int) -> tuple[int, int]:
    width, height = size
    short = min(width, height)
    if short <= max_short_side:
        return width, height
    scale = max_short_side / short
    return max(1, round(width * scale)), max(1, round(height * scale))


def thumbnail(path: str | Path, max_side: int = 160) -> Image | None:
    """A small RGB copy for the window's details panel, hover card or a labelling request; None
    when the file cannot be read (the caller shows a placeholder)."""
    try:
        image = decode_image(Path(path), max_short_side=max_side)
    except ImageProblem:
        return None
    image.thumbnail((max_side, max_side))
    return image


# Thumbnails sent to a labeler that looks at pictures: Gemini bills an image within 384x384 pixels
# as one tile (258 tokens), so a larger one would cost more and show it no more.
LABEL_THUMBNAIL_SIDE = 384
LABEL_THUMBNAIL_QUALITY = 85


def thumbnail_jpeg(path: str | Path, max_side: int = LABEL_THUMBNAIL_SIDE,
                   quality: int = LABEL_THUMBNAIL_QUALITY) -> bytes | None:
    """`thumbnail(path, max_side)` as JPEG file bytes; None when the file cannot be read."""
    image = thumbnail(path, max_side)
    if image is None:
        return None
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def attach_thumbnails(docs: list[ClusterDocs], representatives: list[np.ndarray],
                      image_files: list[Path], workers: int | None = None) -> None:
    """Give each cluster's docs the JPEG thumbnails of its representatives' images, in their
    order, made in the decoding thread pool. For a labeler that names clusters from pictures;
    `representatives[c]` are row positions into `image_files`, in the order of the docs'
    representative texts. A file that cannot be read is left out, and so is its text, so that
    captions and pictures stay paired; a cluster with no readable picture keeps its texts."""
    jobs = [(doc, int(row)) for doc in docs for row in representatives[doc.cluster_id]]
    made: dict[int, list[bytes | None]] = {id(doc): [] for doc in docs}
    for (doc, _), data in map_in_background(lambda job: thumbnail_jpeg(image_files[job[1]]),
                                            jobs, workers):
        made[id(doc)].append(data if isinstance(data, bytes) else None)
    for doc in docs:
        pictures = made[id(doc)]
        if any(p is not None for p in pictures):
            doc.representatives = [t for t, p in zip(doc.representatives, pictures, strict=True)
                                   if p is not None]
            doc.images = [p for p in pictures if p is not None]


def default_workers() -> int:
    """Decoding threads: PIL releases the GIL while it decodes and resizes, so a few threads
    keep the model fed; more than the cores only adds contention."""
    return max(2, min(8, os.cpu_count() or 2))


def map_in_background(fn: Callable[[T], Any], items: Iterable[T], workers: int | None = None,
                      ahead: int = 64) -> Generator[tuple[T, Any], None, None]:
    """`fn` over `items` in a thread pool, yielded in order, with at most `ahead` calls in flight,
    so the pool runs ahead of the consumer without holding the whole dataset in memory.

    An ImageProblem raised by `fn` is yielded in place of its result; any other error propagates.
    Closing the generator early (cancel) drops the work not yet started.
    """
    iterator = iter(items)
    pool = ThreadPoolExecutor(max_workers=workers or default_workers(),
                              thread_name_prefix="level-decode")
    pending: deque[tuple[T, Future[Any]]] = deque()
    try:
        for item in iterator:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) >= ahead:
                break
        while pending:
            item, future = pending.popleft()
            following = next(iterator, _END)
            if following is not _END:
                pending.append((cast(T, following), pool.submit(fn, cast(T, following))))
            try:
                result = future.result()
            except ImageProblem as problem:
                result = problem
            yield item, result
    finally:
        for _, future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def file_digest(path: str | Path) -> str:
    """The hash the embedding cache keys an image on: its bytes, whatever its path or name."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def image_hashes(paths: list[str | Path], workers: int | None = None) -> list[str | None]:
    """Content hashes of the files, in order; None for a file that cannot be read."""

    def one(path: str | Path) -> str | None:
        try:
            return file_digest(path)
        except OSError:
            return None

    return [cast("str | None", result) for _, result in map_in_background(one, paths, workers)]


# ---------------------------------------------------------------------------------------------
# The loader hook: a table or folder in, usable image rows out


@dataclass
class LoadedImages:
    """Like loading.LoadedInput, for images: the rows whose image can be read, with their
    content hashes, and the rows skipped for each reason."""

    table: SourceTable
    image_column: str
    row_index: np.ndarray  # int64 original positions of the rows that have a usable image
    paths: list[Path]  # resolved paths of those rows
    hashes: list[str]  # content hash of each, for the embedding cache
    skipped_empty: int
    problems: ProblemCounts
    auto_detected: bool


def load_images(path: str | Path, image_column: str | None = None, min_rows: int = MIN_ROWS,
                progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
                workers: int | None = None) -> LoadedImages:
    """Read a table (or list a folder), choose the image column, and keep the rows whose file is
    an image PIL can open; the others are counted by reason. Headers are checked and files hashed
    in a thread pool; the full decode waits for the embedder."""
    table = read_input_table(path)
    return images_of_table(table, image_column, min_rows, progress, cancel, workers)


def images_of_table(table: SourceTable, image_column: str | None = None,
                    min_rows: int = MIN_ROWS, progress: ProgressCallback = no_progress,
                    cancel: CancelToken | None = None, workers: int | None = None
                    ) -> LoadedImages:
    """The usable image rows of a table already read (see load_images)."""
    name = table.path.name
    if image_column is None:
        chosen = detect_image_column(table)
        if chosen is None:
            raise InputFileError(
                f"No column of {name} holds image paths that exist on disk (looked for values "
                f"ending in {', '.join(sorted(IMAGE_SUFFIXES))}, relative to {name}'s folder). "
                f"Name the column with --image-column.")
        auto = True
    else:
        if image_column not in table.columns:
            raise UnknownColumnError(
                f"{name} has no column named {image_column!r}. "
                f"Its columns are: {', '.join(table.column_names)}.")
        chosen, auto = image_column, False
    values = table.columns[chosen]
    base = image_base_dir(table.path, table.format)
    filled = [i for i, v in enumerate(values) if v.strip()]
    check_analysis_memory(len(filled), name)
    problems = ProblemCounts()

    def inspect(i: int) -> str:
        resolved = resolve_image_path(values[i], base)
        check_image(resolved)
        try:
            return file_digest(resolved)
        except OSError as err:
            raise ImageProblem(UNREADABLE, str(err)) from err

    keep, paths, hashes = [], [], []
    total = max(1, len(filled))
    for done, (i, result) in enumerate(map_in_background(inspect, filled, workers), start=1):
        if cancel is not None and done % 64 == 0:
            cancel.check()
        if isinstance(result, ImageProblem):
            problems.add(result.kind, values[i])
        else:
            keep.append(i)
            paths.append(resolve_image_path(values[i], base))
            hashes.append(result)
        if done % 256 == 0 or done == total:
            progress("load", done / total, f"Checked {done:,} of {total:,} images")
    if len(keep) < min_rows:
        raise TooFewRowsError(
            f"Only {len(keep)} rows of {name} have a readable image in column {chosen!r}; Level "
            f"needs at least {min_rows} to find clusters. {problems.summary()}")
    return LoadedImages(table=table, image_column=chosen,
                        row_index=np.asarray(keep, dtype=np.int64), paths=paths, hashes=hashes,
                        skipped_empty=len(values) - len(filled), problems=problems,
                        auto_detected=auto)
