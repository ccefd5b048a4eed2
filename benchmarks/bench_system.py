"""What resource sampling and log capture cost a training loop, per step.

    .venv/bin/python benchmarks/bench_system.py [--steps 20000] [--repeat 3] [--print-every 10]

First a table of the unit costs, measured in this process (the tee's write on the printing
thread, turning a line into JSON, one resource sample, listing packages for ``env.json``);
these are stable. Then the whole-loop table, which on a shared machine is only as precise
as the machine is quiet.

Each configuration runs in a fresh interpreter: a small numpy training loop (a 64x64 linear
layer, forward and backward, SGD) that logs 2 metrics and prints a line every
``--print-every`` steps (stdout goes to /dev/null, as under a job runner). Runs are offline,
so only the calling thread's cost and the background threads' competition for the GIL are
measured, not the network. Configurations run interleaved; the table shows the best of
``--repeat`` rounds (the least disturbed by other processes on the machine): wall time per
step on the training thread, and CPU time per step of the whole process (background threads
included: what the sampler and the log writer really cost).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from polyaxon_integrations.core import env  # noqa: E402

WORKER = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    mode, steps, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(0)
    w = rng.normal(size=(64, 64)) * 0.1
    x = rng.normal(size=(32, 64))
    y = rng.normal(size=(32, 64))
    run = None
    init_ms = 0.0
    if mode != "none":
        from polyaxon_integrations import tracking
        started = time.perf_counter()
        run = tracking.init(project="bench", is_offline=True)
        init_ms = (time.perf_counter() - started) * 1e3
    started, cpu = time.perf_counter(), time.process_time()
    for step in range(steps):
        err = x @ w - y
        loss = float((err * err).mean())
        w -= 0.01 * (x.T @ err) / len(x)
        if run is not None:
            run.log_metrics(step=step, loss=loss, lr=0.01)
        if step % every == 0:
            print(f"step {step} loss {loss:.5f}")
    loop, cpu = time.perf_counter() - started, time.process_time() - cpu
    end_ms = 0.0
    samples = lines = 0
    if run is not None:
        started = time.perf_counter()
        run.end()
        end_ms = (time.perf_counter() - started) * 1e3
        samples, lines = run._system.samples, run._system.lines
    print(json.dumps({"step_us": loop / steps * 1e6, "cpu_us": cpu / steps * 1e6, "init_ms": init_ms, "end_ms": end_ms,
                      "samples": samples, "lines": lines}), file=sys.stderr)
    """
)

OFF = {env.TRACK_LOGS: "false", env.TRACK_ENV: "false", env.TRACK_CODE: "false", env.COLLECT_RESOURCES: "false"}

#: name -> (worker mode, environment)
CONFIGS: dict[str, tuple[str, dict[str, str]]] = {
    "no tracking": ("none", {}),
    "metrics only": ("run", OFF),
    "+ resources every 5 s (default)": ("run", {**OFF, env.COLLECT_RESOURCES: "true"}),
    "+ resources every 0.1 s": ("run", {**OFF, env.COLLECT_RESOURCES: "true", env.RESOURCES_INTERVAL: "0.1"}),
    "+ log capture": ("run", {**OFF, env.TRACK_LOGS: "true"}),
    "everything (defaults)": ("run", {}),
}


def run_one(mode: str, extra: dict[str, str], steps: int, every: int, tmp: str) -> dict[str, float]:
    environ = {k: v for k, v in os.environ.items() if k not in env.ENV_VARS}
    environ |= {"PYTHONPATH": str(ROOT), env.OFFLINE_ROOT: tmp, env.NO_CONFIG: "true", **extra}
    environ |= {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}  # less noise
    done = subprocess.run(
        [sys.executable, "-c", WORKER, mode, str(steps), str(every)],
        env=environ,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(done.stderr.strip().splitlines()[-1])  # type: ignore[no-any-return]


def micro(n: int = 100_000) -> list[tuple[str, float]]:
    """Costs measured in this process, without the noise of a whole loop: (what, µs)."""
    import io
    import time
    from queue import SimpleQueue

    from polyaxon_integrations.core.logcapture import LogCapture, _Tee
    from polyaxon_integrations.core.provenance import installed_packages
    from polyaxon_integrations.core.resources import ResourceSampler

    def per_call(fn: Any, count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            fn()
        return (time.perf_counter() - started) / count * 1e6

    plain = io.StringIO()
    tee = _Tee(io.StringIO(), 0)
    queue: SimpleQueue[tuple[float, int, str]] = SimpleQueue()
    line = "step 100 loss 0.12345\n"
    rows = [("write to a StringIO", per_call(lambda: plain.write(line), n))]
    tee._sinks = (queue,)
    rows.append(("the same write through the tee (calling thread)", per_call(lambda: tee.write(line), n)))
    capture = LogCapture()
    capture._queue = queue
    started = time.perf_counter()
    capture.drain()
    rows.append(("turning it into a JSON line (system thread)", (time.perf_counter() - started) / n * 1e6))
    sampler = ResourceSampler.load()
    time.sleep(0.1)
    rows.append(("one resource sample (system thread)", per_call(sampler.sample, 200)))
    rows.append(("listing installed packages for env.json (writer thread)", per_call(installed_packages, 20)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--print-every", type=int, default=10)
    args = parser.parse_args()
    print("| cost | µs |")
    print("| --- | ---: |")
    for what, us in micro():
        print(f"| {what} | {us:.2f} |")
    print()
    results: dict[str, list[dict[str, float]]] = {name: [] for name in CONFIGS}
    with tempfile.TemporaryDirectory(prefix="bench-system-") as tmp:
        for _ in range(args.repeat):
            for name, (mode, extra) in CONFIGS.items():
                results[name].append(run_one(mode, extra, args.steps, args.print_every, tmp))
    best = {name: min(rows, key=lambda r: r["step_us"]) for name, rows in results.items()}
    base = best["no tracking"]
    python = sys.version.split()[0]
    print(f"{args.steps} steps, a print every {args.print_every} steps, best of {args.repeat} (Python {python})")
    print()
    print("| configuration | wall µs/step | overhead | CPU µs/step | CPU overhead | init ms | end ms | samples | lines")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---:")
    for name, row in best.items():
        init = statistics.median(r["init_ms"] for r in results[name])
        end = statistics.median(r["end_ms"] for r in results[name])
        print(
            f"| {name} | {row['step_us']:.1f} | {row['step_us'] - base['step_us']:+.1f} | {row['cpu_us']:.1f} "
            f"| {row['cpu_us'] - base['cpu_us']:+.1f} | {init:.1f} | {end:.1f} | {row['samples']:.0f} "
            f"| {row['lines']:.0f}"
        )


if __name__ == "__main__":
    main()
