"""The analysis settings dialog: embedding model, clustering method and its parameters,
projection, grid size, labeler (with the Gemini key) and the flatten limit."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from level_desktop.core.errors import LevelError
from level_desktop.core.settings import DEFAULT_MODEL, Settings
from level_desktop.gui.message_boxes import show_error

SECRETS_MODULE = "level_desktop.core.secrets"
METHODS = {"auto": "auto — k-means, k from the number of rows (recommended)",
           "kmeans": "k-means with a chosen k", "dbscan": "DBSCAN (cosine)", "hdbscan": "HDBSCAN"}
PROJECTIONS = {"clusters": "Cluster landscape (one hill per cluster; fast)",
               "umap": "UMAP (rows by their neighbours; slower)", "tsne": "t-SNE",
               "pca": "PCA (fastest; hills may merge)"}
LABELERS = {"keywords": "Keywords (offline)", "gemini": "Gemini (sends sample rows to Google)"}
DEVICES = {"auto": "auto (GPU if there is one)", "cpu": "CPU", "cuda": "GPU (CUDA)",
           "mps": "GPU (Apple)"}
MODELS = ("auto", DEFAULT_MODEL, "fast", "Snowflake/snowflake-arctic-embed-m")
AUTO = "auto"


def secrets_module() -> ModuleType | None:
    """The core's key store, when this build has it."""
    if importlib.util.find_spec(SECRETS_MODULE) is None:
        return None
    return importlib.import_module(SECRETS_MODULE)


def _combo(choices: dict[str, str], current: str) -> QComboBox:
    box = QComboBox()
    for value, text in choices.items():
        box.addItem(text, value)
    if box.findData(current) < 0:
        box.addItem(current, current)
    box.setCurrentIndex(box.findData(current))
    return box


class SettingsDialog(QDialog):
    """Edit a Settings value; `settings()` returns the edited copy."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Analysis settings")
        self._original = settings
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.addItems(list(MODELS))
        self.model.setCurrentText(settings.model)
        self.model.setToolTip("auto: MiniLM, or the fast static path for large inputs on a CPU; "
                              "fast: always the fast path; or a sentence-transformers model id "
                              "in the local cache, or a folder")
        self.device = _combo(DEVICES, settings.device)
        self.method = _combo(METHODS, settings.method)
        self.k = QSpinBox()
        self.k.setRange(2, 1000)
        self.k.setValue(settings.k or 20)
        self.eps = QDoubleSpinBox()
        self.eps.setRange(0.0, 100.0)  # a distance in the 5-d UMAP space DBSCAN runs in
        self.eps.setDecimals(3)
        self.eps.setSingleStep(0.01)
        self.eps.setSpecialValueText(AUTO)
        self.eps.setValue(settings.eps or 0.0)
        self.min_samples = QSpinBox()
        self.min_samples.setRange(1, 10_000)
        self.min_samples.setValue(settings.min_samples)
        self.min_cluster_size = QSpinBox()
        self.min_cluster_size.setRange(1, 1_000_000)
        self.min_cluster_size.setSpecialValueText(AUTO)
        self.min_cluster_size.setValue(settings.min_cluster_size or 1)
        self.assign_noise = QCheckBox("Give noise rows to their nearest cluster")
        self.assign_noise.setChecked(settings.assign_noise)
        self.projection = _combo(PROJECTIONS, settings.projection)
        self.grid = QSpinBox()
        self.grid.setRange(10, 400)
        self.grid.setSingleStep(10)
        self.grid.setSuffix(" cells a side")
        self.grid.setValue(settings.grid)
        self.labeler = _combo(LABELERS, settings.labeler)
        self.gemini_model = QLineEdit(settings.gemini_model)
        self.api_key = QLineEdit()
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key.setAccessibleName("Gemini API key")
        self.max_up = QDoubleSpinBox()
        self.max_up.setRange(1.0, 20.0)
        self.max_up.setSingleStep(0.5)
        self.max_up.setDecimals(1)
        self.max_up.setValue(settings.max_up)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(settings.seed)
        self._secrets = secrets_module()
        self._describe_key_store()

        embed = QFormLayout()
        embed.addRow("Model:", self.model)
        embed.addRow("Device:", self.device)
        cluster = QFormLayout()
        cluster.addRow("Method:", self.method)
        cluster.addRow("Clusters (k):", self.k)
        cluster.addRow("eps (UMAP distance):", self.eps)
        cluster.addRow("min_samples:", self.min_samples)
        cluster.addRow("min_cluster_size:", self.min_cluster_size)
        cluster.addRow("", self.assign_noise)
        landscape = QFormLayout()
        landscape.addRow("Map projection:", self.projection)
        landscape.addRow("Terrain grid:", self.grid)
        landscape.addRow("Flatten max up-weight:", self.max_up)
        landscape.addRow("Random seed:", self.seed)
        names = QFormLayout()
        names.addRow("Cluster names:", self.labeler)
        names.addRow("Gemini model:", self.gemini_model)
        names.addRow("Gemini API key:", self.api_key)
        layout = QVBoxLayout(self)
        for title, form in (("Embedding", embed), ("Clustering", cluster),
                            ("Landscape", landscape), ("Naming", names)):
            box = QGroupBox(title)
            box.setLayout(form)
            layout.addWidget(box)
        note = QLabel("These choices are saved with the project and used as the defaults for the "
                      "next file.")
        note.setWordWrap(True)
        note.setStyleSheet("color: palette(mid);")
        layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.method.currentIndexChanged.connect(self._enable_relevant)
        self.labeler.currentIndexChanged.connect(self._enable_relevant)
        self._enable_relevant()

    def _describe_key_store(self) -> None:
        if self._secrets is None:
            self.api_key.setPlaceholderText("Set GEMINI_API_KEY in the environment")
            self.api_key.setEnabled(False)
            return
        stored = self._secrets.get_gemini_key()
        self.api_key.setPlaceholderText("A key is stored (type to replace it)" if stored
                                        else "Paste a key; it is kept in the system keyring")

    def _enable_relevant(self) -> None:
        method = self.method.currentData()
        self.k.setEnabled(method == "kmeans")
        self.eps.setEnabled(method == "dbscan")
        self.min_samples.setEnabled(method in ("dbscan", "hdbscan"))
        self.min_cluster_size.setEnabled(method == "hdbscan")
        self.assign_noise.setEnabled(method in ("dbscan", "hdbscan"))
        gemini = self.labeler.currentData() == "gemini"
        self.gemini_model.setEnabled(gemini)
        self.api_key.setEnabled(gemini and self._secrets is not None)

    def settings(self) -> Settings:
        """The settings as edited (the text column and other unshown fields are kept)."""
        method = self.method.currentData()
        return self._original.replace(
            model=self.model.currentText().strip() or DEFAULT_MODEL,
            device=self.device.currentData(),
            method=method,
            k=self.k.value() if method == "kmeans" else self._original.k,
            eps=(self.eps.value() or None) if method == "dbscan" else self._original.eps,
            min_samples=self.min_samples.value(),
            min_cluster_size=(self.min_cluster_size.value() if self.min_cluster_size.value() > 1
                              else None),
            assign_noise=self.assign_noise.isChecked(),
            projection=self.projection.currentData(),
            grid=self.grid.value(),
            labeler=self.labeler.currentData(),
            gemini_model=self.gemini_model.text().strip() or self._original.gemini_model,
            max_up=self.max_up.value(),
            seed=self.seed.value(),
        )

    def accept(self) -> None:
        key = self.api_key.text().strip()
        if key and self._secrets is not None:
            try:
                self._secrets.set_gemini_key(key)
            except LevelError as err:  # e.g. no keyring on this system: say so, stay open
                show_error(self, str(err))
                return
        super().accept()
