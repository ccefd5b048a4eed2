"""A LightningCLI script for the tests: ``python -m tests.integrations.cli fit --config CONFIG``."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as L
from lightning.pytorch.cli import LightningCLI

from tests.integrations.models import Tiny, data


class TinyData(L.LightningDataModule):
    def __init__(self, batch_size: int = 8) -> None:
        super().__init__()
        self.batch_size = batch_size

    def train_dataloader(self) -> Any:
        return data()


if __name__ == "__main__":
    LightningCLI(Tiny, TinyData)
