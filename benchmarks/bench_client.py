"""Client cost, ours vs the official ``polyaxon`` 2.18 client, against the same local sandbox.

    .venv/bin/python benchmarks/bench_client.py [--calls 20000] [--repeat 3] [--host http://127.0.0.1:PORT]

For each side and mode (online, offline) a fresh interpreter imports the client, starts a
run, calls ``log_metrics`` with 3 scalars ``--calls`` times on the calling thread, and ends
the run. Sides run interleaved; the table shows medians over ``--repeat`` rounds. Without
``--host`` a sandbox is started for the benchmark and stopped afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from worker import run_worker, sandbox_host  # noqa: E402

WORKER = textwrap.dedent(
    """
    import json, resource, sys, time
    started = time.perf_counter()
    if sys.argv[1] == "ours":
        from polyaxon_integrations import tracking
    else:
        from polyaxon import tracking
    imported = time.perf_counter()
    offline = sys.argv[2] == "offline"
    calls = int(sys.argv[3])
    run = tracking.init(project="bench", name="bench", is_offline=offline or None)
    inited = time.perf_counter()
    from queue import SimpleQueue
    queue, floor, clock = SimpleQueue(), [], time.perf_counter_ns
    for i in range(calls):  # the floor, in this process with the client's threads running
        t = clock()
        queue.put((i, 0.5, 0.25))
        floor.append(clock() - t)
    floor.sort()
    latencies = []
    loop_start = time.perf_counter()
    for i in range(calls):
        t = clock()
        tracking.log_metrics(step=i, loss=1.0 / (i + 1), acc=i / calls, lr=0.001)
        latencies.append(clock() - t)
    loop = time.perf_counter() - loop_start
    before_end = time.perf_counter()
    tracking.end()
    ended = time.perf_counter()
    latencies.sort()
    print(json.dumps({
        "import_ms": (imported - started) * 1e3,
        "init_ms": (inited - imported) * 1e3,
        "p50_us": latencies[len(latencies) // 2] / 1e3,
        "floor_us": floor[len(floor) // 2] / 1e3,
        "p99_us": latencies[int(len(latencies) * 0.99)] / 1e3,
        "calls_per_s": calls / loop,
        "end_ms": (ended - before_end) * 1e3,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))
    """
)

PYTHONS = {"ours": sys.executable, "official": str(ROOT / ".venv-server" / "bin" / "python")}
COLUMNS = ("import_ms", "init_ms", "p50_us", "p99_us", "calls_per_s", "end_ms", "peak_rss_mb")


def measure(side: str, mode: str, calls: int, host: str) -> dict[str, float]:
    return run_worker(PYTHONS[side], WORKER, [side, mode, str(calls)], host)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--host")
    args = parser.parse_args()
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    with sandbox_host(args.host) as host:
        for _ in range(args.repeat):
            for mode in ("online", "offline"):
                for side in ("ours", "official"):
                    results.setdefault((side, mode), []).append(measure(side, mode, args.calls, host))
    floor = statistics.median(r["floor_us"] for key, rows in results.items() if key[0] == "ours" for r in rows)
    print(f"log_metrics: 3 scalars per call, {args.calls} calls, median of {args.repeat} rounds; "
          f"floor (SimpleQueue.put of a tuple, in our workers): {floor:.3f} us")
    print(f"{'side / mode':22}" + "".join(f"{c:>13}" for c in COLUMNS))
    medians: dict[tuple[str, str], dict[str, float]] = {}
    for key, rows in results.items():
        medians[key] = {c: statistics.median(r[c] for r in rows) for c in COLUMNS}
        print(f"{key[0] + ' / ' + key[1]:22}" + "".join(f"{medians[key][c]:13.1f}" for c in COLUMNS))
    for mode in ("online", "offline"):
        ours, official = medians[("ours", mode)], medians[("official", mode)]
        print(
            f"{mode}: log_metrics p50 {official['p50_us'] / ours['p50_us']:.0f}x cheaper "
            f"({ours['p50_us'] / floor:.1f}x the floor); init+end "
            f"{(official['init_ms'] + official['end_ms']) / (ours['init_ms'] + ours['end_ms']):.0f}x faster; "
            f"import {official['import_ms'] / ours['import_ms']:.0f}x faster"
        )


if __name__ == "__main__":
    main()
