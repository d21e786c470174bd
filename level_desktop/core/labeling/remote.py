"""What every labeler that asks a language-model service shares (Gemini, an OpenAI-compatible
server): the prompt, the answer's parsing, concurrent requests with timeouts, retries and cancel,
and the per-cluster fallback to keyword names.

Why one module: the services differ only in how a request is sent and how their errors read, so
a subclass supplies `_open` (a client), `_send` (one prompt → the answer's text) and `_verdict`
(what an error means); the rest — at most `max_in_flight` requests at once, a timeout each, 429 /
5xx retried with exponential backoff honouring Retry-After, a bad key or unknown model stopping
the remaining requests, Stop answered within `CANCEL_POLL_S` — is written once here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from level_desktop.core.errors import Cancelled
from level_desktop.core.labeling.base import STAGE, ClusterDocs, ClusterLabel
from level_desktop.core.labeling.fallbacks import NO_KEY, with_fallbacks
from level_desktop.core.progress import CancelToken, ProgressCallback, no_progress
from level_desktop.core.secrets import scrub

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
IMAGES_REFUSED = "the model takes no pictures"
TOO_LONG = "label too long"

log = logging.getLogger(__name__)

PROMPT = """You name clusters found in a text dataset. Below are the {n} most typical rows of one \
cluster ({size:,} rows in all).

Answer with a JSON object and nothing else:
{{"label": "<a 2-4 word name for what these rows have in common, at most {chars} characters>", \
"description": "<one sentence, at most 20 words, saying what the cluster holds>"}}

Rows:
{rows}"""

IMAGE_PROMPT = """You name clusters found in an image dataset. Attached are the {n} most typical \
images of one cluster ({size:,} images in all).

Answer with a JSON object and nothing else:
{{"label": "<a 2-4 word name for what these images have in common, at most {chars} characters>", \
"description": "<one sentence, at most 20 words, saying what the cluster holds>"}}{captions}"""


class RequestFailure(Exception):
    """One cluster's request came to nothing; `reason` is what the user is told."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Verdict:
    """What an error from the service means for the cluster and for the other requests."""

    reason: str  # shown to the user
    retry: bool = False  # worth another try (429, 5xx, a dropped connection)
    stop_all: bool = False  # every other request would fail the same way (bad key, no model)
    retry_after: float | None = None  # seconds the server asked us to wait
    transport: bool = False  # the service could not be reached: after the last try, stop all


@dataclass
class Run:
    """State shared by one `label` call's requests."""

    client: Any
    key: str | None
    semaphore: asyncio.Semaphore
    stop_reason: str | None = None  # set when every further request would fail the same way


class RemoteLabeler:
    """Names clusters by asking a service, one request per cluster; falls back cluster by
    cluster to keyword names. Subclasses say how to reach the service."""

    name = "remote"
    service = "the service"  # in messages: "Asking {service} …"
    needs_key = True  # without a key nothing is sent and every cluster gets its keyword name
    sends_images = False  # True: an image set's thumbnails go with the request (ClusterDocs.images)
    # Set once the model said it takes no pictures: this labeler's later requests go without them.
    images_refused = False

    def __init__(self, *, max_in_flight: int = 8, timeout: float = 30.0, attempts: int = 3,
                 backoff: float = 1.0, max_retry_wait: float = 30.0) -> None:
        self.max_in_flight = max_in_flight  # requests in flight at once
        self.timeout = timeout  # seconds per request
        self.attempts = attempts  # tries per cluster when the answer is 429 or 5xx
        self.backoff = backoff  # seconds before the first retry; doubles each time
        self.max_retry_wait = max_retry_wait  # a longer Retry-After gives the cluster up

    # ----- what a subclass supplies ----------------------------------------------------------

    def _key(self) -> str | None:
        """The API key, if any."""
        return None

    def _open(self, key: str | None) -> Any:
        """A client for one `label` call (closed by `_close`)."""
        raise NotImplementedError

    async def _close(self, client: Any) -> None:
        """Release the client's connections."""

    async def _send(self, run: Run, prompt: str, cluster_id: int,
                    images: Sequence[bytes] = ()) -> str | None:
        """Send one prompt (with `images`, JPEG files, when `sends_images`); the answer's text
        (None or "" when it has none)."""
        raise NotImplementedError

    def _refuses_images(self, err: BaseException) -> bool:
        """Whether `err` says the model takes no pictures (then the request goes again, with
        the captions only). Services that always take them keep the default."""
        return False

    def _verdict(self, err: BaseException) -> Verdict | None:
        """What `err` means, or None when it is not an error of the service or its transport."""
        return None

    # ----- the shared part ---------------------------------------------------------------------

    def label(self, clusters: list[ClusterDocs], progress: ProgressCallback = no_progress,
              cancel: CancelToken | None = None) -> dict[int, ClusterLabel]:
        cancel = cancel or CancelToken()
        cancel.check()
        if self.max_in_flight < 1 or self.attempts < 1 or self.timeout <= 0:
            raise ValueError("max_in_flight and attempts must be ≥ 1 and timeout > 0")
        if not clusters:
            return {}
        key = self._key()
        if key is None and self.needs_key:
            progress(STAGE, 0.0, f"No API key for {self.service}; naming clusters by their "
                                 f"keywords")
            answers: dict[int, tuple[str, str] | str] = {c.cluster_id: NO_KEY for c in clusters}
        else:
            answers = asyncio.run(self._ask_all(clusters, key, progress, cancel))
        out = with_fallbacks(clusters, answers, self.name)
        named = sum(1 for lab in out.values() if lab.labeler == self.name)
        progress(STAGE, 1.0, f"Named {len(clusters)} clusters ({named} by {self.service})")
        return out

    async def _ask_all(self, clusters: list[ClusterDocs], key: str | None,
                       progress: ProgressCallback, cancel: CancelToken
                       ) -> dict[int, tuple[str, str] | str]:
        """Every cluster's (label, description), or the reason it has none."""
        client = self._open(key)
        run = Run(client, key, asyncio.Semaphore(self.max_in_flight))
        model = getattr(self, "model", "")
        progress(STAGE, 0.0, f"Asking {self.service}{f' ({model})' if model else ''} to name "
                             f"{len(clusters)} clusters")
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
                             f"{self.service} answered for {len(answers)} of {len(clusters)} "
                             f"clusters")
                if cancel.cancelled:
                    raise Cancelled()
        finally:
            for task in pending:  # on cancel (or an error): abandon what is still waiting
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await self._close(client)
        return answers

    async def _ask(self, run: Run, cluster: ClusterDocs) -> tuple[str, str] | str:
        """One cluster's (label, description), or the reason it has none; never raises."""
        try:
            async with run.semaphore:
                return await self._ask_with_retries(run, cluster)
        except RequestFailure as failure:
            return failure.reason
        except Exception as err:  # one cluster's surprise must not sink the others
            log.warning("%s labeling of cluster %d failed: %s", self.name, cluster.cluster_id,
                        scrub(f"{type(err).__name__}: {err}", run.key))
            return f"unexpected error ({type(err).__name__})"

    async def _ask_with_retries(self, run: Run, cluster: ClusterDocs) -> tuple[str, str]:
        attempt = 0  # tries that failed; a request sent again without pictures is not one
        while True:
            if run.stop_reason:
                raise RequestFailure(run.stop_reason)
            images = cluster.images if self.sends_images and not self.images_refused else []
            prompt = cluster_prompt(cluster, with_images=bool(images))
            try:
                async with asyncio.timeout(self.timeout):
                    text = await self._send(run, prompt, cluster.cluster_id, images)
            except TimeoutError:
                raise RequestFailure(TIMED_OUT) from None
            except Exception as err:
                if images and self._refuses_images(err):
                    # A text-only model (most local servers' default): the captions, alone, name
                    # this cluster and the rest; a set without captions has nothing else to send.
                    log.info("%s took no pictures for cluster %d: %s", self.service,
                             cluster.cluster_id, scrub(first_line(err), run.key))
                    self.images_refused = True
                    if cluster.texts_are_file_names:
                        run.stop_reason = run.stop_reason or IMAGES_REFUSED
                        raise RequestFailure(IMAGES_REFUSED) from None
                    continue
                verdict = self._verdict(err)
                if verdict is None:
                    raise
                log.info("%s request for cluster %d failed (try %d of %d): %s", self.name,
                         cluster.cluster_id, attempt + 1, self.attempts,
                         scrub(first_line(err), run.key))
                last = attempt + 1 >= self.attempts
                if verdict.stop_all or (verdict.transport and last):
                    run.stop_reason = run.stop_reason or verdict.reason
                    raise RequestFailure(verdict.reason) from None
                delay = verdict.retry_after
                if delay is None:
                    delay = self.backoff * 2 ** attempt * random.uniform(0.75, 1.25)
                if not verdict.retry or last or delay > self.max_retry_wait:
                    raise RequestFailure(verdict.reason) from None
                await asyncio.sleep(delay)
                attempt += 1
                continue
            return parse_label(text)


def cluster_prompt(cluster: ClusterDocs, with_images: bool = False) -> str:
    """The request for one cluster: its representative rows (as many as the sample stage chose),
    each cut to `ROW_CHARS`; with its images attached, the request says so, and the rows follow
    as the images' captions (left out when they are only file names)."""
    rows = [" ".join(t.split()) for t in cluster.representatives]
    rows = [r if len(r) <= ROW_CHARS else r[:ROW_CHARS - 1] + "…" for r in rows]
    if with_images:
        captions = ("" if cluster.texts_are_file_names else
                    "\n\nTheir captions, in the order of the images:\n"
                    + "\n".join(f"{i}. {r}" for i, r in enumerate(rows, 1)))
        return IMAGE_PROMPT.format(n=len(cluster.images), size=len(cluster.texts),
                                   chars=MAX_LABEL_CHARS, captions=captions)
    return PROMPT.format(n=len(rows), size=len(cluster.texts), chars=MAX_LABEL_CHARS,
                         rows="\n".join(f"{i}. {r}" for i, r in enumerate(rows, 1)))


def status_verdict(code: int, message: str = "") -> Verdict:
    """What an HTTP status means, for services that speak plain HTTP status codes."""
    message = message.lower()
    if code == 429:
        return Verdict(f"quota exceeded ({code})", retry=True)
    if code == 408 or 500 <= code < 600:
        return Verdict(f"server error ({code})", retry=True)
    if code in (401, 403) or (code == 400 and ("api key" in message or "api_key" in message)):
        return Verdict(f"bad API key ({code})", stop_all=True)
    if code == 404:
        return Verdict(f"model not found ({code})", stop_all=True)
    return Verdict(f"request rejected ({code})")


def retry_after_header(headers: Any) -> float | None:
    """Seconds a Retry-After header asks for (None when absent or an HTTP date)."""
    value = headers.get("retry-after") if headers is not None else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"[:300]


def parse_label(text: str | None) -> tuple[str, str]:
    """(label, description) from a reply that should be {"label": …, "description": …}."""
    if not text or not text.strip():
        raise RequestFailure(EMPTY)
    body = re.sub(r"<think>.*?</think>", "", text, flags=re.DOTALL).strip()  # reasoning models
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, re.DOTALL)
    if fenced:
        body = fenced[1]
    try:
        data = json.loads(body)
    except ValueError:
        data = _embedded_object(body)
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict) or not isinstance(data.get("label"), str) \
            or not isinstance(data.get("description", ""), str):
        raise RequestFailure(MALFORMED)
    label = " ".join(data["label"].split()).strip("\"'“”‘’ .")
    description = " ".join(data.get("description", "").split())
    if not label:
        raise RequestFailure(EMPTY)
    if len(label.split()) > MAX_LABEL_WORDS or len(label) > MAX_LABEL_CHARS:
        raise RequestFailure(TOO_LONG)
    if len(description) > DESCRIPTION_CHARS:
        description = description[:DESCRIPTION_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return label, description


def _embedded_object(text: str) -> Any:
    """The JSON object a chatty model wrapped in prose ("Sure! {…} Hope this helps")."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise RequestFailure(MALFORMED)
    try:
        return json.loads(text[start:end + 1])
    except ValueError:
        raise RequestFailure(MALFORMED) from None
