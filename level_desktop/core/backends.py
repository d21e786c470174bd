"""Every stage's registry, by the stage's name, for the places that list all backends: the CLI's
flags and the settings dialog. Importing it imports every stage module (numpy, no heavy models).
"""

from __future__ import annotations

from typing import Any

import level_desktop.core.image_embedding  # noqa: F401  (registers the image embedder)
from level_desktop.core.clustering import CLUSTERERS
from level_desktop.core.embedding import EMBEDDERS
from level_desktop.core.export import EXPORTERS
from level_desktop.core.labeling import LABELERS
from level_desktop.core.loading import READERS
from level_desktop.core.projection import PROJECTORS
from level_desktop.core.registry import Registry
from level_desktop.core.settings import Param, is_field

REGISTRIES: dict[str, Registry[Any]] = {
    r.stage: r for r in (READERS, EMBEDDERS, CLUSTERERS, LABELERS, PROJECTORS, EXPORTERS)}


def declared_parameters(stages: tuple[str, ...] | None = None) -> list[Param]:
    """Parameters backends declare themselves (not `Settings` fields), each once."""
    seen: dict[str, Param] = {}
    for stage, registry in REGISTRIES.items():
        if stages is None or stage in stages:
            for p in registry.parameters():
                if not is_field(p.name):
                    seen.setdefault(p.name, p)
    return list(seen.values())


def choices_help(stage: str, default: str | None) -> str:
    """One line listing a stage's backends for `--help`: name (description), the default first
    marked as such."""
    registry = REGISTRIES[stage]
    parts = [f"{e.name} ({'default; ' if e.name == default else ''}{e.description})"
             if e.description else e.name for e in registry]
    text = ", ".join(parts)
    return f"{text}, {registry.other}" if registry.other else text
