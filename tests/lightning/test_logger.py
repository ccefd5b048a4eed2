"""PolyaxonLogger against the real sandbox: what a Lightning training logs is what the server serves back.

Both namespaces, hyperparameters, metrics with the trainer's steps, checkpoints in lineage, the model
summary, statuses (success, exception, Ctrl-C, process end), resuming, DDP on two CPU processes,
in-cluster attachment, offline then ``sync``.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import pytest
import pytorch_lightning as PL
import torch

from polyaxon_integrations import lightning as pl_adapter
from polyaxon_integrations import pytorch_lightning as ptl_adapter
from polyaxon_integrations.client import PolyaxonClient
from polyaxon_integrations.core import env
from polyaxon_integrations.core.exceptions import ConfigError
from polyaxon_integrations.core.guard import PolyaxonWarning
from polyaxon_integrations.core.run import Run
from tests.conftest import schedule_run, sync_cli
from tests.lightning.tiny import BATCHES, Optim, data, module_class, trainer

ROOT = Path(__file__).resolve().parents[2]
OWNER = "default"
PARAMS = 4 * 3 + 3 + 3 + 1  # the tiny model: Linear(4, 3) then Linear(3, 1)


def lineage(api: PolyaxonClient, project: str, uuid: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["kind"], e["name"]): e for e in api.get_lineage(OWNER, project, uuid)}


def files(api: PolyaxonClient, host: str, project: str, uuid: str, path: str) -> dict[str, int]:
    url = f"{host}/streams/v1/polyaxon/{OWNER}/{project}/runs/{uuid}/artifacts/tree"
    return api.request("GET", url, params={"path": path}).get("files") or {}  # type: ignore[no-any-return]


def only_run(api: PolyaxonClient, project: str) -> dict[str, Any]:
    runs = api.list_runs(OWNER, project)
    assert len(runs) == 1, [r["uuid"] for r in runs]
    return runs[0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"log_model": "best"}, "log_model='best'"),
        ({"project": "my project"}, "Invalid project"),
        ({"project": "p", "owner": "a/b"}, "Invalid owner"),
        ({"run_uuid": "nope"}, "Invalid run_uuid"),
    ],
)
def test_misconfiguration_fails_at_construction(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        pl_adapter.PolyaxonLogger(**kwargs)


def test_fit_then_test_log_one_run(
    host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    logger = pl_adapter.PolyaxonLogger(project=project, name="tiny run", tags=["tiny"], log_model="all")
    # Cheap before training: nothing is started, on any rank; the logger pickles (spawn-based strategies).
    assert (logger.name, logger.version, logger.save_dir, logger.log_dir) == (project, None, ".", None)
    copy = pickle.loads(pickle.dumps(logger))
    assert copy.run is None and copy.version is None
    monkeypatch.setattr(L.utilities.rank_zero.rank_zero_only, "rank", 1)
    assert not isinstance(logger.experiment, Run)
    logger.log_metrics({"loss": 1.0}, step=0)
    logger.log_hyperparams({"lr": 1})
    monkeypatch.setattr(L.utilities.rank_zero.rank_zero_only, "rank", 0)
    assert logger.run is None and not (Path(os.environ[env.OFFLINE_ROOT]) / "runs").exists()

    model = module_class(L)(optim=Optim(momentum=0.5), sizes={"hidden": 3, "act": torch.relu, "deep": {"x": [1, 2]}})
    checkpoint = L.callbacks.ModelCheckpoint(monitor="val_loss", save_top_k=1, save_last=True)
    fit = trainer(L, logger, callbacks=[checkpoint])
    fit.fit(model, data(), data())
    logger.log_hyperparams(argparse.Namespace(seed=7, data=argparse.Namespace(path="x")))
    fit.test(model, data())
    run = logger.experiment
    assert isinstance(run, Run) and run is logger.run and not run.ended  # success keeps it open for test
    assert logger.version == run.run_uuid and logger.log_dir == run.get_artifacts_path()
    assert Path(checkpoint.dirpath).resolve() == Path.cwd() / project / run.run_uuid / "checkpoints"
    assert pickle.loads(pickle.dumps(logger)).version == run.run_uuid  # a copy attaches, never forks
    assert logger.end() is True

    uuid = run.run_uuid
    served = only_run(api, project)
    assert served["uuid"] == uuid and served["status"] == "succeeded"
    assert served["name"] == "tiny-run" and served["tags"] == ["tiny"]
    steps = 2 * BATCHES
    metrics = api.get_metrics(OWNER, project, uuid, ["train_loss", "val_loss", "test_loss", "epoch"])
    assert metrics["train_loss"]["step"] == list(range(steps))
    assert metrics["val_loss"]["step"] == [BATCHES - 1, steps - 1]
    assert metrics["test_loss"]["step"] == [steps]
    assert metrics["epoch"]["step"] == [*range(steps), steps]  # one point per step
    assert metrics["epoch"]["metric"] == [0] * BATCHES + [1] * BATCHES + [2]
    inputs = served["inputs"]
    assert {k: inputs[k] for k in ("lr", "optim/name", "optim/momentum", "sizes/hidden", "sizes/deep/x")} == {
        "lr": 0.1,
        "optim/name": "sgd",
        "optim/momentum": 0.5,
        "sizes/hidden": 3,
        "sizes/deep/x": [1, 2],
    }
    assert "relu" in inputs["sizes/act"] and inputs["seed"] == 7 and inputs["data/path"] == "x"
    assert inputs["model/params_total"] == PARAMS and inputs["model/params_trainable"] == PARAMS

    entries = lineage(api, project, uuid)
    assert entries["file", "model_summary"]["path"] == "outputs/model_summary.txt"
    assert set(files(api, host, project, uuid, "outputs")) == {"model_summary.txt"}
    best = entries["model", f"checkpoint-{steps}"]["summary"]
    assert best["score"] == pytest.approx(metrics["val_loss"]["metric"][-1])
    assert best["monitor"] == "val_loss" and best["epoch"] == 1 and best["step"] == steps
    first = entries["model", f"checkpoint-{BATCHES}"]["summary"]
    assert first["score"] == pytest.approx(metrics["val_loss"]["metric"][0]) and first["best"] is True
    assert entries["model", f"last-{steps}"]["summary"]["filename"] == "last.ckpt"
    assert set(files(api, host, project, uuid, "assets/model")) == {
        f"{name}_{step}.ckpt" for name in ("checkpoint", "last") for step in (BATCHES, steps)
    }
    best_step = steps if checkpoint.best_model_path.endswith(f"step={steps}.ckpt") else BATCHES
    assert served["outputs"]["checkpoint/best"] == f"assets/model/checkpoint_{best_step}.ckpt"
    assert served["outputs"]["checkpoint/best_score"] == pytest.approx(float(checkpoint.best_model_score))


def test_pytorch_lightning_namespace_best_and_last(host: str, api: PolyaxonClient, project: str) -> None:
    logger = ptl_adapter.PolyaxonLogger(project=project, log_model=True)
    assert isinstance(logger, PL.loggers.Logger) and not isinstance(logger, L.loggers.Logger)
    assert ptl_adapter.PolyaxonCallback is ptl_adapter.PolyaxonLogger  # the official client's name
    checkpoint = PL.callbacks.ModelCheckpoint(monitor="val_loss", save_top_k=2)
    fit = trainer(PL, logger, callbacks=[checkpoint], max_epochs=3)
    model = module_class(PL)(lr=0.05)
    fit.fit(model, data(), data())
    trainer(PL, logger).validate(model, data())  # another Trainer, same run; hyperparameters logged again
    logger.log_hyperparams({"lr": 0.01})  # a changed value updates the inputs
    uuid = logger.experiment.run_uuid
    logger.end()

    served = only_run(api, project)
    assert served["uuid"] == uuid and served["status"] == "succeeded"
    val = api.get_metrics(OWNER, project, uuid, ["val_loss"])["val_loss"]["step"]
    assert val == [BATCHES - 1, 2 * BATCHES - 1, 3 * BATCHES - 1, 0]  # the second Trainer starts at step 0
    assert served["inputs"]["lr"] == 0.01 and served["inputs"]["fail_at"] == -1
    assert api.get_metrics(OWNER, project, uuid, ["train_loss"])["train_loss"]["step"] == list(range(3 * BATCHES))
    entries = lineage(api, project, uuid)
    assert not [name for kind, name in entries if kind == "model" and name not in ("best", "last")]  # not "all"
    best, last = entries["model", "best"]["summary"], entries["model", "last"]["summary"]
    assert best["best"] is True and best["score"] == pytest.approx(float(checkpoint.best_model_score))
    assert best["filename"] == Path(checkpoint.best_model_path).name
    assert last["filename"] == "epoch=2-step=12.ckpt" and last["step"] == 3 * BATCHES
    on_server = files(api, host, project, uuid, "outputs")
    assert {best["filename"], last["filename"]} <= set(on_server)
    assert served["outputs"]["checkpoint/best"] == f"outputs/{best['filename']}"


def test_exception_in_training_fails_the_run(host: str, api: PolyaxonClient, project: str) -> None:
    logger = pl_adapter.PolyaxonLogger(project=project)
    with pytest.raises(RuntimeError, match="boom"):
        trainer(L, logger).fit(module_class(L)(fail_at=2), data())
    assert logger.run is not None and logger.run.ended
    body = api.get_statuses(OWNER, project, logger.run.run_uuid)
    assert body["status"] == "failed"
    assert "RuntimeError: boom in training_step" in body["status_conditions"][-1]["message"]
    assert api.get_metrics(OWNER, project, logger.run.run_uuid, ["train_loss"])["train_loss"]["step"] == [0, 1]


def run_script(mode: str, namespace: str, project: str) -> tuple[subprocess.CompletedProcess[str], str]:
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "tests.lightning.tiny", mode, namespace, project],
        capture_output=True,
        text=True,
        timeout=120,
        env=environ,
        check=False,
    )
    uuids = [line[5:] for line in result.stdout.splitlines() if line.startswith("uuid=")]
    assert len(uuids) == 1, result.stdout + result.stderr
    return result, uuids[0]


def test_ctrl_c_stops_the_run(host: str, api: PolyaxonClient, project: str) -> None:
    """KeyboardInterrupt in a training step: Lightning calls finalize("failed") then exits 1; the run is stopped."""
    result, uuid = run_script("interrupt", "pytorch_lightning", project)  # also checks `lightning` was not imported
    assert result.returncode == 1, result.stderr
    body = api.get_statuses(OWNER, project, uuid)
    assert body["status"] == "stopped"
    assert "KeyboardInterrupt" in body["status_conditions"][-1]["message"]
    assert api.get_metrics(OWNER, project, uuid, ["train_loss"])["train_loss"]["step"] == [0, 1, 2]


def test_ddp_two_processes_make_one_run(host: str, api: PolyaxonClient, project: str) -> None:
    """Two CPU processes, rank zero logs; no end(): the process ends the run as succeeded."""
    result, uuid = run_script("ddp", "lightning.pytorch", project)  # also checks `pytorch_lightning` was not imported
    assert result.returncode == 0, result.stderr
    served = only_run(api, project)
    assert served["uuid"] == uuid and served["status"] == "succeeded"
    steps = 2 * BATCHES // 2  # each process trains on half the batches
    metrics = api.get_metrics(OWNER, project, uuid, ["train_loss", "val_loss", "epoch"])
    assert metrics["train_loss"]["step"] == list(range(steps))
    assert metrics["val_loss"]["step"] == [steps // 2 - 1, steps - 1]
    assert metrics["epoch"]["metric"] == [0] * (steps // 2) + [1] * (steps // 2)
    models = sorted(name for kind, name in lineage(api, project, uuid) if kind == "model")
    assert models == ["checkpoint", f"checkpoint-{steps // 2}", f"checkpoint-{steps}"]  # the series, then each


def test_resume_from_checkpoint_continues_the_run(host: str, api: PolyaxonClient, project: str) -> None:
    logger = pl_adapter.PolyaxonLogger(project=project)
    checkpoint = L.callbacks.ModelCheckpoint(save_last=True)
    trainer(L, logger, max_epochs=1, callbacks=[checkpoint]).fit(module_class(L)(), data())
    uuid = logger.experiment.run_uuid
    logger.end()
    assert api.get_run(OWNER, project, uuid)["status"] == "succeeded"

    resumed = pl_adapter.PolyaxonLogger(project=project, run_uuid=uuid)
    assert resumed.version == uuid
    trainer(L, resumed, max_epochs=2).fit(module_class(L)(), data(), ckpt_path=checkpoint.last_model_path)
    assert resumed.experiment.run_uuid == uuid
    resumed.end()
    served = only_run(api, project)
    assert served["uuid"] == uuid and served["status"] == "succeeded"
    assert api.get_metrics(OWNER, project, uuid, ["train_loss"])["train_loss"]["step"] == list(range(2 * BATCHES))


@pytest.mark.parametrize(
    ("ns", "adapter"), [(L, pl_adapter), (PL, ptl_adapter)], ids=["lightning", "pytorch_lightning"]
)
def test_fit_from_a_checkpoint_continues_its_run_with_no_id_passed(
    host: str, api: PolyaxonClient, project: str, ns: Any, adapter: Any
) -> None:
    first = adapter.PolyaxonLogger(project=project)
    checkpoint = ns.callbacks.ModelCheckpoint(save_last=True)
    trainer(ns, first, max_epochs=1, callbacks=[checkpoint]).fit(module_class(ns)(), data())
    uuid = first.version
    first.end()
    again = adapter.PolyaxonLogger(project=project)  # told nothing: the checkpoint names the run
    trainer(ns, again, max_epochs=2).fit(module_class(ns)(), data(), ckpt_path=checkpoint.last_model_path)
    assert again.version == uuid
    again.end()
    served = only_run(api, project)
    assert served["uuid"] == uuid and served["status"] == "succeeded"
    assert api.get_metrics(OWNER, project, uuid, ["train_loss"])["train_loss"]["step"] == list(range(2 * BATCHES))
    fresh = adapter.PolyaxonLogger(project=project)  # the same model, no checkpoint: a new run
    trainer(ns, fresh, max_epochs=1).fit(module_class(ns)(), data())
    assert fresh.version != uuid
    fresh.end()


def test_in_cluster_attaches_to_the_scheduled_run(
    host: str, sandbox: Any, api: PolyaxonClient, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No arguments in a scheduled job: the scheduled run, its artifacts store, its statuses left alone."""
    scheduled = schedule_run(api, project, tmp_path / "plx-context", monkeypatch, sandbox.artifacts_store)
    logger = pl_adapter.PolyaxonLogger()
    trainer(L, logger, max_epochs=1).fit(module_class(L)(), data())
    assert logger.experiment.run_uuid == scheduled.run_uuid
    logger.end()
    assert only_run(api, project)["uuid"] == scheduled.run_uuid
    assert scheduled.get_inputs()["lr"] == 0.1
    assert scheduled.get_statuses()[0] == "created"  # the platform owns statuses
    served = api.get_metrics(OWNER, project, scheduled.run_uuid, ["train_loss"])["train_loss"]
    assert served["step"] == list(range(BATCHES))


def test_offline_then_sync(host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(env.HOST)  # offline needs no server
    logger = pl_adapter.PolyaxonLogger(project=project, is_offline=True, log_model="all")
    fit = trainer(L, logger, max_epochs=1, callbacks=[L.callbacks.ModelCheckpoint(monitor="val_loss")])
    fit.fit(module_class(L)(), data(), data())
    monkeypatch.setenv(env.RERAISE, "false")
    with pytest.warns(PolyaxonWarning, match=r"bad\|name"):
        logger.log_metrics({"bad|name": 1.0, "extra": 2.0}, step=99)  # warns; the good metric is kept
    uuid = logger.experiment.run_uuid
    logger.end()

    monkeypatch.setenv(env.HOST, host)
    result = sync_cli(timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"/runs/{uuid}" in result.stdout
    served = only_run(api, project)
    assert served["uuid"] == uuid and served["status"] == "succeeded"
    assert served["inputs"]["model/params_total"] == PARAMS
    metrics = api.get_metrics(OWNER, project, uuid, ["train_loss", "extra"])
    assert metrics["train_loss"]["step"] == list(range(BATCHES))
    assert metrics["extra"]["step"] == [99] and metrics["extra"]["metric"] == [2.0]
    assert ("model", f"checkpoint-{BATCHES}") in lineage(api, project, uuid)
    assert set(files(api, host, project, uuid, "assets/model")) == {f"checkpoint_{BATCHES}.ckpt"}


def test_end_on_finalize_then_test_is_still_one_run(host: str, api: PolyaxonClient, project: str) -> None:
    logger = pl_adapter.PolyaxonLogger(project=project, end_on_finalize=True)
    model = module_class(L)()
    fit = trainer(L, logger)
    fit.fit(model, data(), data())
    run = logger.run
    assert run is not None and run.ended and logger.experiment is run  # reading it starts nothing
    fit.test(model, data())  # the same run continues, and ends again
    assert logger.run is not None and logger.run.ended and logger.version == run.run_uuid
    data_ = only_run(api, project)
    assert data_["uuid"] == run.run_uuid and data_["status"] == "succeeded"
    assert "test_loss" in api.get_metrics(OWNER, project, run.run_uuid, ["test_loss"])
