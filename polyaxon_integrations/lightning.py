"""Polyaxon tracking for Lightning (the ``lightning.pytorch`` namespace).

>>> from lightning.pytorch import Trainer  # doctest: +SKIP
>>> from polyaxon_integrations.lightning import PolyaxonLogger  # doctest: +SKIP
>>> Trainer(logger=PolyaxonLogger(project="acme/mnist", log_model=True)).fit(model)  # doctest: +SKIP

For the ``pytorch_lightning`` namespace use :mod:`polyaxon_integrations.pytorch_lightning`;
both share one implementation (:mod:`polyaxon_integrations._lightning_impl`).
"""

from __future__ import annotations

try:
    from lightning.fabric.loggers.logger import _DummyExperiment
    from lightning.fabric.utilities.rank_zero import rank_zero_only
    from lightning.pytorch import Trainer
    from lightning.pytorch.callbacks import Callback
    from lightning.pytorch.loggers.logger import Logger
    from lightning.pytorch.loggers.utilities import _scan_checkpoints
    from lightning.pytorch.utilities.model_summary.model_summary import ModelSummary
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "polyaxon_integrations.lightning needs Lightning: pip install 'polyaxon-integrations[lightning]'"
    ) from exc

from ._lightning_continuity import RunStateMixin
from ._lightning_impl import LightningNamespace, LoggerMixin

__all__ = ["PolyaxonCallback", "PolyaxonLogger"]


class _RunState(RunStateMixin, Callback):
    """Writes the run's id into the trainer's checkpoints (added by the logger)."""


class PolyaxonLogger(LoggerMixin, Logger):
    """The Polyaxon logger in the ``lightning.pytorch`` namespace; see ``LoggerMixin``."""

    _lightning = LightningNamespace(
        rank_zero_only=rank_zero_only,
        model_summary=ModelSummary,
        scan_checkpoints=_scan_checkpoints,
        dummy_experiment=_DummyExperiment,
        state_callback=_RunState,
        trainer=Trainer,
    )


#: The official client's name (``polyaxon.tracking.contrib.pytorch_lightning.PolyaxonCallback``).
PolyaxonCallback = PolyaxonLogger
