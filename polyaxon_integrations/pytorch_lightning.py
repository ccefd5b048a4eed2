"""Polyaxon tracking for PyTorch Lightning (the ``pytorch_lightning`` namespace).

>>> from pytorch_lightning import Trainer  # doctest: +SKIP
>>> from polyaxon_integrations.pytorch_lightning import PolyaxonLogger  # doctest: +SKIP
>>> Trainer(logger=PolyaxonLogger(project="acme/mnist", log_model=True)).fit(model)  # doctest: +SKIP

For the ``lightning.pytorch`` namespace use :mod:`polyaxon_integrations.lightning`;
both share one implementation (:mod:`polyaxon_integrations._lightning_impl`).
"""

from __future__ import annotations

try:
    from lightning_fabric.loggers.logger import _DummyExperiment
    from lightning_fabric.utilities.rank_zero import rank_zero_only
    from pytorch_lightning import Trainer
    from pytorch_lightning.callbacks import Callback
    from pytorch_lightning.loggers.logger import Logger
    from pytorch_lightning.loggers.utilities import _scan_checkpoints
    from pytorch_lightning.utilities.model_summary.model_summary import ModelSummary
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "polyaxon_integrations.pytorch_lightning needs PyTorch Lightning: "
        "pip install 'polyaxon-integrations[pytorch-lightning]'"
    ) from exc

from ._lightning_continuity import RunStateMixin
from ._lightning_impl import LightningNamespace, LoggerMixin

__all__ = ["PolyaxonCallback", "PolyaxonLogger"]


class _RunState(RunStateMixin, Callback):
    """Writes the run's id into the trainer's checkpoints (added by the logger)."""


class PolyaxonLogger(LoggerMixin, Logger):
    """The Polyaxon logger in the ``pytorch_lightning`` namespace; see ``LoggerMixin``."""

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
