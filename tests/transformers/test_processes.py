"""The transformers adapter in fresh processes: ``report_to="polyaxon"`` with and without importing us,
the autoload hook and its switch, statuses at process end, and torchrun with two processes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from polyaxon_integrations.core import env
from polyaxon_integrations.core.client import PolyaxonClient
from tests.conftest import once_more_on_gloo_abort
from tests.transformers.test_trainer import STEPS, runs, series, statuses

ROOT = Path(__file__).resolve().parents[2]
TINY = str(Path(__file__).with_name("tiny.py"))
PTH = ROOT / "polyaxon_integrations" / "polyaxon_integrations.pth"
# As if installed: the .pth is processed from a site directory before anything else runs.
AS_INSTALLED = "import site, sys; site.addsitedir(sys.argv[1]); sys.argv = sys.argv[2:]; "


def site_dir(tmp_path: Path) -> str:
    folder = tmp_path / "site"
    folder.mkdir()
    shutil.copy(PTH, folder / "polyaxon_integrations.pth")
    return str(folder)


def start(*args: str, **extra_env: str) -> subprocess.Popen[str]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **extra_env}
    return subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ
    )


def finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    try:
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def python(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return finish(start(*args, **extra_env))


def run_uuid(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RUN ")]
    assert len(lines) == 1, proc.stdout + proc.stderr
    return lines[0].split()[1]


def test_installed_costs_nothing_at_start_up(tmp_path: Path) -> None:
    """At start-up the .pth imports nothing at all: it defines a small finder that waits for transformers.

    ``-S`` keeps the interpreter's own site-packages out of both runs, so a .pth already installed there
    cannot hide the difference.
    """
    show = "import sys; print(' '.join(sorted(sys.modules)))"
    before = set(python("-S", "-c", "import site; " + show).stdout.split())
    site = site_dir(tmp_path)
    proc = python("-S", "-c", "import site, sys; site.addsitedir(sys.argv[1]); " + show, site)
    added = set(proc.stdout.split()) - before
    assert proc.returncode == 0 and added == set(), proc.stderr
    first = python("-S", "-c", "import site, sys; site.addsitedir(sys.argv[1]); print(sys.meta_path[0])", site)
    assert "PolyaxonAutoload" in first.stdout, first.stderr


def test_report_to_with_and_without_importing_us(host: str, api: PolyaxonClient, project: str, tmp_path: Path) -> None:
    """Two installed processes at once, both failing at step 3 (transformers has no hook for that).

    ``without``: tiny.py never imports us (the hook registers ``report_to="polyaxon"``); it catches the error
    and exits normally, so the run is ``failed`` by our exit check. ``with``: the autoload is switched off, so
    nothing is registered until tiny.py imports the adapter; the error is uncaught, so the core says ``failed``.
    """
    run_main = AS_INSTALLED + "import runpy; runpy.run_path(sys.argv[0], run_name='__main__')"
    site = site_dir(tmp_path)
    boom = ["--raise-at-step", "3"]
    without = start("-c", run_main, site, TINY, str(tmp_path / "a"), *boom, "--catch", **{env.PROJECT: project})
    with_import = start(
        "-c", run_main, site, TINY, str(tmp_path / "b"), *boom, "--import-adapter",
        **{env.PROJECT: project, env.AUTOLOAD: "false"},
    )  # fmt: skip
    first, second = finish(without), finish(with_import)

    assert first.returncode == 0 and "caught" in first.stdout, first.stderr
    uuid = run_uuid(first)
    assert statuses(api, project, uuid) == ["created", "running", "failed"]
    assert "Trainer.train() raised" in api.get_statuses("default", project, uuid)["status_conditions"][-1]["message"]
    assert [s for s, _ in series(api, project, uuid, "loss")["loss"]] == [2]

    assert second.returncode == 1 and "boom at step" in second.stderr
    assert "registered before importing the adapter: False" in second.stdout
    uuid = run_uuid(second)
    body = api.get_statuses("default", project, uuid)
    assert body["status"] == "failed"
    assert "RuntimeError: boom at step" in body["status_conditions"][-1]["message"]
    assert [s for s, _ in series(api, project, uuid, "loss")["loss"]] == [2]
    assert len(runs(api, project)) == 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_torchrun_two_processes_make_one_run(host: str, api: PolyaxonClient, project: str, tmp_path: Path) -> None:
    def attempt(name: str) -> subprocess.CompletedProcess[str]:
        return python(
            "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
            "--master_port", str(free_port()), TINY, str(tmp_path / f"out-{name}"), "--run-name", "ddp",
            "--import-adapter", **{env.PROJECT: name, "PYTHONFAULTHANDLER": "1"},
        )  # fmt: skip

    proc, project = once_more_on_gloo_abort(attempt, project)
    assert proc.returncode == 0, proc.stderr[-3000:]
    uuid = run_uuid(proc)  # printed by rank 0 only
    (data,) = runs(api, project)
    assert data["uuid"] == uuid and data["name"] == "ddp" and data["status"] == "succeeded"
    steps = STEPS // 2  # each process sees half of the 32 samples per epoch
    assert [s for s, _ in series(api, project, uuid, "loss")["loss"]] == [2, steps]
