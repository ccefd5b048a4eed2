"""The rank rule from the environment alone: who tracks, who samples, and what the others get."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polyaxon_integrations import tracking
from polyaxon_integrations.core import env
from polyaxon_integrations.core.context import Context
from polyaxon_integrations.core.exceptions import ConfigError
from polyaxon_integrations.core.rank import Replica, detect
from polyaxon_integrations.core.replica import ReplicaRun
from polyaxon_integrations.core.system import SystemOptions

ROOT = Path(__file__).resolve().parents[2]
POD = "plx-operation-8aac02e3f1a4b5c6d7e8f9a0b1c2d3e4-worker-1"


def tf_config(role: str, index: int, chief: bool = True, workers: int = 2) -> str:
    cluster: dict[str, list[str]] = {"worker": [f"w{i}:2222" for i in range(workers)]}
    if chief:
        cluster["chief"] = ["c:2222"]
    return json.dumps({"cluster": cluster, "task": {"type": role, "index": index}})


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, Replica()),
        ({"RANK": "1", "WORLD_SIZE": "2"}, Replica(1, 2, 0, 1, "RANK")),  # Kubeflow PyTorchJob: one per pod
        (
            {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"},  # torchrun, 2 nodes
            Replica(3, 4, 1, 2, "RANK"),
        ),
        ({"LOCAL_RANK": "1", "WORLD_SIZE": "2"}, Replica(1, 2, 1, 2, "LOCAL_RANK")),  # one node
        ({"LOCAL_RANK": "0", "NODE_RANK": "1", "WORLD_SIZE": "4"}, Replica(0 + 1 * 1, 4, 0, 1, "LOCAL_RANK")),
        ({"LOCAL_RANK": "1", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"}, Replica(1, 2, 1, 2, "LOCAL_RANK")),
        ({"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4"}, Replica(2, 4, 0, 1, "OMPI_COMM_WORLD_RANK")),
        ({"PMI_RANK": "0", "PMI_SIZE": "2"}, Replica(0, 2, 0, 1, "PMI_RANK")),
        ({"HOROVOD_RANK": "1", "HOROVOD_SIZE": "2", "HOROVOD_LOCAL_RANK": "1"}, Replica(1, 2, 1, 2, "HOROVOD_RANK")),
        (
            {"SLURM_PROCID": "3", "SLURM_NTASKS": "4", "SLURM_LOCALID": "1", "SLURM_NNODES": "2"},
            Replica(3, 4, 1, 2, "SLURM_PROCID"),
        ),
        ({"JSM_NAMESPACE_RANK": "1", "JSM_NAMESPACE_SIZE": "2"}, Replica(1, 2, 0, 1, "JSM_NAMESPACE_RANK")),
        ({"TF_CONFIG": tf_config("chief", 0)}, Replica(0, 3, 0, 1, "TF_CONFIG")),
        ({"TF_CONFIG": tf_config("worker", 0)}, Replica(1, 3, 0, 1, "TF_CONFIG")),
        ({"TF_CONFIG": tf_config("worker", 0, chief=False)}, Replica(0, 2, 0, 1, "TF_CONFIG")),  # worker 0 leads
        ({"TF_CONFIG": tf_config("worker", 1, chief=False)}, Replica(1, 2, 0, 1, "TF_CONFIG")),
        ({"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1"]}})}, Replica(0, 1, 0, 1, "TF_CONFIG")),
        ({"RANK": "0", "WORLD_SIZE": "2", "TF_CONFIG": tf_config("worker", 1)}, Replica(0, 2, 0, 1, "RANK")),
    ],
)
def test_detect(environ: dict[str, str], expected: Replica) -> None:
    assert detect(environ) == expected


@pytest.mark.parametrize(
    "environ",
    [
        {"RANK": "two"},
        {"RANK": "-1"},
        {"RANK": "2", "WORLD_SIZE": "2"},
        {"TF_CONFIG": "{not json"},
        {"TF_CONFIG": tf_config("worker", 5)},
        {"TF_CONFIG": tf_config("gpu", 0)},
    ],
)
def test_bad_launcher_variables_name_themselves(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=next(iter(environ))):
        detect(environ)


@pytest.mark.parametrize(
    "environ",
    [
        {"RANK": "1"},
        {"RANK": "0", "LOCAL_RANK": "1"},
        {"LOCAL_RANK": "1"},
        {"LOCAL_RANK": "0", "SLURM_PROCID": "1"},
        {"SLURM_PROCID": "1", "SLURM_NTASKS": "2"},
        {"JSM_NAMESPACE_RANK": "2", "JSM_NAMESPACE_SIZE": "3"},
        {},
    ],
)
def test_lightning_agrees_on_who_is_rank_zero(environ: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Lightning's logger starts a run where ``rank_zero_only.rank`` is 0; its first guess reads these."""
    rank_zero = pytest.importorskip("lightning_fabric.utilities.rank_zero")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert ((rank_zero._get_rank() or 0) == 0) == detect(environ).is_main


def test_pod_label() -> None:
    assert Replica(pod=POD).label == "worker-1"
    assert Replica(pod="my pod/1").label == "my-pod-1"
    assert Replica(node="node-a").label == "node-a"
    assert Replica(rank=2, world_size=3).label == "rank2"


def context(**overrides: object) -> Context:
    return Context(config=None, owner="o", project="p", run_uuid=None, **overrides)  # type: ignore[arg-type]


def test_one_sampler_per_pod_named_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env.COLLECT_RESOURCES, "true")
    monkeypatch.setenv(env.K8S_POD_ID, POD)
    plain = SystemOptions.resolve(context(is_managed=True))
    assert plain.collect_resources and plain.resource_prefix == ""  # one pod: the names as today
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")  # Kubeflow: two pods
    options = SystemOptions.resolve(context(is_managed=True))
    assert options.collect_resources and options.resource_prefix == "worker-1_"
    assert SystemOptions.resolve(context()).resource_prefix == ""  # outside the cluster only rank 0 samples
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    # torchrun: 2 processes in one pod share its CPUs; local rank 1 does not sample even when asked to
    assert not SystemOptions.resolve(context(is_managed=True), collect_resources=True).collect_resources


def test_other_ranks_get_a_run_that_logs_nothing(monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    run = tracking.init(project="p", is_offline=True)  # also outside the cluster, and with no server at all
    assert isinstance(run, ReplicaRun) and tracking.get_run() is run and not run.per_rank
    assert run.run_uuid == "" and run.url is None and run.status is None
    started = time.perf_counter()
    for step in range(20_000):
        tracking.log_metrics(step=step, loss=0.5)
    per_call = (time.perf_counter() - started) / 20_000
    tracking.log_inputs(lr=0.1)
    tracking.log_outputs(acc=1.0)
    tracking.log_tags(["a"])
    tracking.set_name("x")
    tracking.log_status("running")
    run.log_metric("loss", 1.0, step=1)
    run.log_text("t", "x")
    assert run.log_file("summary.txt", "x") == "" and run.log_artifact(__file__) == ""
    assert tracking.flush() is True and tracking.end() is True and run.ended
    assert per_call < 20e-6, f"{per_call * 1e6:.1f} us per call on a replica"
    assert not (isolated_env / "offline").exists()  # no folder, no run


def test_every_run_method_is_covered() -> None:
    """Whatever Run gains later (media, ...) is a no-op on replicas, never Run's own code on a half-built object."""
    from polyaxon_integrations.core.run import Run

    for name, member in vars(Run).items():
        if callable(member) and not name.startswith("__"):
            assert name in vars(ReplicaRun), name


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({}, f"it logs nothing; rank 0 tracks the run (set {env.LOG_ALL_RANKS}=true to log every rank)."),
        (
            {env.LOG_ALL_RANKS: "true"},  # outside a cluster only rank 0 knows the run
            f"it logs nothing ({env.LOG_ALL_RANKS} needs a Polyaxon job, whose replicas share one run).",
        ),
    ],
)
def test_one_line_says_what_the_replica_does(extra: dict[str, str], says: str) -> None:
    code = (
        "from polyaxon_integrations import tracking\n"
        "for _ in range(3):\n"
        "    run = tracking.init(project='p', is_offline=True); run.log_metrics(step=0, loss=1.0); run.end()\n"
    )
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("POLYAXON_")},
        "RANK": "1",
        "WORLD_SIZE": "2",
        "PYTHONPATH": str(ROOT),
        **extra,
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [f"polyaxon-integrations: rank 1 of 2 (RANK): {says}"]
