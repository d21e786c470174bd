"""The OpenAI-compatible labeler (`--labeler local`) through the real `openai` client against a
local chat-completions server.

The server is a real HTTP server on 127.0.0.1 (a thread) speaking POST /v1/chat/completions, as
Ollama, llama.cpp's server, vLLM and LM Studio do; each test scripts its answers and checks the
names, the fallbacks and the requests it saw. The shared retry/timeout/cancel code is the same as
Gemini's (`labeling.remote`), so these also check that it is shared, not copied.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from test_gemini import TOPICS, cluster_of, docs

from level_desktop.cli import main as level_main
from level_desktop.core.document import needs_consent
from level_desktop.core.errors import Cancelled, SettingsError
from level_desktop.core.labeling import (
    LABELERS,
    ChatEndpointLabeler,
    fallback_summary,
    is_on_this_machine,
)
from level_desktop.core.progress import CancelToken
from level_desktop.core.settings import Settings

ROUTE = "/v1/chat/completions"


@dataclass
class Reply:
    """What the fake server sends back: a status and a body (JSON, or raw bytes), headers; a
    delay before answering, or it hangs until the test ends."""

    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False


def chat(content: str | None, model: str = "m") -> Reply:
    return Reply(body={
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})


def named(label: str, description: str = "Rows about one thing.") -> Reply:
    return chat(json.dumps({"label": label, "description": description}))


def failure(status: int, message: str, **headers: str) -> Reply:
    return Reply(status, {"error": {"message": message, "type": "error", "code": status}},
                 headers)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict


class FakeChatServer:
    """A chat-completions endpoint on an ephemeral port of 127.0.0.1; `script(n, prompt)` makes
    the reply to request n."""

    def __init__(self, latency: float = 0.0) -> None:
        self.script: Callable[[int, str], Reply] = lambda n, prompt: named(f"Topic {n}")
        self.latency = latency  # added to every answer (the benchmark's 200 ms)
        self.seen: list[Seen] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        self.release = threading.Event()  # lets hanging handlers go at teardown
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with outer._lock:
                    n = len(outer.seen)
                    outer.seen.append(Seen(self.path, dict(self.headers), body))
                    outer.in_flight += 1
                    outer.most_in_flight = max(outer.most_in_flight, outer.in_flight)
                try:
                    if self.path != ROUTE:
                        reply = failure(404, f"no route {self.path}")
                    else:
                        reply = outer.script(n, body["messages"][-1]["content"])
                    if reply.hang:
                        outer.release.wait(10)
                        return
                    time.sleep(outer.latency + reply.delay)
                    self._send(reply)
                finally:
                    with outer._lock:
                        outer.in_flight -= 1

            def _send(self, reply: Reply) -> None:
                data = (reply.body if isinstance(reply.body, bytes)
                        else json.dumps(reply.body).encode())
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def requests(self) -> int:
        return len(self.seen)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeChatServer]:
    server = FakeChatServer()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("LEVEL_LLM_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    yield server
    server.close()


def labeler(server: FakeChatServer, **params: object) -> ChatEndpointLabeler:
    return ChatEndpointLabeler(server.url, "tiny-model", **{"backoff": 0.01, **params})


NAMES = ["Python packages", "Fonts", "Network drivers", "Perl modules"]


# ---- success and the request's shape ----

def test_success_names_every_cluster_with_one_request_each(llm: FakeChatServer) -> None:
    llm.script = lambda n, prompt: named(NAMES[cluster_of(prompt)], "Software in one area.")
    calls: list[float] = []
    labels = labeler(llm).label(docs(), lambda s, f, m: calls.append(f))

    assert {c: lab.label for c, lab in labels.items()} == dict(enumerate(NAMES))
    assert all(lab.labeler == "local" and lab.fallback_reason is None for lab in labels.values())
    assert labels[2].description == "Software in one area."
    assert fallback_summary(labels, "The LLM server") is None
    assert llm.requests == 4
    seen = llm.seen[0]
    assert seen.path == ROUTE
    assert seen.body["model"] == "tiny-model"
    assert seen.body["temperature"] == pytest.approx(0.3)
    assert seen.body["max_tokens"] <= 1024
    assert seen.headers["authorization"] == "Bearer no-key"  # no key set: none of the user's
    prompts = [s.body["messages"][0]["content"] for s in llm.seen]
    assert all(row in prompts[[cluster_of(p) for p in prompts].index(1)] for row in TOPICS[1][:3])
    assert calls == sorted(calls)
    assert calls[-1] == 1.0


def test_key_from_the_environment_is_sent_and_never_logged(
        llm: FakeChatServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
        ) -> None:
    monkeypatch.setenv("LEVEL_LLM_API_KEY", "sk-local-secret-123")
    llm.script = lambda n, prompt: failure(401, "invalid key sk-local-secret-123")
    with caplog.at_level("DEBUG"):
        labels = labeler(llm).label(docs())
    assert llm.seen[0].headers["authorization"] == "Bearer sk-local-secret-123"
    assert {lab.fallback_reason for lab in labels.values()} == {"bad API key (401)"}
    assert llm.requests < 4 + 1  # a bad key stops the requests not yet sent
    assert "sk-local-secret-123" not in caplog.text


def test_answers_wrapped_in_prose_or_thinking_are_read(llm: FakeChatServer) -> None:
    wrapped = {
        0: 'Sure! Here is the name:\n{"label": "Python packages", "description": "Libs."}\nBye.',
        1: '<think>fonts, glyphs… {"label": "wrong"}</think>\n{"label": "Fonts", '
           '"description": "Typefaces."}',
        2: '```json\n{"label": "Network drivers", "description": "Drivers."}\n```',
        3: '[{"label": "Perl modules", "description": "Perl."}]',
    }
    llm.script = lambda n, prompt: chat(wrapped[cluster_of(prompt)])
    labels = labeler(llm).label(docs())
    assert [labels[c].label for c in range(4)] == NAMES
    assert all(lab.labeler == "local" for lab in labels.values())


def test_registry_and_settings_build_it() -> None:
    made = LABELERS.create("local", Settings(labeler="local", llm_url="http://10.0.0.5:8000/v1",
                                             llm_model="qwen3"))
    assert isinstance(made, ChatEndpointLabeler)
    assert (made.url, made.model) == ("http://10.0.0.5:8000/v1", "qwen3")
    assert LABELERS.entry("local").parameter_names == ("llm_url", "llm_model")


@pytest.mark.parametrize(("settings", "message"), [
    (Settings(labeler="local"), "needs the model's name"),
    (Settings(labeler="local", llm_model="m", llm_url="127.0.0.1:11434"), "must start with http"),
    (Settings(labeler="local", llm_model="m", llm_url="ftp://host/v1"), "must start with http"),
])
def test_settings_refuse_what_cannot_work(settings: Settings, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings.validate()


# ---- consent: only when rows leave the machine ----

@pytest.mark.parametrize(("url", "local"), [
    ("http://127.0.0.1:11434/v1", True), ("http://localhost:8080/v1", True),
    ("http://[::1]:8000/v1", True), ("http://127.0.0.2:1234/v1", True),
    ("http://LOCALHOST/v1", True), ("http://gpu-box.lan:8000/v1", False),
    ("https://api.openai.com/v1", False), ("http://192.168.1.20:11434/v1", False),
    ("http://localhost.example.com/v1", False),
])
def test_consent_is_asked_only_for_a_server_elsewhere(url: str, local: bool) -> None:
    settings = Settings(labeler="local", llm_url=url, llm_model="m")
    assert is_on_this_machine(url) is local
    assert needs_consent("local", settings) is not local
    assert LABELERS.entry("local").sends_rows(settings) is not local


def test_consent_for_the_other_labelers_is_unchanged() -> None:
    assert needs_consent("gemini")
    assert not needs_consent("keywords")
    assert not needs_consent("local")  # the default URL is Ollama's on this machine


# ---- answers that cannot be used ----

@pytest.mark.parametrize(("reply", "reason"), [
    (chat("Sure! These are fonts."), "malformed answer"),
    (chat('{"name": "Fonts"}'), "malformed answer"),
    (chat(None), "empty answer"),
    (chat("   "), "empty answer"),
    (chat('{"label": "Fonts for every script and every console ever"}'), "label too long"),
    (Reply(body={"id": "x", "object": "chat.completion", "choices": []}), "empty answer"),
    (Reply(body=b"<html>proxy error</html>"), "malformed answer"),
])
def test_unusable_answer_falls_back_to_keywords_for_that_cluster(
        llm: FakeChatServer, reply: Reply, reason: str) -> None:
    llm.script = lambda n, prompt: reply if cluster_of(prompt) == 1 else named(
        NAMES[cluster_of(prompt)])
    labels = labeler(llm).label(docs())
    assert (labels[1].labeler, labels[1].fallback_reason) == ("keywords", reason)
    assert "font" in labels[1].label
    assert [labels[c].labeler for c in (0, 2, 3)] == ["local"] * 3
    assert llm.requests == 4  # an unusable answer is not retried
    assert fallback_summary(labels, "The LLM server") == (
        f"The LLM server did not name 1 of 4 clusters ({reason}: cluster 1); "
        "it has keyword names instead.")


def test_slow_answer_times_out_and_falls_back(llm: FakeChatServer) -> None:
    llm.script = lambda n, prompt: (Reply(hang=True) if cluster_of(prompt) == 0
                                    else named(NAMES[cluster_of(prompt)]))
    labels = labeler(llm, timeout=0.5).label(docs())
    assert (labels[0].labeler, labels[0].fallback_reason) == ("keywords", "timed out")
    assert [labels[c].labeler for c in (1, 2, 3)] == ["local"] * 3


# ---- retries ----

def test_429_with_retry_after_then_success(llm: FakeChatServer) -> None:
    llm.script = lambda n, prompt: (failure(429, "slow down", **{"Retry-After": "0.2"}) if n == 0
                                    else named(f"Topic {n}"))
    labels = labeler(llm, max_in_flight=1).label(docs(1))
    assert labels[0].labeler == "local"
    assert llm.requests == 2


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_then_success(llm: FakeChatServer, status: int) -> None:
    llm.script = lambda n, prompt: failure(status, "busy") if n < 2 else named(f"Topic {n}")
    labels = labeler(llm, max_in_flight=1).label(docs(1))
    assert labels[0].labeler == "local"
    assert llm.requests == 3


def test_5xx_every_time_gives_up_after_the_tries(llm: FakeChatServer) -> None:
    llm.script = lambda n, prompt: failure(503, "overloaded")
    labels = labeler(llm, attempts=2).label(docs(2))
    assert {lab.fallback_reason for lab in labels.values()} == {"server error (503)"}
    assert llm.requests == 4


def test_retry_after_longer_than_allowed_gives_the_cluster_up(llm: FakeChatServer) -> None:
    llm.script = lambda n, prompt: failure(429, "later", **{"Retry-After": "3600"})
    labels = labeler(llm).label(docs(1))
    assert labels[0].fallback_reason == "quota exceeded (429)"
    assert llm.requests == 1


def test_unknown_model_stops_every_request(llm: FakeChatServer) -> None:
    llm.script = lambda n, prompt: failure(404, "model 'tiny-model' not found")
    labels = labeler(llm, max_in_flight=1).label(docs())
    assert {lab.fallback_reason for lab in labels.values()} == {"model not found (404)"}
    assert llm.requests == 1


def test_connection_refused_falls_back_quickly() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    made = ChatEndpointLabeler(f"http://127.0.0.1:{port}/v1", "m", backoff=0.01, attempts=2,
                               max_in_flight=1)
    labels = made.label(docs())
    assert {lab.fallback_reason for lab in labels.values()} == {"cannot reach the LLM at 127.0.0.1"}
    assert all(lab.labeler == "keywords" for lab in labels.values())
    summary = fallback_summary(labels, "The LLM server")
    assert summary is not None
    assert summary.startswith("The LLM server did not name 4 of 4 clusters (cannot reach")


# ---- cancel ----

def test_cancel_mid_run_stops_and_sends_no_more(llm: FakeChatServer) -> None:
    llm.script = lambda n, prompt: Reply(hang=True) if n >= 2 else named(f"Topic {n}")
    cancel = CancelToken()

    def progress(stage: str, fraction: float, message: str) -> None:
        if fraction >= 2 / 12:  # two clusters named: the user presses Stop
            cancel.cancel()

    with pytest.raises(Cancelled):
        labeler(llm, max_in_flight=4, timeout=30).label(docs(12), progress, cancel)
    assert llm.requests <= 2 + 4  # the clusters still waiting were never sent


def test_cancel_before_start_sends_nothing(llm: FakeChatServer) -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        labeler(llm).label(docs(), cancel=cancel)
    assert llm.requests == 0


# ---- the CLI ----

def test_cli_relabel_with_a_local_server(llm: FakeChatServer, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "p.level"
    shutil.copyfile(Path(__file__).parent / "data" / "project-v1.level", project)
    llm.script = lambda n, prompt: named(f"Local name {n}")
    code = level_main(["relabel", str(project), "--labeler", "local", "--llm-url", llm.url,
                       "--llm-model", "tiny-model"])
    assert code == 0, capsys.readouterr().err
    from level_desktop.core.store import load_project

    reopened = load_project(project)
    assert reopened.settings.labeler == "local"
    assert reopened.settings.llm_url == llm.url
    assert reopened.settings.llm_model == "tiny-model"
    assert {c.labeler for c in reopened.clusters} == {"local"}
    assert all(c.label.startswith("Local name") for c in reopened.clusters)
    assert llm.requests == len(reopened.clusters) + len(reopened.topics)  # topics are named too


def test_cli_relabel_without_a_model_is_a_user_error(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "p.level"
    shutil.copyfile(Path(__file__).parent / "data" / "project-v1.level", project)
    assert level_main(["relabel", str(project), "--labeler", "local"]) == 2
    assert "needs the model's name" in capsys.readouterr().err
