"""One run across restarts, spawned workers and launchers: each training in fresh processes, read back from the sandbox.

- transformers ``train(resume_from_checkpoint=True)`` after a preemption: the same run, steps 1-10, ``succeeded``;
- Lightning ``fit(ckpt_path=...)`` in a new process, no id passed: the same run, steps go on;
- Keras ``BackupAndRestore`` after a preemption: the same run, epochs and batch steps go on;
- Lightning ``ddp_spawn`` and ``ddp_fork``, fit then test: one run, known to the main process;
- Fabric, one process and ``devices=2``: nested dicts flattened, steps counted per name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from polyaxon_integrations.core import env
from polyaxon_integrations.core.client import PolyaxonClient
from tests.conftest import once_more_on_gloo_abort, sync_cli

ROOT = Path(__file__).resolve().parents[2]
OWNER = "default"


def script(*args: str, timeout: float = 300, **extra_env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **extra_env}
    return subprocess.run(
        [sys.executable, "-m", "tests.integrations.scripts", *args],
        capture_output=True, text=True, env=environ, timeout=timeout, check=False, cwd=os.getcwd(),
    )  # fmt: skip


def printed(proc: subprocess.CompletedProcess[str], key: str = "RUN") -> list[str]:
    return [line.split()[1] for line in proc.stdout.splitlines() if line.startswith(f"{key} ")]


def runs(api: PolyaxonClient, project: str) -> list[dict[str, Any]]:
    return sorted(api.list_runs(OWNER, project), key=lambda r: r["created_at"])


def steps(api: PolyaxonClient, project: str, uuid: str, name: str) -> list[int]:
    served = api.get_metrics(OWNER, project, uuid, [name])
    return list(served[name]["step"]) if name in served else []


def statuses(api: PolyaxonClient, project: str, uuid: str) -> list[str]:
    return [c["type"] for c in api.get_statuses(OWNER, project, uuid).get("status_conditions") or []]


def test_transformers_resume_after_preemption_continues_the_run(
    host: str, api: PolyaxonClient, project: str, tmp_path: Path
) -> None:
    pytest.importorskip("transformers")
    out = str(tmp_path / "out")
    first = script("hf-resume", out, "1", **{env.PROJECT: project})
    assert first.returncode == -15, first.stderr[-3000:]  # SIGTERM: the run ended stopped, the process died
    (uuid,) = printed(first)
    assert runs(api, project)[0]["status"] == "stopped"
    second = script("hf-resume", out, "2", **{env.PROJECT: project})
    assert second.returncode == 0, second.stderr[-3000:]
    assert printed(second) == [uuid]  # the run saved in trainer_state.json, no id passed by hand
    (data,) = runs(api, project)
    assert data["uuid"] == uuid and data["status"] == "succeeded"
    assert steps(api, project, uuid, "loss") == list(range(1, 11))
    assert statuses(api, project, uuid)[-3:] == ["stopped", "running", "succeeded"]


@pytest.mark.parametrize("how", ["plain", "from_checkpoint"])
def test_lightning_ckpt_path_resume_in_a_new_process(
    host: str, api: PolyaxonClient, project: str, tmp_path: Path, how: str
) -> None:
    """``fit(ckpt_path=...)`` continues the checkpoint's run, with a logger told nothing about it (the id is
    in the checkpoint) or one made by ``from_checkpoint``."""
    pytest.importorskip("lightning")
    ckpt = str(tmp_path / "ckpt")
    first = script("pl-resume", project, ckpt, "1")
    assert first.returncode == 0, first.stderr[-3000:]
    second = script("pl-resume", project, ckpt, "2", how)
    assert second.returncode == 0, second.stderr[-3000:]
    assert printed(first) == printed(second)
    (data,) = runs(api, project)
    assert data["status"] == "succeeded"
    assert steps(api, project, data["uuid"], "train_loss") == list(range(16))  # 4 steps an epoch, 4 epochs


def test_keras_backup_and_restore_after_preemption_continues_the_run(
    host: str, api: PolyaxonClient, project: str, tmp_path: Path
) -> None:
    pytest.importorskip("keras")
    backup = str(tmp_path / "backup")
    first = script("keras-backup", project, backup, "1")
    assert first.returncode == -15, first.stderr[-3000:]  # SIGTERM: the run ended stopped, the process died
    (uuid,) = printed(first)
    second = script("keras-backup", project, backup, "2")
    assert second.returncode == 0, second.stderr[-3000:]
    assert printed(second) == [uuid]  # the run named beside the backup, no id passed by hand
    (data,) = runs(api, project)
    assert data["uuid"] == uuid and data["status"] == "succeeded"
    (again,) = (int(n) for n in printed(second, "EPOCHS"))  # epochs the restored fit ran (2; 4 before Keras 3.5)
    assert steps(api, project, uuid, "loss") == list(range(2 + again))  # 0-1 before the restart, then on from 2
    assert steps(api, project, uuid, "batch__loss") == list(range(1, 3 * (2 + again) + 1))  # 3 an epoch, no repeat
    assert statuses(api, project, uuid)[-3:] == ["stopped", "running", "succeeded"]
    assert not Path(backup).exists()  # Keras deletes its backup when training ends, our file with it


@pytest.mark.parametrize("strategy", ["ddp_spawn", "ddp_fork"])
def test_lightning_ddp_spawn_fit_then_test_is_one_run(
    host: str, api: PolyaxonClient, project: str, strategy: str
) -> None:
    """Spawned or forked workers: the run starts in the main process before they do (pickled with the logger,
    or just before the fork), so they log into it and the main process knows and ends it."""
    pytest.importorskip("lightning")
    proc, project = once_more_on_gloo_abort(lambda name: script("pl-spawn", name, strategy, timeout=400), project)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (uuid,) = printed(proc)
    assert printed(proc, "AFTER_FIT") == [uuid]  # the main process knows the run after fit
    (data,) = runs(api, project)
    assert data["uuid"] == uuid and data["status"] == "succeeded"
    assert steps(api, project, uuid, "train_loss") == list(range(4))  # 2 epochs of 2 batches per process
    assert steps(api, project, uuid, "test_loss")
    assert data["inputs"]["lr"] == 0.1


def test_lightning_ddp_spawn_offline_keeps_what_the_workers_logged(
    host: str, api: PolyaxonClient, project: str
) -> None:
    """Offline, the main process and its spawned workers share one run folder. The main process writes
    ``run.plx.json`` last; it keeps the workers' inputs and outputs (it used to erase them), so ``sync`` sends them."""
    pytest.importorskip("lightning")
    proc, project = once_more_on_gloo_abort(
        lambda name: script("pl-spawn", name, timeout=400, **{env.IS_OFFLINE: "true"}), project
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (uuid,) = printed(proc)
    folder = Path(os.environ[env.OFFLINE_ROOT]) / "runs" / uuid
    local = json.loads((folder / "run.plx.json").read_text())
    assert local["status"] == "succeeded" and local["inputs"]["lr"] == 0.1
    assert {"train_loss", "test_loss"} <= set(local["outputs"])
    pushed = sync_cli(str(folder))
    assert pushed.returncode == 0, pushed.stderr
    data = api.get_run(OWNER, project, uuid)
    assert data["status"] == "succeeded" and data["inputs"]["lr"] == 0.1 and "train_loss" in data["outputs"]
    assert steps(api, project, uuid, "train_loss") == list(range(4))


@pytest.mark.parametrize("devices", ["1", "2"])
def test_fabric_logs_nested_dicts_and_counts_steps(
    host: str, api: PolyaxonClient, project: str, devices: str
) -> None:
    pytest.importorskip("lightning")
    proc, project = once_more_on_gloo_abort(lambda name: script("fabric", name, devices, timeout=400), project)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (uuid,) = printed(proc)
    (data,) = runs(api, project)
    assert data["uuid"] == uuid and data["status"] == "succeeded"
    for name in ("train__loss", "train__acc", "lr"):
        assert steps(api, project, uuid, name) == [0, 1, 2], name
    assert steps(api, project, uuid, "count") == [0, 1]


def test_lightning_cli_twice_with_the_whole_config(
    host: str, api: PolyaxonClient, project: str, tmp_path: Path
) -> None:
    pytest.importorskip("jsonargparse")
    config = tmp_path / "config.yaml"
    config.write_text(
        "seed_everything: 7\n"
        "trainer:\n"
        "  max_epochs: 1\n  accelerator: cpu\n  devices: 1\n  enable_progress_bar: false\n"
        "  enable_checkpointing: false\n  log_every_n_steps: 1\n"
        "  logger:\n    class_path: polyaxon_integrations.lightning.PolyaxonLogger\n"
        f"    init_args:\n      project: {project}\n"
        "model:\n  lr: 0.05\n"
        "data:\n  batch_size: 8\n"
    )
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    for _ in range(2):  # the second run used to stop on SaveConfigCallback's "config.yaml already exists"
        proc = subprocess.run(
            [sys.executable, "-m", "tests.integrations.cli", "fit", "--config", str(config)],
            capture_output=True, text=True, env=environ, timeout=300, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
    first, second = runs(api, project)
    for data in (first, second):
        assert data["status"] == "succeeded"
        inputs = data["inputs"]
        assert inputs["seed_everything"] == 7 and inputs["trainer/max_epochs"] == 1
        assert inputs["model/lr"] == 0.05 and inputs["data/batch_size"] == 8
        assert inputs["lr"] == 0.05 and not any(k.startswith("_") for k in inputs)  # no stray _instantiator
        url = f"{host}/streams/v1/polyaxon/{OWNER}/{project}/runs/{data['uuid']}/artifacts/tree"
        assert "config.yaml" in (api.request("GET", url, params={"path": "outputs"}).get("files") or {})
