"""Names of the second and last resort: when a labeler cannot name a cluster, it gets its keyword
name (then "Cluster N"), and the user is told once which clusters fell back and why."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Protocol

from level_desktop.core.labeling.base import ClusterDocs, ClusterLabel, fallback_label
from level_desktop.core.labeling.keywords import KeywordLabeler

NO_KEY = "no API key"
DUPLICATE = "duplicate label"

log = logging.getLogger(__name__)


class NamedCluster(Protocol):
    """A named cluster as an analysis keeps it (`analysis.ClusterInfo`)."""

    id: int
    fallback_reason: str | None


def with_fallbacks(clusters: list[ClusterDocs], answers: Mapping[int, tuple[str, str] | str],
                   labeler: str) -> dict[int, ClusterLabel]:
    """The `labeler`'s (label, description) answers where they are usable and distinct; keyword
    names (then "Cluster N") for the rest, each with the reason (the answer's text) it fell back."""
    out: dict[int, ClusterLabel] = {}
    used: set[str] = set()
    failed: dict[int, str] = {}
    for cluster in sorted(clusters, key=lambda c: c.cluster_id):
        answer = answers[cluster.cluster_id]
        if isinstance(answer, str):
            failed[cluster.cluster_id] = answer
        elif answer[0].casefold() in used:
            failed[cluster.cluster_id] = DUPLICATE
        else:
            used.add(answer[0].casefold())
            out[cluster.cluster_id] = ClusterLabel(answer[0], answer[1], labeler)
    by_id = {c.cluster_id: c for c in clusters}
    if failed:
        try:
            keywords = KeywordLabeler().label(clusters)
        except Exception as err:  # the last resort is "Cluster N", never a crash
            log.warning("Keyword labels failed too: %s: %s", type(err).__name__, err)
            keywords = {}
        for cluster_id, reason in failed.items():
            kw = None if by_id[cluster_id].texts_are_file_names else keywords.get(cluster_id)
            if kw is None or not kw.terms:  # keywords found no distinctive word either
                label = fallback_label(cluster_id)
                label.fallback_reason = reason
            else:
                name = kw.label if kw.label.casefold() not in used else f"{kw.label} ({cluster_id})"
                label = ClusterLabel(name, kw.description, kw.labeler, reason, kw.terms)
            used.add(label.label.casefold())
            out[cluster_id] = label
    return {c.cluster_id: out[c.cluster_id] for c in clusters}


def fallback_summary(labels: Mapping[int, ClusterLabel] | Iterable[NamedCluster],
                     by: str = "Gemini") -> str | None:
    """One line saying which clusters did not get the chosen labeler's name (`by`: that labeler,
    in words) and why (grouped by reason), for the CLI and the window to show once; None when
    none fell back."""
    pairs = (list(labels.items()) if isinstance(labels, Mapping)
             else [(c.id, c) for c in labels])
    by_reason: dict[str, list[int]] = {}
    for cluster_id, label in sorted(pairs, key=lambda p: p[0]):
        if label.fallback_reason:
            by_reason.setdefault(label.fallback_reason, []).append(cluster_id)
    if not by_reason:
        return None
    n_failed = sum(len(ids) for ids in by_reason.values())
    groups = "; ".join(f"{reason}: {_id_list(ids)}" for reason, ids in
                       sorted(by_reason.items(), key=lambda item: -len(item[1])))
    text = (f"{by} did not name {n_failed} of {len(pairs)} clusters ({groups}); "
            f"{'it has' if n_failed == 1 else 'they have'} keyword names instead.")
    if NO_KEY in by_reason and by == "Gemini":
        text += " Set GEMINI_API_KEY or store a key in Settings to use Gemini."
    return text


def _id_list(ids: list[int], show: int = 10) -> str:
    if len(ids) == 1:
        return f"cluster {ids[0]}"
    more = f" and {len(ids) - show} more" if len(ids) > show else ""
    return f"clusters {', '.join(str(i) for i in ids[:show])}{more}"
