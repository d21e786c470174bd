"""Cluster names from Gemini (opt-in): one request per cluster with its representative rows.

Requests go through the google-genai SDK's async client; concurrency, timeouts, retries (429 /
5xx with backoff, honouring Retry-After), cancel and the per-cluster fallback to keyword names are
`remote.RemoteLabeler`'s, shared with the OpenAI-compatible labeler. A bad key or an unknown model
stops the remaining requests (so does an endpoint that cannot be reached at all), since every one
of them would fail the same way.

The key (see `secrets`) travels only in the request header and is scrubbed from any error text
that is logged. `LEVEL_GEMINI_BASE_URL` points the SDK at another endpoint (a proxy, a test server).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from typing import Any

from level_desktop.core.labeling.remote import (
    MAX_OUTPUT_TOKENS,
    TEMPERATURE,
    RemoteLabeler,
    Run,
    Verdict,
    retry_after_header,
    status_verdict,
)
from level_desktop.core.secrets import get_gemini_key
from level_desktop.core.settings import DEFAULT_GEMINI_MODEL

BASE_URL_ENV = "LEVEL_GEMINI_BASE_URL"
UNREACHABLE = "cannot reach Gemini"

log = logging.getLogger(__name__)


class GeminiLabeler(RemoteLabeler):
    """Names clusters with Gemini; falls back cluster by cluster to `KeywordLabeler`."""

    name = "gemini"
    service = "Gemini"
    sends_images = True  # an image set's clusters are named from their thumbnails

    def __init__(self, model: str = DEFAULT_GEMINI_MODEL, *, max_in_flight: int = 8,
                 timeout: float = 30.0, attempts: int = 3, backoff: float = 1.0,
                 max_retry_wait: float = 30.0, base_url: str | None = None) -> None:
        super().__init__(max_in_flight=max_in_flight, timeout=timeout, attempts=attempts,
                         backoff=backoff, max_retry_wait=max_retry_wait)
        self.model = model  # the Gemini model asked
        self.base_url = base_url  # None: LEVEL_GEMINI_BASE_URL, else Google's endpoint

    def _key(self) -> str | None:
        return get_gemini_key()

    def _open(self, key: str | None) -> Any:
        from google import genai
        from google.genai import types

        base_url = self.base_url or os.environ.get(BASE_URL_ENV) or None
        config = types.GenerateContentConfig(
            response_mime_type="application/json", temperature=TEMPERATURE,
            max_output_tokens=MAX_OUTPUT_TOKENS, thinking_config=_thinking_config(self.model))
        client = genai.Client(
            api_key=key, vertexai=False,
            http_options=types.HttpOptions(base_url=base_url) if base_url else None)
        return client, config

    async def _close(self, client: Any) -> None:
        await client[0].aio.aclose()

    async def _send(self, run: Run, prompt: str, cluster_id: int,
                    images: Sequence[bytes] = ()) -> str | None:
        from google.genai import types

        client, config = run.client
        # One user turn: the prompt, then each thumbnail as an inline_data part (base64 JPEG).
        contents: Any = [types.Part.from_text(text=prompt)] + [
            types.Part.from_bytes(data=image, mime_type="image/jpeg") for image in images
        ] if images else prompt
        response = await client.aio.models.generate_content(
            model=self.model, contents=contents, config=config)
        try:
            text = response.text
        except Exception:  # an answer with no usable parts
            text = None
        if not text or not text.strip():
            log.info("Gemini gave no answer for cluster %d (finish reason %s)", cluster_id,
                     _finish_reason(response))
        return text

    def _verdict(self, err: BaseException) -> Verdict | None:
        from google.genai import errors

        if isinstance(err, errors.APIError):
            code = int(getattr(err, "code", 0) or 0)
            message = f"{getattr(err, 'message', '')} {getattr(err, 'details', '')}"
            verdict = status_verdict(code, message)
            delay = _retry_after(err)
            return Verdict(verdict.reason, verdict.retry, verdict.stop_all, delay)
        if isinstance(err, _transport_errors()):
            return Verdict(UNREACHABLE, retry=True, transport=True)
        return None


def _thinking_config(model: str) -> Any:
    """Minimal thinking for the Flash models (its tokens would eat `MAX_OUTPUT_TOKENS`); the
    2.5 models take a budget, 3.x models a level; other models keep their default."""
    from google.genai import types

    name = model.rsplit("/", 1)[-1].lower()
    if re.match(r"gemini-2\.5-flash", name):
        return types.ThinkingConfig(thinking_budget=0)
    match = re.match(r"gemini-(\d+)(?:\.\d+)?-(flash|pro)", name)
    if match and int(match[1]) >= 3:
        level = types.ThinkingLevel.MINIMAL if match[2] == "flash" else types.ThinkingLevel.LOW
        return types.ThinkingConfig(thinking_level=level)
    return None


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP library's connection errors (the SDK uses httpx or its fork httpx2)."""
    found: list[type[BaseException]] = []
    for module in ("httpx2", "httpx"):
        try:
            found.append(__import__(module).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _retry_after(err: Any) -> float | None:
    """Seconds the server asked us to wait: a Retry-After header, or the RetryInfo in the body."""
    delay = retry_after_header(getattr(getattr(err, "response", None), "headers", None))
    if delay is not None:
        return delay
    details = getattr(err, "details", None)
    if isinstance(details, dict):
        body = details.get("error", details)
        for item in body.get("details", []) if isinstance(body, dict) else []:
            delay = item.get("retryDelay") if isinstance(item, dict) else None
            if isinstance(delay, str) and re.fullmatch(r"\d+(\.\d+)?s", delay):
                return float(delay[:-1])
    return None


def _finish_reason(response: Any) -> str:
    candidates = getattr(response, "candidates", None) or []
    reason = getattr(candidates[0], "finish_reason", None) if candidates else None
    return str(getattr(reason, "value", reason))
