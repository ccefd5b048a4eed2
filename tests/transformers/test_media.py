"""``POLYAXON_WATCH`` on the transformers adapter: gradient/parameter histograms at global steps, from the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyaxon_integrations.core import env
from polyaxon_integrations.core.client import PolyaxonClient
from tests.core.rich_helpers import read_events
from tests.transformers import tiny


@pytest.mark.parametrize("mode", ["all", "gradients"])
def test_polyaxon_watch_logs_histograms(
    host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mode: str
) -> None:
    monkeypatch.setenv(env.PROJECT, project)
    monkeypatch.setenv(env.WATCH, mode)
    monkeypatch.setenv(env.WATCH_LOG_FREQ, "4")
    trainer = tiny.trainer(str(tmp_path / "out"))
    trainer.train()
    (data,) = api.list_runs("default", project)
    name = "classifier.weight"
    served = read_events(api, project, data["uuid"], "histogram", [f"gradients__{name}", f"parameters__{name}"])
    assert served[f"gradients__{name}"]["step"] == [0, 4]  # 8 optimizer steps, every 4th (global_step before it)
    weights = trainer.model.classifier.weight
    if mode == "all":
        assert served[f"parameters__{name}"]["step"] == [0, 4]
        first = json.loads(served[f"parameters__{name}"]["histogram"][0])
        assert sum(first["values"]) == weights.numel()
    else:
        assert f"parameters__{name}" not in served
    hooks = sum(len(p._backward_hooks or {}) for p in trainer.model.parameters())
    assert hooks == 0  # removed at the end of train()


def test_no_watch_by_default(
    host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(env.PROJECT, project)
    tiny.trainer(str(tmp_path / "out")).train()
    (data,) = api.list_runs("default", project)
    assert read_events(api, project, data["uuid"], "histogram", ["gradients__classifier.weight"]) == {}
