"""Gradient and parameter histograms of a torch module, every ``log_freq`` training steps (W&B's ``watch``).

One implementation for every adapter (Lightning ``watch``, transformers ``POLYAXON_WATCH``). torch
is never imported here: the module and its tensors bring it. A training step is a forward call of
the watched module in training mode; parameters are logged at the first forward of a due step and
gradients as backward computes them. CPU tensors are copied and binned on the writer thread; tensors
on an accelerator are binned there (``torch.histc``) and only the bins come back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .core.exceptions import ConfigError
from .core.guard import guarded

if TYPE_CHECKING:
    from .core.run import Run

__all__ = ["WATCH_MODES", "Watcher", "watch"]

WATCH_MODES = ("gradients", "parameters", "all")
BINS = 64


def _log(run: Run, name: str, tensor: Any, step: int) -> None:
    tensor = tensor.detach()
    if tensor.numel() == 0:
        return
    device = getattr(getattr(tensor, "device", None), "type", "cpu")
    if device == "cpu":
        run.log_histogram(name, tensor, bins=BINS, step=step)
        return
    values = tensor.float()
    finite = values[values.isfinite()]
    if finite.numel() == 0:
        return
    low, high = float(finite.min()), float(finite.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    counts = finite.histc(bins=BINS, min=low, max=high).cpu().tolist()
    edges = [low + (high - low) * i / BINS for i in range(BINS + 1)]
    run.log_np_histogram(name, counts, edges, step=step)


class Watcher:
    """Hooks on one module; ``remove()`` takes them off."""

    def __init__(
        self, run: Run, model: Any, log: str, log_freq: int, step: Callable[[], int] | None = None, prefix: str = ""
    ) -> None:
        if log not in WATCH_MODES:
            raise ConfigError(f"watch log={log!r}: use one of {', '.join(WATCH_MODES)}.")
        if not isinstance(log_freq, int) or log_freq < 1:
            raise ConfigError(f"watch log_freq={log_freq!r}: use a positive number of steps.")
        self.run, self.log, self.log_freq = run, log, log_freq
        self._step_fn = step
        self._prefix = prefix
        self._calls = 0
        self._logged_params = -1
        self._params = list(model.named_parameters())
        self._handles: list[Any] = []
        if step is None:  # count the module's own training forwards
            self._handles.append(model.register_forward_pre_hook(self._count))
        if log in ("parameters", "all"):
            # on every module holding parameters: a LightningModule's own forward may never run
            for module in model.modules():
                if next(module.parameters(recurse=False), None) is not None:
                    self._handles.append(module.register_forward_pre_hook(self._pre_forward))
        if log in ("gradients", "all"):
            for name, param in self._params:
                if param.requires_grad:
                    self._handles.append(param.register_hook(self._grad_hook(name)))

    def step(self) -> int:
        return self._step_fn() if self._step_fn is not None else self._calls

    def _due(self) -> bool:
        return self.step() % self.log_freq == 0

    def _count(self, module: Any, args: Any) -> None:
        if module.training:
            self._calls += 1

    @guarded("watch (parameter histograms)")
    def _pre_forward(self, module: Any, args: Any) -> None:
        if not module.training or self.run.ended:
            return
        step = self.step()
        if step % self.log_freq == 0 and self._logged_params != step:
            self._logged_params = step
            for name, param in self._params:
                _log(self.run, f"{self._prefix}parameters/{name}", param, step)

    def _grad_hook(self, name: str) -> Callable[[Any], None]:
        @guarded("watch (gradient histograms)")
        def hook(grad: Any) -> None:
            if self.run.ended or not self._due():
                return
            _log(self.run, f"{self._prefix}gradients/{name}", grad, self.step())

        return hook

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def watch(
    run: Run, model: Any, log: str = "gradients", log_freq: int = 100, step: Callable[[], int] | None = None
) -> Watcher:
    """Log histograms of ``model``'s gradients, parameters or both every ``log_freq`` training steps."""
    return Watcher(run, model, log, log_freq, step)
