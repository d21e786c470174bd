"""Issue 3's figures: Level's embed stage against plain SentenceTransformer.encode, and a second
`level analyze` on the same file against the first.

    python benchmarks/embedding_throughput.py [--rows 1000] [--runs 3]

Peer 1: `SentenceTransformer.encode(texts, batch_size=32)` on the same rows, same model, same
batch size, in the same process. Peer 2: the first `level analyze` run (empty cache) against the
second (the embedding cache is warm); both are fresh processes.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA, emit, median, read_csv


def encode_figures(rows: int, runs: int) -> dict:
    from level_desktop.core.embedding.sentence_transformer import (
        SentenceTransformerEmbedder,
        load_sentence_transformer,
    )

    texts = [r["description"] for r in read_csv(SHARED_DATA / "debian-packages.csv")[:rows]]
    level = SentenceTransformerEmbedder(batch_size=32)
    model = load_sentence_transformer(level.source, level.device)
    model.encode(texts[:64], batch_size=32)  # warm-up, not timed
    level_times, plain_times = [], []
    for _ in range(runs):
        start = time.perf_counter()
        level.encode(texts)
        level_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        model.encode(texts, batch_size=32, normalize_embeddings=True)
        plain_times.append(time.perf_counter() - start)
    lt, pt = median(level_times), median(plain_times)
    return {"rows": rows, "batch_size": 32, "device": level.device,
            "level_rows_per_s": round(rows / lt, 1), "plain_encode_rows_per_s": round(rows / pt, 1),
            "ratio_level_over_plain": round(pt / lt, 3),
            "level_seconds": [round(t, 2) for t in level_times],
            "plain_seconds": [round(t, 2) for t in plain_times]}


def analyze_twice(runs: int) -> dict:
    firsts, seconds, embed_first, embed_second = [], [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "LEVEL_CACHE_DIR": str(Path(tmp) / "cache")}
            times, embeds = [], []
            for name in ("first", "second"):
                start = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, "-m", "level_desktop.cli", "analyze",
                     str(SHARED_DATA / "sample-small.csv"), "-o", str(Path(tmp) / f"{name}.level"),
                     "--projection", "pca"], capture_output=True, text=True, env=env, cwd=REPO,
                    check=True)
                times.append(time.perf_counter() - start)
                embeds.append(float(re.search(r"embed ([\d.]+)s", done.stdout).group(1)))
            firsts.append(times[0])
            seconds.append(times[1])
            embed_first.append(embeds[0])
            embed_second.append(embeds[1])
    return {"file": "sample-small.csv (600 rows)", "projection": "pca",
            "first_run_s": round(median(firsts), 2), "second_run_s": round(median(seconds), 2),
            "embed_stage_first_s": round(median(embed_first), 2),
            "embed_stage_second_s": round(median(embed_second), 3),
            "ratio_embed_second_over_first": round(median(embed_second) / median(embed_first), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    emit({"benchmark": "embedding_throughput", "runs": args.runs,
          "encode": encode_figures(args.rows, args.runs), "second_analyze": analyze_twice(args.runs)},
         REPO / "benchmarks" / "results" / "embedding_throughput.json")


if __name__ == "__main__":
    main()
