"""The questions and warnings the window puts to the user, each in plain words."""

from __future__ import annotations

from enum import Enum

from PySide6.QtWidgets import QMessageBox, QWidget

from level_desktop.core.images import LABEL_THUMBNAIL_SIDE

TITLE = "Level"


class UnsavedChoice(Enum):
    SAVE = "save"
    DISCARD = "discard"
    CANCEL = "cancel"


def show_error(parent: QWidget | None, message: str) -> None:
    """A LevelError's message (or another one-line explanation), never a traceback."""
    QMessageBox.warning(parent, TITLE, message)


def ask_unsaved_weights(parent: QWidget | None, name: str, what: str = "weights"
                        ) -> UnsavedChoice:
    """Before unsaved changes would be dropped; `what` names them ("weights", "cluster names")."""
    answer = QMessageBox.question(
        parent, TITLE, f"The {what} of {name} were changed and not saved. Save them first?",
        QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
        | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
    if answer == QMessageBox.StandardButton.Save:
        return UnsavedChoice.SAVE
    if answer == QMessageBox.StandardButton.Discard:
        return UnsavedChoice.DISCARD
    return UnsavedChoice.CANCEL


def confirm_gemini_upload(parent: QWidget | None, rows_per_cluster: int,
                          service: str = "Gemini", recipient: str = "Google",
                          images: bool = False) -> bool:
    """Ask before any text leaves the machine: Gemini (or a remote LLM server) names clusters
    from sample rows (for an image set, `images`: their thumbnails)."""
    what = (f"a small copy (at most {LABEL_THUMBNAIL_SIDE} pixels) of the {rows_per_cluster} "
            f"most representative images of each cluster, with their captions if the file has "
            f"any," if images else
            f"the {rows_per_cluster} most representative rows of each cluster")
    offline = ("from keywords of their captions, or Cluster 1, 2, … without captions" if images
               else "with keywords")
    answer = QMessageBox.question(
        parent, TITLE,
        f"To name the clusters with {service}, Level sends {what} to {recipient}. The rest of "
        f"the {'images' if images else 'file'} stays on this computer.\n\nSend them to "
        f"{recipient}? (No names the clusters offline {offline}.)",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes
