"""The label stage: a 2–4 word name and a one-line description per cluster.

`LABELERS` lists the backends: `keywords` (the default, offline: class-based TF-IDF, see
`keywords`), `gemini` (opt-in; sends each cluster's representative rows to Google, see
`gemini`) and `local` (any OpenAI-compatible chat server, see `chat_endpoint`; it sends rows
off this machine only when the server's URL is not local). Every labeler follows
`base.Labeler` and falls back cluster by cluster to keywords (`fallbacks`); the two that ask a
service share `remote`.
"""

from __future__ import annotations

from level_desktop.core.labeling.base import (
    STAGE,
    ClusterDocs,
    ClusterLabel,
    Labeler,
    NumberedLabeler,
    fallback_label,
)
from level_desktop.core.labeling.chat_endpoint import ChatEndpointLabeler, is_on_this_machine
from level_desktop.core.labeling.fallbacks import fallback_summary
from level_desktop.core.labeling.gemini import GeminiLabeler
from level_desktop.core.labeling.keywords import KeywordLabeler, class_tfidf_terms
from level_desktop.core.registry import Registry

__all__ = ["LABELERS", "STAGE", "ChatEndpointLabeler", "ClusterDocs", "ClusterLabel",
           "GeminiLabeler", "KeywordLabeler", "Labeler", "NumberedLabeler", "class_tfidf_terms",
           "fallback_label", "fallback_summary", "is_on_this_machine", "labeler_in_words"]

LABELERS: Registry[Labeler] = Registry("labeling")
LABELERS.register("keywords", KeywordLabeler, display_name="Keywords (offline)",
                  description="offline, each cluster's most distinctive words")
LABELERS.register("gemini", lambda gemini_model: GeminiLabeler(gemini_model),
                  parameters=("gemini_model",), sends_rows_off_machine=True,
                  display_name="Gemini (sends sample rows to Google)",
                  description="sends each cluster's sample rows to Google; needs GEMINI_API_KEY "
                              "or a stored key")
LABELERS.register("local", lambda llm_url, llm_model: ChatEndpointLabeler(llm_url, llm_model),
                  parameters=("llm_url", "llm_model"),
                  sends_rows_off_machine=lambda settings: not is_on_this_machine(settings.llm_url),
                  display_name="LLM server (OpenAI-compatible; local or remote)",
                  description="an OpenAI-compatible chat server such as Ollama or llama.cpp "
                              "(an image set's thumbnails go to a vision model); rows leave the "
                              "machine only if its URL is not local")
LABELERS.register("numbered", NumberedLabeler, display_name="Numbers (Cluster N)",
                  description="offline, no names: Cluster 0, Cluster 1, ... (image sets without "
                              "a caption column)")


def labeler_in_words(name: str) -> str:
    """How messages name a labeler ("Gemini", "The LLM server")."""
    return {"gemini": "Gemini", "local": "The LLM server"}.get(name, name)
