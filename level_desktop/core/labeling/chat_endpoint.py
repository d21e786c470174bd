"""Cluster names from any OpenAI-compatible chat endpoint: a local LLM server (Ollama, llama.cpp's
server, vLLM, LM Studio) or a remote one, through the `openai` package's async client.

Why: a curator on an offline workstation often runs such a server already; naming with it keeps
every row on the machine. The prompt, concurrency, timeouts, retries and fallbacks are
`remote.RemoteLabeler`'s, the same as Gemini's. A server on this machine (127.0.0.1, ::1,
localhost) needs no consent; any other host receives the sample rows, so the user is asked as for
Gemini (`sends_rows_off_machine`). The key is optional (`LEVEL_LLM_API_KEY` or the keyring).

An image set's clusters go with their thumbnails, as `image_url` parts holding base64 JPEG data
URLs (the chat-completions format that Ollama, llama.cpp's server, vLLM and LM Studio read for
vision models). A text-only model rejects them (400); the request then goes again without them,
and so do the rest: a captioned set is named from its captions, a captionless one "Cluster N".
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from level_desktop.core.labeling.remote import (
    MAX_OUTPUT_TOKENS,
    TEMPERATURE,
    RemoteLabeler,
    Run,
    Verdict,
    retry_after_header,
    status_verdict,
)
from level_desktop.core.secrets import get_llm_key

DEFAULT_URL = "http://127.0.0.1:11434/v1"  # Ollama's OpenAI-compatible endpoint
NO_KEY_SENT = "no-key"  # the client insists on a key; local servers ignore this one


def is_on_this_machine(url: str) -> bool:
    """Whether `url`'s host is this machine (loopback), so rows sent there stay here."""
    host = (urlsplit(url.strip()).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ChatEndpointLabeler(RemoteLabeler):
    """Names clusters with a chat-completions server; falls back cluster by cluster to keywords."""

    name = "local"
    needs_key = False
    sends_images = True  # vision models read them; text-only ones refuse, see _refuses_images

    def __init__(self, url: str = DEFAULT_URL, model: str = "", *, max_in_flight: int = 8,
                 timeout: float = 60.0, attempts: int = 3, backoff: float = 1.0,
                 max_retry_wait: float = 30.0) -> None:
        super().__init__(max_in_flight=max_in_flight, timeout=timeout, attempts=attempts,
                         backoff=backoff, max_retry_wait=max_retry_wait)
        self.url = url.strip()  # the base URL, up to and including /v1
        self.model = model  # the model name the server knows
        host = urlsplit(self.url).hostname or self.url
        self.service = f"the LLM at {host}"

    def _key(self) -> str | None:
        return get_llm_key()

    def _open(self, key: str | None) -> Any:
        from openai import AsyncOpenAI

        # Retries and timeouts are ours (shared with Gemini), so the client's are off.
        return AsyncOpenAI(base_url=self.url, api_key=key or NO_KEY_SENT, max_retries=0,
                           timeout=self.timeout)

    async def _close(self, client: Any) -> None:
        await client.close()

    async def _send(self, run: Run, prompt: str, cluster_id: int,
                    images: Sequence[bytes] = ()) -> str | None:
        asked: str | list[dict[str, Any]] = prompt
        if images:
            asked = [{"type": "text", "text": prompt}, *(
                {"type": "image_url", "image_url": {
                    "url": "data:image/jpeg;base64," + base64.b64encode(image).decode("ascii")}}
                for image in images)]
        response = await run.client.chat.completions.create(
            model=self.model, messages=[{"role": "user", "content": asked}],
            temperature=TEMPERATURE, max_tokens=MAX_OUTPUT_TOKENS)
        choices = getattr(response, "choices", None) or []
        message = getattr(choices[0], "message", None) if choices else None
        content = getattr(message, "content", None)
        return content if isinstance(content, str) else None

    def _refuses_images(self, err: BaseException) -> bool:
        """A request with pictures rejected as malformed: the model (or server) takes none."""
        import openai

        return (isinstance(err, openai.APIStatusError) and err.status_code in (400, 415, 422)
                and "api key" not in str(err.message).lower())

    def _verdict(self, err: BaseException) -> Verdict | None:
        import openai

        if isinstance(err, openai.APITimeoutError):
            return Verdict("timed out")
        if isinstance(err, openai.APIConnectionError):
            return Verdict(f"cannot reach {self.service}", retry=True, transport=True)
        if isinstance(err, openai.APIStatusError):
            verdict = status_verdict(err.status_code, str(err.message))
            delay = retry_after_header(getattr(err.response, "headers", None))
            return Verdict(verdict.reason, verdict.retry, verdict.stop_all, delay)
        if isinstance(err, openai.APIResponseValidationError | ValueError):
            return Verdict("malformed answer")
        return None
