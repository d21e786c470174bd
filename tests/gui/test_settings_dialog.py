"""The settings dialog lists the registries' backends by their display names, and gives each
backend parameter a widget that is live only while a backend reading it is chosen."""

from __future__ import annotations

import pytest

from level_desktop.core.settings import Settings

pytestmark = pytest.mark.gui


def test_choices_and_names_come_from_the_registries(qtbot) -> None:
    from level_desktop.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    methods = {dialog.method.itemData(i): dialog.method.itemText(i)
               for i in range(dialog.method.count())}
    assert list(methods) == ["auto", "kmeans", "dbscan", "hdbscan"]
    assert methods["dbscan"] == "DBSCAN (in 5-d UMAP space)"
    dialog.method.setCurrentIndex(dialog.method.findData("dbscan"))
    assert dialog.eps.isEnabled()
    assert dialog.min_samples.isEnabled()
    assert dialog.assign_noise.isEnabled()
    assert not dialog.k.isEnabled()
    dialog.method.setCurrentIndex(dialog.method.findData("kmeans"))
    dialog.k.setValue(12)
    assert not dialog.eps.isEnabled()
    assert not dialog.assign_noise.isEnabled()
    assert dialog.settings().k == 12
    dialog.labeler.setCurrentIndex(dialog.labeler.findData("keywords"))
    assert not dialog.gemini_model.isEnabled()


def test_a_registered_clusterer_shows_with_its_parameter(qtbot, toy_clusterer) -> None:
    from level_desktop.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    index = dialog.method.findData("toy")
    assert index >= 0
    assert dialog.method.itemText(index) == "Toy split (for tests)"
    assert not dialog.toy_tilt.isEnabled()
    dialog.method.setCurrentIndex(index)
    assert dialog.toy_tilt.isEnabled()
    assert not dialog.k.isEnabled()
    assert dialog.toy_tilt.toolTip() == "where the toy splits the first coordinate"
    dialog.toy_tilt.setValue(0.3)
    chosen = dialog.settings()
    assert (chosen.method, chosen.params) == ("toy", {"toy_tilt": 0.3})


def test_llm_server_url_and_model_come_from_the_registry(qtbot) -> None:
    from level_desktop.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    index = dialog.labeler.findData("local")
    assert index >= 0
    assert dialog.labeler.itemText(index).startswith("LLM server")
    assert not dialog.llm_url.isEnabled()
    dialog.labeler.setCurrentIndex(index)
    assert dialog.llm_url.isEnabled()
    assert dialog.llm_model.isEnabled()
    assert not dialog.gemini_model.isEnabled()
    assert not dialog.api_key.isEnabled()  # the Gemini key field is Gemini's own
    dialog.llm_url.setText("http://127.0.0.1:8080/v1")
    dialog.llm_model.setText("qwen3")
    chosen = dialog.settings()
    assert (chosen.labeler, chosen.llm_url, chosen.llm_model) == (
        "local", "http://127.0.0.1:8080/v1", "qwen3")
