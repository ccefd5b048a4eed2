"""What the ``report_to="polyaxon"`` autoload costs: interpreter start-up and importing transformers' Trainer.

    .venv/bin/python benchmarks/bench_autoload.py [--rounds 40]

Each measurement is a fresh interpreter started with ``-S`` (so no .pth of the environment itself runs)
that processes a site folder holding either nothing or our ``polyaxon_integrations.pth``, as
site-packages would. Runs alternate between the two; the table shows medians and minima.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PTH = ROOT / "polyaxon_integrations" / "polyaxon_integrations.pth"
# this environment's site-packages on the path (for transformers) without running the .pth files installed there
PREFIX = "import site, sys; sys.path.append(sys.argv[2]); site.addsitedir(sys.argv[1]); "
CASES = {
    "start-up (`python -c pass`)": "pass",
    "`from transformers import Trainer`": "from transformers import Trainer",
}


def timed(code: str, site: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    purelib = sysconfig.get_paths()["purelib"]
    subprocess.run([sys.executable, "-S", "-c", PREFIX + code, site, purelib], env=env, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--trainer-rounds", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        empty, ours = Path(tmp, "empty"), Path(tmp, "ours")
        empty.mkdir()
        ours.mkdir()
        shutil.copy(PTH, ours / PTH.name)
        print("| what | without .pth: median (min) ms | with .pth: median (min) ms |")
        print("|---|---|---|")
        for label, code in CASES.items():
            rounds = options.rounds if code == "pass" else options.trainer_rounds
            times: dict[Path, list[float]] = {empty: [], ours: []}
            for _ in range(rounds):
                for site, samples in times.items():
                    samples.append(timed(code, str(site)) * 1000)
            cells = [f"{statistics.median(t):.1f} ({min(t):.1f})" for t in times.values()]
            print(f"| {label} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
