"""Gemini labels through the real google-genai SDK against a local generateContent server.

Gemini itself cannot be reached from the tests: a small HTTP server on 127.0.0.1 speaks the REST
protocol (POST /{version}/models/{model}:generateContent), and LEVEL_GEMINI_BASE_URL points the SDK
at it. Each test scripts the server's answers and checks the fallbacks and the requests it saw.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError

from level_desktop.core import secrets
from level_desktop.core.errors import Cancelled, SettingsError
from level_desktop.core.labeling import (
    LABELERS,
    ClusterDocs,
    ClusterLabel,
    GeminiLabeler,
    fallback_summary,
)
from level_desktop.core.progress import CancelToken
from level_desktop.core.settings import Settings

KEY = "AIzaTEST-not-a-real-key-8c1f0e"
PATH = re.compile(r"^/(v1\w*)/models/([^/:]+):generateContent$")


@dataclass
class Reply:
    """What the fake server sends back: a status, a JSON body, headers; or it hangs."""

    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    delay: float = 0.0


def answer(text: str) -> Reply:
    return Reply(body={"candidates": [{"content": {"parts": [{"text": text}], "role": "model"},
                                       "finishReason": "STOP"}]})


def label_answer(label: str, description: str = "Rows about one thing.") -> Reply:
    return answer(json.dumps({"label": label, "description": description}))


def error(status: int, message: str, api_status: str, **headers: str) -> Reply:
    return Reply(status, {"error": {"code": status, "message": message, "status": api_status}},
                 headers)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict


class FakeGemini:
    """A generateContent endpoint on an ephemeral port; `script(n, prompt)` makes reply n."""

    def __init__(self) -> None:
        self.script: Callable[[int, str], Reply] = lambda n, prompt: label_answer(f"Topic {n}")
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self.release = threading.Event()  # lets hanging handlers go at teardown
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with outer._lock:
                    n = len(outer.seen)
                    outer.seen.append(Seen(self.path, dict(self.headers), body))
                if not PATH.match(self.path):
                    reply = error(404, f"no route {self.path}", "NOT_FOUND")
                else:
                    reply = outer.script(n, body["contents"][0]["parts"][0]["text"])
                if reply.hang:
                    outer.release.wait(10)
                    return
                if reply.delay:
                    time.sleep(reply.delay)
                data = json.dumps(reply.body).encode()
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
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
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
def gemini(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGemini]:
    server = FakeGemini()
    monkeypatch.setenv("LEVEL_GEMINI_BASE_URL", server.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield server
    server.close()


@pytest.fixture
def with_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    return KEY


TOPICS = {
    0: ["Install the python package with pip", "A python library for parsing YAML files",
        "Python bindings for the GTK toolkit", "pip wheel for python numerical arrays"],
    1: ["Fonts for displaying Chinese characters", "A TrueType font family with serif glyphs",
        "Monospace font for programming terminals", "Bitmap fonts for the console"],
    2: ["Kernel module for wireless network cards", "Firmware for Intel wifi network chips",
        "Driver for USB ethernet network adapters", "Tools to configure network bridges"],
    3: ["Documentation for the Perl interpreter", "Perl module to read CSV files",
        "Perl bindings for the SQLite database", "A Perl library for HTTP requests"],
}


def docs(n: int = 4) -> list[ClusterDocs]:
    return [ClusterDocs(c, TOPICS[c % 4] * (1 + c // 4), TOPICS[c % 4][:3]) for c in range(n)]


def cluster_of(prompt: str) -> int:
    """Which of `docs()`'s clusters a prompt is about (by its first representative)."""
    return next(c for c, rows in TOPICS.items() if rows[0] in prompt)


def thinking(config: dict) -> dict:
    """The request's thinking config, names folded (the SDK sends thinking_budget, the REST
    reference spells thinkingBudget; the API accepts both)."""
    return {k.replace("_", "").lower(): v for k, v in config["thinkingConfig"].items()}


def labeler(**params: object) -> GeminiLabeler:
    return GeminiLabeler(**{"backoff": 0.01, **params})


# ---- success and the request's shape ----

def test_success_names_every_cluster_with_one_request_each(gemini: FakeGemini, with_key: str
                                                           ) -> None:
    gemini.script = lambda n, prompt: label_answer(
        ["Python packages", "Fonts", "Network drivers", "Perl modules"][cluster_of(prompt)],
        "Software in one area.")
    calls: list[tuple[str, float, str]] = []
    labels = labeler().label(docs(), lambda s, f, m: calls.append((s, f, m)))

    assert {c: lab.label for c, lab in labels.items()} == {
        0: "Python packages", 1: "Fonts", 2: "Network drivers", 3: "Perl modules"}
    assert all(lab.labeler == "gemini" and lab.fallback_reason is None for lab in labels.values())
    assert labels[0].description == "Software in one area."
    assert fallback_summary(labels) is None
    assert gemini.requests == 4
    seen = gemini.seen[0]
    assert PATH.match(seen.path)
    assert PATH.match(seen.path)[2] == Settings().gemini_model
    assert seen.headers["x-goog-api-key"] == KEY
    config = seen.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["temperature"] == pytest.approx(0.3)
    assert config["maxOutputTokens"] <= 1024
    assert thinking(config) == {"thinkinglevel": "MINIMAL"}
    prompts = [s.body["contents"][0]["parts"][0]["text"] for s in gemini.seen]
    assert all(row in prompts[[cluster_of(p) for p in prompts].index(0)] for row in TOPICS[0][:3])
    assert {s for s, _, _ in calls} == {"label"}
    fractions = [f for _, f, _ in calls]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0


def test_registry_builds_gemini_labeler_from_the_settings() -> None:
    made = LABELERS.create("gemini", Settings(gemini_model="gemini-x"))
    assert isinstance(made, GeminiLabeler)
    assert made.model == "gemini-x"
    assert LABELERS.entry("gemini").sends_rows_off_machine
    assert not LABELERS.entry("keywords").sends_rows_off_machine


def test_model_setting_picks_endpoint_and_thinking_level(gemini: FakeGemini, with_key: str) -> None:
    GeminiLabeler("gemini-3.5-flash").label(docs(1))
    assert PATH.match(gemini.seen[0].path)[2] == "gemini-3.5-flash"
    assert thinking(gemini.seen[0].body["generationConfig"]) == {"thinkinglevel": "MINIMAL"}


# ---- answers that cannot be used ----

def test_malformed_answer_falls_back_to_keywords_for_that_cluster(gemini: FakeGemini,
                                                                  with_key: str) -> None:
    gemini.script = lambda n, prompt: (
        answer("Sure! Here are fonts.") if cluster_of(prompt) == 1
        else label_answer(f"Topic {cluster_of(prompt)}"))
    labels = labeler().label(docs())

    assert labels[1].labeler == "keywords"
    assert labels[1].fallback_reason == "malformed answer"
    assert "font" in labels[1].label
    assert [labels[c].labeler for c in (0, 2, 3)] == ["gemini"] * 3
    assert gemini.requests == 4  # a malformed answer is not retried
    assert fallback_summary(labels) == (
        "Gemini did not name 1 of 4 clusters (malformed answer: cluster 1); "
        "it has keyword names instead.")


@pytest.mark.parametrize(("reply", "reason"), [
    (label_answer("Python packages for the scientific stack"), "label too long"),
    (label_answer("A" * 41), "label too long"),
    (answer(""), "empty answer"),
    (answer('{"label": "   ", "description": "x"}'), "empty answer"),
    (answer('{"name": "Fonts"}'), "malformed answer"),
])
def test_unusable_label_falls_back(gemini: FakeGemini, with_key: str, reply: Reply,
                                   reason: str) -> None:
    gemini.script = lambda n, prompt: reply if cluster_of(prompt) == 0 else label_answer(
        f"Topic {cluster_of(prompt)}")
    labels = labeler().label(docs())
    assert (labels[0].labeler, labels[0].fallback_reason) == ("keywords", reason)
    assert all(labels[c].labeler == "gemini" for c in (1, 2, 3))


def test_duplicate_label_keeps_the_first_and_falls_back_for_the_second(gemini: FakeGemini,
                                                                       with_key: str) -> None:
    gemini.script = lambda n, prompt: label_answer(
        "Software packages" if cluster_of(prompt) in (0, 3) else f"Topic {cluster_of(prompt)}")
    labels = labeler().label(docs())
    assert (labels[0].label, labels[0].labeler) == ("Software packages", "gemini")
    assert (labels[3].labeler, labels[3].fallback_reason) == ("keywords", "duplicate label")
    assert len({lab.label.casefold() for lab in labels.values()}) == 4


# ---- HTTP failures ----

def test_429_then_success_is_retried_after_retry_after(gemini: FakeGemini, with_key: str) -> None:
    gemini.script = lambda n, prompt: (
        error(429, "Resource has been exhausted", "RESOURCE_EXHAUSTED", **{"Retry-After": "1"})
        if n == 0 else label_answer("Python packages"))
    start = time.perf_counter()
    labels = labeler(backoff=0.01).label(docs(1))
    assert (labels[0].label, labels[0].labeler, labels[0].fallback_reason) == (
        "Python packages", "gemini", None)
    assert gemini.requests == 2
    assert time.perf_counter() - start >= 0.9  # waited as long as the server asked


def test_retry_delay_in_the_error_body_is_honoured(gemini: FakeGemini, with_key: str) -> None:
    quota = error(429, "Quota exceeded", "RESOURCE_EXHAUSTED")
    quota.body["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                       "retryDelay": "45s"}]
    gemini.script = lambda n, prompt: quota
    start = time.perf_counter()
    labels = labeler(max_retry_wait=30).label(docs(1))
    assert labels[0].fallback_reason == "quota exceeded (429)"
    assert gemini.requests == 1  # 45 s is longer than we wait: give up at once
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(("status", "api_status", "reason"), [
    (500, "INTERNAL", "server error (500)"),
    (503, "UNAVAILABLE", "server error (503)"),
    (429, "RESOURCE_EXHAUSTED", "quota exceeded (429)"),
])
def test_error_every_time_gives_up_after_few_tries(gemini: FakeGemini, with_key: str, status: int,
                                                   api_status: str, reason: str) -> None:
    gemini.script = lambda n, prompt: error(status, "try again later", api_status)
    labels = labeler(attempts=3).label(docs(2))
    assert gemini.requests == 2 * 3
    assert all(lab.fallback_reason == reason and lab.labeler == "keywords"
               for lab in labels.values())
    assert fallback_summary(labels) == (
        f"Gemini did not name 2 of 2 clusters ({reason}: clusters 0, 1); "
        "they have keyword names instead.")


def test_request_hanging_past_the_timeout_falls_back(gemini: FakeGemini, with_key: str) -> None:
    gemini.script = lambda n, prompt: (Reply(hang=True) if cluster_of(prompt) == 2
                                       else label_answer(f"Topic {cluster_of(prompt)}"))
    start = time.perf_counter()
    labels = labeler(timeout=0.5).label(docs())
    assert time.perf_counter() - start < 3
    assert (labels[2].labeler, labels[2].fallback_reason) == ("keywords", "timed out")
    assert all(labels[c].labeler == "gemini" for c in (0, 1, 3))
    assert gemini.requests == 4  # a timeout is not retried


@pytest.mark.parametrize(("status", "api_status", "message"), [
    (400, "INVALID_ARGUMENT", f"API key not valid. Please pass a valid API key. ({KEY})"),
    (403, "PERMISSION_DENIED", f"Method doesn't allow unregistered callers; key {KEY}"),
])
def test_bad_key_stops_every_request_and_never_logs_the_key(
        gemini: FakeGemini, with_key: str, caplog: pytest.LogCaptureFixture, status: int,
        api_status: str, message: str) -> None:
    caplog.set_level(logging.DEBUG)
    gemini.script = lambda n, prompt: error(status, message, api_status)
    labels = labeler(max_in_flight=1).label(docs())
    assert gemini.requests == 1  # the rest would fail the same way
    assert {lab.fallback_reason for lab in labels.values()} == {f"bad API key ({status})"}
    assert all(lab.labeler == "keywords" for lab in labels.values())
    assert "***" in caplog.text  # the server's message was logged …
    assert KEY not in caplog.text  # … without the key in it
    assert KEY not in (fallback_summary(labels) or "")


def test_unknown_model_stops_every_request(gemini: FakeGemini, with_key: str) -> None:
    gemini.script = lambda n, prompt: error(404, "models/gemini-nope is not found", "NOT_FOUND")
    labels = GeminiLabeler("gemini-nope", max_in_flight=1).label(docs())
    assert gemini.requests == 1
    assert PATH.match(gemini.seen[0].path)[2] == "gemini-nope"
    assert {lab.fallback_reason for lab in labels.values()} == {"model not found (404)"}


def test_other_400_is_a_rejected_request_for_that_cluster_only(gemini: FakeGemini,
                                                               with_key: str) -> None:
    gemini.script = lambda n, prompt: (
        error(400, "Request contains an invalid argument.", "INVALID_ARGUMENT")
        if cluster_of(prompt) == 0 else label_answer(f"Topic {cluster_of(prompt)}"))
    labels = labeler(max_in_flight=1).label(docs())
    assert labels[0].fallback_reason == "request rejected (400)"
    assert all(labels[c].labeler == "gemini" for c in (1, 2, 3))
    assert gemini.requests == 4


def test_unreachable_endpoint_falls_back(monkeypatch: pytest.MonkeyPatch, with_key: str) -> None:
    server = FakeGemini()
    url = server.url
    server.close()  # nothing listens on the port any more
    monkeypatch.setenv("LEVEL_GEMINI_BASE_URL", url)
    start = time.perf_counter()
    labels = labeler(attempts=2, max_in_flight=1).label(docs())
    assert {lab.fallback_reason for lab in labels.values()} == {"cannot reach Gemini"}
    assert time.perf_counter() - start < 3  # one cluster's tries, not every cluster's


def test_no_key_makes_no_request(gemini: FakeGemini) -> None:
    labels = labeler().label(docs())
    assert gemini.requests == 0
    assert all(lab.labeler == "keywords" and lab.fallback_reason == "no API key"
               for lab in labels.values())
    summary = fallback_summary(labels)
    assert summary is not None
    assert "no API key: clusters 0, 1, 2, 3" in summary
    assert "GEMINI_API_KEY" in summary


def test_keywords_failing_too_gives_cluster_n(gemini: FakeGemini) -> None:
    stop_words_only = [ClusterDocs(c, ["the and of", "a an the"], ["the and of"]) for c in range(2)]
    labels = labeler().label(stop_words_only)
    assert [(lab.label, lab.labeler, lab.fallback_reason) for lab in labels.values()] == [
        ("Cluster 0", "none", "no API key"), ("Cluster 1", "none", "no API key")]


# ---- cancel ----

def test_cancel_mid_stage_stops_promptly(gemini: FakeGemini, with_key: str) -> None:
    gemini.script = lambda n, prompt: Reply(hang=True) if n >= 2 else label_answer(f"Topic {n}")
    cancel = CancelToken()

    def progress(stage: str, fraction: float, message: str) -> None:
        if fraction >= 2 / 12:  # two clusters named: the user presses Stop
            threading.Timer(0.2, cancel.cancel).start()

    start = time.perf_counter()
    with pytest.raises(Cancelled):
        labeler(max_in_flight=4, timeout=20).label(docs(12), progress, cancel)
    assert time.perf_counter() - start < 2  # not the 20 s a hanging request may take
    assert gemini.requests <= 2 + 4  # the pending clusters were never sent


def test_cancel_before_start_sends_nothing(gemini: FakeGemini, with_key: str) -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        labeler().label(docs(), cancel=cancel)
    assert gemini.requests == 0


# ---- the key: environment, keyring ----

class MemoryKeyring(KeyringBackend):
    """A keyring that lives in this process only."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.store.pop((service, username), None) is None:
            raise PasswordDeleteError("not stored")


class BrokenKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringError("the keyring is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringError(f"cannot store {password}")


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_key_from_keyring_and_environment_first(memory_keyring: MemoryKeyring,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert secrets.get_gemini_key() is None
    assert secrets.gemini_key_source() is None
    secrets.set_gemini_key(f"  {KEY}\n")
    assert memory_keyring.store == {("level-desktop", "gemini-api-key"): KEY}
    assert secrets.get_gemini_key() == KEY
    assert secrets.gemini_key_source() == "keyring"
    monkeypatch.setenv("GEMINI_API_KEY", "from-the-environment")
    assert secrets.get_gemini_key() == "from-the-environment"
    assert secrets.gemini_key_source() == "environment"
    monkeypatch.delenv("GEMINI_API_KEY")
    secrets.set_gemini_key("")
    assert memory_keyring.store == {}
    assert secrets.get_gemini_key() is None
    secrets.set_gemini_key("")  # deleting nothing is fine


def test_keyring_errors_read_as_no_key_and_never_show_the_key(
        memory_keyring: MemoryKeyring) -> None:
    keyring.set_keyring(BrokenKeyring())
    assert secrets.get_gemini_key() is None
    with pytest.raises(SettingsError) as caught:
        secrets.set_gemini_key(KEY)
    assert KEY not in str(caught.value)
    assert "GEMINI_API_KEY" in str(caught.value)


def test_null_keyring_from_conftest_reads_as_no_key() -> None:
    assert secrets.get_gemini_key() is None


def test_labeler_uses_the_key_from_the_keyring(gemini: FakeGemini,
                                               memory_keyring: MemoryKeyring) -> None:
    secrets.set_gemini_key(KEY)
    labels = labeler().label(docs(1))
    assert labels[0].labeler == "gemini"
    assert gemini.seen[0].headers["x-goog-api-key"] == KEY


def test_fallback_summary_groups_by_reason_and_shortens_long_lists() -> None:
    labels = {c: ClusterLabel(f"n{c}", "", "keywords", "timed out") for c in range(14)}
    labels[14] = ClusterLabel("x", "", "keywords", "duplicate label")
    labels[15] = ClusterLabel("y", "", "gemini")
    assert fallback_summary(labels) == (
        "Gemini did not name 15 of 16 clusters (timed out: clusters 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 "
        "and 4 more; duplicate label: cluster 14); they have keyword names instead.")


# ---- the whole pipeline: the key ends up in no file and no log ----

@pytest.mark.slow
def test_pipeline_with_gemini_never_writes_the_key(
        gemini: FakeGemini, with_key: str, sample_csv: Path, tmp_path: Path,
        session_cache_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    from level_desktop.core.export import write_weighted
    from level_desktop.core.pipeline import analyze, relabel
    from level_desktop.core.store import EmbeddingCache, load_project, save_project

    caplog.set_level(logging.DEBUG)
    rows = sample_csv.read_text(encoding="utf-8").splitlines(keepends=True)
    small = tmp_path / "small.csv"
    small.write_text("".join(rows[:61]), encoding="utf-8")  # header + 60 rows

    def script(n: int, prompt: str) -> Reply:
        if n == 1:  # one cluster's answer is an error that echoes the key
            return error(400, f"Request rejected for key {KEY}", "INVALID_ARGUMENT")
        return label_answer(f"Topic {n}", f"Rows of kind {n}.")

    gemini.script = script
    settings = Settings(labeler="gemini", projection="pca")
    analysis = analyze(small, settings,
                       cache=EmbeddingCache(session_cache_dir / "embeddings.duckdb"))
    k = len(analysis.clusters)
    asked = k + len(analysis.topics)  # the topics are named too
    assert gemini.requests == asked
    assert sum(c.labeler == "gemini" for c in analysis.clusters) == k - 1
    assert [c.fallback_reason for c in analysis.clusters].count("request rejected (400)") == 1

    project = save_project(analysis, tmp_path / "small.level")
    export = tmp_path / "weighted.csv"
    write_weighted(analysis.export_data(), export)
    reopened = load_project(project)
    assert [c.labeler for c in reopened.clusters] == [c.labeler for c in analysis.clusters]
    assert fallback_summary(reopened.clusters) == fallback_summary(analysis.clusters)

    # A new map from the reopened project reuses the names: no new request.
    analyze(None, reopened.settings.replace(projection="pca", grid=60), previous=reopened)
    assert gemini.requests == asked

    # Relabelling is the explicit action that asks again.
    fresh = relabel(reopened, reopened.settings).clusters
    assert gemini.requests == 2 * asked
    assert [c.id for c in fresh] == list(range(k))
    assert all(c.labeler == "gemini" for c in fresh)
    offline = relabel(reopened, reopened.settings.replace(labeler="keywords")).clusters
    assert gemini.requests == 2 * asked
    assert all(c.labeler == "keywords" and c.fallback_reason is None for c in offline)

    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert project in written
    assert export in written
    for path in written:
        assert KEY.encode() not in path.read_bytes(), path
    assert caplog.records
    assert KEY not in caplog.text
