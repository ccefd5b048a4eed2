"""Hugging Face transformers: ``TrainingArguments(report_to="polyaxon")`` or ``callbacks=[PolyaxonCallback()]``.

>>> args = TrainingArguments("out", report_to="polyaxon", run_name="baseline")  # doctest: +SKIP
>>> Trainer(model, args, train_dataset=data).train()  # doctest: +SKIP

transformers builds ``report_to`` callbacks without arguments, so they are configured by the
environment: the project by ``POLYAXON_PROJECT`` (or any other context source: in-cluster, the
CLI's files), the run name by ``args.run_name``, model logging by ``POLYAXON_LOG_MODEL``
(``false``, ``end``, ``checkpoint``). Only world process zero logs.

Metrics keep the names transformers gives them (``loss``, ``eval_loss``, ``train_runtime``,
``test_accuracy``...) at ``step = global_step``, as in ``trainer.state.log_history``. Each
``train()`` is one run (each trial of a hyperparameter search too), ended ``succeeded`` at its
end, or ``failed`` if it raises (at the next ``train()`` or at process exit, since transformers
has no hook for it); an ``evaluate()``/``predict()`` after it logs into the same run, which the
process end (or ``tracking.end()``) then closes. A run started with ``tracking.init()`` is used
instead and left for its owner to end. Importing this module registers ``"polyaxon"``;
installing the package does too (see :mod:`polyaxon_integrations._autoload`).
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

from .core import env, process
from .core.adapter import LazyRun
from .core.events import InvalidValueError, to_number
from .core.exceptions import ConfigError
from .core.guard import guarded, warn_once
from .core.params import flatten_params

if TYPE_CHECKING:
    from transformers.trainer_callback import TrainerControl, TrainerState
    from transformers.training_args import TrainingArguments

    from .core.run import Run

__all__ = ["PolyaxonCallback", "register"]

_LOG_MODEL = ("false", "end", "checkpoint")
_RAISED = "Trainer.train() raised before it ended"


class PolyaxonCallback(TrainerCallback):
    """Logs a ``Trainer``'s inputs, metrics, checkpoints and status to Polyaxon, from world process zero only.

    ``run`` (or ``tracking.init`` arguments such as ``project``) says where; otherwise a run started
    with ``tracking.init()`` is reused, or one is started from the context (``POLYAXON_PROJECT``...).
    ``log_model``: ``"false"``, ``"end"`` (final or best model) or ``"checkpoint"`` (every save).

    >>> Trainer(model, args, callbacks=[PolyaxonCallback(project="acme/bert")])  # doctest: +SKIP
    """

    def __init__(self, run: Run | None = None, *, log_model: str | bool | None = None, **init_kwargs: Any) -> None:
        self._init_kwargs = init_kwargs
        self._lazy = LazyRun(run, **init_kwargs)
        self._given = run is not None  # a run handed to us is the caller's to end...
        self._owned = False  # ...and so is a tracking.init() run we reuse: we end only the runs we started
        self._training = False
        self._finished: dict[str, str] | None = None  # the run a train() ended, for an evaluate() after it
        self._trials = 0
        self._broken = False  # starting the run failed in this train(): warned once, not retried per log
        self._last: dict[str, tuple[int, float | int]] = {}  # name -> (step, value) of its last row
        self.log_model = _log_model(log_model)

    @property
    def run(self) -> Run | None:
        """The run logged to (None before training starts), as the Keras and Lightning adapters have it."""
        return self._lazy.run

    # --- the run -------------------------------------------------------------------------------

    def _open(self, args: TrainingArguments, state: TrainerState, model: Any, *, new: bool) -> Run | None:
        """The run to log into: a new one per ``train()`` (and per trial); the same one for an evaluate after it."""
        current = self._lazy.run
        if current is not None and not current.ended and not new:
            return current
        if self._broken and not new:
            return None
        reopen = not new and self._finished is not None
        if new and current is not None and not current.ended:  # a previous train() or its evaluate()
            self._end(current, "failed" if self._training else "succeeded", _RAISED if self._training else None)
        if not self._given:
            kwargs = dict(self._init_kwargs)
            if reopen:
                kwargs.update(self._finished or {})
            elif state.is_hyper_param_search or state.trial_params is not None:
                self._trials += 1
                prefix = f"{args.run_name}-" if args.run_name else ""
                kwargs.update(name=state.trial_name or f"{prefix}trial-{self._trials - 1}", is_new=True)
            elif args.run_name:
                kwargs.setdefault("name", args.run_name)
            self._lazy = LazyRun(**kwargs)
        self._finished = None
        from . import tracking

        before = tracking.get_run()
        self._broken = True
        run = self._lazy.get()
        self._broken = False
        if run is None:
            return None
        self._owned = not self._given and run is not before
        if not reopen:
            self._last = {}
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

    def _end(self, run: Run, status: str, message: str | None = None) -> None:
        if self._owned and not run.ended:
            run.end(status, message=message)

    # --- hooks (world process zero only; a tracking error never stops training) ---------------

    @guarded("transformers on_train_begin")
    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model: Any = None, **kwargs: Any
    ) -> None:
        if state.is_world_process_zero:
            run = self._open(args, state, model, new=True)
            self._training = True
            if run is not None and self._owned:  # train() has no failure hook: a normal exit before its end fails
                process.mark_unfinished(run, _RAISED)
            if run is not None:
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
        run = self._open(args, state, model, new=False)
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
                run.log_metrics(step=step, **numbers)
            except ConfigError as exc:  # a name the server cannot store (',' or '|'): the core logged the others
                warn_once(f"transformers-metric:{exc}", f"polyaxon-integrations: {exc}")

    @guarded("transformers on_save")
    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        run = self._lazy.run
        if state.is_world_process_zero and self.log_model == "checkpoint" and run is not None and not run.ended:
            folder = _checkpoint(args.output_dir, state.global_step)
            if folder is not None:  # copied and uploaded by the run's worker threads
                run.log_model(folder, name="checkpoint", framework="transformers", step=state.global_step)

    @guarded("transformers on_train_end")
    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model: Any = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero:
            return
        self._training = False
        watcher, self._watcher = getattr(self, "_watcher", None), None
        if watcher is not None:
            watcher.remove()
        run = self._lazy.run
        if run is None or run.ended:
            return
        process.mark_unfinished(run, None)
        try:
            if self.log_model == "end":
                _log_final_model(run, args, state, model, kwargs.get("processing_class") or kwargs.get("tokenizer"))
        finally:
            if self._owned:
                self._finished = {"run_uuid": run.run_uuid, "project": run.project, "owner": run.owner}
                run.end("succeeded")


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
