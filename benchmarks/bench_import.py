"""Import time: ``polyaxon_integrations.tracking`` vs the official ``polyaxon.tracking``.

    .venv/bin/python benchmarks/bench_import.py [--repeat 7]

Each import runs in a fresh interpreter (both sides interleaved); the table shows medians.
The interpreter's own start-up is measured separately and subtracted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_PYTHON = ROOT / ".venv-server" / "bin" / "python"


def timed(python: str, code: str) -> float:
    started = time.perf_counter()
    subprocess.run([python, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    sides = {
        "python -c pass (baseline)": (sys.executable, "pass"),
        "polyaxon_integrations.tracking": (sys.executable, "import polyaxon_integrations.tracking"),
        "polyaxon.tracking (official 2.18)": (str(SERVER_PYTHON), "import polyaxon.tracking"),
    }
    results: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.repeat):
        for name, (python, code) in sides.items():
            if Path(python).exists():
                results[name].append(timed(python, code))
    base = statistics.median(results["python -c pass (baseline)"])
    print(f"{'import':40} {'median ms':>10} {'minus start-up':>15}")
    for name, values in results.items():
        if values:
            median = statistics.median(values)
            print(f"{name:40} {median * 1000:10.1f} {(median - base) * 1000:15.1f}")


if __name__ == "__main__":
    main()
