"""Issue 20's figures: image embedding throughput, and decoding real files with and without the
thread pool.

    python benchmarks/images.py [--images 2000] [--runs 3] [--decode-files 2000] [--skip-model]

Model: a DINOv2-base-sized model (`Dinov2Config()` defaults, random weights: weights do not
change the speed) with dinov2-base's preprocessing (shortest edge 256, centre crop 224), saved to
a temporary folder, on generated 224x224 JPEG files. Peer: the plain `transformers` loop of the
design in the same process on the same files and weights: batches of 32, no prefetch, decode in
the loop, `torch.no_grad`, CLS token. The two alternate run by run (Level first in odd runs), so
a change in the machine's load hits both.

Decoding: mixed JPEG/PNG files from 256x256 to 2400x1600 (generated once into the gitignored
benchmarks/results/_image_files/), each read and brought to the model's 256-pixel shorter side.
Three ways: the naive loop (open, full decode, resize), Level's `decode_image` one file after
another (JPEG draft decoding), and Level's `decode_image` in its thread pool. The files were just
written or read, so they come from the page cache, not the disk.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, emit, median

FILES = REPO / "benchmarks" / "results" / "_image_files"
MODEL_SIDE = 256  # dinov2-base's processor: shortest edge 256, then a 224 centre crop
DECODE_SIZES = [(256, 256), (640, 480), (1024, 768), (1600, 1200), (2400, 1600)]


def smooth_image(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A photo-like image: colour gradients and blobs with mild noise (compresses like a photo)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty((height, width, 3), dtype=np.float32)
    for c in range(3):
        fx, fy = rng.uniform(0.5, 6, 2)
        phase = rng.uniform(0, 6.3)
        out[..., c] = 128 + 100 * np.sin(fx * x / width * 6.28 + phase) * np.cos(fy * y / height)
    out += rng.normal(0, 6, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def generate_model_images(folder: Path, n: int) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20)
    paths = []
    for i in range(n):
        path = folder / f"{i:05d}.jpg"
        if not path.exists():
            Image.fromarray(smooth_image(rng, 224, 224)).save(path, quality=90)
        paths.append(path)
    return paths


def generate_decode_files(folder: Path, n: int) -> list[Path]:
    """Photo-like files: a smooth pattern drawn small and enlarged, plus sensor-like noise cut
    from one shared tile (drawing every large image at full size took half an hour here)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(21)
    side = max(max(size) for size in DECODE_SIZES)
    noise = rng.normal(0, 6, (side + 64, side + 64, 3)).astype(np.int16)
    paths = []
    for i in range(n):
        width, height = DECODE_SIZES[i % len(DECODE_SIZES)]
        if i % 3 == 2:
            width, height = height, width  # some portrait
        # PNG for every third file up to 1024 pixels (a 2400x1600 PNG photo is unusual).
        suffix = "png" if i % 3 == 0 and max(width, height) <= 1024 else "jpg"
        path = folder / f"{i:05d}.{suffix}"
        paths.append(path)
        if path.exists():
            continue
        small = Image.fromarray(smooth_image(rng, max(8, width // 8), max(8, height // 8)))
        base = np.asarray(small.resize((width, height), Image.Resampling.BILINEAR), np.int16)
        dy, dx = rng.integers(0, 64, 2)
        pixels = np.clip(base + noise[dy:dy + height, dx:dx + width], 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(path)
    return paths


def base_sized_model(folder: Path) -> Path:
    """A DINOv2-base-sized model with random weights and dinov2-base's preprocessing."""
    import torch
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    Dinov2Model(Dinov2Config()).save_pretrained(folder)
    BitImageProcessor(size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224},
                      image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225],
                      resample=3).save_pretrained(folder)
    return folder


def plain_transformers_loop(model, processor, paths: list[Path], batch_size: int = 32
                            ) -> np.ndarray:
    """The design's loop: decode in the loop, batches of 32, no prefetch, no_grad, CLS token."""
    import torch
    from PIL import Image

    out = []
    for start in range(0, len(paths), batch_size):
        images = [Image.open(p).convert("RGB") for p in paths[start:start + batch_size]]
        inputs = processor(images=images, return_tensors="pt")
        with torch.no_grad():
            out.append(model(**inputs).last_hidden_state[:, 0].numpy())
    vectors = np.concatenate(out)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def model_figures(n_images: int, runs: int) -> dict:
    import torch
    from transformers import AutoImageProcessor, Dinov2Model

    from level_desktop.core.embedding.sentence_transformer import CPU_SLICE
    from level_desktop.core.image_embedding import ImageEmbedder, decode_workers

    paths = generate_model_images(FILES / "model_224", n_images)
    with tempfile.TemporaryDirectory() as tmp:
        folder = base_sized_model(Path(tmp) / "dinov2-base-sized")
        level = ImageEmbedder(str(folder), device="cpu", batch_size=32)
        processor = AutoImageProcessor.from_pretrained(folder, local_files_only=True)
        plain = Dinov2Model.from_pretrained(folder, local_files_only=True).eval()
        # Warm-up, not timed: one batch each (loads the model into Level's per-process cache).
        level.encode(paths[:32])
        plain_transformers_loop(plain, processor, paths[:32])
        level_times, plain_times = [], []
        level_vectors = plain_vectors = None
        for run in range(runs):
            order = ("level", "plain") if run % 2 == 0 else ("plain", "level")
            for side in order:
                start = time.perf_counter()
                if side == "level":
                    level_vectors = level.encode(paths)
                    level_times.append(time.perf_counter() - start)
                else:
                    plain_vectors = plain_transformers_loop(plain, processor, paths)
                    plain_times.append(time.perf_counter() - start)
                print(f"run {run + 1} {side}: {time.perf_counter() - start:.1f}s", file=sys.stderr)
        agreement = float(np.min(np.sum(level_vectors * plain_vectors, axis=1)))
    lt, pt = median(level_times), median(plain_times)
    return {"model": "Dinov2Config() defaults (base size: 768-d, 12 layers), random weights",
            "images": n_images, "image_size": "224x224 JPEG", "batch_size": 32, "device": "cpu",
            "level_model_call_on_cpu": f"{min(32, CPU_SLICE)} images (cancel is checked between)",
            "level_cls_only_last_block": level.loaded().cls_only_last_block,
            "level_decode_workers": decode_workers("cpu"),
            "torch_threads": torch.get_num_threads(), "runs": runs,
            "level_images_per_s": round(n_images / lt, 2),
            "plain_transformers_images_per_s": round(n_images / pt, 2),
            "ratio_level_over_plain": round(pt / lt, 3),
            "level_seconds": [round(t, 1) for t in level_times],
            "plain_seconds": [round(t, 1) for t in plain_times],
            "min_cosine_level_vs_plain": round(agreement, 6),
            # When fewer than 2,000 images were measured: what the full size would have taken.
            "hours_for_2000_images_all_runs_both_sides": round(
                2000 * runs * (lt + pt) / n_images / 3600, 1),
            "issue_size_reached": n_images >= 2000}


def naive_decode(path: Path):
    from PIL import Image

    from level_desktop.core.images import downscale

    return downscale(Image.open(path).convert("RGB"), MODEL_SIDE)


def decode_figures(n_files: int, runs: int, naive_runs: int, workers: int | None) -> dict:
    from level_desktop.core.images import decode_image, default_workers, map_in_background

    paths = generate_decode_files(FILES / "decode_mixed", n_files)
    workers = workers or default_workers()
    total_mb = sum(p.stat().st_size for p in paths) / 1e6

    def serial(fn) -> None:
        for p in paths:
            fn(p)

    def pooled() -> None:
        for _ in map_in_background(lambda p: decode_image(p, MODEL_SIDE), paths, workers):
            pass

    ways = {"naive_serial": lambda: serial(naive_decode),
            "level_serial": lambda: serial(lambda p: decode_image(p, MODEL_SIDE)),
            "level_thread_pool": pooled}
    for p in paths:  # read once so every way starts from the same page cache
        p.read_bytes()
    times: dict[str, list[float]] = {name: [] for name in ways}
    for run in range(runs):
        for name, fn in ways.items():
            if name == "naive_serial" and run >= naive_runs:
                continue  # the slowest way, and only context: the pool's peer is level_serial
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
            print(f"decode {name}: {times[name][-1]:.1f}s", file=sys.stderr)
    rate = {name: n_files / median(t) for name, t in times.items()}
    return {"files": n_files, "total_mb": round(total_mb, 1),
            "sizes": [f"{w}x{h}" for w, h in DECODE_SIZES],
            "png_files": sum(p.suffix == ".png" for p in paths),
            "resized_to_shorter_side": MODEL_SIDE, "workers": workers, "cpu_count": os.cpu_count(),
            "runs": runs, "naive_serial_runs": min(runs, naive_runs),
            **{f"{name}_files_per_s": round(r, 1) for name, r in rate.items()},
            "ratio_pool_over_level_serial": round(rate["level_thread_pool"] / rate["level_serial"], 3),
            "ratio_pool_over_naive_serial": round(rate["level_thread_pool"] / rate["naive_serial"], 3),
            "seconds": {name: [round(t, 2) for t in ts] for name, ts in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--decode-files", type=int, default=2000)
    parser.add_argument("--decode-runs", type=int, default=3)
    parser.add_argument("--naive-runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--skip-model", action="store_true")
    parser.add_argument("--skip-decode", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "images.json")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # A run of one part keeps the other part's figures from the previous run (each is dated).
    previous = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    result: dict = {"benchmark": "images", "machine": f"{os.cpu_count()} CPU cores, no GPU",
                    "gpu": "not measured: this session had no GPU machine"}
    for part, skipped, measure in (
            ("decoding", args.skip_decode,
             lambda: decode_figures(args.decode_files, args.decode_runs, args.naive_runs,
                                   args.workers)),
            ("embedding", args.skip_model, lambda: model_figures(args.images, args.runs))):
        if skipped:
            if part in previous:
                result[part] = previous[part]
            continue
        load_before = os.getloadavg()[0]
        result[part] = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                        "load_average_before": round(load_before, 1), **measure()}
    emit(result, args.out)


if __name__ == "__main__":
    main()
