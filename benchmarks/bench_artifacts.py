"""Big files: peak memory and throughput of an upload, ours vs the official client vs plain ``curl -F``.

    .venv/bin/python benchmarks/bench_artifacts.py [--sizes 1,4] [--rounds 3] [--host http://127.0.0.1:PORT]

For each size (GiB) one incompressible file is made, then each side uploads it to a run of the same
local sandbox, each in a fresh process: ``curl -F`` (the baseline), our ``PolyaxonClient.upload_file``
(what the mirror calls), our whole online path (``log_artifact`` + ``end()``: copy into the run folder,
then the upload), our ``sync`` of an offline run holding the file, and the official client's
``RunClient.upload_artifact``. Peak RSS is the process's maximum resident set; "+RSS" is that minus the
same process's peak before the upload. Targets (issue 15): +RSS <= 64 MB, throughput >= 80% of curl.

Throughput on one machine varies by tens of percent from one upload to the next (the server writes
every file three times: its upload buffer, the run folder, the store), so each side runs ``--rounds``
times, the sides interleaved and their order rotated each round; the table shows medians, and "vs curl"
is the median of each round's ratio to that round's curl.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid as _uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from worker import run_worker, sandbox_host  # noqa: E402

OFFICIAL = str(ROOT / ".venv-server" / "bin" / "python")

PRELUDE = """
import json, resource, sys, time
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
path, size = sys.argv[1], int(sys.argv[2])
"""

WORKERS = {
    "ours upload_file": """
from polyaxon_integrations.core.client import PolyaxonClient
from polyaxon_integrations.core.run_client import RunClient
run = RunClient(project="bench", client=PolyaxonClient())
run.create(name="bench-upload")
base = peak(); t = time.perf_counter()
run.client.upload_file("default", "bench", run.run_uuid, path, "assets/file/big.bin")
""",
    "ours log_artifact+end": """
from polyaxon_integrations import tracking
run = tracking.init(project="bench", name="bench-online")
base = peak(); t = time.perf_counter()
run.log_artifact(path, name="big")
assert run.end(timeout=3600) is True
""",
    "ours sync": """
import os
from polyaxon_integrations import tracking
from polyaxon_integrations.__main__ import main
run = tracking.init(project="bench", name="bench-sync", is_offline=True)
run.log_artifact(path, name="big")
run.end()
base = peak(); t = time.perf_counter()
assert main(["sync"]) == 0
""",
    "official upload_artifact": """
from polyaxon.client import RunClient
run = RunClient(owner="default", project="bench")
run.create(name="bench-official", is_managed=False)
base = peak(); t = time.perf_counter()
run.upload_artifact(path, path="assets/file", show_progress=False)
""",
}
SUFFIX = """
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "mb_s": size / 2**20 / seconds, "peak_mb": peak(), "extra_mb": peak() - base}))
"""


def make_file(path: Path, gib: float) -> int:
    block = os.urandom(8 << 20)  # incompressible, as checkpoints are
    size = int(gib * (1 << 30))
    with open(path, "wb") as fh:
        left = size
        while left:
            n = min(left, len(block))
            fh.write(block[:n])
            left -= n
    return size


def curl(host: str, path: Path, size: int) -> dict[str, float]:
    """The baseline: curl streaming the same multipart upload to the same endpoint of a fresh run."""
    run = _uuid.uuid4().hex
    url = f"{host}/streams/v1/polyaxon/default/bench/runs/{run}/artifact"
    started = time.perf_counter()
    subprocess.run(
        ["curl", "-sS", "--fail", "-o", "/dev/null", "-F", f"upload_file=@{path}",
         "-F", 'json={"untar":false,"path":"assets/file","overwrite":true}', url],
        check=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": seconds, "mb_s": size / 2**20 / seconds, "peak_mb": peak, "extra_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,4", help="file sizes in GiB, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--host")
    args = parser.parse_args()
    sides = ["curl -F (baseline)", *WORKERS]
    results: dict[tuple[float, str], list[dict[str, float]]] = {}
    with sandbox_host(args.host) as host:
        for gib in (float(s) for s in args.sizes.split(",")):
            with tempfile.TemporaryDirectory(prefix="plx-bench-big-") as tmp:
                path = Path(tmp) / "big.bin"
                size = make_file(path, gib)
                for round_ in range(args.rounds):
                    shift = round_ % len(sides)
                    for name in sides[shift:] + sides[:shift]:
                        result = measure(name, host, path, size)
                        if result is None:
                            continue
                        results.setdefault((gib, name), []).append({**result, "round": round_})
    print(f"{'GiB':>5}  {'side':28}{'seconds':>9}{'MB/s':>9}{'vs curl':>9}{'peak RSS MB':>13}{'+RSS MB':>9}")
    for (gib, name), runs in results.items():
        curls = {r["round"]: r["mb_s"] for r in results[(gib, sides[0])]}
        ratio = statistics.median(r["mb_s"] / curls[r["round"]] for r in runs)
        med = {key: statistics.median(r[key] for r in runs) for key in ("seconds", "mb_s", "peak_mb", "extra_mb")}
        print(
            f"{gib:5.1f}  {name:28}{med['seconds']:9.1f}{med['mb_s']:9.0f}{ratio:8.0%}"
            f"{med['peak_mb']:13.0f}{med['extra_mb']:9.0f}"
        )
    print(f"medians over {args.rounds} round(s)")


def measure(name: str, host: str, path: Path, size: int) -> dict[str, float] | None:
    if name.startswith("curl"):
        return curl(host, path, size)
    python = OFFICIAL if name.startswith("official") else sys.executable
    worker = textwrap.dedent(PRELUDE) + textwrap.dedent(WORKERS[name]) + textwrap.dedent(SUFFIX)
    try:
        return run_worker(python, worker, [str(path), str(size)], host, timeout=3600)
    except RuntimeError as exc:  # the official client refuses files over 500 MiB
        print(f"{name}, {size / 2**30:g} GiB failed:", *str(exc).strip().splitlines()[-4:], sep="\n  ")
        return None


if __name__ == "__main__":
    main()
