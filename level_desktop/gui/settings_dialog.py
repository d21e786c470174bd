"""The analysis settings dialog: embedding model, clustering method and its parameters,
projection, grid size, labeler (with the Gemini key, or the LLM server's URL, model and optional
key) and the flatten limit. Keys go to the system keyring, never into the settings or a project.

The choices and their names come from the core's registries, and each clusterer's and labeler's
parameters get a widget from their description (`settings.Param`), enabled while a backend that
reads them is chosen; so a new backend shows here without a change to this file."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import Any

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

from level_desktop.core.backends import REGISTRIES
from level_desktop.core.errors import LevelError
from level_desktop.core.registry import Registry
from level_desktop.core.settings import DEFAULT_MODEL, Param, Settings, is_field
from level_desktop.gui.message_boxes import show_error

SECRETS_MODULE = "level_desktop.core.secrets"
DEVICES = {"auto": "auto (GPU if there is one)", "cpu": "CPU", "cuda": "GPU (CUDA)",
           "mps": "GPU (Apple)"}
MODEL_EXAMPLES = ("Snowflake/snowflake-arctic-embed-m",)  # offered after the registered names
AUTO = "auto"
SHOWN_ELSEWHERE = {"seed"}  # parameters with a widget of their own in the dialog


def secrets_module() -> ModuleType | None:
    """The core's key store, when this build has it."""
    if importlib.util.find_spec(SECRETS_MODULE) is None:
        return None
    return importlib.import_module(SECRETS_MODULE)


def _choices(registry: Registry[Any]) -> dict[str, str]:
    return {e.name: e.display_name for e in registry}


def _param_widget(param: Param, value: Any) -> QWidget:
    """A widget for one parameter, from its description; an optional number shows "auto" at its
    lowest value, which stands for None."""
    widget: QWidget
    if param.kind is bool:
        widget = QCheckBox(param.label)
        widget.setChecked(bool(value))
    elif param.kind is int:
        widget = QSpinBox()
        low = int(param.minimum if param.minimum is not None else 0)
        if param.optional:
            low -= 1
            widget.setSpecialValueText(AUTO)
        widget.setRange(low, int(param.maximum if param.maximum is not None else 1_000_000))
        widget.setValue(low if value is None else int(value))
    elif param.kind is float:
        widget = QDoubleSpinBox()
        widget.setDecimals(3)
        widget.setSingleStep(0.01)
        low = float(param.minimum if param.minimum is not None else 0.0)
        if param.optional:
            widget.setSpecialValueText(AUTO)
        widget.setRange(low, float(param.maximum if param.maximum is not None else 1e6))
        widget.setValue(low if value is None else float(value))
    else:
        widget = QLineEdit("" if value is None else str(value))
    widget.setToolTip(param.help)
    return widget


def _param_value(param: Param, widget: QWidget) -> Any:
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    if isinstance(widget, QSpinBox | QDoubleSpinBox):
        value = widget.value()
        return None if param.optional and value == widget.minimum() else value
    text = widget.text().strip() if isinstance(widget, QLineEdit) else ""
    return text or param.default


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
        self.model.addItems([*REGISTRIES["embedding"].names, *MODEL_EXAMPLES])
        self.model.setCurrentText(settings.model)
        self.model.setToolTip("auto: MiniLM, or the fast static path for large inputs on a CPU; "
                              "fast: always the fast path; or a sentence-transformers model id "
                              "in the local cache, or a folder")
        self.device = _combo(DEVICES, settings.device)
        self.method = _combo(_choices(REGISTRIES["clustering"]), settings.method)
        self.labeler = _combo(_choices(REGISTRIES["labeling"]), settings.labeler)
        # One widget per parameter a clusterer or labeler reads, enabled while one that reads it
        # is chosen in `_choosers[stage]`.
        self._choosers = {"clustering": self.method, "labeling": self.labeler}
        self._params: dict[str, tuple[Param, QWidget, str]] = {}
        for stage in self._choosers:
            for param in REGISTRIES[stage].parameters():
                if param.name not in SHOWN_ELSEWHERE and param.name not in self._params:
                    widget = _param_widget(param, settings.value(param.name, param.default))
                    self._params[param.name] = (param, widget, stage)
                    setattr(self, param.name, widget)
        self.assign_noise = QCheckBox("Give noise rows to their nearest cluster")
        self.assign_noise.setChecked(settings.assign_noise)
        self.projection = _combo(_choices(REGISTRIES["projection"]), settings.projection)
        self.grid = QSpinBox()
        self.grid.setRange(10, 400)
        self.grid.setSingleStep(10)
        self.grid.setSuffix(" cells a side")
        self.grid.setValue(settings.grid)
        self.api_key = QLineEdit()
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key.setAccessibleName("Gemini API key")
        self.llm_api_key = QLineEdit()  # optional: local servers rarely want one
        self.llm_api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.llm_api_key.setAccessibleName("LLM server API key")
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
        names = QFormLayout()
        names.addRow("Cluster names:", self.labeler)
        forms = {"clustering": cluster, "labeling": names}
        for param, widget, stage in self._params.values():
            forms[stage].addRow("" if param.kind is bool else f"{param.label}:", widget)
        cluster.addRow("", self.assign_noise)
        landscape = QFormLayout()
        landscape.addRow("Map projection:", self.projection)
        landscape.addRow("Terrain grid:", self.grid)
        landscape.addRow("Flatten max up-weight:", self.max_up)
        landscape.addRow("Random seed:", self.seed)
        names.addRow("Gemini API key:", self.api_key)
        names.addRow("LLM server key:", self.llm_api_key)
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
            self.llm_api_key.setPlaceholderText("Set LEVEL_LLM_API_KEY in the environment")
            return
        stored = self._secrets.get_gemini_key()
        self.api_key.setPlaceholderText("A key is stored (type to replace it)" if stored
                                        else "Paste a key; it is kept in the system keyring")
        if not hasattr(self._secrets, "get_llm_key"):
            self.llm_api_key.setEnabled(False)
            return
        stored = self._secrets.get_llm_key()
        self.llm_api_key.setPlaceholderText(
            "A key is stored (type to replace it)" if stored
            else "Optional; kept in the system keyring, never in the project")

    def _reads(self, stage: str, name: str) -> bool:
        """Whether the backend chosen for `stage` reads the parameter `name`."""
        chosen = self._choosers[stage].currentData()
        registry = REGISTRIES[stage]
        return chosen in registry and name in registry.entry(chosen).parameter_names

    def _enable_relevant(self) -> None:
        for name, (_, widget, stage) in self._params.items():
            widget.setEnabled(self._reads(stage, name))
        method = self.method.currentData()
        clusterers = REGISTRIES["clustering"]
        self.assign_noise.setEnabled(method in clusterers and clusterers.entry(method).makes_noise)
        gemini = self.labeler.currentData() == "gemini"  # the key is Gemini's own
        self.api_key.setEnabled(gemini and self._secrets is not None)
        local = self.labeler.currentData() == "local"  # and this key is the LLM server's
        self.llm_api_key.setEnabled(local and hasattr(self._secrets, "set_llm_key"))

    def settings(self) -> Settings:
        """The settings as edited (the text column and other unshown fields are kept; so is a
        parameter no chosen backend reads)."""
        fields: dict[str, Any] = {}
        declared: dict[str, Any] = dict(self._original.params)
        for name, (param, widget, stage) in self._params.items():
            if self._reads(stage, name):
                value = _param_value(param, widget)
                if is_field(name):
                    fields[name] = value
                else:
                    declared[name] = value
        return self._original.replace(
            model=self.model.currentText().strip() or DEFAULT_MODEL,
            device=self.device.currentData(),
            method=self.method.currentData(),
            assign_noise=self.assign_noise.isChecked(),
            projection=self.projection.currentData(),
            grid=self.grid.value(),
            labeler=self.labeler.currentData(),
            max_up=self.max_up.value(),
            seed=self.seed.value(),
            params=declared,
            **fields,
        )

    def accept(self) -> None:
        for field, store in ((self.api_key, "set_gemini_key"),
                             (self.llm_api_key, "set_llm_key")):
            key = field.text().strip()
            if key and self._secrets is not None:
                try:
                    getattr(self._secrets, store)(key)
                except LevelError as err:  # e.g. no keyring on this system: say so, stay open
                    show_error(self, str(err))
                    return
        super().accept()
