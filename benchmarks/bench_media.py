"""Rich events on the calling thread, ours vs the official ``polyaxon`` 2.18 client (offline runs, same machine).

    .venv/bin/python benchmarks/bench_media.py [--images 200] [--histograms 50] [--repeat 3] [--online]

Each side, in a fresh interpreter, starts a run and calls ``log_image`` of a float32 3x224x224 array
(``--images`` times) and ``log_histogram`` of 1M float32 values with 30 bins (``--histograms`` times),
with ``--gap-ms`` of training between two calls (the data recomputed, so in cache, then a sleep for the
device) or back to back (0). Shown: p50/p99 on the calling thread; the floor (``*_copy_us``: one
``ndarray.copy()`` of the same data, same pacing); the time ``end()`` then takes (ours encodes on the
writer thread, so it drains there); peak memory; events dropped by the bounded backlog
(``POLYAXON_INTEGRATIONS_MEDIA_BACKLOG_MB``). The official client needs pillow for images (``pip install
pillow`` into its venv). Offline by default; ``--online`` starts a sandbox.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from worker import run_worker, sandbox_host  # noqa: E402

WORKER = textwrap.dedent(
    """
    import json, os, resource, sys, time
    import numpy as np
    if sys.argv[1] == "ours":
        from polyaxon_integrations import tracking
    else:
        from polyaxon import tracking
    offline, images, histograms = sys.argv[2] == "offline", int(sys.argv[3]), int(sys.argv[4])
    run = tracking.init(project="bench", name="bench-media", is_offline=offline or None)
    rng = np.random.default_rng(0)
    image = rng.random((3, 224, 224), dtype=np.float32)
    values = rng.normal(size=1_000_000).astype(np.float32)
    clock = time.perf_counter_ns

    gap = float(sys.argv[5]) / 1e3

    def timed(fn, data, n):
        out = []
        for i in range(n):
            if gap:  # a training step: the data is computed again (so it is in cache), then the device works
                np.multiply(data, 1.0, out=data)
                time.sleep(gap)
            t = clock()
            fn(i)
            out.append(clock() - t)
        out.sort()
        return out[len(out) // 2] / 1e3, out[int(len(out) * 0.99)] / 1e3

    copy_p50 = timed(lambda i: image.copy(), image, images)[0]  # the floor: one copy of the data, same pacing
    hist_copy_p50 = timed(lambda i: values.copy(), values, histograms)[0]
    tracking.log_image(image, name="warm", step=0)
    tracking.log_histogram("warm", values[:10], bins=30, step=0)
    image_p50, image_p99 = timed(lambda i: tracking.log_image(image, name="sample", step=i), image, images)
    hist_p50, hist_p99 = timed(
        lambda i: tracking.log_histogram("weights", values, bins=30, step=i), values, histograms
    )
    before_end = time.perf_counter()
    tracking.end()
    end_ms = (time.perf_counter() - before_end) * 1e3
    folder = run.get_artifacts_path() if hasattr(run, "get_artifacts_path") else run._artifacts_path
    written = len(os.listdir(os.path.join(folder, "assets", "image"))) - 1
    print(json.dumps({
        "image_p50_us": image_p50, "image_p99_us": image_p99,
        "hist_p50_us": hist_p50, "hist_p99_us": hist_p99,
        "image_copy_us": copy_p50, "hist_copy_us": hist_copy_p50,
        "end_ms": end_ms,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "dropped": getattr(run, "media_dropped", 0),
        "images_written": written,
    }))
    """
)

PYTHONS = {"ours": sys.executable, "official": str(ROOT / ".venv-server" / "bin" / "python")}
COLUMNS = (
    "image_p50_us", "image_p99_us", "image_copy_us", "hist_p50_us", "hist_p99_us", "hist_copy_us", "end_ms",
    "peak_rss_mb", "dropped",
)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--histograms", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--online", action="store_true")
    parser.add_argument("--host", help="with --online: this server (else a sandbox is started)")
    parser.add_argument(
        "--gap-ms", type=float, nargs="*", default=[20.0, 0.0],
        help="training time between two calls (the data is recomputed, then a sleep); 0: back to back",
    )  # fmt: skip
    args = parser.parse_args()
    mode = "online" if args.online else "offline"
    extra = {"PYTHONPATH": str(ROOT)}
    results: dict[tuple[float, str], list[dict[str, float]]] = {}
    with contextlib.ExitStack() as stack:
        host = stack.enter_context(sandbox_host(args.host)) if args.online else None
        for _ in range(args.repeat):
            for gap in args.gap_ms:
                for side in ("ours", "official"):
                    worker_args = [side, mode, str(args.images), str(args.histograms), str(gap)]
                    row = run_worker(PYTHONS[side], WORKER, worker_args, host, extra_env=extra)
                    results.setdefault((gap, side), []).append(row)
    print(
        f"{mode}: log_image of float32 3x224x224 x{args.images}, log_histogram of 1M float32 (30 bins) "
        f"x{args.histograms}; median of {args.repeat} rounds"
    )
    print(f"{'gap / side':18}" + "".join(f"{c:>14}" for c in COLUMNS))
    medians = {key: {c: statistics.median(r[c] for r in rows) for c in COLUMNS} for key, rows in results.items()}
    for (gap, side), row in medians.items():
        print(f"{f'{gap:g} ms / {side}':18}" + "".join(f"{row[c]:14.1f}" for c in COLUMNS))
    for gap in args.gap_ms:
        ours, official = medians[(gap, "ours")], medians[(gap, "official")]
        print(
            f"{gap:g} ms between calls: log_image {official['image_p50_us'] / ours['image_p50_us']:.0f}x cheaper, "
            f"log_histogram {official['hist_p50_us'] / ours['hist_p50_us']:.0f}x cheaper on the calling thread (p50)"
        )


if __name__ == "__main__":
    main()
