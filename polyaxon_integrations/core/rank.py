"""Which replica of a distributed job this process is, read from the environment only.

Polyaxon gives every replica of a job (PyTorchJob, TFJob, MPIJob...) the same run, the
same variables and its own sidecar, which copies the pod's folder into the run's store
under the same file names: on a clash the last copy wins. Nothing in Polyaxon's own
environment names the replica; the launcher does (``RANK``/``WORLD_SIZE``, ``TF_CONFIG``,
``OMPI_COMM_WORLD_RANK``, ``LOCAL_RANK``, ``SLURM_PROCID``...). One rule follows, applied
by ``tracking.init`` and so by every adapter:

======================================  ======================================================
what                                    who writes it
======================================  ======================================================
events, inputs/outputs, lineage,        global rank 0 only; other ranks get a run whose calls
``env.json``, code reference            are no-ops (``POLYAXON_INTEGRATIONS_LOG_ALL_RANKS``:
                                        they log under ``<name>_rank<N>`` instead, in-cluster)
statuses                                in-cluster: no replica (the platform); else rank 0
system resources                        one sampler per pod or node (local rank 0); with more
                                        than one pod in-cluster, named ``<pod>_<resource>``
logs                                    in-cluster: each pod's sidecar; else rank 0's capture
======================================  ======================================================

No framework is imported: the variables are what torch, TensorFlow, MPI and Slurm set for
their processes, and frameworks read them too (Lightning's rank is ``RANK``, ``LOCAL_RANK``,
``SLURM_PROCID`` or ``JSM_NAMESPACE_RANK``, in that order, as here).

>>> detect({"RANK": "1", "WORLD_SIZE": "2"}).is_main
False
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from . import env
from .exceptions import ConfigError

__all__ = ["Replica", "detect"]

# (rank, world size, local rank, local world size) for each launcher, in the order they are looked at.
# torch-style variables first: torchrun inside an srun or MPI job sets them for its own children.
_LAUNCHERS: tuple[tuple[str, str, str | None, str | None], ...] = (
    (env.RANK, env.WORLD_SIZE, env.LOCAL_RANK, env.LOCAL_WORLD_SIZE),
    (env.OMPI_RANK, env.OMPI_SIZE, env.OMPI_LOCAL_RANK, env.OMPI_LOCAL_SIZE),
    (env.PMI_RANK, env.PMI_SIZE, env.MPI_LOCAL_RANK, env.MPI_LOCAL_SIZE),
    (env.HOROVOD_RANK, env.HOROVOD_SIZE, env.HOROVOD_LOCAL_RANK, env.HOROVOD_LOCAL_SIZE),
    (env.SLURM_PROCID, env.SLURM_NTASKS, env.SLURM_LOCALID, None),
    (env.JSM_RANK, env.JSM_SIZE, env.JSM_LOCAL_RANK, None),
)
# TF_CONFIG roles in rank order: the chief (``master`` in TF1) is rank 0; without one, worker 0 is.
_TF_ROLES = ("chief", "master", "worker", "ps", "evaluator")
_LABEL = re.compile(r"[^-a-zA-Z0-9_]+")


@dataclass(frozen=True)
class Replica:
    """This process's place in a distributed job; a plain run is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    #: the variable that gave the rank (``"RANK"``, ``"TF_CONFIG"``...), None when none did
    source: str | None = None
    #: ``POLYAXON_K8S_POD_ID`` and ``POLYAXON_K8S_NODE_NAME``
    pod: str | None = None
    node: str | None = None

    @property
    def is_main(self) -> bool:
        """Global rank 0: the one process that tracks the run."""
        return self.rank == 0

    @property
    def is_local_main(self) -> bool:
        """Local rank 0: the one process per pod or node that samples its resources."""
        return self.local_rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1 or self.rank > 0

    @property
    def several_pods(self) -> bool:
        """More processes than this pod (or node) holds: there are other pods, each with its own sampler."""
        return self.world_size > self.local_world_size

    @property
    def label(self) -> str:
        """A short name for this pod: Kubeflow's ``<job>-<role>-<index>`` without the job (``worker-1``),
        else the node's name, else ``rank<N>``; safe in a file name."""
        if self.pod:
            label = self.pod
            match = re.search(r"[0-9a-f]{32}-(.+)$", self.pod)  # plx-operation-<uuid>-worker-1
            if match:
                label = match.group(1)
        elif self.node:
            label = self.node
        else:
            label = f"rank{self.rank}"
        return _LABEL.sub("-", label).strip("-")[:60] or f"rank{self.rank}"

    def describe(self) -> str:
        where = f", pod {self.pod}" if self.pod else ""
        return f"rank {self.rank} of {self.world_size} ({self.source}{where})"


def detect(environ: Mapping[str, str] | None = None) -> Replica:
    """This process's replica from the launchers' variables (:data:`~.env.LAUNCHER_VARS`)."""
    pod = env.read_str(env.K8S_POD_ID, environ)
    node = env.read_str(env.K8S_NODE_NAME, environ)
    if env.read_str(env.RANK, environ) is None and env.read_str(env.LOCAL_RANK, environ) is not None:
        return _local_only(environ, pod, node)
    for rank_var, size_var, local_var, local_size_var in _LAUNCHERS:
        if env.read_str(rank_var, environ) is None:
            continue
        rank = env.read_int(rank_var, 0, environ)
        local = env.read_int(local_var, 0, environ) if local_var else 0
        local_size = env.read_int(local_size_var, 1, environ) if local_size_var else 1
        if rank_var == env.SLURM_PROCID:
            nodes = env.read_int(env.SLURM_NNODES, 1, environ)
            local_size = max(1, env.read_int(env.SLURM_NTASKS, 1, environ) // max(1, nodes))
        local_size = max(local_size, local + 1)  # a launcher that names the local rank but not the local size
        size = env.read_int(size_var, max(rank + 1, local_size), environ)
        return _checked(rank_var, Replica(rank, size, local, local_size, rank_var, pod, node))
    tf_config = env.read_str(env.TF_CONFIG, environ)
    if tf_config is not None:
        rank, size = _tf_rank(tf_config)
        return _checked(env.TF_CONFIG, Replica(rank, size, 0, 1, env.TF_CONFIG, pod, node))
    return Replica(pod=pod, node=node)


def _local_only(environ: Mapping[str, str] | None, pod: str | None, node: str | None) -> Replica:
    """``LOCAL_RANK`` without ``RANK`` (Lightning's own launcher, ``torch.distributed.launch``): before
    ``SLURM_PROCID``, as Lightning reads them, since Slurm sets that even where it does not launch the
    processes; ``NODE_RANK`` (Lightning) places the node."""
    local = env.read_int(env.LOCAL_RANK, 0, environ)
    node_rank = env.read_int(env.NODE_RANK, 0, environ)
    world = env.read_int(env.WORLD_SIZE, local + 1, environ)
    several_nodes = env.read_str(env.NODE_RANK, environ) is not None and world > local + 1
    local_size = env.read_int(env.LOCAL_WORLD_SIZE, 0 if several_nodes else world, environ) or local + 1
    rank = node_rank * local_size + local
    return Replica(rank, max(world, rank + 1), local, local_size, env.LOCAL_RANK, pod, node)


def _checked(source: str, replica: Replica) -> Replica:
    if replica.rank >= replica.world_size:
        raise ConfigError(
            f"{source}: rank {replica.rank} does not fit a world of {replica.world_size} processes; "
            "check the launcher's variables."
        )
    return replica


def _tf_rank(text: str) -> tuple[int, int]:
    """(rank, world size) from ``TF_CONFIG``: roles in :data:`_TF_ROLES` order, indexes within each."""
    try:
        config = json.loads(text)
        cluster = config.get("cluster") or {}
        task = config.get("task") or {}
        role, index = str(task.get("type") or ""), int(task.get("index") or 0)
        sizes = {name: len(cluster.get(name) or ()) for name in cluster}
    except (ValueError, TypeError, AttributeError):
        raise ConfigError(
            f"{env.TF_CONFIG}={text[:200]!r} is not the JSON tf.distribute expects "
            '({"cluster": {...}, "task": {"type": "worker", "index": 0}}).'
        ) from None
    world = max(1, sum(sizes.values()))
    if not role:  # a cluster without a task: TF treats the process as the chief
        return 0, world
    order = [r for r in _TF_ROLES if r in sizes] + sorted(r for r in sizes if r not in _TF_ROLES)
    if role not in order:
        raise ConfigError(f"{env.TF_CONFIG}: task type {role!r} is not in the cluster ({sorted(sizes)}).")
    if index >= sizes[role]:
        raise ConfigError(f"{env.TF_CONFIG}: task {role}:{index} is not in the cluster ({sizes[role]} {role}).")
    offset = sum(sizes[r] for r in order[: order.index(role)])
    return offset + index, world
