"""Every code example in README.md and docs/*.md runs against the local sandbox, so the docs cannot rot.

What the fence's info string means (GitHub shows only its first word):

- ```python        a script, run in a fresh interpreter; it must exit 0.
- ```bash          run with ``bash -eo pipefail``; it must exit 0. ``python`` and ``polyaxon-integrations``
                   are this virtualenv's.
- ```python file=NAME   written to NAME, not run (a later bash block runs it, e.g. ``python NAME``).
- ```output        what the block before it printed: every non-blank line must appear in that block's
                   stdout or stderr; ``<anything>`` matches any text (paths, uuids, ports).
- ``env:NAME=VALUE``    (repeatable) set for that block only; VALUE may be ``{closed_port}`` (an address where
                   nothing listens) or ``{refusing_server}`` (a server that answers 401 to everything).
- ``no-run``       shown, never run (installs, the demo, job specs); counted against ``NO_RUN`` below, so
                   "every example runs" stays true unless this list says otherwise.

Other languages (``text``, ``yaml``, ``diff``...) are not examples. The blocks of one file run in order in
one temporary working directory with one ``HOME`` and one offline root (so a bash ``polyaxon-integrations sync``
sees the offline run a python block before it made). The environment is the test suite's: ``POLYAXON_HOST``
= the sandbox, ``POLYAXON_INTEGRATIONS_RERAISE=true``, ``KERAS_BACKEND=torch``, ``PYTHONPATH`` = the repository,
no other ``POLYAXON_*`` variable. Files run three at a time; each block is reported as ``file:line``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from polyaxon_integrations.core import env
from tests.faults import FaultServer, closed_port_host

ROOT = Path(__file__).resolve().parents[2]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNABLE = {"python", "bash"}
TIMEOUT = 180

#: Blocks that are shown but never run, per file: installs, the demo and test scripts, job specs.
NO_RUN = {
    "README.md": 1,  # ./scripts/demo.sh and ./scripts/test.sh (they set up the machine)
    "docs/getting-started.md": 2,  # ./scripts/demo.sh, pip install
}

FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)


@dataclass
class Block:
    file: str
    line: int
    lang: str
    options: list[str]
    code: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def no_run(self) -> bool:
        return "no-run" in self.options

    @property
    def file_name(self) -> str | None:
        return next((o.split("=", 1)[1] for o in self.options if o.startswith("file=")), None)


def parse(path: Path) -> list[Block]:
    text = path.read_text()
    blocks = []
    for match in FENCE.finditer(text):
        words = match.group(1).split()
        if not words:
            continue
        line = text.count("\n", 0, match.start()) + 1
        options = words[1:]
        extra = dict(o[4:].split("=", 1) for o in options if o.startswith("env:"))
        rel = str(path.relative_to(ROOT))
        blocks.append(Block(rel, line, words[0], options, match.group(2), extra))
    return blocks


BLOCKS = [b for path in FILES for b in parse(path)]
EXAMPLES = [b for b in BLOCKS if (b.lang in RUNNABLE and not b.no_run) or b.lang == "output"]


@dataclass
class Result:
    returncode: int
    output: str
    seconds: float


def environment(work: Path, sandbox_host: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("POLYAXON_")}
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    base.update({
        "HOME": str(home),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "KERAS_BACKEND": "torch",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        env.HOST: sandbox_host,
        env.RERAISE: "true",
        env.OFFLINE_ROOT: str(work / "offline"),
        env.ARTIFACTS_ROOT: str(work / "artifacts"),
        env.ARCHIVES_ROOT: str(work / "archives"),
    })  # fmt: skip
    return base


def run_file(blocks: list[Block], work: Path, sandbox_host: str, placeholders: dict[str, str]) -> dict[str, Result]:
    """Run one file's blocks in order in ``work``; an output block gets the result of the block before it."""
    cwd = work / "cwd"
    cwd.mkdir(parents=True)
    base = environment(work, sandbox_host)
    results: dict[str, Result] = {}
    last: Result | None = None
    for block in blocks:
        if block.lang == "output":
            results[block.id] = last or Result(1, "(no block before this output block ran)", 0.0)
            continue
        if block.file_name:
            (cwd / block.file_name).write_text(block.code)
            results[block.id] = Result(0, f"wrote {block.file_name}", 0.0)
            last = None
            continue
        extra = {k: v.format(**placeholders) for k, v in block.env.items()}
        if block.lang == "python":
            command = [sys.executable, "-c", block.code]
        else:
            command = ["bash", "-eo", "pipefail", "-c", block.code]
        started = time.monotonic()
        try:
            done = subprocess.run(
                command,
                cwd=cwd,
                env={**base, **extra},
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=False,
            )
            last = Result(done.returncode, done.stdout + done.stderr, time.monotonic() - started)
        except subprocess.TimeoutExpired as exc:
            last = Result(-1, f"timed out after {TIMEOUT} s\n{exc.stdout or ''}{exc.stderr or ''}", TIMEOUT)
        results[block.id] = last
    return results


@pytest.fixture(scope="module")
def results(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Result]]:
    by_file: dict[str, list[Block]] = {}
    for block in EXAMPLES:
        by_file.setdefault(block.file, []).append(block)
    with FaultServer(status=401) as refusing:
        placeholders = {"closed_port": closed_port_host(), "refusing_server": refusing.host}
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = [
                pool.submit(run_file, blocks, tmp_path_factory.mktemp("docs"), sandbox.host, placeholders)
                for blocks in by_file.values()
            ]
            merged: dict[str, Result] = {}
            for future in futures:
                merged.update(future.result())
    yield merged


def expected_line(line: str) -> re.Pattern[str]:
    parts = re.split(r"<[^<>\n]+>", line.strip())
    return re.compile(".*?".join(re.escape(p) for p in parts))


@pytest.mark.server
@pytest.mark.parametrize("block", EXAMPLES, ids=lambda b: b.id)
def test_example(block: Block, results: dict[str, Result]) -> None:
    result = results[block.id]
    if block.lang == "output":
        assert result.returncode == 0, f"the block before {block.id} failed:\n{result.output[-3000:]}"
        missing = [
            line.strip()
            for line in block.code.splitlines()
            if line.strip() and not expected_line(line).search(result.output)
        ]
        assert not missing, f"{block.id}: not printed any more: {missing}\nactual output:\n{result.output[-3000:]}"
        return
    assert result.returncode == 0, f"{block.id} exited {result.returncode}:\n{result.output[-4000:]}"


def test_no_run_blocks_are_the_allowed_ones() -> None:
    """A block marked ``no-run`` must be listed here: examples run unless there is a reason."""
    counts = {str(p.relative_to(ROOT)): 0 for p in FILES}
    for block in BLOCKS:
        if block.no_run:
            counts[block.file] += 1
    assert {k: v for k, v in counts.items() if v} == {k: v for k, v in NO_RUN.items() if v}


def test_every_code_block_is_known() -> None:
    """Python and shell blocks run or say no-run; a typo in an info string must not hide an example."""
    for block in BLOCKS:
        assert block.lang in {*RUNNABLE, "output", "text", "yaml", "diff", "toml"}, f"{block.id}: {block.lang!r}"
        known = {"no-run"}
        for option in block.options:
            assert option in known or option.startswith(("env:", "file=")), f"{block.id}: unknown option {option!r}"
