"""Keras 3: ``model.fit(..., callbacks=[PolyaxonCallback()])`` on every backend.

Imports ``keras`` only (never TensorFlow), so it works on the torch and JAX backends too.

Steps: epoch metrics use Keras's epoch index (0-based, as ``History``, ``CSVLogger`` and
``TensorBoard`` count); a later ``fit`` in the same run continues at ``initial_epoch`` when
that is past the last logged epoch, else right after it, so no step is logged twice.
Batch metrics (``log_every_n_steps``) are ``batch/<name>`` on their own axis: the number of
optimizer steps done in the run. ``model.evaluate`` outside ``fit`` logs ``eval/<name>`` at
the last epoch's step. The run ends with the process (succeeded, failed on an uncaught
exception, stopped on Ctrl-C or SIGTERM), so several ``fit`` calls share one run.
"""

from __future__ import annotations

import copy
import math
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import keras  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("polyaxon_integrations.keras needs Keras 3: pip install 'polyaxon-integrations[keras]'") from exc

from .core import process
from .core.adapter import LazyRun
from .core.exceptions import ConfigError
from .core.folder import write_json_atomic
from .core.guard import guarded, reraise, warn_once
from .core.names import normalize_uuid
from .core.params import flatten_params
from .core.record import read_json
from .core.replica import ReplicaRun

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .core.options import InitOptions
    from .core.run import Run

__all__ = ["PolyaxonCallback", "PolyaxonKerasCallback"]

_MODES = ("auto", "min", "max")
_RAISED = "Model.fit() raised before it ended (the error was caught)"
_BACKUP_FILE = "polyaxon-run.json"  # in a BackupAndRestore backup_dir: the run a restored fit continues


class PolyaxonCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Track a Keras 3 training in Polyaxon: inputs, model summary, metrics, best or final model.

    >>> model.fit(x, y, validation_split=0.2, callbacks=[PolyaxonCallback(project="demo")])  # doctest: +SKIP

    ``log_model="best"`` saves the model into the run when ``monitor`` improves (``mode``
    ``"auto"`` reads the direction from the metric); ``"end"`` (or ``True``) when ``fit`` ends.
    Saving happens on the training thread (the weights are the model's); the upload does not.
    The other keywords are ``tracking.init``'s (``project``, ``run_uuid``, ``track_code``...).
    A subclass gets every hook, ours and Keras's (``on_batch_end`` too).
    """

    async_safe = True  # the batch hook only enqueues: Keras may keep dispatching it off the training thread

    def __init__(
        self,
        run: Run | None = None,  # positional too, as the official ``PolyaxonCallback(run)``
        *,
        log_every_n_steps: int | None = None,
        log_model: bool | str = False,
        monitor: str = "val_loss",
        mode: str = "auto",
        histogram_freq: int = 0,
        **options: Unpack[InitOptions],
    ) -> None:
        super().__init__()
        cls = type(self)
        if (cls.on_train_batch_end is not PolyaxonCallback.on_train_batch_end
                or cls.on_batch_end is not keras.callbacks.Callback.on_batch_end):  # fmt: skip
            self.async_safe = False  # a subclass's own batch hooks: Keras calls them on the training thread
        log_model = "end" if log_model is True else log_model
        if log_model not in (False, None, "best", "end"):
            raise ConfigError(f"log_model={log_model!r}: use False, 'best' (with monitor=, mode=) or 'end'.")
        if mode not in _MODES:
            raise ConfigError(f"mode={mode!r}: use one of {_MODES}.")
        if log_every_n_steps is not None and (type(log_every_n_steps) is not int or log_every_n_steps < 1):
            raise ConfigError(f"log_every_n_steps={log_every_n_steps!r}: use a positive integer, or None for off.")
        self.log_every_n_steps, self.log_model, self.monitor, self.mode = log_every_n_steps, log_model, monitor, mode
        if type(histogram_freq) is not int or histogram_freq < 0:
            raise ConfigError(f"histogram_freq={histogram_freq!r}: use a number of epochs, or 0 for off.")
        self.histogram_freq = histogram_freq  # weight histograms every N epochs, as Keras' TensorBoard callback
        if run is not None and any(v is not None for v in options.values()):
            raise ConfigError("Pass either run= (log to that run) or where to log (project=, run_uuid=...), not both.")
        self._lazy = LazyRun(run, **options)
        self._monitor_op: Any = None  # Keras's own answer to "should monitor go up or down"
        self._seen: tuple[str, int, Any] | None = None  # the last (hook, index, logs): a second call is a repeat
        self._lock = threading.Lock()
        self._in_fit = False
        self._steps_per_call = 1
        self._backup: Path | None = None  # our file in a BackupAndRestore's folder
        self._described: Any = None
        self._reset(None)

    def _reset(self, run_uuid: str | None) -> None:
        """Step counters and the best score, per run."""
        self._run_uuid = run_uuid
        self._last_epoch: int | None = None
        self._epoch_offset: int | None = None
        self._batch_base = self._epoch_batches = self._last_mark = 0
        self._early: dict[int, tuple[int, dict[str, Any]]] = {}  # batch rows that overtook earlier ones
        self._best: float | None = None

    def __getstate__(self) -> dict[str, Any]:
        """A pickled copy (another process) attaches to the same run; the model is not carried."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_model")}
        return {**state, "_model": None, "_described": None, "_seen": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _lock=threading.Lock())

    def __deepcopy__(self, memo: dict[int, Any]) -> PolyaxonCallback:
        """A copy in this process (sklearn's ``clone``) logs through the same run object."""
        return copy.copy(self)

    @property
    def run(self) -> Run | None:
        """The run logged to (None before training starts)."""
        return self._lazy.run

    def _begin(self) -> Run | None:
        """Resolve the run; new run -> counters restart; a model seen first -> its description."""
        run = self._lazy.get()
        if run is None or (isinstance(run, ReplicaRun) and not run.per_rank):
            return None  # a TF_CONFIG worker (any rank but 0): the chief alone tracks (core/rank.py)
        if run.run_uuid != self._run_uuid:
            self._reset(run.run_uuid)
        model = self.model
        if self._described != (run.run_uuid, id(model)):
            self._described = (run.run_uuid, id(model))
            loss = getattr(model, "loss", None)
            run.log_inputs(**flatten_params({
                "model": model.name,
                "num_params": model.count_params(),
                "num_trainable_params": sum(math.prod(w.shape) for w in model.trainable_weights),
                "loss": loss if loss is None or isinstance(loss, str | dict | list) else getattr(loss, "name", loss),
                "keras": {"version": keras.__version__, "backend": keras.backend.backend()},
            }))  # fmt: skip
            self._log_summary(run, model)
        return run

    @guarded("keras model summary")
    def _log_summary(self, run: Run, model: Any) -> None:
        lines: list[str] = []
        model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
        run.log_file("model_summary.txt", "\n".join(lines))

    @guarded("keras on_train_begin")
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._in_fit = True
        try:
            self._backup, restored = self._continue_backup()
        except Exception as exc:  # never at the cost of the run itself: then as if there were no backup
            if reraise():
                raise
            warn_once("keras-backup", f"polyaxon-integrations: cannot use the BackupAndRestore folder: {exc!r}")
            self._backup, restored = None, None
        run = self._begin()
        if run is None:
            return
        if restored is not None and run.run_uuid == restored.get("run_uuid"):
            # Steps go on from where the preempted process got (Keras < 3.5 restores the weights only and
            # starts again at epoch 0: the epochs it repeats are logged after the last one, never twice).
            epoch, batches = restored.get("epoch"), restored.get("batches")
            self._last_epoch = epoch if type(epoch) is int and epoch >= 0 else self._last_epoch
            self._batch_base = batches if type(batches) is int and batches >= 0 else self._batch_base
        self._name_run_in(run)
        # Keras calls no hook when fit() raises: until on_train_end, a normal process exit means it did
        # (the error was caught), so the run ends failed rather than succeeded.
        process.mark_unfinished(run, _RAISED)
        self._epoch_offset = None
        self._steps_per_call = getattr(self.model, "steps_per_execution", 1) or 1  # batch hooks come every k steps
        params = self.params or {}  # Keras gives callbacks no batch size: log it with tracking.log_inputs
        inputs: dict[str, Any] = {"epochs": params.get("epochs"), "steps_per_epoch": params.get("steps")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            inputs["optimizer"] = {"class": type(optimizer).__name__, **optimizer.get_config()}
            inputs["learning_rate"] = self._learning_rate()
        run.log_inputs(**flatten_params({k: v for k, v in inputs.items() if v is not None}))

    def _continue_backup(self) -> tuple[Path | None, dict[str, Any] | None]:
        """Where a ``BackupAndRestore`` beside this callback keeps its state and, if an earlier (preempted)
        process named its run there, that entry, whose run is now continued: restored training, same run.

        Keras shows a callback none of the others, so the ``BackupAndRestore`` is found among the lists that
        hold this callback (the user's ``callbacks=[...]`` and Keras's own): once per ``fit``.
        """
        import gc

        found = None
        for holder in gc.get_referrers(self):
            if isinstance(holder, list):
                found = next((c for c in holder if isinstance(c, keras.callbacks.BackupAndRestore)), None)
                if found is not None:
                    break
        folder = str(getattr(found, "backup_dir", "") or "")
        if not folder or "://" in folder:  # none, or a remote store we do not write to
            return None, None
        path = Path(folder) / _BACKUP_FILE
        entry = read_json(path)
        if self._lazy.resolved or self._lazy.named_elsewhere() or not isinstance(entry, dict):
            return path, None
        uuid = entry.get("run_uuid")
        if not isinstance(uuid, str) or not uuid:
            return path, None
        entry["run_uuid"] = normalize_uuid(uuid)
        self._lazy.continue_run(entry.get("owner"), entry.get("project"), entry["run_uuid"])
        return path, entry

    @guarded("keras BackupAndRestore")
    def _name_run_in(self, run: Run) -> None:
        """Keep the run's id and steps beside the backup (deleted with it when training ends, as Keras does)."""
        if self._backup is None:
            return
        self._backup.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(
            self._backup,
            {"owner": run.owner, "project": run.project, "run_uuid": run.run_uuid, "epoch": self._last_epoch,
             "batches": self._batch_base},
        )  # fmt: skip

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._train_batch_end(batch, logs)
        if not self.async_safe:  # a subclass with its own ``on_batch_end`` (Keras's base calls it from here)
            self.on_batch_end(batch, logs=logs)

    @guarded("keras on_train_batch_end")
    def _train_batch_end(self, batch: int, logs: dict[str, Any] | None) -> None:
        every, run = self.log_every_n_steps, self._lazy.run
        if not every or run is None or not self._in_fit:
            return
        with self._lock:  # Keras may run this on several threads at once, out of order (async_safe)
            if self._repeat("batch", batch, logs):
                return
            self._epoch_batches = max(self._epoch_batches, batch + 1)
            step = self._batch_base + batch + 1  # optimizer steps done in this run
            mark = step - step % every  # the last multiple of n this call's steps reach
            if mark <= max(step - self._steps_per_call, self._last_mark):
                return
            self._early[mark] = (step, {f"batch/{k}": v for k, v in (logs or {}).items()})
            self._release(run, every)

    def _repeat(self, hook: str, index: int, logs: Any) -> bool:
        """The same hook with the same logs object again: this callback is in the list twice."""
        seen = self._seen
        if logs is not None and seen is not None and seen[2] is logs and seen[0] == hook and seen[1] == index:
            return True
        self._seen = (hook, index, logs)
        return False

    def _release(self, run: Run, every: int | None) -> None:
        """Log waiting batch rows in step order: the next one due (``every``), or all (``None``: epoch end)."""
        while self._early and (every is None or min(self._early) == self._last_mark + every):
            self._last_mark = min(self._early)
            step, metrics = self._early.pop(self._last_mark)
            _log(run, step, metrics)

    @guarded("keras on_epoch_end")
    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        run = self._lazy.run
        if run is None or self._run_uuid != run.run_uuid:
            return
        with self._lock:  # Keras has waited for the epoch's batch hooks before calling this one
            if self._repeat("epoch", epoch, logs):
                return
            self._release(run, None)
            self._batch_base += self._epoch_batches
            self._epoch_batches = 0
        if self._epoch_offset is None:  # first epoch of this fit: never go back to a logged step
            last = self._last_epoch
            self._epoch_offset = 0 if last is None or epoch > last else last + 1 - epoch
        step = self._last_epoch = epoch + self._epoch_offset
        metrics = dict(logs or {})
        if "learning_rate" not in metrics:  # ReduceLROnPlateau and LearningRateScheduler add it themselves
            metrics["learning_rate"] = self._learning_rate()
        _log(run, step, {k: v for k, v in metrics.items() if v is not None})
        if self.log_model == "best":
            self._save_best(run, step, metrics)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weight_histograms(run, step)
        self._name_run_in(run)

    @guarded("keras weight histograms")
    def _log_weight_histograms(self, run: Run, step: int) -> None:
        """Each weight as ``weights/<path>`` (copied here, binned on the writer thread)."""
        for weight in self.model.weights:
            name = getattr(weight, "path", None) or weight.name
            run.log_histogram(f"weights/{name}", keras.ops.convert_to_numpy(weight), bins=30, step=step)

    @guarded("keras on_train_end")
    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._in_fit = False
        run = self._lazy.run
        if run is not None:
            process.mark_unfinished(run, None)
        if self.log_model == "end" and run is not None and not run.ended:
            summary = {"epoch": self._last_epoch} if self._last_epoch is not None else None
            run.log_model(self._save(run, "final"), name="final", framework="keras", summary=summary)

    @guarded("keras on_test_begin")
    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        if not self._in_fit:  # model.evaluate on its own
            self._begin()

    @guarded("keras on_test_end")
    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        run = self._lazy.run
        if not self._in_fit and run is not None and logs and not self._repeat("test", 0, logs):
            step = self._last_epoch if self._last_epoch is not None else 0
            _log(run, step, {f"eval/{k}": v for k, v in logs.items()})

    def _learning_rate(self) -> float | None:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            return None
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))  # schedules: at the current step

    def _save_best(self, run: Run, step: int, metrics: dict[str, Any]) -> None:
        value = metrics.get(self.monitor)
        if value is None:
            warn_once(f"keras-monitor-{self.monitor}", f"polyaxon-integrations: monitor={self.monitor!r} is not "
                      f"in the logs ({', '.join(sorted(metrics))}); no best model is saved.")  # fmt: skip
            return
        value, mode = float(value), self._direction(value)
        if mode is None or math.isnan(value):
            return
        if self._best is not None and not (value < self._best if mode == "min" else value > self._best):
            return
        self._best = value
        summary = {"monitor": self.monitor, "mode": mode, "score": value, "epoch": step}
        run.log_model(self._save(run, "best"), name="best", framework="keras", summary=summary)

    def _direction(self, value: float) -> str | None:
        """``mode``; in auto mode, Keras's own answer: an ``EarlyStopping`` in auto mode is asked (through its
        public hooks) which way ``monitor`` improves, so we agree with Keras's checkpointing on every version."""
        if self.mode != "auto":
            return self.mode
        if self._monitor_op is None:
            probe = keras.callbacks.EarlyStopping(monitor=self.monitor, mode="auto", patience=2**31)
            probe.set_model(self.model)
            try:
                probe.on_train_begin()
                probe.on_epoch_end(0, {self.monitor: value})
            except ValueError:  # Keras cannot tell either
                warn_once(f"keras-mode-{self.monitor}", f"polyaxon-integrations: cannot tell whether "
                          f"{self.monitor!r} should go up or down; pass mode='min' or mode='max' to save the best "
                          "model.")  # fmt: skip
                return None
            self._monitor_op = probe.monitor_op
        return "max" if self._monitor_op is keras.ops.greater else "min"

    def _save(self, run: Run, name: str) -> Path:
        """Save the model straight into the run's outputs (atomically: uploads never see half a file)."""
        outputs = Path(run.get_outputs_path())
        target, partial = outputs / f"{name}.keras", outputs / f".{name}.saving.keras"
        self.model.save(partial)
        os.replace(partial, target)
        return target


def _log(run: Run, step: int, metrics: dict[str, Any]) -> None:
    """Log the metrics; one that cannot be logged (a vector, a name with '|') is skipped with a warning."""
    try:
        run.log_metrics(step=step, **metrics)
    except ConfigError as exc:  # the others of the call were logged (core logs the good ones)
        if reraise():
            raise
        warn_once(f"keras-metric-{sorted(metrics)}", f"polyaxon-integrations: {exc}")


#: The official client's other name (``polyaxon.tracking.contrib.keras.PolyaxonKerasCallback``).
PolyaxonKerasCallback = PolyaxonCallback
