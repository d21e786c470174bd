"""Registries describe their backends; the CLI and the fingerprints are built from them."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import numpy as np
import pytest

from level_desktop.cli import _settings_from_args, build_parser
from level_desktop.core.clustering import CLUSTERERS
from level_desktop.core.errors import SettingsError, UnknownBackendError
from level_desktop.core.labeling import LABELERS
from level_desktop.core.pipeline import analyze, cluster_fingerprint, label_fingerprint
from level_desktop.core.projection import PROJECTORS
from level_desktop.core.settings import Settings


def test_an_unknown_parameter_raises_instead_of_being_dropped() -> None:
    with pytest.raises(SettingsError, match=r"'eps'.*reads k, seed"):
        CLUSTERERS.create("kmeans", Settings(), eps=0.5)


def test_the_toy_clusterer_is_registered_only_for_the_tests_that_ask() -> None:
    assert "toy" not in CLUSTERERS
    assert "toy" not in _help("analyze")


def test_an_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownBackendError, match="auto, kmeans, dbscan, hdbscan"):
        CLUSTERERS.entry("optics")


def test_backends_read_their_declared_fields_from_the_settings() -> None:
    made = CLUSTERERS.create("kmeans", Settings(k=7, seed=3))
    assert (made.k, made.seed) == (7, 3)  # type: ignore[attr-defined]


def test_facts_are_declared_not_sniffed() -> None:
    assert PROJECTORS.entry("clusters").needs_clusters
    assert not PROJECTORS.entry("umap").needs_clusters
    assert LABELERS.entry("gemini").sends_rows_off_machine
    assert CLUSTERERS.entry("dbscan").makes_noise
    assert not CLUSTERERS.entry("auto").makes_noise
    assert "UMAP" in CLUSTERERS.entry("dbscan").display_name


def test_fingerprints_follow_only_the_fields_a_backend_reads() -> None:
    base = Settings(method="auto")
    assert cluster_fingerprint("e", base) == cluster_fingerprint("e", base.replace(k=9, eps=1.0))
    assert cluster_fingerprint("e", base) != cluster_fingerprint("e", base.replace(seed=1))
    kmeans = base.replace(method="kmeans")
    assert cluster_fingerprint("e", kmeans) != cluster_fingerprint("e", kmeans.replace(k=9))
    keywords = Settings(labeler="keywords")
    assert label_fingerprint("c", keywords) == label_fingerprint(
        "c", keywords.replace(gemini_model="other"))
    gemini = Settings(labeler="gemini")
    assert label_fingerprint("c", gemini) != label_fingerprint(
        "c", gemini.replace(gemini_model="other"))


def _help(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        build_parser().parse_args([*argv, "--help"])
    return out.getvalue()


def test_a_registered_clusterer_reaches_the_cli_and_the_fingerprint(toy_clusterer) -> None:
    text = _help("analyze")
    assert "toy (splits the rows at a tilt)" in text
    assert "--toy-tilt" in text
    assert "where the toy splits" in text
    args = build_parser().parse_args(["analyze", "in.csv", "--method", "toy",
                                      "--toy-tilt", "0.25"])
    settings = _settings_from_args(args)
    assert settings.params == {"toy_tilt": 0.25}
    assert Settings.from_json(settings.to_json()) == settings
    made = CLUSTERERS.create("toy", settings)
    assert made.name == "toy"
    assert made.toy_tilt == 0.25
    vectors = np.array([[0.1, 1.0], [0.5, 1.0], [0.9, 1.0]], dtype=np.float32)
    assert made.fit(vectors).tolist() == [0, 1, 1]
    other = settings.replace(params={"toy_tilt": 0.6})
    assert cluster_fingerprint("e", settings) != cluster_fingerprint("e", other)
    assert CLUSTERERS.create("toy", Settings()).toy_tilt == 0.0  # type: ignore[attr-defined]
    with pytest.raises(SettingsError, match="toy-tilt must be at least -1"):
        CLUSTERERS.create("toy", Settings(params={"toy_tilt": -5.0}))


def test_a_project_saved_before_backends_declared_their_parameters_reuses_every_stage(
        tmp_path: Path) -> None:
    """project-v1.level carries the fingerprints of the earlier formula; reopening it and
    re-running must not recluster (which would reset the weights) nor rename its clusters."""
    from level_desktop.core.store import load_project

    # A copy: opening a version-1 file upgrades it in place.
    copy = tmp_path / "v1.level"
    shutil.copyfile(Path(__file__).parent / "data" / "project-v1.level", copy)
    saved = load_project(copy)
    messages: list[str] = []
    again = analyze(None, saved.settings, progress=lambda s, f, m: messages.append(m),
                    previous=saved)
    assert [m for m in messages if "reused" in m] == [
        "Embeddings reused from the previous run", "Clusters reused from the previous run",
        "Cluster names reused from the previous run", "Map reused from the previous run"]
    assert again.weights == saved.weights
    assert again.fingerprints["cluster"] == cluster_fingerprint(again.fingerprints["embed"],
                                                                 again.settings)
