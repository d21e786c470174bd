"""Gemini labeling time for 60 clusters: concurrent requests against the sequential peer.

Gemini cannot be reached here, so a local generateContent server answers every request after a
fixed latency (200 ms by default); the real google-genai SDK talks to it through
LEVEL_GEMINI_BASE_URL. Both variants run in the same process, alternately, 3 times each; the JSON
printed holds every run, the medians and the sequential/concurrent ratio.

    .venv/bin/python benchmarks/gemini_labeling.py [--clusters 60] [--latency-ms 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from pathlib import Path

from level_desktop.core.labeling import ClusterDocs, GeminiLabeler

REPO = Path(__file__).resolve().parents[1]
SAMPLE = Path(os.environ.get("LEVEL_SHARED_DATA", REPO.parent / "shared" / "data")) / "sample-small.csv"
ROWS_PER_CLUSTER = 10


def start_server(latency: float) -> tuple[ThreadingHTTPServer, list[int]]:
    """A generateContent endpoint that answers a distinct label after `latency` seconds."""
    served: list[int] = []
    numbers = count()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                n = next(numbers)
                served.append(n)
            time.sleep(latency)
            text = json.dumps({"label": f"Topic {n}", "description": f"Rows of kind {n}."})
            data = json.dumps({"candidates": [{"content": {"parts": [{"text": text}],
                                                           "role": "model"},
                                               "finishReason": "STOP"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    return server, served


def cluster_docs(n: int) -> list[ClusterDocs]:
    """`n` clusters of real rows from the shared sample (synthetic text if it is missing)."""
    if SAMPLE.exists():
        with SAMPLE.open(encoding="utf-8", newline="") as f:
            texts = [row["description"] for row in csv.DictReader(f)]
    else:
        texts = [f"Row {i} about subject {i % n}, with a few more words to read." for i in range(600)]
    out = []
    for c in range(n):
        rows = [texts[(c * ROWS_PER_CLUSTER + i) % len(texts)] for i in range(ROWS_PER_CLUSTER)]
        out.append(ClusterDocs(c, rows, rows[:5]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=60)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-in-flight", type=int, default=8)
    args = parser.parse_args()

    server, served = start_server(args.latency_ms / 1000)
    os.environ["LEVEL_GEMINI_BASE_URL"] = f"http://127.0.0.1:{server.server_address[1]}"
    os.environ["GEMINI_API_KEY"] = "benchmark-key-not-real"
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    docs = cluster_docs(args.clusters)
    variants = {"concurrent": args.max_in_flight, "sequential": 1}
    times: dict[str, list[float]] = {name: [] for name in variants}
    GeminiLabeler().label(docs[:1])  # import the SDK once, outside the timings
    try:
        for _ in range(args.runs):
            for name, in_flight in variants.items():
                labeler = GeminiLabeler(max_in_flight=in_flight)
                before = len(served)
                start = time.perf_counter()
                labels = labeler.label(docs)
                times[name].append(round(time.perf_counter() - start, 3))
                if len(served) - before != len(docs) or any(
                        lab.labeler != "gemini" for lab in labels.values()):
                    raise SystemExit(f"{name}: not every cluster was named by one request")
    finally:
        server.shutdown()
        server.server_close()
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(json.dumps({
        "benchmark": "gemini_labeling",
        "clusters": args.clusters,
        "latency_ms_per_request": args.latency_ms,
        "runs": args.runs,
        "concurrent": {"max_in_flight": args.max_in_flight, "seconds": times["concurrent"],
                       "median_s": medians["concurrent"]},
        "peer_sequential": {"max_in_flight": 1, "seconds": times["sequential"],
                            "median_s": medians["sequential"]},
        "speedup_sequential_over_concurrent": round(medians["sequential"]
                                                    / medians["concurrent"], 2),
        "ideal_concurrent_s": round(-(-args.clusters // args.max_in_flight)
                                    * args.latency_ms / 1000, 3),
    }, indent=2))


if __name__ == "__main__":
    main()
