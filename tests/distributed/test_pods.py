"""Distributed jobs, as Polyaxon runs them, on one machine: real gloo trainings against the real sandbox.

A "pod" is a process with its own context folder and the variables Polyaxon and Kubeflow give a
replica (same ``POLYAXON_RUN_INSTANCE``, its own ``POLYAXON_K8S_POD_ID``, ``RANK``/``WORLD_SIZE``/
``MASTER_ADDR``). Its "sidecar" copies its folder into the sandbox's store afterwards, file by file,
the last copy of a name winning, as the real sidecars do; or it is the official sidecar's own code.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from polyaxon_integrations.core import env
from polyaxon_integrations.core.client import PolyaxonClient
from polyaxon_integrations.core.run_client import RunClient
from tests.conftest import SERVER_PYTHON, schedule_run

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
TRAIN = HERE / "train_ddp.py"
STEPS = 8
HOST_RESOURCES = ("cpu", "memory", "process_cpu")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    assert port != 8000
    return port


def environ(**extra: str) -> dict[str, str]:
    """This test's environment (sandbox host, scheduled run...) for a child process, this checkout importable."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", **extra}


def finish(procs: list[subprocess.Popen[str]], timeout: float = 180) -> None:
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err[-4000:]}"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def records(out: Path) -> dict[int, dict[str, Any]]:
    return {int(p.stem[4:]): json.loads(p.read_text()) for p in out.glob("rank*.json")}


def served_resources(api: PolyaxonClient, host: str, project: str, uuid: str) -> dict[str, dict[str, list[Any]]]:
    url = f"{host}/streams/v1/polyaxon/default/{project}/runs/{uuid}/resources"
    body = api.request("GET", url, params={"force": "true"})
    return {item["name"]: item["data"] for item in body["data"]}


def files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def copy_like_a_sidecar(pod_folder: Path, store_run: Path) -> None:
    """Each file of the pod's run folder put at the same name in the store: the last copy wins."""
    for rel in sorted(files(pod_folder)):
        target = store_run / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pod_folder / rel, target)


def official_sidecar(context_root: Path, store: Path, project: str, uuid: str) -> None:
    if not SERVER_PYTHON.exists():
        pytest.skip("needs the official package (.venv-server)")
    script = HERE / "official_sidecar.py"
    done = subprocess.run(
        [str(SERVER_PYTHON), str(script), str(context_root), str(store), "default", project, uuid],
        env={**environ(), "PYTHONPATH": ""},  # not POLYAXON_NO_CONFIG: the official client then skips its calls
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]


def pod_id(uuid: str, role: str) -> str:
    return f"plx-operation-{uuid}-{role}"  # Kubeflow's <job>-<rtype>-<index>


ROLES = ("master-0", "worker-1")


def train_in_two_pods(tmp_path: Path, uuid: str) -> tuple[dict[int, dict[str, Any]], dict[int, Path]]:
    """A PyTorchJob's master and worker: each rank's record, and each pod's run folder."""
    out = tmp_path / "out"
    out.mkdir()
    port = str(free_port())
    procs = [
        subprocess.Popen(
            [sys.executable, str(TRAIN), str(out), str(STEPS), "0.15"],
            env=environ(
                RANK=str(rank),
                WORLD_SIZE="2",
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=port,
                POLYAXON_CONTEXT_ROOT=str(tmp_path / f"pod-{rank}"),
                POLYAXON_K8S_POD_ID=pod_id(uuid, ROLES[rank]),
                POLYAXON_K8S_NODE_NAME=f"node-{rank}",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    finish(procs)
    return records(out), {rank: tmp_path / f"pod-{rank}" / "artifacts" / uuid for rank in (0, 1)}


@pytest.mark.parametrize("sidecar", ["last-writer-wins", "official"])
def test_two_pods_serve_rank_zeros_curve_once_and_both_pods_resources(
    sidecar: str,
    host: str,
    sandbox: Any,
    api: PolyaxonClient,
    project: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = sandbox.artifacts_store
    if not store.is_dir():
        pytest.skip("needs the sandbox's store folder (not known with PLX_TEST_HOST)")
    scheduled = schedule_run(api, project, tmp_path / "pod-0", monkeypatch)  # each pod its own folder
    assert scheduled.run_uuid
    uuid = scheduled.run_uuid
    monkeypatch.setenv(env.COLLECT_RESOURCES, "true")  # as Polyaxon's plugins set it for every replica
    monkeypatch.setenv(env.RESOURCES_INTERVAL, "0.2")
    ranks, pods = train_in_two_pods(tmp_path, uuid)
    assert ranks[0]["losses"] != ranks[1]["losses"]  # two curves were computed; only rank 0's is the run's
    roles = ROLES

    # Order 0 then 1 into the scheduled run; 1 then 0 into a second run (same files, moved to its uuid).
    second = RunClient(project=project, client=api)
    second.create(name="order-1-0")
    assert second.run_uuid
    for target, order in ((uuid, (0, 1)), (second.run_uuid, (1, 0))):
        for rank in order:
            if sidecar == "official":
                context = tmp_path / f"ctx-{target}-{rank}"
                shutil.copytree(pods[rank], context / "artifacts" / target)
                official_sidecar(context, store, project, target)
            else:
                copy_like_a_sidecar(pods[rank], store / target)
        served = api.get_metrics("default", project, target, ["loss"])["loss"]
        assert served["step"] == list(range(STEPS)), f"order {order}"
        assert served["metric"] == ranks[0]["losses"], f"order {order}: not rank 0's curve"
        resources = served_resources(api, host, project, target)
        for role in roles:
            for name in HOST_RESOURCES:
                assert resources.get(f"{role}_{name}", {}).get("metric"), f"order {order}: no {role}_{name}"
        assert not set(HOST_RESOURCES) & set(resources)  # no unnamed series a pod could overwrite
        if sidecar == "official":  # the sidecars' summaries: outputs are rank 0's last values, whatever the order
            served_outputs = RunClient(project=project, run_uuid=target, client=api).get_outputs()
            assert served_outputs["loss"] == ranks[0]["losses"][-1]
    assert {r["uuid"] for r in api.list_runs("default", project)} == {uuid, second.run_uuid}  # no run created
    outputs = scheduled.get_outputs()
    assert outputs["loss"] == ranks[0]["losses"][-1] and outputs["rank_seen"] == 0
    assert scheduled.get_inputs() == {"lr": 0.1, "world_size": 2}
    statuses = [c["type"] for c in scheduled.get_statuses()[1]]
    assert "succeeded" not in statuses and "failed" not in statuses  # the platform's, not any replica's
    worker_files = files(pods[1])
    assert worker_files and all(f.startswith("resources/metric/worker-1_") for f in worker_files), worker_files
    assert "events/metric/loss.plx" in files(pods[0])
    assert not [f for f in files(pods[0]) if "worker-1" in f or f.startswith("resources/metric/cpu")]
    assert ranks[0]["run"] == "Run" and ranks[1]["run"] == "ReplicaRun"


def test_log_all_ranks_adds_each_ranks_curve_under_its_own_name(
    host: str, sandbox: Any, api: PolyaxonClient, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The opt-in: rank 1 logs too, as ``loss_rank1``, beside rank 0's ``loss``; in both copy orders."""
    store = sandbox.artifacts_store
    if not store.is_dir():
        pytest.skip("needs the sandbox's store folder (not known with PLX_TEST_HOST)")
    scheduled = schedule_run(api, project, tmp_path / "pod-0", monkeypatch)
    assert scheduled.run_uuid
    monkeypatch.setenv(env.LOG_ALL_RANKS, "true")
    ranks, pods = train_in_two_pods(tmp_path, scheduled.run_uuid)
    for rank in (1, 0):
        copy_like_a_sidecar(pods[rank], store / scheduled.run_uuid)
    served = api.get_metrics("default", project, scheduled.run_uuid, ["loss", "loss_rank1"])
    assert served["loss"]["metric"] == ranks[0]["losses"] and served["loss"]["step"] == list(range(STEPS))
    assert served["loss_rank1"]["metric"] == ranks[1]["losses"] and served["loss_rank1"]["step"] == list(range(STEPS))
    outputs = scheduled.get_outputs()
    assert outputs["loss"] == ranks[0]["losses"][-1] and outputs["loss_rank1"] == ranks[1]["losses"][-1]
    assert outputs["rank_seen"] == 0 and outputs["rank_seen_rank1"] == 1
    assert scheduled.get_inputs() == {"lr": 0.1, "world_size": 2}  # inputs are rank 0's alone
    lineage = {(e["kind"], e["name"]) for e in api.get_lineage("default", project, scheduled.run_uuid)}
    assert {("metric", "loss"), ("metric", "loss_rank1")} <= lineage
    assert files(pods[1]) == {"events/metric/loss_rank1.plx"}  # nothing of rank 0's names, lineage file included
    assert len(api.list_runs("default", project)) == 1


def test_torchrun_in_one_pod_logs_every_step_once(
    host: str, sandbox: Any, api: PolyaxonClient, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes share one context folder (the store itself, as in a cluster): one writer per file."""
    scheduled = schedule_run(api, project, tmp_path / "pod", monkeypatch, sandbox.artifacts_store)
    assert scheduled.run_uuid
    monkeypatch.setenv(env.COLLECT_RESOURCES, "true")
    monkeypatch.setenv(env.RESOURCES_INTERVAL, "0.2")
    monkeypatch.setenv(env.K8S_POD_ID, pod_id(scheduled.run_uuid, "master-0"))
    out = tmp_path / "out"
    out.mkdir()
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2"]
    rdzv = ["--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{free_port()}"]
    proc = subprocess.Popen(
        [*torchrun, *rdzv, str(TRAIN), str(out), str(STEPS), "0.15"],
        env=environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    finish([proc])
    ranks = records(out)
    assert sorted(ranks) == [0, 1]
    served = api.get_metrics("default", project, scheduled.run_uuid, ["loss"])["loss"]
    assert served["step"] == list(range(STEPS)) and served["metric"] == ranks[0]["losses"]
    resources = served_resources(api, host, project, scheduled.run_uuid)
    assert set(HOST_RESOURCES) <= set(resources)  # one pod: the usual names
    stamps = resources["cpu"]["timestamp"]
    assert len(stamps) == len(set(stamps)) >= 2 and stamps == sorted(stamps)  # one sampler, not one per process
    assert len(api.list_runs("default", project)) == 1
    assert ranks[1]["run"] == "ReplicaRun"


def test_torchrun_on_two_nodes_outside_the_cluster_makes_one_run(
    host: str, api: PolyaxonClient, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``torchrun --nnodes 2`` on loopback: two agents, one c10d rendezvous, two node ranks, one run."""
    monkeypatch.setenv(env.PROJECT, project)
    out = tmp_path / "out"
    out.mkdir()
    endpoint = f"127.0.0.1:{free_port()}"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nnodes",
                "2",
                "--nproc-per-node",
                "1",
                "--rdzv-backend",
                "c10d",
                "--rdzv-endpoint",
                endpoint,
                "--rdzv-id",
                f"job-{project}",
                str(TRAIN),
                str(out),
                str(STEPS),
            ],
            env=environ(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for node in (0, 1)
    ]
    finish(procs)
    ranks = records(out)
    assert sorted(ranks) == [0, 1] and {r["node"] for r in ranks.values()} == {"0", "1"}
    runs = api.list_runs("default", project)
    assert [r["uuid"] for r in runs] == [ranks[0]["uuid"]]
    assert runs[0]["status"] == "succeeded"
    served = api.get_metrics("default", project, ranks[0]["uuid"], ["loss"])["loss"]
    assert served["step"] == list(range(STEPS)) and served["metric"] == ranks[0]["losses"]
    assert ranks[0]["run"] == "Run" and ranks[1]["run"] == "ReplicaRun" and ranks[1]["uuid"] == ""


def test_keras_with_tf_config_only_the_chief_logs(
    host: str, api: PolyaxonClient, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TFJob's chief and worker (``TF_CONFIG`` only): one run, the chief's epochs once, the chief's model."""
    if importlib.util.find_spec("keras") is None:  # not imported here: its backend is chosen at import
        pytest.skip("needs keras")
    monkeypatch.setenv(env.PROJECT, project)
    out = tmp_path / "out"
    out.mkdir()
    cluster = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"]}
    procs = [
        subprocess.Popen(
            [sys.executable, str(HERE / "keras_worker.py"), str(out)],
            env=environ(
                TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": role, "index": 0}}),
                KERAS_BACKEND="torch",
                KERAS_HOME=str(tmp_path / f"keras-{role}"),
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for role in ("chief", "worker")
    ]
    finish(procs)
    chief, worker = (json.loads((out / f"{role}0.json").read_text()) for role in ("chief", "worker"))
    assert chief["loss"] != worker["loss"]  # each trained on its own data
    runs = api.list_runs("default", project)
    assert [r["uuid"] for r in runs] == [chief["uuid"]] and runs[0]["status"] == "succeeded"
    served = api.get_metrics("default", project, chief["uuid"], ["loss", "batch__loss"])
    assert served["loss"]["step"] == [0, 1, 2] and served["loss"]["metric"] == pytest.approx(chief["loss"])
    assert served["batch__loss"]["step"] == [2, 4, 6, 8, 10, 12]
    models = [e for e in api.get_lineage("default", project, chief["uuid"]) if e["kind"] == "model"]
    assert len(models) == 1
    assert chief["run"] == "Run" and worker["run"] == "ReplicaRun" and worker["uuid"] == ""


def test_lightning_ddp_and_the_scripts_own_init_agree_on_rank_zero(
    host: str, api: PolyaxonClient, project: str, tmp_path: Path
) -> None:
    """Lightning's launcher (LOCAL_RANK, no RANK) and the core's rule: one run, shared by the logger and the script."""
    if importlib.util.find_spec("lightning") is None:
        pytest.skip("needs lightning")
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "lightning_mixed.py"), str(out), project],
        env=environ(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port())),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    finish([proc])
    ranks = records(out)
    runs = api.list_runs("default", project)
    assert [r["uuid"] for r in runs] == [ranks[0]["uuid"]] and runs[0]["status"] == "succeeded"
    served = api.get_metrics("default", project, ranks[0]["uuid"], ["train_loss", "done"])
    assert served["train_loss"]["step"] == [0, 1]  # 4 batches over 2 processes, rank 0's
    assert served["done"]["metric"] == [0.0]  # the script's own call: rank 0's only
    assert ranks[0]["run"] == "Run" and ranks[1]["run"] == "ReplicaRun" and ranks[1]["env_local_rank"] == "1"
