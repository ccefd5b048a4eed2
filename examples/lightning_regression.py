"""Lightning example: a small MLP trained on CPU, tracked in Polyaxon, then read back from the server.

    POLYAXON_HOST=http://127.0.0.1:31833 python examples/lightning_regression.py [--save-dir DIR]

Synthetic data (no downloads); checkpoints go to ``DIR/<project>/<run uuid>/checkpoints`` (default
``.tmp/checkpoints``). Logs hyperparameters, the loss curves with the trainer's steps, the
model summary and the best and last checkpoints; ``fit`` then ``test`` go into one run.
"""

from __future__ import annotations

import argparse

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from polyaxon_integrations.client import RunClient
from polyaxon_integrations.lightning import PolyaxonLogger


class Regressor(LightningModule):
    def __init__(self, hidden: int = 16, lr: float = 0.05, optimizer: dict[str, float] | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def _loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return nn.functional.mse_loss(self.net(x), y)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.log("val/loss", self._loss(batch), prog_bar=True)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.log("test/loss", self._loss(batch))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        momentum = (self.hparams.optimizer or {}).get("momentum", 0.0)
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=momentum)


def loader(n: int, seed: int, shuffle: bool = False) -> DataLoader[tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, :4].sum(1) - x[:, 4:].prod(1)).unsqueeze(1) + 0.05 * torch.randn(n, 1, generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=shuffle, generator=g)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--save-dir", default=".tmp/checkpoints", help="where Lightning writes checkpoints")
    args = parser.parse_args()
    torch.manual_seed(0)
    logger = PolyaxonLogger(
        project="lightning-demo",
        name="mlp-regression",
        tags=["demo", "lightning"],
        log_model=True,
        save_dir=args.save_dir,
    )
    checkpoint = ModelCheckpoint(monitor="val/loss", save_top_k=2, save_last=True)
    trainer = Trainer(
        logger=logger,
        callbacks=[checkpoint],
        max_epochs=6,
        log_every_n_steps=4,
        accelerator="cpu",
        devices=1,
        enable_progress_bar=False,
    )
    model = Regressor(hidden=16, lr=0.05, optimizer={"momentum": 0.9})
    trainer.fit(model, loader(512, seed=1, shuffle=True), loader(128, seed=2))
    trainer.test(model, loader(128, seed=3))
    run = logger.experiment
    logger.end()

    # Read it back from the server, as anyone opening the run would see it.
    client = RunClient(owner=run.owner, project=run.project, run_uuid=run.run_uuid)
    data = client.refresh_data()
    print(f"run {data['uuid']} ({data['name']}): status={data['status']}")
    print(f"  inputs:  {data['inputs']}")
    print(f"  outputs: {data['outputs']}")
    api = client.client
    curves = api.get_metrics(run.owner, run.project, run.run_uuid, ["train__loss", "val__loss", "epoch"])
    for name, series in sorted(curves.items()):
        print(f"  {name}: {len(series['step'])} points, steps {series['step'][0]}..{series['step'][-1]}")
    for entry in api.get_lineage(run.owner, run.project, run.run_uuid):
        if entry["kind"] in ("model", "file"):
            summary = entry.get("summary") or {}
            print(f"  {entry['kind']} {entry['name']}: {entry['path']} score={summary.get('score')}")
    print(f"  UI:      {run.url}")
    print(f"  curves:  {run.dashboard_url()}")


if __name__ == "__main__":
    main()
