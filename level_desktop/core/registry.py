"""Explicit name → backend registries; an unknown name lists the valid ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from level_desktop.core.errors import UnknownBackendError

T = TypeVar("T")


class Registry(Generic[T]):
    """Backends of one stage, chosen by name."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str, factory: Callable[..., T]) -> None:
        self._factories[name] = factory

    @property
    def names(self) -> list[str]:
        return list(self._factories)

    def create(self, name: str, **params: object) -> T:
        if name not in self._factories:
            raise UnknownBackendError(
                f"Unknown {self.stage} method {name!r}. Choose one of: {', '.join(self.names)}.")
        return self._factories[name](**params)
