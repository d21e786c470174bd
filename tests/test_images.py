"""Image inputs: finding the image column or folder, resolving paths, decoding in a thread pool,
and counting the files that cannot be used instead of crashing on them."""

from __future__ import annotations

import csv
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from level_desktop.core.errors import InputFileError, TooFewRowsError, UnknownColumnError
from level_desktop.core.images import (
    MISSING,
    NOT_IMAGE,
    TOO_LARGE,
    UNREADABLE,
    ImageProblem,
    check_image,
    decode_image,
    detect_image_column,
    folder_table,
    image_hashes,
    list_image_folder,
    load_images,
    map_in_background,
    resolve_image_path,
    thumbnail,
)
from level_desktop.core.loading import read_table


def make_image(path: Path, size: tuple[int, int], seed: int = 0) -> Path:
    """A noisy colour image (noise keeps PNG/JPEG sizes honest), format from the suffix."""
    rng = np.random.default_rng(seed)
    width, height = size
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def truncated_png(path: Path) -> Path:
    make_image(path, (64, 64), seed=99)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_folder_is_listed_in_a_stable_order_without_hidden_or_other_files(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    for name in ["b/z.png", "a.jpg", "b/a.JPEG", "c.webp", "a/b/deep.png"]:
        make_image(root / name, (8, 8))
    (root / "notes.txt").write_text("not an image")
    make_image(root / ".hidden.png", (8, 8))
    make_image(root / ".thumbs" / "t.png", (8, 8))

    listed = [p.relative_to(root).as_posix() for p in list_image_folder(root)]

    assert listed == ["a.jpg", "a/b/deep.png", "b/a.JPEG", "b/z.png", "c.webp"]
    assert list_image_folder(root) == list_image_folder(root)
    assert [p.name for p in list_image_folder(root, recursive=False)] == ["a.jpg", "c.webp"]
    table = folder_table(root)
    assert table.format == "folder"
    assert table.columns == {"path": listed}


def test_a_folder_without_images_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(InputFileError, match="holds no image files"):
        folder_table(tmp_path)


def test_relative_paths_are_taken_from_the_input_files_folder(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    data = tmp_path / "set"
    image = make_image(data / "img" / "one.png", (8, 8))
    monkeypatch.chdir(tmp_path)  # the current folder must not matter

    assert resolve_image_path("img/one.png", data) == image
    assert resolve_image_path(f"  {image}  ", tmp_path / "elsewhere") == image
    assert resolve_image_path(f"file://{image}", tmp_path) == image


def test_image_column_is_detected_by_suffix_and_existence(tmp_path: Path) -> None:
    rows = []
    for i in range(30):
        if i % 10 != 9:  # most of them exist; some are missing, which must not hide the column
            make_image(tmp_path / "img" / f"{i}.png", (8, 8), seed=i)
        rows.append({"id": str(i), "caption": f"a picture number {i} of something",
                     "source_name": f"camera/{i}.jpg",  # image names, but not on this disk
                     "file": f"img/{i}.png"})
    table = read_table(write_csv(tmp_path / "set.csv", rows))

    assert detect_image_column(table) == "file"

    text_only = read_table(write_csv(tmp_path / "text.csv",
                                     [{"id": str(i), "caption": f"words {i}"} for i in range(5)]))
    assert detect_image_column(text_only) is None
    with pytest.raises(InputFileError, match="--image-column"):
        load_images(tmp_path / "text.csv", min_rows=1)
    with pytest.raises(UnknownColumnError, match="no column named 'picture'"):
        load_images(tmp_path / "set.csv", image_column="picture", min_rows=1)


def test_unusable_files_are_counted_and_the_rest_kept(tmp_path: Path) -> None:
    make_image(tmp_path / "ok1.png", (40, 30), seed=1)
    make_image(tmp_path / "ok2.jpg", (30, 40), seed=2)
    make_image(tmp_path / "ok3.jpeg", (5, 5), seed=3)
    truncated_png(tmp_path / "cut.png")
    (tmp_path / "fake.jpg").write_text("this is text with an image suffix")
    (tmp_path / "dir.png").mkdir()
    names = ["ok1.png", "missing.png", "ok2.jpg", "cut.png", "", "fake.jpg", "ok3.jpeg", "dir.png"]
    write_csv(tmp_path / "set.csv", [{"image": n, "n": str(i)} for i, n in enumerate(names)])

    loaded = load_images(tmp_path / "set.csv", image_column="image", min_rows=1, workers=3)

    # The truncated PNG's header reads: only the full decode (in the embedder) finds it.
    assert loaded.row_index.tolist() == [0, 2, 3, 6]
    assert [p.name for p in loaded.paths] == ["ok1.png", "ok2.jpg", "cut.png", "ok3.jpeg"]
    assert loaded.skipped_empty == 1
    counts = loaded.problems.counts
    assert counts[MISSING] == 2  # missing.png, and the folder named dir.png is not a file
    assert counts[NOT_IMAGE] == 1
    assert counts[UNREADABLE] == 0
    assert loaded.problems.examples[NOT_IMAGE] == ["fake.jpg"]
    assert "3 images skipped: 2 missing, 1 not an image" in loaded.problems.summary()
    with pytest.raises(ImageProblem) as problem:
        decode_image(tmp_path / "cut.png")
    assert problem.value.kind == UNREADABLE
    with pytest.raises(TooFewRowsError, match="2 missing"):
        load_images(tmp_path / "set.csv", image_column="image", min_rows=5)


def test_a_folder_loads_like_a_table(tmp_path: Path) -> None:
    for i in range(4):
        make_image(tmp_path / "pics" / f"{i}.png", (16, 16), seed=i)
    (tmp_path / "pics" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")

    loaded = load_images(tmp_path / "pics", min_rows=1)

    assert loaded.image_column == "path"
    assert loaded.auto_detected
    assert [p.name for p in loaded.paths] == ["0.png", "1.png", "2.png", "3.png"]
    assert loaded.problems.total == 1
    assert len(set(loaded.hashes)) == 4


def test_the_decompression_bomb_limit_is_kept(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    big = make_image(tmp_path / "big.png", (500, 500))  # 250,000 pixels: above twice the limit

    with pytest.raises(ImageProblem) as checked:
        check_image(big)
    assert checked.value.kind == TOO_LARGE
    with pytest.raises(ImageProblem) as decoded:
        decode_image(big)
    assert decoded.value.kind == TOO_LARGE


def test_huge_images_are_shrunk_while_decoding(tmp_path: Path) -> None:
    photo = make_image(tmp_path / "photo.jpg", (4000, 3000))
    wide = make_image(tmp_path / "wide.png", (3000, 1000))
    small = make_image(tmp_path / "small.png", (300, 200))

    assert decode_image(photo, max_short_side=512).size == (683, 512)
    assert decode_image(wide, max_short_side=512).size == (1536, 512)
    assert decode_image(small, max_short_side=512).size == (300, 200)
    assert decode_image(small, max_short_side=512).mode == "RGB"
    shown = thumbnail(photo, max_side=128)
    assert shown is not None
    assert max(shown.size) == 128
    assert thumbnail(tmp_path / "nowhere.png") is None


def test_same_bytes_give_the_same_hash_whatever_the_path(tmp_path: Path) -> None:
    first = make_image(tmp_path / "a" / "cat.png", (20, 20), seed=5)
    copy = tmp_path / "b" / "renamed.jpg"
    copy.parent.mkdir()
    copy.write_bytes(first.read_bytes())
    other = make_image(tmp_path / "dog.png", (20, 20), seed=6)

    hashes = image_hashes([first, copy, other, tmp_path / "missing.png"])

    assert hashes[0] == hashes[1]
    assert hashes[0] != hashes[2]
    assert hashes[3] is None


def test_background_map_keeps_order_and_stays_a_bounded_distance_ahead() -> None:
    consumed = 0
    lag: list[int] = []
    lock = threading.Lock()
    rng = np.random.default_rng(3)
    delays = rng.uniform(0, 0.003, 120)

    def work(i: int) -> int:
        with lock:
            lag.append(i - consumed)
        time.sleep(delays[i])
        if i % 17 == 5:
            raise ImageProblem(UNREADABLE, str(i))
        return i * i

    seen = []
    for item, result in map_in_background(work, range(120), workers=4, ahead=8):
        seen.append((item, result))
        with lock:
            consumed += 1

    assert [item for item, _ in seen] == list(range(120))
    for item, result in seen:
        if item % 17 == 5:
            assert isinstance(result, ImageProblem)
        else:
            assert result == item * item
    assert max(lag) <= 8


def test_leaving_the_background_map_early_stops_its_threads() -> None:
    started = []

    def work(i: int) -> int:
        started.append(i)
        time.sleep(0.001)
        return i

    stream = map_in_background(work, range(10_000), workers=2, ahead=4)
    for item, _ in stream:
        if item == 10:
            break
    stream.close()

    assert len(started) < 100
    assert not [t for t in threading.enumerate() if t.name.startswith("level-decode")]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was turned; show rotated by 90 degrees
    Image.new("RGB", (40, 20), "red").save(path, exif=exif)

    assert decode_image(path).size == (20, 40)
