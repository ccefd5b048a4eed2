"""Trainings run in fresh processes by the tests (restarts, spawned workers, launchers).

    python -m tests.integrations.scripts MODE ARGS...

Each prints ``RUN <uuid>`` (from the process that knows the run) and exits; none calls ``end()``,
so statuses are the ones the adapters and the process end set.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


def hf_resume(output_dir: str, phase: str) -> None:
    """``report_to="polyaxon"``, 10 steps; phase 1 is preempted (SIGTERM) right after the step-5 checkpoint."""
    from transformers import TrainerCallback

    from polyaxon_integrations import tracking
    from tests.transformers import tiny

    class Preempt(TrainerCallback):  # type: ignore[misc]
        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if phase == "1" and state.global_step == 5:
                run = tracking.get_run()
                print("RUN", run.run_uuid if run else None, flush=True)
                os.kill(os.getpid(), signal.SIGTERM)

    trainer = tiny.trainer(
        output_dir, callbacks=[Preempt()], max_steps=10, logging_steps=1, save_steps=5, save_strategy="steps",
        eval_strategy="no", run_name="preempted",
    )  # fmt: skip
    trainer.train(resume_from_checkpoint=phase == "2")
    run = tracking.get_run()
    print("RUN", run.run_uuid if run else None, flush=True)


def pl_resume(project: str, ckpt_dir: str, phase: str, how: str = "plain") -> None:
    """Phase 1: 2 epochs with a last checkpoint; phase 2 (a new process): resume it to 4 epochs, with a logger
    told nothing (``plain``) or built by ``PolyaxonLogger.from_checkpoint``."""
    import lightning.pytorch as L

    from polyaxon_integrations.lightning import PolyaxonLogger
    from tests.integrations.models import Tiny, data

    last = os.path.join(ckpt_dir, "last.ckpt")
    resuming = phase == "2" and how == "from_checkpoint"
    logger = PolyaxonLogger.from_checkpoint(last, project=project) if resuming else PolyaxonLogger(project=project)
    trainer = L.Trainer(
        max_epochs=2 if phase == "1" else 4, logger=logger, log_every_n_steps=1, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu", devices=1,
        callbacks=[L.callbacks.ModelCheckpoint(dirpath=ckpt_dir, save_last=True)],
    )  # fmt: skip
    trainer.fit(Tiny(), data(), ckpt_path=None if phase == "1" else last)
    print("RUN", logger.version, flush=True)


def keras_backup(project: str, backup_dir: str, phase: str) -> None:
    """4 epochs of 3 batches with ``BackupAndRestore``; phase 1 is preempted (SIGTERM) after epoch 1's backup,
    phase 2 (a new process, the same command) restores and finishes."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import numpy as np

    from polyaxon_integrations.keras import PolyaxonCallback

    class Preempt(keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if phase == "1" and epoch == 1:  # after BackupAndRestore (before it in the list) saved epoch 1
                print("RUN", tracker.run.run_uuid if tracker.run else None, flush=True)
                os.kill(os.getpid(), signal.SIGTERM)

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.random.rand(24, 4).astype("float32"), np.random.rand(24, 1).astype("float32")
    tracker = PolyaxonCallback(project=project, log_every_n_steps=1)
    backup = keras.callbacks.BackupAndRestore(backup_dir)
    history = model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[tracker, backup, Preempt()])
    print("RUN", tracker.run.run_uuid if tracker.run else None, flush=True)
    print("EPOCHS", len(history.epoch), flush=True)  # Keras < 3.5 restores the weights only: 4 again, not 2


def pl_spawn(project: str, strategy: str = "ddp_spawn") -> None:
    """``ddp_spawn`` (or ``ddp_fork``) on two CPU processes: fit, then test, from a main process that never trains."""
    import lightning.pytorch as L

    from polyaxon_integrations.lightning import PolyaxonLogger
    from tests.integrations.models import Tiny, data

    logger = PolyaxonLogger(project=project)
    trainer = L.Trainer(
        max_epochs=2, logger=logger, log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False,
        accelerator="cpu", devices=2, strategy=strategy, enable_checkpointing=False,
    )  # fmt: skip
    model = Tiny()
    trainer.fit(model, data())
    print("AFTER_FIT", logger.version, flush=True)
    trainer.test(model, data())
    print("RUN", logger.version, flush=True)


def fabric(project: str, devices: str) -> None:
    """Fabric with our logger: nested dicts, and ``log(name, value)`` without a step."""
    from lightning.fabric import Fabric

    from polyaxon_integrations.lightning import PolyaxonLogger

    logger = PolyaxonLogger(project=project)
    n = int(devices)
    runner = Fabric(accelerator="cpu", devices=n, strategy="ddp" if n > 1 else "auto", loggers=[logger])
    runner.launch()
    for step in range(3):
        runner.log_dict({"train": {"loss": 1.0 / (step + 1), "acc": step / 3}, "lr": 0.1}, step=step)
    runner.log("count", 1.0)
    runner.log("count", 2.0)
    runner.barrier()
    if runner.global_rank == 0:
        print("RUN", logger.version, flush=True)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    modes = {"hf-resume": hf_resume, "pl-resume": pl_resume, "keras-backup": keras_backup, "pl-spawn": pl_spawn}
    {**modes, "fabric": fabric}[mode](*args)
