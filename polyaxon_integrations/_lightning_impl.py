"""The Lightning logger, written once for both namespaces (``lightning.pytorch`` and ``pytorch_lightning``).

:mod:`polyaxon_integrations.lightning` and :mod:`polyaxon_integrations.pytorch_lightning` each
subclass :class:`LoggerMixin` together with their own namespace's ``Logger`` and hand it the few
namespace objects it needs (:class:`LightningNamespace`), so LightningCLI's subclass checks pass in either
namespace and importing one never imports the other. This module imports no framework.
"""

from __future__ import annotations

import multiprocessing.context
import os
import sys
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from ._lightning_continuity import RunStateMixin, checkpoint_run, restoring_checkpoint, wait_for_fork
from ._lightning_media import MediaLoggerMixin
from .core.adapter import LazyRun, Origin
from .core.client import PolyaxonClient
from .core.exceptions import ConfigError
from .core.guard import guarded, warn_once
from .core.names import normalize_uuid, split_project, validate_slug
from .core.params import flatten_params
from .core.run import Run
from .core.run_client import RunClient

__all__ = ["LightningNamespace", "LoggerMixin"]

FRAMEWORK = "lightning"


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a/b": 1}`` (metrics; parameters use :func:`flatten_params`)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}/"))
        else:
            flat[name] = value
    return flat


@dataclass(frozen=True)
class LightningNamespace:
    """What the logger needs from one Lightning namespace."""

    rank_zero_only: Any  # the namespace's ``rank_zero_only`` (its ``.rank`` is set by Lightning)
    model_summary: Callable[..., Any]  # ``utilities.model_summary.ModelSummary``
    scan_checkpoints: Callable[[Any, dict[str, float]], list[tuple[float, str, Any, str]]]
    dummy_experiment: Callable[[], Any]  # what ``experiment`` is on other ranks
    state_callback: type  # ``RunStateMixin`` with the namespace's ``Callback``
    trainer: type  # the namespace's ``Trainer`` (to find the checkpoint it is about to restore)

    @property
    def rank(self) -> int:
        return int(getattr(self.rank_zero_only, "rank", 0) or 0)


def _score(value: Any) -> float | None:
    if value is None:
        return None
    item = getattr(value, "item", None)
    return float(item() if callable(item) else value)


class LoggerMixin(MediaLoggerMixin):
    """Log a Lightning training to Polyaxon: metrics, hyperparameters, checkpoints, model summary, status.

    ``PolyaxonLogger`` in :mod:`polyaxon_integrations.lightning` and
    :mod:`polyaxon_integrations.pytorch_lightning` is this combined with that namespace's ``Logger``.
    The run starts when training does (rank zero only), with ``tracking.init`` and the arguments
    given here; in a Polyaxon-scheduled job it is the scheduled run. ``fit`` then ``test`` log into
    one run, which ends with the process (``succeeded``, ``failed`` on an exception, ``stopped`` on
    Ctrl-C) or with :meth:`end`. ``log_model``: ``False``; ``True`` logs the best and the last
    checkpoint at the end; ``"all"`` logs every checkpoint as it is saved.

    >>> logger = PolyaxonLogger(project="acme/mnist", tags=["cnn"], log_model="all")  # doctest: +SKIP
    >>> Trainer(logger=logger, max_epochs=3).fit(model)  # doctest: +SKIP
    """

    _lightning: ClassVar[LightningNamespace]

    def __init__(
        self,
        *,
        project: str | None = None,
        owner: str | None = None,
        run_uuid: str | None = None,
        is_new: bool | None = None,
        is_offline: bool | None = None,
        client: PolyaxonClient | RunClient | None = None,
        name: str | None = None,
        description: str | None = None,
        tags: str | list[str] | None = None,
        prefix: str = "",
        log_model: bool | Literal["all"] = False,
        save_dir: str | os.PathLike[str] = ".",
        end_on_finalize: bool = False,
        track_code: bool | None = None,
        track_env: bool | None = None,
        track_logs: bool | None = None,
        collect_resources: bool | None = None,
        end_timeout: float | None = None,
    ) -> None:
        """Keep the ``tracking.init`` arguments; the run starts when training does, on rank zero.

        ``project``, ``owner``, ``run_uuid``, ``is_new``, ``is_offline``, ``client``, ``name``,
        ``description``, ``tags``: as for ``tracking.init`` (none given: reuse a run the user
        started, else the scheduled run in a cluster, else the environment's project).
        ``prefix``: put before every metric name (``"train"`` -> ``train/loss``).
        ``log_model``: ``False``; ``True`` = the best and the last checkpoint when training
        ends; ``"all"`` = every checkpoint as ModelCheckpoint saves it (copied and uploaded by
        a worker thread). ``save_dir``: where Lightning writes checkpoints
        (``<save_dir>/<project>/<run uuid>/checkpoints``). ``end_on_finalize``: end the run when
        a stage succeeds (the official client's option) instead of at process end or ``end()``.
        ``track_code``, ``track_env``, ``track_logs``, ``collect_resources``, ``end_timeout``: as for
        ``tracking.init`` (the official logger takes them too, so migrated code keeps its arguments).
        The keywords are spelled out (not ``**options``) because LightningCLI reads them from the signature.
        """
        super().__init__()
        if log_model not in (True, False, "all"):
            raise ConfigError(f"log_model={log_model!r}: use False, True (best and last at the end) or 'all'.")
        if not isinstance(prefix, str):
            raise ConfigError(f"prefix={prefix!r}: expected a string such as 'train'.")
        if owner is not None:  # bad names fail here, not when training starts
            validate_slug(owner, "owner")
        if project is not None:
            split_project(project, owner)
        if run_uuid is not None:
            run_uuid = normalize_uuid(run_uuid)
        self._lazy = LazyRun(
            project=project,
            owner=owner,
            run_uuid=run_uuid,
            is_new=is_new,
            is_offline=is_offline,
            client=client,
            name=name,
            description=description,
            tags=tags,
            track_code=track_code,
            track_env=track_env,
            track_logs=track_logs,
            collect_resources=collect_resources,
            end_timeout=end_timeout,
        )
        wait_for_fork(self)
        self._prefix = prefix
        self._log_model: bool | Literal["all"] = log_model
        self._save_dir = os.fspath(save_dir)
        self._end_on_finalize = end_on_finalize
        self._reset_process_state()

    def _reset_process_state(self) -> None:
        """What lives in this process only: callbacks, the module, what was logged."""
        self._callbacks: dict[int, Any] = {}  # id -> ModelCheckpoint (weak proxies from Lightning)
        self._module: weakref.ref[Any] | None = None
        self._summarized: int | None = None  # id of the module whose summary was saved
        self._logged_model_time: dict[str, float] = {}  # checkpoint path -> mtime when logged
        self._logged_rel: dict[str, str] = {}  # checkpoint path -> where the run keeps its copy
        self._last_epoch: tuple[int | None, Any] = (None, None)  # (step, epoch) last logged
        self._next_step: dict[str, int] = {}  # name -> next step, for calls without one (Fabric's ``log``)
        self._seen: tuple[Any, int | None] = (None, None)  # the last (metrics, step) call
        self._state_callback: weakref.ref[Any] | None = None  # the trainer given a RunStateMixin callback
        self._looked_for_checkpoint = False  # for the checkpoint ``fit(ckpt_path=...)`` restores

    _PROCESS_STATE = (
        "_callbacks", "_module", "_summarized", "_logged_model_time", "_logged_rel", "_last_epoch", "_next_step",
        "_state_callback", "_seen", "_looked_for_checkpoint",
    )  # fmt: skip

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for a spawned worker (``ddp_spawn``): the run starts here first, so the parent knows it
        and every worker (and a later ``test`` in new workers) logs into that one run, as W&B's logger does
        (``ddp_fork`` pickles nothing: :func:`_before_fork` does the same there)."""
        if multiprocessing.context.get_spawning_popen() is not None and self._lightning.rank == 0:
            self._lazy.get()
        state = self.__dict__.copy()
        for key in self._PROCESS_STATE:
            state.pop(key, None)
        return state

    @classmethod
    def from_checkpoint(cls, checkpoint_path: str | os.PathLike[str], **kwargs: Any) -> Any:
        """A logger that continues the run a checkpoint of ours was saved in (``fit(ckpt_path=...)``
        in a new process: same run, steps go on). A checkpoint without our entry gives a new run.

        >>> ckpt = "mnist/<run uuid>/checkpoints/last.ckpt"  # doctest: +SKIP
        >>> Trainer(logger=PolyaxonLogger.from_checkpoint(ckpt)).fit(model, ckpt_path=ckpt)  # doctest: +SKIP
        """
        logger = cls(**kwargs)
        if "run_uuid" not in kwargs:
            logger._continue_from(checkpoint_path)
        return logger

    def _continue_from(self, checkpoint_path: str | os.PathLike[str]) -> None:
        """Continue the run a checkpoint of ours names (none named: nothing changes)."""
        named = checkpoint_run(checkpoint_path)
        if named is not None:
            self._lazy.continue_run(*named)

    def _continue_restored_checkpoint(self) -> None:
        """``fit(ckpt_path=...)`` with a logger told nothing of the run: continue the run the checkpoint names
        (looked for once, on the first use of the logger; anything unexpected means a new run, as before)."""
        path = None if self._lazy.named_elsewhere() else restoring_checkpoint(self._lightning.trainer)
        if path is None:
            return
        try:
            self._continue_from(path)
        except Exception as exc:  # not a checkpoint we can read: a new run, said once
            warn_once(
                f"lightning-ckpt-{path}",
                f"polyaxon-integrations: cannot read the run's id from {path} ({exc!r}); logging to a new run. "
                "Pass run_uuid= to continue the checkpoint's run.",
            )

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset_process_state()

    # --- what Lightning reads (cheap: none of these starts a run) -------------------

    @property
    def experiment(self) -> Run | Any:
        """The core :class:`~polyaxon_integrations.tracking.Run` on rank zero (started now if needed;
        after :meth:`end`, the ended run: reading it never starts another)."""
        run = self._run(reopen=False)
        return run if run is not None else self._lightning.dummy_experiment()

    @property
    def name(self) -> str:
        """The project: Lightning groups versions (runs) under it, as W&B's logger does."""
        run = self._lazy.run
        if run is not None:
            return run.project
        project = self._lazy.options.get("project")
        return str(project).rsplit("/", 1)[-1] if project else "polyaxon"

    @property
    def version(self) -> str | None:
        """The run's uuid (None before the run is known)."""
        run = self._lazy.run
        return run.run_uuid if run is not None else self._lazy.run_uuid

    @property
    def save_dir(self) -> str:
        """Where Lightning puts checkpoints: ``<save_dir>/<project>/<run uuid>/checkpoints``."""
        return self._save_dir

    @property
    def log_dir(self) -> str | None:
        """The run's local folder, once the run is known."""
        run = self._lazy.run
        return run.get_artifacts_path() if run is not None else None

    @property
    def run(self) -> Run | None:
        """The run if already started on this rank (never starts one)."""
        return self._lazy.run

    def _run(self, reopen: bool = True) -> Run | None:
        if self._lightning.rank != 0:
            return None
        if not self._lazy.resolved and not self._looked_for_checkpoint:
            self._looked_for_checkpoint = True
            self._continue_restored_checkpoint()
        return self._lazy.get(reopen)

    # --- hooks (rank zero; a tracking error never stops training) -------------------

    @guarded("lightning log_hyperparams")
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """Nested dicts, Namespaces, dataclasses; logging the same values again changes nothing."""
        run = self._run()
        if run is None or params is None:
            return
        if isinstance(params, Mapping):  # LightningCLI adds ``_instantiator`` (and its class path) to hparams
            params = {k: v for k, v in params.items() if not str(k).startswith("_")}
        flat = flatten_params(params)
        if flat:
            run.log_inputs(**flat)

    @guarded("lightning log_metrics")
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Called at every logged step: kept short (the run, once started, is taken as it is)."""
        run = self._lazy.run  # set on rank zero only
        if run is None or run.ended:
            run = self._run()
            if run is None:
                return
        if metrics is self._seen[0] and step == self._seen[1]:
            return  # the same call again: this logger is in the trainer's list twice
        self._seen = (metrics, step)
        values = dict(metrics)
        found = values.pop("step", None)
        if step is None and found is not None:
            step = int(found)
        if any(isinstance(v, Mapping) for v in values.values()):  # Fabric's log_dict takes nested dicts
            values = _flatten(values)
        epoch = (step, values.get("epoch"))
        if "epoch" in values and epoch == self._last_epoch:
            del values["epoch"]  # Lightning repeats it with every call; one point per step is enough
        self._last_epoch = epoch
        if self._prefix:
            values = {f"{self._prefix}/{key}": value for key, value in values.items()}
        if step is None:  # Fabric's ``log(name, value)``: each name counts its own steps
            for key in values:
                self._log_counted(run, key, values[key])
        elif values:  # ``values`` is our own dict: handed over as it is (a bad one is named, the others logged)
            run.log_dict(values, step)

    def _log_counted(self, run: Run, name: str, value: Any) -> None:
        step = self._next_step.get(name, 0)
        self._next_step[name] = step + 1
        run.log_dict({name: value}, step)

    @guarded("lightning log_graph")
    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """Save the model summary and parameter counts (once per model); Lightning calls this at each stage."""
        run = self._run()
        if run is None:
            return
        self._module = weakref.ref(model)
        self._attach_state_callback(getattr(model, "_trainer", None))
        if self._summarized == id(model):
            return
        self._summarized = id(model)
        summary = self._lightning.model_summary(model, max_depth=-1)
        run.log_file("model_summary.txt", str(summary))
        counts: dict[str, Any] = {
            "model/params_total": int(summary.total_parameters),
            "model/params_trainable": int(summary.trainable_parameters),
        }
        run.log_inputs(**counts)

    def _attach_state_callback(self, trainer: Any) -> None:
        """Add a callback that writes the run's id into every checkpoint the trainer saves (once per trainer)."""
        known = self._state_callback() if self._state_callback is not None else None
        if trainer is None or known is trainer:
            return
        self._state_callback = weakref.ref(trainer)
        if not any(isinstance(c, RunStateMixin) and c.lazy is self._lazy for c in trainer.callbacks):
            trainer.callbacks.append(self._lightning.state_callback(self._lazy))
        run = self._lazy.run
        if run is not None:
            self._save_cli_config(trainer, run)

    def _save_cli_config(self, trainer: Any, run: Run) -> None:
        """LightningCLI: the whole resolved config (trainer, model, data, seed) into inputs, and its
        ``config.yaml`` into the run. LightningCLI writes that file into ``trainer.log_dir``, which for a
        logger like ours is the shared ``save_dir``; it is moved into the run, so the next run of the same
        command does not stop on "config.yaml already exists"."""
        for callback in trainer.callbacks:  # LightningCLI's SaveConfigCallback (or a subclass), by what it holds
            parser, config = getattr(callback, "parser", None), getattr(callback, "config", None)
            filename = getattr(callback, "config_filename", None)
            if parser is None or config is None or not isinstance(filename, str) or not hasattr(parser, "dump"):
                continue
            text = parser.dump(config, skip_none=False)
            run.log_file(filename, text)
            values = config.as_dict() if hasattr(config, "as_dict") else dict(vars(config))
            values.pop("config", None)  # the paths of the files given with --config
            run.log_inputs(**flatten_params(values))
            written = Path(self._save_dir) / filename
            if trainer.loggers and trainer.loggers[0] is self and getattr(callback, "save_to_log_dir", False):
                try:
                    if written.is_file() and written.read_text() == text:
                        written.unlink()
                except OSError:
                    pass
            return

    @guarded("lightning after_save_checkpoint")
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """``log_model="all"``: log each new checkpoint now (copied and uploaded by the worker)."""
        if self._lightning.rank != 0 or not self._log_model:
            return
        self._callbacks[id(checkpoint_callback)] = checkpoint_callback
        run = self._run()
        if self._log_model == "all" and run is not None:
            self._log_new_checkpoints(run, checkpoint_callback)

    def _log_new_checkpoints(self, run: Run, callback: Any) -> None:
        step, epoch = self._progress(callback)
        for mtime, path, score, _tag in self._lightning.scan_checkpoints(callback, self._logged_model_time):
            name = "last" if path == getattr(callback, "last_model_path", None) else "checkpoint"
            summary = self._checkpoint_summary(callback, path, score, epoch)
            self._logged_rel[path] = run.log_model(path, name=name, framework=FRAMEWORK, step=step, summary=summary)
            self._logged_model_time[path] = mtime

    def _progress(self, callback: Any) -> tuple[int | None, int | None]:
        """The trainer's global step and epoch (the module Lightning gave ``log_graph`` knows its trainer)."""
        module = self._module() if self._module is not None else None
        trainer = getattr(module, "_trainer", None) if module is not None else None
        if trainer is not None:
            return int(trainer.global_step), int(trainer.current_epoch)
        step = getattr(callback, "_last_global_step_saved", None)
        return (int(step) if step is not None else None), None

    @staticmethod
    def _checkpoint_summary(callback: Any, path: str, score: Any, epoch: int | None) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "score": _score(score),
            "monitor": getattr(callback, "monitor", None),
            "mode": getattr(callback, "mode", None),
            "best": path == getattr(callback, "best_model_path", None),
            "filename": Path(path).name,
        }
        if epoch is not None:
            summary["epoch"] = epoch
        return summary

    def _log_final_checkpoints(self, run: Run) -> None:
        """``log_model=True``: the best and the last checkpoint; any mode: name the best one in the outputs."""
        for index, callback in enumerate(self._callbacks.values()):
            best = getattr(callback, "best_model_path", "") or ""
            best_score = _score(getattr(callback, "best_model_score", None))
            if self._log_model is True:
                self._log_best_and_last(run, callback, best, best_score)
            if index == 0 and best in self._logged_rel:
                best_outputs: dict[str, Any] = {
                    "checkpoint/best": self._logged_rel[best],
                    "checkpoint/best_score": best_score,
                }
                run.log_outputs(**best_outputs)

    def _log_best_and_last(self, run: Run, callback: Any, best: str, best_score: float | None) -> None:
        step, epoch = self._progress(callback)
        candidates = [p for p in (getattr(callback, "last_model_path", ""), best) if p and Path(p).is_file()]
        candidates += [p for p in getattr(callback, "best_k_models", {}) if Path(p).is_file()]
        if not candidates:
            return
        last = max(candidates, key=lambda p: Path(p).stat().st_mtime)
        chosen = [("best", best)] if best and Path(best).is_file() else []
        chosen.append(("last", last))
        for name, path in chosen:
            mtime = Path(path).stat().st_mtime
            if self._logged_model_time.get(f"{name}:{path}") == mtime:
                continue  # fit then test: unchanged, already logged
            score = best_score if name == "best" else _score(getattr(callback, "current_score", None))
            summary = {**self._checkpoint_summary(callback, path, score, epoch), "step": step}
            self._logged_rel[path] = run.log_model(path, name=name, framework=FRAMEWORK, summary=summary)
            self._logged_model_time[f"{name}:{path}"] = mtime

    @guarded("lightning finalize")
    def finalize(self, status: str) -> None:
        """``success`` keeps the run open (fit then test log into one run); errors end it.

        Lightning passes ``failed`` for every exception, KeyboardInterrupt included (then exits
        with status 1), so the exception being handled tells ``stopped`` from ``failed``.
        """
        if self._lightning.rank != 0:
            return
        run = self._lazy.run
        if run is None or run.ended:
            return
        if status == "failed":
            exc = sys.exc_info()[1]
            self._lazy.finish(exc, message=None if exc is not None else "Lightning reported a failure",
                              status=None if exc is not None else "failed")  # fmt: skip
            return
        if status == "success":
            self._log_final_checkpoints(run)
            if self._end_on_finalize or self._lazy.origin is Origin.HANDED:  # a worker: write and send it all
                self._lazy.finish()

    def end(self, status: str = "succeeded", message: str | None = None, timeout: float | None = None) -> bool:
        """End the run now (else the process does, as ``succeeded``/``failed``/``stopped``); idempotent."""
        run = self._lazy.run
        if run is None or self._lightning.rank != 0:
            return True
        return run.end(status, message=message, timeout=timeout)
