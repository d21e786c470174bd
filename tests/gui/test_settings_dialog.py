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
