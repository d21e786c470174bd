"""Labeling time for 60 clusters through the OpenAI-compatible labeler (`--labeler local`):
concurrent requests against the sequential peer (max_in_flight=1), as `gemini_labeling.py` does
for Gemini.

No LLM server runs here, so a local chat-completions server (the tests' `FakeChatServer`, a real
HTTP server on 127.0.0.1) answers every request after a fixed latency (200 ms by default); the
real `openai` client talks to it. Both variants run in the same process, alternately, `--runs`
times each; the JSON holds every run, the medians and the sequential/concurrent ratio, and the
most requests the server saw in flight at once.

    PYTHONPATH=. /path/to/python benchmarks/llm_labeling.py [--clusters 60] [--latency-ms 200]
        [--runs 3] [--out benchmarks/results/llm_labeling.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from benchmarks.common import REPO, emit
from benchmarks.gemini_labeling import cluster_docs
from level_desktop.core.labeling import ChatEndpointLabeler

sys.path.insert(0, str(REPO / "tests"))
from test_chat_endpoint import FakeChatServer, named  # the tests' real server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=60)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-in-flight", type=int, default=8)
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks" / "results" / "llm_labeling.json")
    args = parser.parse_args()

    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    server = FakeChatServer(latency=args.latency_ms / 1000)
    server.script = lambda n, prompt: named(f"Topic {n}", f"Rows of kind {n}.")
    docs = cluster_docs(args.clusters)
    variants = {"concurrent": args.max_in_flight, "sequential": 1}
    times: dict[str, list[float]] = {name: [] for name in variants}
    most_in_flight: dict[str, int] = {}
    ChatEndpointLabeler(server.url, "bench").label(docs[:1])  # import the client outside timings
    try:
        for _ in range(args.runs):
            for name, in_flight in variants.items():
                labeler = ChatEndpointLabeler(server.url, "bench", max_in_flight=in_flight)
                before = server.requests
                server.most_in_flight = 0
                start = time.perf_counter()
                labels = labeler.label(docs)
                times[name].append(round(time.perf_counter() - start, 3))
                most_in_flight[name] = max(most_in_flight.get(name, 0), server.most_in_flight)
                if server.requests - before != len(docs) or any(
                        lab.labeler != "local" for lab in labels.values()):
                    raise SystemExit(f"{name}: not every cluster was named by one request")
    finally:
        server.close()
    medians = {name: statistics.median(t) for name, t in times.items()}
    emit({
        "benchmark": "llm_labeling",
        "server": "local fake chat-completions server on 127.0.0.1 (fixed latency, fixed names)",
        "clusters": args.clusters,
        "latency_ms_per_request": args.latency_ms,
        "runs": args.runs,
        "concurrent": {"max_in_flight": args.max_in_flight, "seconds": times["concurrent"],
                       "median_s": medians["concurrent"],
                       "most_in_flight_seen": most_in_flight["concurrent"]},
        "peer_sequential": {"max_in_flight": 1, "seconds": times["sequential"],
                            "median_s": medians["sequential"],
                            "most_in_flight_seen": most_in_flight["sequential"]},
        "speedup_sequential_over_concurrent": round(medians["sequential"]
                                                    / medians["concurrent"], 2),
        "ideal_concurrent_s": round(-(-args.clusters // args.max_in_flight)
                                    * args.latency_ms / 1000, 3),
    }, args.out)


if __name__ == "__main__":
    main()
