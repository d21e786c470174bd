"""Image sets through the whole pipeline and `level analyze`: a CSV with a column of image paths
and a caption column, and a folder of images, embedded by a tiny DINOv2 built from a config
(random weights) on images generated here; then clusters, names, topics, map, project file and
export, with missing and broken files counted rather than fatal."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_image_embedding import make_image, tiny_clip_tower  # noqa: F401 (a fixture)

from level_desktop.cli import main
from level_desktop.core.errors import ModelError
from level_desktop.core.image_embedding import DEFAULT_IMAGE_MODEL
from level_desktop.core.pipeline import analyze, image_paths
from level_desktop.core.settings import Settings
from level_desktop.core.store import EmbeddingCache, load_project, save_project

REPO = Path(__file__).resolve().parents[1]
GROUPS = {"red apple orchard": (200, 40, 40), "green forest leaves": (40, 170, 60),
          "blue ocean water": (40, 70, 210)}
PER_GROUP = 20


def coloured_image(path: Path, colour: tuple[int, int, int], seed: int) -> Path:
    """A 64x64 image of one dominant colour with noise, so the groups differ in what a model
    sees even with random weights."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour) + rng.normal(0, 30, (64, 64, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def image_csv(tmp_path: Path) -> Path:
    """photos/*.png|jpg by colour group, a caption per image, plus an empty path, a missing file
    and a text file named .jpg."""
    folder = tmp_path / "set"
    rows = []
    for g, (caption, colour) in enumerate(GROUPS.items()):
        for i in range(PER_GROUP):
            name = f"photos/{caption.split()[0]}_{i:02d}.{'png' if i % 2 else 'jpg'}"
            coloured_image(folder / name, colour, seed=100 * g + i)
            rows.append([name, caption, str(i)])
    (folder / "photos" / "notes.jpg").write_text("not an image")
    rows += [["photos/gone.png", "red apple orchard", "90"],
             ["photos/notes.jpg", "blue ocean water", "91"], ["", "green forest leaves", "92"]]
    path = folder / "images.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["file", "caption", "id"], *rows])
    return path


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "folder"
    for g, colour in enumerate(GROUPS.values()):
        for i in range(PER_GROUP):
            coloured_image(folder / f"g{g}" / f"{i:02d}.png", colour, seed=7 + 100 * g + i)
    (folder / ".hidden.png").write_text("skipped: hidden")
    (folder / "README.txt").write_text("skipped: not an image suffix")
    return folder


def level(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, "-m", "level_desktop.cli", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow
def test_level_analyze_on_a_csv_of_image_paths_then_export(
        image_csv: Path, tiny_dinov2: Path, tmp_path: Path) -> None:
    done = level("analyze", str(image_csv), "-o", "imgs.level", "--model", str(tiny_dinov2),
                 "--device", "cpu", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "(image column 'file'); 60 images used, 3 rows skipped" in done.stdout
    assert "clusters named from column 'caption'" in done.stdout
    assert "2 images skipped: 1 missing, 1 not an image" in done.stdout
    analysis = load_project(tmp_path / "imgs.level")
    assert analysis.settings.image_column == "file"
    assert analysis.settings.text_column == "caption"
    assert analysis.source.image_problems == "2 images skipped: 1 missing, 1 not an image."
    assert analysis.n_rows == 60
    assert analysis.embeddings.shape == (60, 32)
    assert analysis.model == str(tiny_dinov2)
    # Names come from the captions (keywords), not the file names.
    vocabulary = {w for caption in GROUPS for w in caption.split()}
    assert {c.labeler for c in analysis.clusters} == {"keywords"}
    for cluster in analysis.clusters:  # a repeated name gets its cluster id: "red apple (4)"
        words = re.sub(r" \(\d+\)$", "", cluster.label).split()
        assert set(words) <= vocabulary, cluster.label
    assert analysis.topics

    assert main(["weights", str(tmp_path / "imgs.level"), "--flatten"]) == 0
    out = tmp_path / "weighted.csv"
    assert main(["export", str(tmp_path / "imgs.level"), "--weighted", str(out)]) == 0
    with out.open(encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    assert len(exported) == 63  # every input row, the skipped ones too
    assert {"file", "caption", "id", "cluster_id", "weight"} <= set(exported[0])
    assert [r["file"] for r in exported[:2]] == ["photos/red_00.jpg", "photos/red_01.png"]
    skipped = [r for r in exported if r["file"] in ("photos/gone.png", "photos/notes.jpg", "")]
    assert len(skipped) == 3
    assert all(r["cluster_id"] == "" for r in skipped)
    assert all(r["cluster_id"] != "" for r in exported if r not in skipped)


def test_a_folder_of_images_is_numbered_and_its_cache_keys_on_bytes(
        image_folder: Path, tiny_dinov2: Path, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache.duckdb")
    settings = Settings(model=str(tiny_dinov2), device="cpu", projection="pca")

    first = analyze(image_folder, settings, cache=cache)

    assert first.source.format == "folder"
    assert first.settings.image_column == "path"
    assert first.settings.text_column is None
    assert first.settings.labeler == "numbered"
    assert first.n_rows == 3 * PER_GROUP
    assert first.texts[:2] == ["g0/00.png", "g0/01.png"]
    assert [c.label for c in first.clusters] == [f"Cluster {c.id}" for c in first.clusters]
    assert [t.label for t in first.topics] == [f"Topic {t.id}" for t in first.topics]
    assert first.source.image_problems is None
    assert first.device == "cpu"
    paths = image_paths(first)
    assert paths is not None
    assert all(p.is_file() for p in paths)
    assert paths[0] == image_folder / "g0" / "00.png"
    # The rows group by colour: nearly every image's nearest neighbour is of its own colour.
    groups = np.array([int(t[1]) for t in first.texts])
    similarity = first.embeddings @ first.embeddings.T - 2 * np.eye(first.n_rows)
    assert (groups[similarity.argmax(axis=1)] == groups).mean() > 0.9

    # The same images renamed and moved elsewhere: every vector comes from the cache.
    moved = tmp_path / "moved"
    for i, path in enumerate(paths):
        (moved / f"renamed_{i:03d}.png").parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, moved / f"renamed_{i:03d}.png")
    second = analyze(moved, settings, cache=cache)
    assert second.device == "cache"
    np.testing.assert_array_equal(second.embeddings, first.embeddings)


def test_new_settings_reuse_an_image_sets_embeddings(
        image_folder: Path, tiny_dinov2: Path) -> None:
    settings = Settings(model=str(tiny_dinov2), device="cpu", projection="pca")
    first = analyze(image_folder, settings)

    again = analyze(None, first.settings.replace(method="kmeans", k=3), previous=first)

    assert again.embeddings is first.embeddings
    assert again.settings.image_column == "path"
    assert again.settings.labeler == "numbered"
    assert len(again.clusters) == 3
    assert image_paths(again) == image_paths(first)


def test_another_model_embeds_a_saved_image_set_again_without_its_table(
        image_csv: Path, tiny_dinov2: Path, tiny_clip_tower: Path,  # noqa: F811
        tmp_path: Path) -> None:
    settings = Settings(model=str(tiny_dinov2), device="cpu", projection="pca")
    save_project(analyze(image_csv, settings), tmp_path / "set.level")
    image_csv.unlink()  # the images stay; the table is kept in the project
    first = load_project(tmp_path / "set.level")

    again = analyze(None, first.settings.replace(model=str(tiny_clip_tower)), previous=first)

    assert again.model == str(tiny_clip_tower)
    assert again.embeddings.shape == (60, 16)  # the CLIP tower's projection
    assert again.row_index.tolist() == first.row_index.tolist()
    assert again.texts == first.texts  # the captions
    assert again.settings.text_column == "caption"
    assert again.source.content_hash == first.source.content_hash
    assert again.source.image_problems == first.source.image_problems


def test_an_image_column_is_detected_or_named(image_csv: Path, tiny_dinov2: Path) -> None:
    settings = Settings(model=str(tiny_dinov2), device="cpu", projection="pca")
    detected = analyze(image_csv, settings)
    assert detected.settings.image_column == "file"
    # Naming a text column and no image column reads the file as text.
    with pytest.raises(ModelError, match="is read as text"):
        analyze(image_csv, settings.replace(text_column="caption", model=DEFAULT_IMAGE_MODEL))


def test_broken_images_found_while_embedding_are_skipped_and_counted(
        image_folder: Path, tiny_dinov2: Path) -> None:
    # A file whose header reads but whose pixels are cut short passes the check and fails
    # only when decoded for the model.
    cut = make_image(image_folder / "g9" / "cut.png", (300, 300), seed=5)
    cut.write_bytes(cut.read_bytes()[:2000])
    analysis = analyze(image_folder, Settings(model=str(tiny_dinov2), device="cpu",
                                              projection="pca"))
    assert analysis.n_rows == 3 * PER_GROUP
    assert "g9/cut.png" not in analysis.texts
    assert analysis.source.skipped_empty == 1
    assert analysis.source.image_problems == "1 image skipped: 1 unreadable."


def test_no_vision_model_on_this_machine_says_what_to_put_where(
        image_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    code = main(["analyze", str(image_folder), "-o", str(tmp_path / "x.level"), "--no-cache"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert DEFAULT_IMAGE_MODEL in err
    assert "--model" in err
    assert "config.json" in err
    assert not (tmp_path / "x.level").exists()


def test_missing_and_unusable_images_are_counted_like_empty_texts(tmp_path: Path) -> None:
    from level_desktop.core.errors import TooFewRowsError

    folder = tmp_path / "few"
    for i in range(5):
        coloured_image(folder / f"{i}.png", (10, 20, 30), seed=i)
    table = folder / "list.csv"
    table.write_text("image\n" + "".join(f"{i}.png\n" for i in range(5))
                     + "".join(f"gone{i}.png\n" for i in range(60)), encoding="utf-8")
    with pytest.raises(TooFewRowsError, match=r"Only 5 rows .* 60 images skipped: 60 missing"):
        analyze(table, Settings(image_column="image"))
