"""Named backends of a stage, each describing itself; an unknown name lists the valid ones.

An entry says what the CLI, the settings dialog and the pipeline need to know about a backend
without building it: its display name, a one-line description, the parameters it reads (names of
`Settings` fields, or `Param`s it declares itself, kept in `Settings.params`), and facts such as
whether it sends rows off this machine. The CLI's flags and choices, the dialog's choices and
parameter widgets, and each stage's fingerprint are built from these entries, so adding a
backend is one module that registers it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from level_desktop.core.errors import SettingsError, UnknownBackendError
from level_desktop.core.settings import Param, Settings, field_param, is_field

T = TypeVar("T")


@dataclass(frozen=True)
class Backend(Generic[T]):
    """One registered backend and the facts about it."""

    name: str
    factory: Callable[..., T]
    display_name: str
    description: str
    params: tuple[Param, ...] = ()  # what it reads, resolved to descriptions
    # it sends rows of the user's data to a remote service; a callable answers per settings
    # (an OpenAI-compatible server does only when its URL is not on this machine)
    sends_rows_off_machine: bool | Callable[[Settings], bool] = False
    needs_clusters: bool = False  # projectors: lays out from the clusters, so redone with them
    makes_noise: bool = False  # clusterers: may leave rows in no cluster (label −1)
    suffixes: tuple[str, ...] = ()  # readers and exporters: the file endings it handles

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def sends_rows(self, settings: Settings) -> bool:
        """Whether this backend, built from `settings`, sends rows off this machine."""
        fact = self.sends_rows_off_machine
        return bool(fact(settings)) if callable(fact) else bool(fact)

    def values(self, settings: Settings) -> dict[str, Any]:
        """The values of this backend's parameters in `settings`, by name."""
        return {p.name: settings.value(p.name, p.default) for p in self.params}


class Registry(Generic[T]):
    """Backends of one stage, chosen by name.

    `runtime` names the keyword arguments the caller passes besides the backend's parameters
    (a progress callback, a cancel token, the corpus); any other unknown keyword is an error,
    so a misspelt or unsupported parameter is never silently dropped.
    """

    def __init__(self, stage: str, runtime: tuple[str, ...] = (), other: str = "") -> None:
        self.stage = stage
        self.runtime = runtime
        self.other = other  # what a name not registered means, if the stage accepts one
        self._entries: dict[str, Backend[T]] = {}

    def register(self, name: str, factory: Callable[..., T], *, display_name: str | None = None,
                 description: str = "", parameters: tuple[str | Param, ...] = (),
                 sends_rows_off_machine: bool | Callable[[Settings], bool] = False,
                 needs_clusters: bool = False,
                 makes_noise: bool = False, suffixes: tuple[str, ...] = ()) -> Backend[T]:
        """Add (or replace) a backend. `parameters` are `Settings` field names or `Param`s."""
        params = tuple(p if isinstance(p, Param) else field_param(p) for p in parameters)
        entry = Backend(name=name, factory=factory, display_name=display_name or name,
                        description=description, params=params,
                        sends_rows_off_machine=sends_rows_off_machine,
                        needs_clusters=needs_clusters, makes_noise=makes_noise,
                        suffixes=tuple(s.lower() for s in suffixes))
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    @property
    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Backend[T]]:
        return iter(list(self._entries.values()))

    def entry(self, name: str) -> Backend[T]:
        if name not in self._entries:
            raise UnknownBackendError(
                f"Unknown {self.stage} method {name!r}. Choose one of: {', '.join(self.names)}.")
        return self._entries[name]

    def for_suffix(self, suffix: str) -> Backend[T] | None:
        """The first backend that handles files ending in `suffix` (e.g. ".tsv"), if any."""
        suffix = suffix.lower()
        return next((e for e in self._entries.values() if suffix in e.suffixes), None)

    def parameters(self) -> list[Param]:
        """Every parameter any backend reads, each once, in registration order."""
        seen: dict[str, Param] = {}
        for entry in self._entries.values():
            for p in entry.params:
                seen.setdefault(p.name, p)
        return list(seen.values())

    def readers_of(self, name: str) -> list[str]:
        """The backends that read the parameter `name`."""
        return [e.name for e in self._entries.values() if name in e.parameter_names]

    def create(self, name: str, settings: Settings | None = None, /, **params: Any) -> T:
        """Build backend `name` with its parameters read from `settings` (default: the defaults);
        keywords override them. A keyword that is neither one of its parameters nor a runtime
        argument raises `SettingsError`."""
        entry = self.entry(name)
        unknown = sorted(set(params) - set(entry.parameter_names) - set(self.runtime))
        if unknown:
            takes = ", ".join(entry.parameter_names) or "no parameters"
            raise SettingsError(
                f"The {self.stage} method {name!r} has no parameter "
                f"{', '.join(repr(u) for u in unknown)}; it reads {takes}.")
        values = entry.values(settings if settings is not None else Settings())
        values.update(params)
        for p in entry.params:
            if not is_field(p.name):
                p.check(values[p.name])  # fields are checked by Settings.validate
        return entry.factory(**values)

    def fingerprint(self, name: str, settings: Settings) -> tuple[object, ...]:
        """What a result of backend `name` depends on in `settings`: its name and its
        parameters' values, in the order it declares them."""
        return (name, *self.entry(name).values(settings).values())
