"""Asking the user for a cluster's or a topic's own name (F2, a double-click on a name in the
tree or on a hill's label in the landscape) and giving it through the document.

Kept in one place so every way in asks the same question, starts from the current name, and asks
again, saying why, when the name cannot be used (empty, too long, another's); the document makes
the rename one undo step and keeps it when the clusters are named again.
"""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

from level_desktop.core.balance import NOISE_ID
from level_desktop.core.document import Document
from level_desktop.core.errors import RenameError
from level_desktop.gui.message_boxes import show_error

KEPT_NOTE = "kept when the names are made again"


def ask_and_rename(parent: QWidget, document: Document, kind: str, item_id: int) -> bool:
    """Ask for a new name for cluster or topic (`kind`) `item_id` and give it; True when the
    name changed, False when the user cancelled or typed the name it has."""
    if document.analysis is None or item_id < 0 or item_id == NOISE_ID:
        return False
    topic = kind == "topic"
    name = document.topic_label(item_id) if topic else document.cluster_label(item_id)
    while True:
        name, ok = QInputDialog.getText(
            parent, "Rename Topic" if topic else "Rename Cluster",
            f"New name for {kind} {item_id} ({KEPT_NOTE}):", QLineEdit.EchoMode.Normal, name)
        if not ok:
            return False
        try:
            return (document.rename_topic(item_id, name) if topic
                    else document.rename(item_id, name))
        except RenameError as err:
            show_error(parent, str(err))


def rename_selection(parent: QWidget, document: Document, selected_topic: int | None) -> bool:
    """F2: rename the selected cluster, else the selected topic (a topic row or massif)."""
    if document.selected is not None:
        return ask_and_rename(parent, document, "cluster", document.selected)
    if selected_topic is not None:
        return ask_and_rename(parent, document, "topic", selected_topic)
    return False
