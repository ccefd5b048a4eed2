"""How a Lightning logger keeps one run across processes (both namespaces; imports no framework).

- Every checkpoint the trainer saves names the run (:class:`RunStateMixin`), so a logger in a new
  process continues the run of the checkpoint ``fit(ckpt_path=...)`` restores (:func:`restoring_checkpoint`,
  :func:`checkpoint_run`).
- ``ddp_fork`` workers log into a run the main process starts just before they are forked
  (:func:`wait_for_fork`), as pickling the logger does for ``ddp_spawn``.
"""

from __future__ import annotations

import os
import sys
import weakref
from typing import TYPE_CHECKING, Any

from .core.guard import warn_once
from .core.names import normalize_uuid

if TYPE_CHECKING:
    from .core.adapter import LazyRun

__all__ = ["CHECKPOINT_KEY", "RunStateMixin", "checkpoint_run", "restoring_checkpoint", "wait_for_fork"]

CHECKPOINT_KEY = "polyaxon"  # the checkpoint entry naming the run: {"owner", "project", "run_uuid"}


class RunStateMixin:
    """A callback (with the namespace's ``Callback``) that writes the run's id into every checkpoint; the
    logger adds it to its trainer."""

    def __init__(self, lazy: LazyRun) -> None:
        super().__init__()
        self.lazy = lazy

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        run = self.lazy.run
        if run is not None:
            checkpoint[CHECKPOINT_KEY] = {"owner": run.owner, "project": run.project, "run_uuid": run.run_uuid}


def checkpoint_run(path: str | os.PathLike[str]) -> tuple[str | None, str | None, str] | None:
    """(owner, project, run uuid) a checkpoint of ours names; None for another checkpoint."""
    import torch

    # mmap: the pickled structure is read, the tensors are not (a multi-GiB checkpoint costs nothing)
    checkpoint = torch.load(os.fspath(path), map_location="cpu", weights_only=False, mmap=True)
    entry = checkpoint.get(CHECKPOINT_KEY) if isinstance(checkpoint, dict) else None
    if not isinstance(entry, dict) or not entry.get("run_uuid"):
        return None
    return entry.get("owner"), entry.get("project"), normalize_uuid(entry["run_uuid"])


def restoring_checkpoint(trainer_class: type) -> str | os.PathLike[str] | None:
    """The local checkpoint file the trainer up the stack is about to restore, if any.

    Lightning asks its loggers for their experiment (our run) in its setup, before it restores the
    checkpoint, and hands the path to no hook before then: it is a local of ``Trainer._run``
    (Lightning 2.0 to 2.6), already resolved from ``"last"``/``"best"``.
    """
    frame: Any = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "_run" and isinstance(frame.f_locals.get("self"), trainer_class):
            path = frame.f_locals.get("ckpt_path")
            return path if isinstance(path, str | os.PathLike) and os.path.isfile(path) else None
        frame = frame.f_back
    return None


_WAITING: weakref.WeakSet[Any] = weakref.WeakSet()  # loggers whose run may start before a ddp_fork


def wait_for_fork(logger: Any) -> None:
    """``logger`` (a ``LoggerMixin``) starts its run before Lightning forks its workers (see :func:`_before_fork`)."""
    _WAITING.add(logger)


def _before_fork() -> None:
    """Lightning's ``ddp_fork`` (and ``ddp_notebook``) forks its workers: start each waiting logger's run here
    first, in the main process, so the workers log into it (see ``LazyRun._forked``), this process knows it
    after ``fit`` and ends it, and ``fit`` then ``test`` is one run, as with ``ddp_spawn``.

    Any other fork (a DataLoader worker, a Pool) starts nothing: only a fork from Lightning's launcher does.
    """
    waiting = [lg for lg in list(_WAITING) if not lg._lazy.resolved and lg._lightning.rank == 0]
    if not waiting or not _lightning_forks_workers():
        return
    for logger in waiting:
        try:
            logger._lazy.get()
        except Exception as exc:  # the workers then start the run themselves, as before
            warn_once("lightning-fork", f"polyaxon-integrations: could not start the run before ddp_fork: {exc!r}")


def _lightning_forks_workers() -> bool:
    frame: Any = sys._getframe(2)
    while frame is not None:
        launcher = frame.f_locals.get("self")
        if type(launcher).__name__ == "_MultiProcessingLauncher":
            return getattr(launcher, "_start_method", None) == "fork"
        frame = frame.f_back
    return False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork)
