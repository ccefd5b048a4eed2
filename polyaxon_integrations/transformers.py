"""Hugging Face transformers: ``TrainingArguments(report_to="polyaxon")`` or ``callbacks=[PolyaxonCallback()]``.

>>> args = TrainingArguments("out", report_to="polyaxon", run_name="baseline")  # doctest: +SKIP
>>> Trainer(model, args, train_dataset=data).train()  # doctest: +SKIP

transformers builds ``report_to`` callbacks without arguments, so they are configured by the
environment: the project by ``POLYAXON_PROJECT`` (or any other context source: in-cluster, the
CLI's files), the run name by ``args.run_name``, model logging by ``POLYAXON_LOG_MODEL``
(``false``, ``end``, ``checkpoint``). Only world process zero logs.

Metrics keep the names transformers gives them (``loss``, ``eval_loss``, ``train_runtime``,
``test_accuracy``...) at ``step = global_step``, as in ``trainer.state.log_history``. Each
``train()`` is one run (each trial of a hyperparameter search too), ended by the core's ownership
rule (:mod:`polyaxon_integrations.core.adapter`): ``succeeded`` at its end, ``stopped`` for a
trial the search pruned, ``failed`` if it raises (at the next ``train()`` or at process exit,
since transformers has no hook for it); an ``evaluate()``/``predict()`` after it continues the
same run. ``train(resume_from_checkpoint=...)`` continues the run the checkpoint's
``trainer_state.json`` names (also in a new process), and ``POLYAXON_RUN_UUID`` names a run to
continue. A run started with ``tracking.init()`` is used instead and left for its owner to end.
Importing this module registers ``"polyaxon"``; installing the package does too (see
:mod:`polyaxon_integrations._autoload`).
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

try:
    from transformers.trainer_callback import TrainerCallback
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "polyaxon_integrations.transformers needs transformers: pip install 'polyaxon-integrations[transformers]'"
    ) from exc
try:
    from transformers.trainer_callback import ExportableState
except ImportError:  # pragma: no cover - transformers < 4.41 saves no callback state
    ExportableState = object  # type: ignore[misc,assignment]

from .core import env, process
from .core.adapter import LazyRun, Origin
from .core.events import InvalidValueError, to_number
from .core.exceptions import ConfigError
from .core.guard import guarded, warn_once
from .core.names import normalize_uuid
from .core.options import clean_options
from .core.params import flatten_params

if TYPE_CHECKING:
    from transformers.trainer_callback import TrainerControl, TrainerState
    from transformers.training_args import TrainingArguments
    from typing_extensions import Unpack

    from .core.options import InitOptions
    from .core.run import Run

__all__ = ["PolyaxonCallback", "register"]

_LOG_MODEL = ("false", "end", "checkpoint")
_RAISED = "Trainer.train() raised before it ended"
_SAVED_OPTIONS = ("owner", "project", "name", "description", "tags", "is_offline", "end_timeout", "track_code",
                  "track_env", "track_logs", "collect_resources")  # fmt: skip  # JSON-able, for trainer_state.json


class PolyaxonCallback(TrainerCallback, ExportableState):
    """Logs a ``Trainer``'s inputs, metrics, checkpoints and status to Polyaxon, from world process zero only.

    ``run`` (or ``tracking.init`` options such as ``project``) says where; otherwise a run started
    with ``tracking.init()`` is reused, or one is started from the context (``POLYAXON_PROJECT``...).
    ``log_model``: ``"false"``, ``"end"`` (final or best model) or ``"checkpoint"`` (every save).
    The run's id is saved in each checkpoint (``trainer_state.json``), so
    ``train(resume_from_checkpoint=...)`` in a new process continues the same run.

    >>> Trainer(model, args, callbacks=[PolyaxonCallback(project="acme/bert")])  # doctest: +SKIP
    """

    def __init__(
        self, run: Run | None = None, *, log_model: str | bool | None = None, **options: Unpack[InitOptions]
    ) -> None:
        self._options = clean_options(dict(options))
        if run is not None and any(v is not None for v in options.values()):
            raise ConfigError("Pass either run= (log to that run) or where to log (project=, run_uuid=...), not both.")
        self._given = run
        self._lazy = LazyRun(run, **self._options)
        self._train_state: Any = None  # the TrainerState of the train() in progress (hooks come twice if passed twice)
        self._ended_state: Any = None  # ...and of the last train() ended
        self._saved_step: int | None = None
        self._trials = 0
        self._broken = False  # starting the run failed in this train(): warned once, not retried per log
        self._last: dict[str, tuple[int, float | int]] = {}  # name -> (step, value) of its last row
        self.log_model = _log_model(log_model)

    @property
    def run(self) -> Run | None:
        """The run logged to (None before training starts), as the Keras and Lightning adapters have it."""
        return self._lazy.run

    def state(self) -> dict[str, Any]:
        """What ``trainer_state.json`` keeps of us in each checkpoint: the run, so a resume continues it."""
        args: dict[str, Any] = {k: v for k, v in self._options.items() if k in _SAVED_OPTIONS}
        if self._lazy.run_uuid is not None and self._lazy.origin is not Origin.USER:
            run = self._lazy.run
            args.update(run_uuid=self._lazy.run_uuid)
            if run is not None:
                args.update(owner=run.owner, project=run.project)
        if isinstance(args.get("tags"), tuple | set):
            args["tags"] = list(args["tags"])
        return {"args": {**args, "log_model": self.log_model}, "attributes": {}}

    # --- the run -------------------------------------------------------------------------------

    def _new_train(self, args: TrainingArguments, state: TrainerState) -> LazyRun:
        """The run of this ``train()``: the one its checkpoint names, a trial's own, or a new one."""
        if self._given is not None:
            return LazyRun(self._given)
        options: dict[str, Any] = dict(self._options)
        saved = _saved_run(state) if state.global_step > 0 else None  # resumed from a checkpoint of ours
        if saved is not None:
            lazy = LazyRun(**options)
            lazy.continue_run(saved.get("owner"), saved.get("project"), saved["run_uuid"])
            return lazy
        if state.is_hyper_param_search or state.trial_params is not None:
            self._trials += 1
            prefix = f"{args.run_name}-" if args.run_name else ""
            options.update(name=state.trial_name or f"{prefix}trial-{self._trials - 1}", is_new=True)
        elif args.run_name:
            options.setdefault("name", args.run_name)
        return LazyRun(**options)

    def _get(self) -> Run | None:
        """The run (continued if a train() ended it: an evaluate() after it logs there too)."""
        if self._broken:
            return None
        self._broken = True
        run = self._lazy.get()
        self._broken = False
        return run

    def _first_use(self, args: TrainingArguments, state: TrainerState, model: Any) -> Run | None:
        """An ``evaluate()``/``predict()`` with no ``train()`` before: its own run, named and described."""
        if self._lazy.run_uuid is None and self._given is None and args.run_name:
            named: dict[str, Any] = {"name": args.run_name, **self._options}
            self._lazy = LazyRun(**named)
        run = self._get()
        if run is not None:
            self._log_inputs(run, args, state, model)
        return run

    def _log_inputs(self, run: Run, args: TrainingArguments, state: TrainerState, model: Any) -> None:
        # to_dict() masks tokens; flatten_params keeps None and lists (to_sanitized_dict() makes them strings)
        inputs = flatten_params(args.to_dict())  # type: ignore[no-untyped-call]
        config = getattr(model, "config", None)
        if config is not None:  # to_dict(), not the dataclass fields: it adds model_type and transformers_version
            inputs.update(flatten_params(config.to_dict() if hasattr(config, "to_dict") else config, prefix="model"))
        if model is not None and hasattr(model, "num_parameters"):
            inputs["model/num_parameters"] = model.num_parameters()
        if getattr(model, "peft_config", None):
            inputs.update(flatten_params(model.peft_config, prefix="peft"))
        if state.trial_params:
            inputs.update(flatten_params(state.trial_params, prefix="trial"))
        run.log_inputs(**inputs)

    # --- hooks (world process zero only; a tracking error never stops training) ---------------

    @guarded("transformers on_train_begin")
    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model: Any = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero or state is self._train_state:  # passed twice: once is enough
            return
        if self._train_state is not None:  # the previous train() raised: transformers has no hook for that
            self._lazy.finish(status="failed", message=_RAISED)
        self._train_state = state
        self._lazy = self._new_train(args, state)
        self._broken = False
        run = self._get()
        if run is None:
            return
        self._last = {}
        self._log_inputs(run, args, state, model)
        if self._lazy.owned:  # train() has no failure hook: a normal exit before its end fails the run
            process.mark_unfinished(run, _RAISED)
        self._watcher = _watch(run, model, state)

    @guarded("transformers on_log")
    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: Any = None,
        model: Any = None,
        **kw: Any,
    ) -> None:
        if state.is_world_process_zero and logs:
            self._log(args, state, model, logs)

    @guarded("transformers on_evaluate")
    def on_evaluate(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, metrics: Any = None, **kw: Any
    ) -> None:
        if state.is_world_process_zero and metrics:
            self._log(args, state, kw.get("model"), metrics)

    on_predict = on_evaluate  # test_* metrics after predict(); same arguments

    def _log(self, args: TrainingArguments, state: TrainerState, model: Any, values: dict[str, Any]) -> None:
        """Numbers at ``global_step``; a row equal to the last one of its name is skipped, since
        ``evaluate()`` hands the same values to ``on_log`` and ``on_evaluate`` and every log repeats ``epoch``."""
        run = self._first_use(args, state, model) if not self._lazy.resolved else self._get()
        step, numbers = state.global_step, {}
        for name, value in values.items():
            try:
                number = to_number(name, value)
            except InvalidValueError:
                warn_once(
                    f"transformers-not-a-number:{name}",
                    f"polyaxon-integrations: {name}={value!r} is not a number; it is not logged.",
                )
                continue
            if self._last.get(name) != (step, number):
                self._last[name] = (step, number)
                numbers[name] = number
        if run is not None and numbers:
            try:
                run.log_dict(numbers, step)
            except ConfigError as exc:  # a name the server cannot store (',' or '|'): the core logged the others
                warn_once(f"transformers-metric:{exc}", f"polyaxon-integrations: {exc}")

    @guarded("transformers on_save")
    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        run = self._lazy.run
        if not state.is_world_process_zero or self.log_model != "checkpoint" or run is None or run.ended:
            return
        if self._saved_step == state.global_step:
            return
        self._saved_step = state.global_step
        folder = _checkpoint(args.output_dir, state.global_step)
        if folder is not None:  # copied and uploaded by the run's worker threads
            run.log_model(folder, name="checkpoint", framework="transformers", step=state.global_step)

    @guarded("transformers on_train_end")
    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model: Any = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero or state is not self._train_state:
            return
        self._train_state = None
        watcher, self._watcher = getattr(self, "_watcher", None), None
        if watcher is not None:
            watcher.remove()
        run = self._lazy.run
        if run is None or run.ended:
            return
        process.mark_unfinished(run, None)
        # An optuna trial the search prunes ends here, before its last step, and then raises TrialPruned.
        pruned = (
            state.is_hyper_param_search and not control.should_training_stop and state.global_step < state.max_steps
        )
        try:
            if self.log_model == "end" and not pruned:
                _log_final_model(run, args, state, model, kwargs.get("processing_class") or kwargs.get("tokenizer"))
        finally:
            if pruned:
                self._lazy.finish(
                    status="stopped", message=f"Pruned by the hyperparameter search at step {state.global_step}"
                )
            else:
                self._lazy.finish()


def _saved_run(state: TrainerState) -> dict[str, str] | None:
    """The run a checkpoint of ours names (``trainer_state.json``'s ``stateful_callbacks``), if any."""
    saved = (getattr(state, "stateful_callbacks", None) or {}).get(PolyaxonCallback.__name__)
    entry = saved[0] if isinstance(saved, list) and saved else saved
    args = entry.get("args") if isinstance(entry, dict) else None
    if not isinstance(args, dict) or not isinstance(args.get("run_uuid"), str):
        return None
    try:
        return {
            **{k: v for k, v in args.items() if k in ("owner", "project")},
            "run_uuid": normalize_uuid(args["run_uuid"]),
        }
    except ConfigError:
        return None


def _watch(run: Run, model: Any, state: TrainerState) -> Any:
    """``POLYAXON_WATCH=gradients|parameters|all`` (the ``WANDB_WATCH`` values; ``false`` or unset: off):
    histograms every ``POLYAXON_WATCH_LOG_FREQ`` optimizer steps."""
    mode = (env.read_str(env.WATCH) or "false").lower()
    if mode in ("false", "0", "no", "off") or model is None or not hasattr(model, "named_parameters"):
        return None
    from ._torch_watch import watch

    log_freq = env.read_float(env.WATCH_LOG_FREQ, 100)
    return watch(run, model, mode, int(log_freq), step=lambda: state.global_step)


def _log_model(value: str | bool | None) -> str:
    if value is None:
        value = env.read_str(env.LOG_MODEL) or "false"
    if isinstance(value, bool):
        return "end" if value else "false"
    lowered = value.strip().lower()
    if lowered in _LOG_MODEL:
        return lowered
    raise ConfigError(f"log_model / {env.LOG_MODEL}={value!r}: use one of {', '.join(_LOG_MODEL)}.")


def _checkpoint(output_dir: str | None, step: int) -> str | None:
    """The folder the Trainer just saved (under ``output_dir``, or a trial's sub-folder in a search)."""
    if output_dir is None:
        return None
    name = f"checkpoint-{step}"
    candidates = [os.path.join(output_dir, name)]
    if os.path.isdir(output_dir):
        candidates += [os.path.join(output_dir, sub, name) for sub in os.listdir(output_dir)]
    found = [c for c in candidates if os.path.isdir(c)]
    return max(found, key=os.path.getmtime) if found else None


def _log_final_model(run: Run, args: TrainingArguments, state: TrainerState, model: Any, processing_class: Any) -> None:
    """The best checkpoint if it was loaded at the end, else the one saved at the last step, else a new save."""
    best = state.best_model_checkpoint
    if args.load_best_model_at_end and best and os.path.isdir(best):
        run.log_model(best, name="model", framework="transformers", summary={"best_metric": state.best_metric})
        return
    last = _checkpoint(args.output_dir, state.global_step)
    if last is not None:
        run.log_model(last, name="model", framework="transformers")
        return
    folder = os.path.join(args.output_dir or ".", "last")  # as DVCLive does: the final weights, beside the checkpoints
    model.save_pretrained(folder)
    if processing_class is not None and hasattr(processing_class, "save_pretrained"):
        processing_class.save_pretrained(folder)
    run.log_model(folder, name="model", framework="transformers")


def register(module: Any = None) -> None:
    """Make ``report_to="polyaxon"`` valid: add us to transformers' table of integrations (idempotent)."""
    if module is None:
        module = importlib.import_module("transformers.integrations.integration_utils")
    module.INTEGRATION_TO_CALLBACK.setdefault("polyaxon", PolyaxonCallback)


register()
