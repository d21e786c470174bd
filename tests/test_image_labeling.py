"""Image sets named by Gemini from their thumbnails: a multimodal generateContent request (the
prompt, then one inline_data part per representative image, base64 JPEG), through the real
google-genai SDK against test_gemini's local server on 127.0.0.1, with the same key handling and
fallbacks as text; a captionless set falls back to "Cluster N", never to keywords of file names.
The same through a local OpenAI-compatible server (test_chat_endpoint's): image_url parts for a
vision model, the captions alone for a text-only one that refuses pictures."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_chat_endpoint import FakeChatServer, failure, llm, named  # noqa: F401
from test_gemini import KEY, FakeGemini, error, gemini, label_answer, with_key  # noqa: F401
from test_image_pipeline import GROUPS, PER_GROUP, image_csv, image_folder  # noqa: F401

from level_desktop.core.images import LABEL_THUMBNAIL_SIDE, attach_thumbnails, thumbnail_jpeg
from level_desktop.core.labeling import ClusterDocs, GeminiLabeler
from level_desktop.core.pipeline import analyze, image_paths, relabel
from level_desktop.core.settings import Settings

COLOUR_NAMES = {0: "Red things", 1: "Green things", 2: "Blue things"}


def images_of(body: dict) -> list[Image.Image]:
    """The pictures in a generateContent request body (inline_data parts, either spelling)."""
    pictures = []
    for part in body["contents"][0]["parts"][1:]:
        inline = part.get("inlineData") or part.get("inline_data")
        assert (inline.get("mimeType") or inline.get("mime_type")) == "image/jpeg"
        # Protobuf's JSON mapping takes standard or URL-safe base64 (the SDK sends the latter).
        data = inline["data"].replace("+", "-").replace("/", "_")
        picture = Image.open(io.BytesIO(base64.urlsafe_b64decode(data)))
        assert picture.format == "JPEG"
        pictures.append(picture.convert("RGB"))
    return pictures


def dominant(picture: Image.Image) -> int:
    """Which of GROUPS' colours (0 red, 1 green, 2 blue) a picture mostly is."""
    return int(np.argmax(np.asarray(picture, dtype=np.float64).reshape(-1, 3).mean(0)))


def colour_answer(n: int, prompt: str, seen: list) -> object:
    """Name a request by the colour of the pictures it carries (the server looks at them)."""
    return label_answer(COLOUR_NAMES[dominant(images_of(seen[n].body)[0])])


def test_gemini_is_sent_the_thumbnails_as_inline_jpeg_parts(gemini: FakeGemini,  # noqa: F811
                                                             with_key: str,  # noqa: F811
                                                             tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    Image.fromarray(np.full((900, 1200, 3), (30, 200, 40), np.uint8)).save(big)
    small = tmp_path / "small.jpg"
    Image.fromarray(np.full((50, 80, 3), (200, 30, 30), np.uint8)).save(small)
    images = [thumbnail_jpeg(big), thumbnail_jpeg(small)]
    assert all(isinstance(i, bytes) for i in images)
    docs = [ClusterDocs(0, ["leaf", "grass", "moss"], ["leaf", "grass"],
                        images=[i for i in images if i is not None])]
    gemini.script = lambda n, prompt: label_answer("Green and red")

    labels = GeminiLabeler(backoff=0.01).label(docs)

    assert labels[0].label == "Green and red"
    assert labels[0].labeler == "gemini"
    body = gemini.seen[0].body
    prompt = body["contents"][0]["parts"][0]["text"]
    assert "image dataset" in prompt
    assert "2 most typical images of one cluster (3 images in all)" in prompt
    assert "1. leaf\n2. grass" in prompt  # captions, in the order of the images
    assert gemini.seen[0].headers["x-goog-api-key"] == KEY
    pictures = images_of(body)
    assert [p.size for p in pictures] == [(LABEL_THUMBNAIL_SIDE, 288), (80, 50)]
    assert [dominant(p) for p in pictures] == [1, 0]


def test_a_folder_of_images_is_named_by_gemini_from_its_thumbnails(
        gemini: FakeGemini, with_key: str, image_folder: Path,  # noqa: F811
        tiny_dinov2: Path) -> None:
    gemini.script = lambda n, prompt: colour_answer(n, prompt, gemini.seen)
    settings = Settings(model=str(tiny_dinov2), device="cpu", projection="pca",
                        labeler="gemini", representatives=4)

    analysis = analyze(image_folder, settings)

    assert analysis.settings.labeler == "gemini"
    paths = image_paths(analysis)
    assert paths is not None
    requests = len(analysis.clusters) + len(analysis.topics)
    assert gemini.requests == requests  # one per cluster and one per topic
    for seen in gemini.seen:
        prompt = seen.body["contents"][0]["parts"][0]["text"]
        assert "image dataset" in prompt
        assert ".png" not in prompt  # file names name nothing and are not sent as captions
        assert 1 <= len(images_of(seen.body)) <= 4
    named = 0
    for cluster in analysis.clusters:
        colours = {dominant(Image.open(paths[r]).convert("RGB")) for r in cluster.representatives}
        if cluster.labeler == "gemini" and len(colours) == 1:  # named after its pictures' colour
            assert cluster.label == COLOUR_NAMES[colours.pop()]
            named += 1
    assert named >= 1
    assert all(c.fallback_reason in (None, "duplicate label") for c in analysis.clusters)


def test_a_captionless_set_falls_back_to_numbers_not_file_name_keywords(
        gemini: FakeGemini, with_key: str, image_folder: Path,  # noqa: F811
        tiny_dinov2: Path) -> None:
    gemini.script = lambda n, prompt: error(503, "overloaded", "UNAVAILABLE")
    settings = Settings(model=str(tiny_dinov2), device="cpu", projection="pca",
                        labeler="gemini")

    analysis = analyze(image_folder, settings)

    assert gemini.requests >= len(analysis.clusters)
    assert [c.label for c in analysis.clusters] == [f"Cluster {c.id}" for c in analysis.clusters]
    assert {c.fallback_reason for c in analysis.clusters} == {"server error (503)"}


def test_without_a_key_nothing_is_sent_and_captions_name_the_clusters(
        gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch, image_csv: Path,  # noqa: F811
        tiny_dinov2: Path) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    settings = Settings(model=str(tiny_dinov2), device="cpu", projection="pca",
                        labeler="gemini")

    analysis = analyze(image_csv, settings)

    assert gemini.requests == 0
    assert {c.fallback_reason for c in analysis.clusters} == {"no API key"}
    words = {w for caption in GROUPS for w in caption.split()}
    assert all(set(c.label.lower().split()) & words for c in analysis.clusters)


def test_naming_a_captioned_set_again_sends_its_captions_with_the_pictures(
        gemini: FakeGemini, with_key: str, image_csv: Path,  # noqa: F811
        tiny_dinov2: Path) -> None:
    settings = Settings(model=str(tiny_dinov2), device="cpu", projection="pca")
    analysis = analyze(image_csv, settings)
    assert gemini.requests == 0  # keywords of the captions: nothing sent
    gemini.script = lambda n, prompt: colour_answer(n, prompt, gemini.seen)

    named = relabel(analysis, analysis.settings.replace(labeler="gemini"), rename_all=True)

    assert gemini.requests == len(named.clusters) + len(named.topics)
    for seen in gemini.seen:
        prompt = seen.body["contents"][0]["parts"][0]["text"]
        pictures = images_of(seen.body)
        captions = prompt.split("Their captions, in the order of the images:\n")[1].splitlines()
        assert len(captions) == len(pictures)
        for caption, picture in zip(captions, pictures, strict=True):
            # Each caption is the one of the picture beside it.
            assert caption.split(". ", 1)[1] == list(GROUPS)[dominant(picture)]
    assert all(c.labeler == "gemini" or c.fallback_reason == "duplicate label"
               for c in named.clusters)
    assert PER_GROUP * len(GROUPS) == named.n_rows


def test_an_unreadable_picture_is_left_out_with_its_caption(tmp_path: Path) -> None:
    files = []
    for name, colour in (("red", (200, 30, 30)), ("gone", (0, 0, 0)), ("blue", (30, 30, 200))):
        files.append(tmp_path / f"{name}.png")
        Image.fromarray(np.full((40, 40, 3), colour, np.uint8)).save(files[-1])
    files[1].unlink()
    docs = [ClusterDocs(0, ["a red one", "a lost one", "a blue one"],
                        ["a red one", "a lost one", "a blue one"]),
            ClusterDocs(1, ["only lost"], ["only lost"])]
    reps = [np.array([0, 1, 2]), np.array([1])]

    attach_thumbnails(docs, reps, files)

    assert docs[0].representatives == ["a red one", "a blue one"]
    pictures = [Image.open(io.BytesIO(data)).convert("RGB") for data in docs[0].images]
    assert [dominant(p) for p in pictures] == [0, 2]
    assert docs[1].images == []
    assert docs[1].representatives == ["only lost"]


# ---- a local OpenAI-compatible server (--labeler local) ----

def chat_pictures(body: dict) -> list[Image.Image]:
    """The pictures in a chat-completions request: `image_url` parts with base64 JPEG data
    URLs after the text part."""
    content = body["messages"][-1]["content"]
    assert content[0]["type"] == "text"
    pictures = []
    for part in content[1:]:
        assert part["type"] == "image_url"
        header, data = part["image_url"]["url"].split(",", 1)
        assert header == "data:image/jpeg;base64"
        picture = Image.open(io.BytesIO(base64.b64decode(data, validate=True)))
        assert picture.format == "JPEG"
        pictures.append(picture.convert("RGB"))
    return pictures


def local_settings(model: Path, server: FakeChatServer) -> Settings:
    return Settings(model=str(model), device="cpu", projection="pca", labeler="local",
                    llm_url=server.url, llm_model="tiny-vision-model", representatives=4)


def test_a_local_vision_model_is_sent_the_thumbnails_as_data_urls(
        llm: FakeChatServer,  # noqa: F811
        image_folder: Path, tiny_dinov2: Path) -> None:  # noqa: F811
    def by_colour(n: int, content: object) -> object:
        return named(COLOUR_NAMES[dominant(chat_pictures(llm.seen[n].body)[0])])

    llm.script = by_colour
    analysis = analyze(image_folder, local_settings(tiny_dinov2, llm))

    assert llm.requests == len(analysis.clusters) + len(analysis.topics)
    for seen in llm.seen:
        prompt = seen.body["messages"][-1]["content"][0]["text"]
        assert "image dataset" in prompt
        assert ".png" not in prompt  # file names name nothing and are not sent as captions
        assert 1 <= len(chat_pictures(seen.body)) <= 4
    paths = image_paths(analysis)
    assert paths is not None
    named_by_colour = 0
    for cluster in analysis.clusters:
        colours = {dominant(Image.open(paths[r]).convert("RGB")) for r in cluster.representatives}
        if cluster.labeler == "local" and len(colours) == 1:
            assert cluster.label == COLOUR_NAMES[colours.pop()]
            named_by_colour += 1
    assert named_by_colour >= 1


def refuse_pictures(n: int, content: object) -> object:
    """A text-only model: a request with pictures is a 400, as Ollama answers for one."""
    if isinstance(content, list):
        return failure(400, "model does not support images")
    return named(f"From captions {n}")


def test_a_text_only_local_model_names_a_captioned_set_from_its_captions(
        llm: FakeChatServer,  # noqa: F811
        image_csv: Path, tiny_dinov2: Path) -> None:  # noqa: F811
    llm.script = refuse_pictures
    analysis = analyze(image_csv, local_settings(tiny_dinov2, llm))

    with_pictures = [s for s in llm.seen if isinstance(s.body["messages"][-1]["content"], list)]
    without = [s for s in llm.seen if isinstance(s.body["messages"][-1]["content"], str)]
    # Per naming pass (clusters, then topics): only those in flight when the first one failed.
    assert 2 <= len(with_pictures) <= 2 * 8
    assert len(without) == len(analysis.clusters) + len(analysis.topics)
    captions = set(GROUPS)
    for seen in without:  # the captions, as text rows
        assert any(caption in seen.body["messages"][-1]["content"] for caption in captions)
    assert all(c.labeler == "local" and c.label.startswith("From captions")
               for c in analysis.clusters)


def test_asking_again_without_pictures_is_not_one_of_the_tries(
        llm: FakeChatServer, tmp_path: Path) -> None:  # noqa: F811
    """With a single try allowed, a refused request still goes once more, captions only."""
    from level_desktop.core.labeling import ChatEndpointLabeler

    picture = tmp_path / "leaf.png"
    Image.fromarray(np.full((40, 40, 3), (30, 200, 40), np.uint8)).save(picture)
    image = thumbnail_jpeg(picture)
    assert image is not None
    docs = [ClusterDocs(0, ["leaf", "grass", "moss"], ["leaf", "grass"], images=[image, image])]
    llm.script = refuse_pictures

    labels = ChatEndpointLabeler(llm.url, "tiny-model", attempts=1).label(docs)

    assert labels[0].label == "From captions 1"
    assert labels[0].fallback_reason is None
    assert [type(s.body["messages"][-1]["content"]) for s in llm.seen] == [list, str]
    assert "1. leaf\n2. grass" in llm.seen[1].body["messages"][-1]["content"]


def test_a_text_only_local_model_leaves_a_captionless_set_numbered(
        llm: FakeChatServer,  # noqa: F811
        image_folder: Path, tiny_dinov2: Path) -> None:  # noqa: F811
    llm.script = refuse_pictures
    analysis = analyze(image_folder, local_settings(tiny_dinov2, llm))

    # Per naming pass (clusters, then topics), nothing more is sent once the model said it takes
    # no pictures: only the requests already in flight.
    assert 1 <= llm.requests <= 2 * 8
    assert all(isinstance(s.body["messages"][-1]["content"], list) for s in llm.seen)
    assert [c.label for c in analysis.clusters] == [f"Cluster {c.id}" for c in analysis.clusters]
    assert {c.fallback_reason for c in analysis.clusters} == {"the model takes no pictures"}
