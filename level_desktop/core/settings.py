"""Every choice a user can make, with its default, in one dataclass.

The CLI fills it from flags, the GUI from its settings dialog; it is stored in the project file
(as JSON, with a version) so a reopened project knows how it was made.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from level_desktop.core.errors import SettingsError

SETTINGS_VERSION = 1

DEFAULT_MODEL = "all-MiniLM-L6-v2"


@dataclass
class Settings:
    # load
    text_column: str | None = None
    # embed
    model: str = "auto"  # MiniLM, or the fast static path for large inputs on a CPU
    batch_size: int = 32
    device: str = "auto"
    max_seq_length: int | None = None
    # cluster
    method: str = "auto"
    k: int | None = None
    eps: float | None = None
    min_samples: int = 10
    min_cluster_size: int | None = None
    assign_noise: bool = False
    # sample / label
    representatives: int = 5
    labeler: str = "keywords"
    gemini_model: str = "gemini-3.6-flash"
    # project / terrain
    projection: str = "clusters"  # measured against UMAP in benchmarks/projection.py
    grid: int = 100
    # balance
    max_up: float = 3.0
    # randomness
    seed: int = 42

    def validate(self) -> None:
        """Raise `SettingsError` naming the first value a user must change."""
        if self.batch_size < 1:
            raise SettingsError(f"Batch size must be at least 1 (got {self.batch_size}).")
        if self.k is not None and self.k < 2:
            raise SettingsError(f"The number of clusters k must be at least 2 (got {self.k}).")
        if self.eps is not None and not self.eps > 0:
            raise SettingsError(f"eps must be a distance greater than 0 (got {self.eps}).")
        if self.min_samples < 1:
            raise SettingsError(f"min-samples must be at least 1 (got {self.min_samples}).")
        if self.min_cluster_size is not None and self.min_cluster_size < 2:
            raise SettingsError(
                f"min-cluster-size must be at least 2 (got {self.min_cluster_size}).")
        if self.representatives < 1:
            raise SettingsError(
                f"Representatives per cluster must be at least 1 (got {self.representatives}).")
        if not 10 <= self.grid <= 1000:
            raise SettingsError(f"The terrain grid must be 10 to 1000 cells a side (got {self.grid}).")
        if self.max_up < 1:
            raise SettingsError(f"The max up-weight must be at least 1 (got {self.max_up}).")
        if self.max_seq_length is not None and self.max_seq_length < 8:
            raise SettingsError(
                f"max-seq-length must be at least 8 tokens (got {self.max_seq_length}).")

    def to_json(self) -> str:
        return json.dumps({"version": SETTINGS_VERSION, **dataclasses.asdict(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Settings:
        """Read settings written by any version; unknown keys (from a newer Level) are ignored."""
        data: dict[str, Any] = json.loads(text)
        data.pop("version", None)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)
