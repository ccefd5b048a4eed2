"""A diverged Lightning run (issue 15): NaN losses, `checkpoint/best_score=inf`; every point reaches the server."""

from __future__ import annotations

import json
from pathlib import Path

import lightning.pytorch as L

from polyaxon_integrations import lightning as pl_adapter
from polyaxon_integrations.client import PolyaxonClient
from tests.lightning.tiny import BATCHES, data, module_class, trainer


def test_diverged_run_reaches_the_server_with_its_final_status(host: str, api: PolyaxonClient, project: str) -> None:
    logger = pl_adapter.PolyaxonLogger(project=project, log_model=True)
    checkpoint = L.callbacks.ModelCheckpoint(monitor="val_loss", save_top_k=1)
    fit = trainer(L, logger, callbacks=[checkpoint], max_epochs=3)
    fit.fit(module_class(L)(lr=1e12), data(), data())  # the loss overflows to inf, then NaN
    run = logger.run
    assert run is not None and logger.end() is True
    uuid = run.run_uuid
    served = api.get_run("default", project, uuid)
    assert served["status"] == "succeeded"
    assert served["outputs"]["checkpoint/best_score"] in ("Infinity", "NaN")  # Lightning's score for a NaN monitor
    assert served["outputs"]["val_loss"] in ("Infinity", "NaN")
    steps = 3 * BATCHES
    metrics = api.get_metrics("default", project, uuid, ["train_loss", "val_loss"])
    assert metrics["train_loss"]["step"] == list(range(steps)) and len(metrics["val_loss"]["step"]) == 3
    lineage = {(e["kind"], e["name"]): e for e in api.get_lineage("default", project, uuid)}
    scores = [e["summary"].get("score") for (kind, _), e in lineage.items() if kind == "model"]
    assert scores and all(s in ("Infinity", "NaN") for s in scores)
    local = json.loads((Path(run.get_artifacts_path()) / "run.plx.json").read_text())
    assert local["outputs"] == served["outputs"]
