"""The label stage: a 2–4 word name and a one-line description per cluster.

`LABELERS` lists the backends: `keywords` (the default, offline: class-based TF-IDF, see
`keywords`) and `gemini` (opt-in; sends each cluster's representative rows to Google, see
`gemini`). Every labeler follows `base.Labeler` and falls back cluster by cluster to keywords
(`fallbacks`).
"""

from __future__ import annotations

from level_desktop.core.labeling.base import (
    STAGE,
    ClusterDocs,
    ClusterLabel,
    Labeler,
    fallback_label,
)
from level_desktop.core.labeling.fallbacks import fallback_summary
from level_desktop.core.labeling.gemini import GeminiLabeler
from level_desktop.core.labeling.keywords import KeywordLabeler, class_tfidf_terms
from level_desktop.core.registry import Registry

__all__ = ["LABELERS", "STAGE", "ClusterDocs", "ClusterLabel", "GeminiLabeler", "KeywordLabeler",
           "Labeler", "class_tfidf_terms", "fallback_label", "fallback_summary"]

LABELERS: Registry[Labeler] = Registry("labeling")
LABELERS.register("keywords", KeywordLabeler, display_name="Keywords (offline)",
                  description="offline, each cluster's most distinctive words")
LABELERS.register("gemini", lambda gemini_model: GeminiLabeler(gemini_model),
                  parameters=("gemini_model",), sends_rows_off_machine=True,
                  display_name="Gemini (sends sample rows to Google)",
                  description="sends each cluster's sample rows to Google; needs GEMINI_API_KEY "
                              "or a stored key")
