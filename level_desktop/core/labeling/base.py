"""What every labeler shares: what it reads about a cluster, what it answers, its protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress

STAGE = "label"


@dataclass
class ClusterDocs:
    """What a labeler may read about one cluster."""

    cluster_id: int
    texts: list[str]  # all its rows
    representatives: list[str]  # its most central rows, most central first
    # An image set's: JPEG thumbnails of the representatives' images, for a labeler that looks
    # at pictures (Gemini; filled only for one, see `RemoteLabeler.sends_images`).
    images: list[bytes] = field(default_factory=list)
    # An image set without captions: its texts are only file names, which name nothing, so a
    # cluster that gets no name falls back to "Cluster N", not to keywords of file names.
    texts_are_file_names: bool = False


@dataclass
class ClusterLabel:
    label: str
    description: str
    labeler: str
    fallback_reason: str | None = None  # set when a better labeler failed for this cluster
    terms: list[str] = field(default_factory=list)


@runtime_checkable
class Labeler(Protocol):
    name: str

    def label(self, clusters: list[ClusterDocs], progress: ProgressCallback = no_progress,
              cancel: CancelToken | None = None) -> dict[int, ClusterLabel]: ...


def fallback_label(cluster_id: int) -> ClusterLabel:
    """The name of last resort, when no labeler found one."""
    return ClusterLabel(f"Cluster {cluster_id}", "", "none")


class NumberedLabeler:
    """Names every cluster "Cluster N" and reads nothing: for an image set with no caption or
    label column, where the only text is file names (keywords over them name nothing)."""

    name = "numbered"

    def label(self, clusters: list[ClusterDocs], progress: ProgressCallback = no_progress,
              cancel: CancelToken | None = None) -> dict[int, ClusterLabel]:
        progress(STAGE, 1.0, f"Numbered {len(clusters)} clusters")
        return {c.cluster_id: ClusterLabel(f"Cluster {c.cluster_id}", "", self.name)
                for c in clusters}
