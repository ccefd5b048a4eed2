"""A Lightning DDP script (2 CPU processes) that also calls ``tracking.init()`` itself, on every rank.

Lightning's launcher starts the second process with ``LOCAL_RANK=1``/``NODE_RANK=0``/``WORLD_SIZE=2``:
the core's rule and Lightning's rank zero must agree, so the logger reuses rank 0's run and nothing of
rank 1 is logged.

    python lightning_mixed.py OUT PROJECT
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from polyaxon_integrations import tracking
from polyaxon_integrations.lightning import PolyaxonLogger


class Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(4, 1)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def main() -> None:
    out, project = Path(sys.argv[1]), sys.argv[2]
    run = tracking.init(project=project)  # every process; Lightning's children get LOCAL_RANK
    x = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))
    loader = DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", max_epochs=1, logger=PolyaxonLogger(), log_every_n_steps=1,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(Tiny(), loader)
    tracking.log_metrics(step=0, done=float(trainer.global_rank))  # the script's own metric, on every rank
    rank = trainer.global_rank
    local = os.environ.get("LOCAL_RANK")
    record = {"run": type(run).__name__, "uuid": run.run_uuid if run else None, "env_local_rank": local}
    (out / f"rank{rank}.json").write_text(json.dumps(record))
    tracking.end()


if __name__ == "__main__":
    main()
