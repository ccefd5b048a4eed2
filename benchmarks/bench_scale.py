"""Scale: a long run stays flat in memory, uploads a small multiple of its files, and ends quickly.

Logs ``--points`` metric points across 100 names (one ``log_metrics`` call per step with 100
values) to a local sandbox, in a fresh process per size, and prints a table:

- RSS after 25/50/75/100 % of the points (flat means the process does not keep the history);
- bytes uploaded by the mirror against the final size of the event files (re-sends of growing
  files are budgeted, so this stays a small constant factor);
- ``end()`` time, which should not grow with the number of points beyond sending the last
  version of each file.

Run: ``.venv/bin/python benchmarks/bench_scale.py`` (starts and stops its own sandbox).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import sandbox  # noqa: E402
from worker import run_worker  # noqa: E402

NAMES = 100

WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from polyaxon_integrations import tracking

    def rss_mb():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    points, names, rate = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    steps = points // names
    step_time = names / rate if rate > 0 else 0.0
    run = tracking.init(project="scale", name=f"scale-{points}")
    keys = [f"metric_{j:03d}" for j in range(names)]
    marks, rss = {steps * q // 4 for q in (1, 2, 3)}, []
    started = time.perf_counter()
    for step in range(steps):
        x = step / steps
        run.log_metrics(step=step, **{k: x * (j + 1) for j, k in enumerate(keys)})
        if step_time and step % 100 == 99:  # keep to the rate: a fast training loop, not a flood
            ahead = started + (step + 1) * step_time - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
        if step in marks:
            rss.append(rss_mb())
    loop = time.perf_counter() - started
    rss.append(rss_mb())
    before = time.perf_counter()
    in_sync = run.end(timeout=600)
    end_s = time.perf_counter() - before
    files = sum(p.stat().st_size for p in (Path(run.get_artifacts_path()) / "events").rglob("*.plx"))
    print(json.dumps({
        "points": points, "loop_s": loop, "rss_mb": rss, "end_s": end_s, "in_sync": in_sync,
        "uploaded_mb": run._mirror.bytes_uploaded / 2**20, "files_mb": files / 2**20,
    }))
    """
)


def measure(points: int, host: str, rate: float) -> dict[str, object]:
    return run_worker(sys.executable, WORKER, [str(points), str(NAMES), str(rate)], host, timeout=1800)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--host")
    parser.add_argument(
        "--rate", type=float, default=200_000,
        help="points per second the loop logs (2,000 steps/s x 100 metrics by default; 0: as fast as it can)",
    )
    args = parser.parse_args()
    server = None if args.host else sandbox.start(Path(tempfile.mkdtemp(prefix="plx-scale-sandbox-")))
    host = args.host or server.host  # type: ignore[union-attr]
    try:
        rows = [measure(points, host, args.rate) for points in args.points]
    finally:
        if server is not None:
            server.stop()
    pace = f"at {args.rate:,.0f} points/s" if args.rate > 0 else "as fast as the loop can"
    print(f"{NAMES} metric names, one log_metrics call of {NAMES} values per step, {pace}, against a local sandbox")
    print(f"{'points':>10}{'loop s':>9}{'RSS MB at 25/50/75/100 %':>30}{'files MB':>10}"
          f"{'uploaded MB':>13}{'ratio':>7}{'end() s':>9}{'in sync':>9}")
    for r in rows:
        rss = "/".join(f"{v:.0f}" for v in r["rss_mb"])  # type: ignore[attr-defined]
        ratio = r["uploaded_mb"] / r["files_mb"]  # type: ignore[operator]
        print(f"{r['points']:>10,}{r['loop_s']:>9.1f}{rss:>30}{r['files_mb']:>10.1f}"
              f"{r['uploaded_mb']:>13.1f}{ratio:>7.2f}{r['end_s']:>9.2f}{r['in_sync']!s:>9}")


if __name__ == "__main__":
    main()
