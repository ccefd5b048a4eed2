"""PolyaxonLogger rich calls against the sandbox: `watch` histograms at the trainer steps, images, tables, text."""

from __future__ import annotations

import json
from typing import Any

import lightning.pytorch as L
import numpy as np
import pytest
import torch

from polyaxon_integrations import lightning as pl_adapter
from polyaxon_integrations.client import PolyaxonClient
from tests.core.rich_helpers import read_asset, read_events
from tests.lightning.tiny import data, module_class, trainer

pytest.importorskip("PIL")


class Samples(L.Callback):
    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        logger = trainer.logger
        step = trainer.global_step
        logger.log_image("samples", [torch.rand(3, 8, 8), np.random.rand(8, 6, 3)], step=step)
        logger.log_image("one", torch.zeros(1, 5, 7), step=step)
        logger.log_table("preds", columns=["x", "label"], data=[[1, "a|b"], [2, "c"]], step=step)
        logger.log_text("notes", f"epoch {trainer.current_epoch}", step=step)


def test_watch_images_tables_text(host: str, api: PolyaxonClient, project: str) -> None:
    logger = pl_adapter.PolyaxonLogger(project=project)
    model = module_class(L)()
    logger.watch(model, log="all", log_freq=2)
    trainer(L, logger, callbacks=[Samples()], enable_checkpointing=False).fit(model, data(), data())
    run = logger.run
    assert run is not None
    assert run.end()
    uuid = run.run_uuid
    names = ["gradients__net.0.weight", "parameters__net.0.weight", "parameters__net.1.bias"]
    hist = read_events(api, project, uuid, "histogram", names)
    assert sorted(hist) == sorted(names)
    for name in names:
        assert hist[name]["step"] == [0, 2, 4, 6], name  # 2 epochs x 4 batches, every 2nd trainer step
        for value in hist[name]["histogram"]:
            payload = json.loads(value)
            assert len(payload["counts"]) == len(payload["values"]) + 1 == 65
    first = json.loads(hist["parameters__net.0.weight"]["histogram"][0])
    assert sum(first["values"]) == 12  # every weight of Linear(4, 3) counted once

    images = read_events(api, project, uuid, "image", ["samples__0", "samples__1", "one"])
    assert images["samples__0"]["step"] == [4, 8]
    assert [json.loads(v)["width"] for v in images["samples__1"]["image"]] == [6, 6]  # HWC guessed
    assert json.loads(images["one"]["image"][0]) == {
        "height": 5, "width": 7, "colorspace": 3, "path": "assets/image/one_4.png"
    }  # fmt: skip
    assert read_asset(api, project, uuid, "assets/image/one_4.png")[:4] == b"\x89PNG"
    tables = read_events(api, project, uuid, "dataframe", ["preds"])
    path = json.loads(tables["preds"]["dataframe"][0])["path"]
    assert read_asset(api, project, uuid, path).decode().splitlines() == [",x,label", "0,1,a|b", "1,2,c"]
    text = read_events(api, project, uuid, "text", ["notes"])
    assert text["notes"]["text"] == ["epoch 0", "epoch 1"]
    logger.unwatch()


def test_watch_refuses_bad_arguments(project: str) -> None:
    logger = pl_adapter.PolyaxonLogger(project=project, is_offline=True)
    with pytest.raises(ValueError, match="log="):
        logger.watch(torch.nn.Linear(2, 2), log="weights")
    logger.end()


def test_watch_on_a_plain_module_counts_its_forwards(project: str) -> None:
    from polyaxon_integrations import tracking
    from polyaxon_integrations._torch_watch import watch

    run = tracking.init(project=project, is_offline=True)
    assert run is not None
    net = torch.nn.Linear(3, 2)
    watcher = watch(run, net, log="gradients", log_freq=3)
    for _ in range(7):
        net(torch.randn(4, 3)).sum().backward()
    net.eval()
    net(torch.randn(1, 3))  # not a training step
    watcher.remove()
    net.train()
    net(torch.randn(4, 3)).sum().backward()  # unwatched
    run.end()
    rows = (run.folder.path / "events/histogram/gradients__weight.plx").read_text().split("\n")[1:]
    assert [int(r.split("|")[0]) for r in rows] == [3, 6]
