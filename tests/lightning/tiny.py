"""A tiny regression model and trainer in either Lightning namespace, for the tests and their subprocesses.

    python -m tests.lightning.tiny MODE NAMESPACE PROJECT

MODE: ``interrupt`` (Ctrl-C in a training step) or ``ddp`` (two CPU processes); neither calls
``end()``. Prints ``uuid=<run uuid>`` from rank zero; fails if the other namespace was imported.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

BATCHES = 4  # per epoch
BATCH_SIZE = 8


@dataclass
class Optim:
    name: str = "sgd"
    momentum: float = 0.0


def namespace(name: str) -> tuple[ModuleType, type]:
    """(``lightning.pytorch`` or ``pytorch_lightning``, its PolyaxonLogger)."""
    pl = importlib.import_module(name)
    adapter = importlib.import_module(
        "polyaxon_integrations.lightning" if name == "lightning.pytorch" else "polyaxon_integrations.pytorch_lightning"
    )
    return pl, adapter.PolyaxonLogger


def data() -> DataLoader[Any]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCHES * BATCH_SIZE, 4, generator=g)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=BATCH_SIZE)


def module_class(pl: ModuleType) -> type:
    class Tiny(pl.LightningModule):  # type: ignore[name-defined,misc]
        def __init__(
            self, lr: float = 0.1, optim: Optim | None = None, sizes: dict[str, Any] | None = None, fail_at: int = -1
        ) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 1))
            self.fail_at = fail_at
            self.interrupt = False  # fail with Ctrl-C rather than an exception

        def step(self, batch: Any) -> torch.Tensor:
            x, y = batch
            return nn.functional.mse_loss(self.net(x), y)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            if self.global_step == self.fail_at:
                raise KeyboardInterrupt if self.interrupt else RuntimeError("boom in training_step")
            loss = self.step(batch)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("val_loss", self.step(batch), sync_dist=True)

        def test_step(self, batch: Any, batch_idx: int) -> None:
            self.log("test_loss", self.step(batch))

        def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            return self.net(batch[0])

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    return Tiny


def trainer(pl: ModuleType, logger: Any, **kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "max_epochs": 2,
        "log_every_n_steps": 1,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "accelerator": "cpu",
        "devices": 1,
        "num_sanity_val_steps": 0,
    }
    options.update(kwargs)
    return pl.Trainer(logger=logger, **options)


def main(mode: str, ns: str, project: str) -> None:
    pl, logger_class = namespace(ns)
    other = "pytorch_lightning" if ns == "lightning.pytorch" else "lightning"
    logger = logger_class(project=project, log_model="all")
    checkpoint = pl.callbacks.ModelCheckpoint(monitor="val_loss", save_top_k=1)
    options: dict[str, Any] = {"callbacks": [checkpoint]}
    if mode == "ddp":
        options.update(strategy="ddp", devices=2)
    model = module_class(pl)(fail_at=3 if mode == "interrupt" else -1)
    model.interrupt = mode == "interrupt"
    fit = trainer(pl, logger, **options)
    assert other not in sys.modules, f"{ns} imported {other}"
    try:
        fit.fit(model, data(), data())
    finally:
        if fit.global_rank == 0 and logger.run is not None:
            print(f"uuid={logger.run.run_uuid}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
