"""Every choice a user can make, with its default, in one dataclass.

The CLI fills it from flags, the GUI from its settings dialog; it is stored in the project file
(as JSON, with a version) so a reopened project knows how it was made.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import typing
from dataclasses import dataclass, field
from typing import Any

from level_desktop.core.errors import SettingsError

SETTINGS_VERSION = 1

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_GEMINI_MODEL = "gemini-3.6-flash"


@dataclass(frozen=True)
class Param:
    """One value a backend reads: a `Settings` field, or a parameter a backend declares itself
    (kept in `Settings.params`), described once for the CLI flag, the dialog and the fingerprint.
    """

    name: str
    kind: type  # int, float, bool or str
    default: Any
    label: str  # short, for the settings dialog
    help: str  # one line, for `--help` and tool tips
    optional: bool = False  # None is allowed and means "chosen automatically"
    minimum: float | None = None
    maximum: float | None = None  # the dialog's upper bound

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any) -> None:
        """Raise `SettingsError` when `value` is outside this parameter's range."""
        if value is None:
            if not self.optional:
                raise SettingsError(f"{self.flag[2:]} needs a value.")
            return
        if self.minimum is not None and value < self.minimum:
            raise SettingsError(
                f"{self.flag[2:]} must be at least {self.minimum:g} (got {value}).")


def setting(default: Any, label: str = "", help: str = "", *, cli: bool = True,
            minimum: float | None = None, maximum: float | None = None,
            choices: str | None = None) -> Any:
    """A `Settings` field with what the CLI and the dialog show for it. `choices` names the
    stage whose registry lists the valid values (the field then picks a backend)."""
    return field(default=default, metadata={"label": label, "help": help, "cli": cli,
                                            "minimum": minimum, "maximum": maximum,
                                            "choices": choices})


@dataclass
class Settings:
    # load
    text_column: str | None = setting(None, "Text column",
                                      "column holding the text (default: auto-detected)")
    image_column: str | None = setting(
        None, "Image column", "column of image paths, relative to the file or absolute "
        "(default: detected; then --text-column names the caption column that names clusters)")
    # embed
    model: str = setting("auto", "Model", choices="embedding")  # MiniLM, or the fast static path
    batch_size: int = setting(32, "Batch size", "texts per batch (default 32)", minimum=1)
    device: str = setting("auto", "Device", "auto, cpu, cuda, cuda:1, mps (default auto)")
    max_seq_length: int | None = setting(None, "Max tokens", "truncate texts to this many tokens",
                                         minimum=8)
    vectors_column: str | None = setting(
        None, "Vector column", "use the vectors in this column of a Parquet or JSON Lines file "
        "(or a folder of Parquet shards, e.g. from `level embed`) instead of embedding")
    model_name: str | None = setting(None, "Model name",
                                     "the model that made --vectors-column's vectors (recorded)")
    time_budget: float = setting(60.0, "Time budget (s)",
                                 "model auto: take the full model when it would embed the rows "
                                 "within this many seconds here, else the fast path (default 60)",
                                 minimum=1)
    # cluster
    method: str = setting("auto", "Method", choices="clustering")
    k: int | None = setting(None, "Clusters (k)",
                            "number of clusters for kmeans (default: round(√rows))",
                            minimum=2, maximum=1000)
    eps: float | None = setting(None, "eps (UMAP distance)",
                                "DBSCAN eps, a distance in the 5-d UMAP space (default: chosen "
                                "from the k-distance curve)", minimum=0.0, maximum=100.0)
    min_samples: int = setting(10, "min_samples", "DBSCAN/HDBSCAN min_samples (default 10)",
                               minimum=1, maximum=10_000)
    min_cluster_size: int | None = setting(None, "min_cluster_size",
                                           "HDBSCAN min_cluster_size", minimum=2,
                                           maximum=1_000_000)
    assign_noise: bool = setting(False, "Assign noise",
                                 "give noise rows to their nearest cluster")
    # sample / label
    representatives: int = setting(5, "Representatives", "rows shown per cluster (default 5)",
                                   minimum=1)
    labeler: str = setting("keywords", "Cluster names", choices="labeling")
    gemini_model: str = setting(DEFAULT_GEMINI_MODEL, "Gemini model",
                                "Gemini model for --labeler gemini")
    llm_url: str = setting("http://127.0.0.1:11434/v1", "LLM server URL",
                           "base URL of an OpenAI-compatible chat server for --labeler local "
                           "(default Ollama's on this machine)")
    llm_model: str = setting("", "LLM model", "model name the server knows, for --labeler local")
    # project / terrain
    projection: str = setting("clusters", "Map projection",  # measured against UMAP in
                              choices="projection")  # benchmarks/projection.py
    grid: int = setting(100, "Terrain grid", "terrain grid cells a side (default 100)")
    # balance
    max_up: float = setting(3.0, "Flatten max up-weight", cli=False)
    # randomness
    seed: int = setting(42, "Random seed", "random seed (default 42)")
    # parameters a backend declares itself (see `registry.Backend.parameters`), by name
    params: dict[str, Any] = field(default_factory=dict, metadata={"cli": False})

    def value(self, name: str, default: Any = None) -> Any:
        """A field's value, or a backend-declared parameter's (`default` when it is unset)."""
        if name in _field_names():
            return getattr(self, name)
        return self.params.get(name, default)

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

        if self.labeler == "local":
            from urllib.parse import urlsplit

            url = urlsplit(self.llm_url.strip())
            if url.scheme not in ("http", "https") or not url.hostname:
                raise SettingsError(f"The LLM server URL must start with http:// or https:// and "
                                    f"name a host, e.g. http://127.0.0.1:11434/v1 "
                                    f"(got {self.llm_url!r}).")
            if not self.llm_model.strip():
                raise SettingsError("Naming clusters with an LLM server needs the model's name "
                                    "(--llm-model, e.g. llama3.2).")

    def to_json(self) -> str:
        return json.dumps({"version": SETTINGS_VERSION, **dataclasses.asdict(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Settings:
        """Read settings written by any version; unknown keys (from a newer Level) are ignored."""
        data: dict[str, Any] = json.loads(text)
        data.pop("version", None)
        known = _field_names()
        return cls(**{k: v for k, v in data.items() if k in known})

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


@functools.cache
def _field_names() -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(Settings))


def is_field(name: str) -> bool:
    """Whether `name` is a `Settings` field (else a backend-declared parameter)."""
    return name in _field_names()


@functools.cache
def field_param(name: str) -> Param:
    """The `Param` that describes the `Settings` field `name` (its type, default and texts)."""
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    if name not in fields:
        raise SettingsError(f"There is no setting {name!r}.")
    found = fields[name]
    hint = typing.get_type_hints(Settings)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    kind = args[0] if args else hint
    meta = found.metadata
    return Param(name=name, kind=kind, default=found.default, label=meta.get("label", name),
                 help=meta.get("help", ""), optional=type(None) in typing.get_args(hint),
                 minimum=meta.get("minimum"), maximum=meta.get("maximum"))


def cli_fields() -> list[dataclasses.Field[Any]]:
    """The fields `level analyze` takes as flags, in the dataclass's order."""
    return [f for f in dataclasses.fields(Settings) if f.metadata.get("cli", True)]
