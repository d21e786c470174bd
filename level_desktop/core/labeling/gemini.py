"""Cluster names from Gemini (opt-in): one request per cluster with its representative rows.

Requests run concurrently (at most `max_in_flight` at once) through the google-genai SDK's async
client; each has a timeout, and 429 / 5xx answers are retried with exponential backoff (honouring
Retry-After). Whatever goes wrong for a cluster, it gets its keyword name instead (then
"Cluster N") and `ClusterLabel.fallback_reason` says why; a bad key or an unknown model stops
the remaining requests (so does an endpoint that cannot be reached at all), since every one of
them would fail the same way.

The key (see `secrets`) travels only in the request header and is scrubbed from any error text
that is logged. `LEVEL_GEMINI_BASE_URL` points the SDK at another endpoint (a proxy, a test server).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
from dataclasses import dataclass
from typing import Any

from level_desktop.core.errors import Cancelled
from level_desktop.core.labeling.base import STAGE, ClusterDocs, ClusterLabel
from level_desktop.core.labeling.fallbacks import NO_KEY, with_fallbacks
from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress
from level_desktop.core.secrets import get_gemini_key, scrub
from level_desktop.core.settings import DEFAULT_GEMINI_MODEL

BASE_URL_ENV = "LEVEL_GEMINI_BASE_URL"
MAX_LABEL_WORDS = 4
MAX_LABEL_CHARS = 40
DESCRIPTION_CHARS = 160
ROW_CHARS = 400  # each representative row is cut to this many characters in the prompt
TEMPERATURE = 0.3
# Thinking tokens count against this too; thinking is kept minimal where the model allows it.
MAX_OUTPUT_TOKENS = 512
CANCEL_POLL_S = 0.05

TIMED_OUT = "timed out"
MALFORMED = "malformed answer"
EMPTY = "empty answer"
TOO_LONG = "label too long"
UNREACHABLE = "cannot reach Gemini"

log = logging.getLogger(__name__)

PROMPT = """You name clusters found in a text dataset. Below are the {n} most typical rows of one \
cluster ({size:,} rows in all).

Answer with a JSON object and nothing else:
{{"label": "<a 2-4 word name for what these rows have in common, at most {chars} characters>", \
"description": "<one sentence, at most 20 words, saying what the cluster holds>"}}

Rows:
{rows}"""


class _Failure(Exception):
    """One cluster's request came to nothing; `reason` is what the user is told."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Run:
    """State shared by one `label` call's requests."""

    client: Any
    config: Any
    model: str
    key: str
    semaphore: asyncio.Semaphore
    stop_reason: str | None = None  # set when every further request would fail the same way


class GeminiLabeler:
    """Names clusters with Gemini; falls back cluster by cluster to `KeywordLabeler`."""

    name = "gemini"

    def __init__(self, model: str = DEFAULT_GEMINI_MODEL, *, max_in_flight: int = 8,
                 timeout: float = 30.0, attempts: int = 3, backoff: float = 1.0,
                 max_retry_wait: float = 30.0, base_url: str | None = None) -> None:
        self.model = model  # the Gemini model asked
        self.max_in_flight = max_in_flight  # requests in flight at once
        self.timeout = timeout  # seconds per request
        self.attempts = attempts  # tries per cluster when the answer is 429 or 5xx
        self.backoff = backoff  # seconds before the first retry; doubles each time
        self.max_retry_wait = max_retry_wait  # a longer Retry-After gives the cluster up
        self.base_url = base_url  # None: LEVEL_GEMINI_BASE_URL, else Google's endpoint

    def label(self, clusters: list[ClusterDocs], progress: ProgressCallback = no_progress,
              cancel: CancelToken | None = None) -> dict[int, ClusterLabel]:
        cancel = cancel or CancelToken()
        cancel.check()
        if self.max_in_flight < 1 or self.attempts < 1 or self.timeout <= 0:
            raise ValueError("max_in_flight and attempts must be ≥ 1 and timeout > 0")
        if not clusters:
            return {}
        key = get_gemini_key()
        if key is None:
            progress(STAGE, 0.0, "No Gemini API key; naming clusters by their keywords")
            answers: dict[int, tuple[str, str] | str] = {c.cluster_id: NO_KEY for c in clusters}
        else:
            answers = asyncio.run(self._ask_all(clusters, key, progress, cancel))
        out = with_fallbacks(clusters, answers, self.name)
        by_gemini = sum(1 for lab in out.values() if lab.labeler == self.name)
        progress(STAGE, 1.0, f"Named {len(clusters)} clusters ({by_gemini} by Gemini)")
        return out

    async def _ask_all(self, clusters: list[ClusterDocs], key: str, progress: ProgressCallback,
                       cancel: CancelToken) -> dict[int, tuple[str, str] | str]:
        """Every cluster's (label, description), or the reason it has none."""
        from google import genai
        from google.genai import types

        model = self.model
        base_url = self.base_url or os.environ.get(BASE_URL_ENV) or None
        client = genai.Client(
            api_key=key, vertexai=False,
            http_options=types.HttpOptions(base_url=base_url) if base_url else None)
        config = types.GenerateContentConfig(
            response_mime_type="application/json", temperature=TEMPERATURE,
            max_output_tokens=MAX_OUTPUT_TOKENS, thinking_config=_thinking_config(model))
        run = _Run(client, config, model, key, asyncio.Semaphore(self.max_in_flight))
        progress(STAGE, 0.0, f"Asking Gemini ({model}) to name {len(clusters)} clusters")
        tasks = {asyncio.create_task(self._ask(run, c)): c.cluster_id for c in clusters}
        answers: dict[int, tuple[str, str] | str] = {}
        pending = set(tasks)
        try:
            while pending:
                done, pending = await asyncio.wait(pending, timeout=CANCEL_POLL_S,
                                                   return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    answers[tasks[task]] = task.result()
                if done:
                    progress(STAGE, len(answers) / len(clusters),
                             f"Gemini answered for {len(answers)} of {len(clusters)} clusters")
                if cancel.cancelled:
                    raise Cancelled()
        finally:
            for task in pending:  # on cancel (or an error): abandon what is still waiting
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await client.aio.aclose()
        return answers

    async def _ask(self, run: _Run, cluster: ClusterDocs) -> tuple[str, str] | str:
        """One cluster's (label, description), or the reason it has none; never raises."""
        try:
            async with run.semaphore:
                return await self._ask_with_retries(run, cluster)
        except _Failure as failure:
            return failure.reason
        except Exception as err:  # one cluster's surprise must not sink the others
            log.warning("Gemini labeling of cluster %d failed: %s", cluster.cluster_id,
                        scrub(f"{type(err).__name__}: {err}", run.key))
            return f"unexpected error ({type(err).__name__})"

    async def _ask_with_retries(self, run: _Run, cluster: ClusterDocs) -> tuple[str, str]:
        from google.genai import errors

        prompt = _prompt(cluster)
        for attempt in range(self.attempts):
            if run.stop_reason:
                raise _Failure(run.stop_reason)
            try:
                async with asyncio.timeout(self.timeout):
                    response = await run.client.aio.models.generate_content(
                        model=run.model, contents=prompt, config=run.config)
            except TimeoutError:
                raise _Failure(TIMED_OUT) from None
            except errors.APIError as err:
                reason, retry, stop_all = _classify(err)
                log.info("Gemini request for cluster %d failed (try %d of %d): %s",
                         cluster.cluster_id, attempt + 1, self.attempts,
                         scrub(_first_line(err), run.key))
                if stop_all:
                    run.stop_reason = run.stop_reason or reason
                    raise _Failure(reason) from None
                delay = _retry_after(err)
                if delay is None:
                    delay = self.backoff * 2 ** attempt * random.uniform(0.75, 1.25)
                if not retry or attempt + 1 == self.attempts or delay > self.max_retry_wait:
                    raise _Failure(reason) from None
                await asyncio.sleep(delay)
                continue
            except _transport_errors() as err:
                log.info("Gemini request for cluster %d failed (try %d of %d): %s",
                         cluster.cluster_id, attempt + 1, self.attempts,
                         scrub(f"{type(err).__name__}: {err}", run.key))
                if attempt + 1 == self.attempts:  # offline, most likely: stop asking
                    run.stop_reason = run.stop_reason or UNREACHABLE
                    raise _Failure(UNREACHABLE) from None
                await asyncio.sleep(self.backoff * 2 ** attempt)
                continue
            return _parse_answer(response, cluster.cluster_id)
        raise AssertionError("unreachable")  # the loop always returns or raises


def _prompt(cluster: ClusterDocs) -> str:
    """The request for one cluster: its representative rows (as many as the sample stage chose),
    each cut to `ROW_CHARS`."""
    rows = [" ".join(t.split()) for t in cluster.representatives]
    rows = [r if len(r) <= ROW_CHARS else r[:ROW_CHARS - 1] + "…" for r in rows]
    return PROMPT.format(n=len(rows), size=len(cluster.texts), chars=MAX_LABEL_CHARS,
                         rows="\n".join(f"{i}. {r}" for i, r in enumerate(rows, 1)))


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


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"[:300]


def _classify(err: Any) -> tuple[str, bool, bool]:
    """(reason shown to the user, retry it?, stop every other request?) for an API error."""
    code = int(getattr(err, "code", 0) or 0)
    message = f"{getattr(err, 'message', '')} {getattr(err, 'details', '')}".lower()
    if code == 429:
        return f"quota exceeded ({code})", True, False
    if code == 408 or 500 <= code < 600:
        return f"server error ({code})", True, False
    if code in (401, 403) or (code == 400 and ("api key" in message or "api_key" in message)):
        return f"bad API key ({code})", False, True
    if code == 404:
        return f"model not found ({code})", False, True
    return f"request rejected ({code})", False, False


def _retry_after(err: Any) -> float | None:
    """Seconds the server asked us to wait: a Retry-After header, or the RetryInfo in the body."""
    headers = getattr(getattr(err, "response", None), "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass  # an HTTP date: fall back to our own backoff
    details = getattr(err, "details", None)
    if isinstance(details, dict):
        body = details.get("error", details)
        for item in body.get("details", []) if isinstance(body, dict) else []:
            delay = item.get("retryDelay") if isinstance(item, dict) else None
            if isinstance(delay, str) and re.fullmatch(r"\d+(\.\d+)?s", delay):
                return float(delay[:-1])
    return None


def _parse_answer(response: Any, cluster_id: int) -> tuple[str, str]:
    """(label, description) from a reply that should be {"label": …, "description": …}."""
    try:
        text = response.text
    except Exception:  # an answer with no usable parts
        text = None
    if not text or not text.strip():
        finish = _finish_reason(response)
        log.info("Gemini gave no answer for cluster %d (finish reason %s)", cluster_id, finish)
        raise _Failure(EMPTY)
    body = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, re.DOTALL)
    if fenced:
        body = fenced[1]
    try:
        data = json.loads(body)
    except ValueError:
        raise _Failure(MALFORMED) from None
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict) or not isinstance(data.get("label"), str) \
            or not isinstance(data.get("description", ""), str):
        raise _Failure(MALFORMED)
    label = " ".join(data["label"].split()).strip("\"'“”‘’ .")
    description = " ".join(data.get("description", "").split())
    if not label:
        raise _Failure(EMPTY)
    if len(label.split()) > MAX_LABEL_WORDS or len(label) > MAX_LABEL_CHARS:
        raise _Failure(TOO_LONG)
    if len(description) > DESCRIPTION_CHARS:
        description = description[:DESCRIPTION_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return label, description


def _finish_reason(response: Any) -> str:
    candidates = getattr(response, "candidates", None) or []
    reason = getattr(candidates[0], "finish_reason", None) if candidates else None
    return str(getattr(reason, "value", reason))
