"""The transformers adapter in this process: a tiny BERT trained on CPU, everything read back from the sandbox."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from transformers import Trainer, TrainerCallback

from polyaxon_integrations import tracking
from polyaxon_integrations.core import env
from polyaxon_integrations.core.client import PolyaxonClient
from polyaxon_integrations.core.guard import PolyaxonWarning
from polyaxon_integrations.transformers import PolyaxonCallback
from tests.transformers import tiny

STEPS = 8  # 32 samples / batch 8 * 2 epochs


def statuses(api: PolyaxonClient, project: str, uuid: str) -> list[str]:
    return [c["type"] for c in api.get_statuses("default", project, uuid).get("status_conditions") or []]


def runs(api: PolyaxonClient, project: str) -> list[dict[str, Any]]:
    return sorted(api.list_runs("default", project), key=lambda r: r["created_at"])


def series(api: PolyaxonClient, project: str, uuid: str, *names: str) -> dict[str, list[tuple[int, float]]]:
    served = api.get_metrics("default", project, uuid, names)
    return {name: list(zip(s["step"], s["metric"], strict=True)) for name, s in served.items()}


def history(trainer: Trainer, name: str) -> list[tuple[int, float]]:
    """What transformers itself recorded for ``name``, one row per step and value (as we log it)."""
    rows: list[tuple[int, float]] = []
    for entry in trainer.state.log_history:
        if name in entry and (entry["step"], entry[name]) not in rows[-1:]:
            rows.append((entry["step"], entry[name]))
    return rows


class Boom(TrainerCallback):  # type: ignore[misc]
    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == 3:
            raise RuntimeError("boom at step 3")


def test_report_to_logs_inputs_metrics_and_status(
    host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(env.PROJECT, project)
    trainer = tiny.trainer(str(tmp_path / "out"), run_name="baseline", hub_token="hf_do_not_log")
    assert sum(isinstance(cb, PolyaxonCallback) for cb in trainer.callback_handler.callbacks) == 1
    trainer.train()

    (data,) = runs(api, project)
    uuid = data["uuid"]
    assert data["name"] == "baseline" and data["status"] == "succeeded"
    assert statuses(api, project, uuid) == ["created", "running", "succeeded"]
    inputs = data["inputs"]
    assert inputs["learning_rate"] == 0.01 and inputs["num_train_epochs"] == 2 and inputs["run_name"] == "baseline"
    assert inputs["report_to"] == ["polyaxon"] and "hf_do_not_log" not in str(inputs)
    assert inputs["model/hidden_size"] == 8 and inputs["model/model_type"] == "bert"
    assert inputs["model/num_parameters"] == trainer.model.num_parameters() == 1250

    names = ["loss", "grad_norm", "learning_rate", "epoch", "eval_loss", "eval_runtime", "train_loss", "total_flos"]
    served = series(api, project, uuid, *names)
    for name in names:
        assert served[name] == history(trainer, name), name
    assert [step for step, _ in served["loss"]] == [2, 4, 6, 8]
    assert [step for step, _ in served["eval_loss"]] == [4, 8]  # once each, though evaluate() reports it twice
    assert data["outputs"]["train_loss"] == history(trainer, "train_loss")[-1][1]

    # evaluate() after train() logs into the same run; non-numbers are skipped with one warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = trainer.evaluate(tiny.Tokens(16, seed=2), metric_key_prefix="test")
        trainer.log({"note": "not a number", "custom": 3, "a|b": 1.0})
        trainer.log({"note": "still not", "custom": 4, "a|b": 2.0})
    ours = [str(w.message) for w in caught if issubclass(w.category, PolyaxonWarning)]
    assert len([m for m in ours if "note" in m]) == 1 and len([m for m in ours if "'a|b'" in m]) == 1, ours
    assert tracking.end() is True
    (again,) = runs(api, project)
    assert again["uuid"] == uuid and again["status"] == "succeeded"
    served = series(api, project, uuid, "test_loss", "custom", "note")
    assert served["test_loss"] == [(STEPS, metrics["test_loss"])]
    assert served["custom"] == [(STEPS, 3), (STEPS, 4)]
    assert "note" not in served


@dataclass
class LoraConfig:
    """Shaped like peft's (a dataclass per adapter name in ``model.peft_config``); peft itself is not installed."""

    r: int = 4
    target_modules: list[str] = field(default_factory=lambda: ["query", "value"])


def test_callback_argument_checkpoints_and_peft(host: str, api: PolyaxonClient, project: str, tmp_path: Path) -> None:
    callback = PolyaxonCallback(project=project, log_model="checkpoint")
    trainer = tiny.trainer(
        str(tmp_path / "out"), callbacks=[callback], report_to="none", save_strategy="steps", save_steps=4
    )
    trainer.model.peft_config = {"default": LoraConfig()}
    trainer.train()
    (data,) = runs(api, project)
    assert data["status"] == "succeeded" and data["name"] != "None"
    assert data["inputs"]["peft/default/r"] == 4
    assert data["inputs"]["peft/default/target_modules"] == ["query", "value"]
    lineage = {(e["kind"], e["name"]): e for e in api.get_lineage("default", project, data["uuid"])}
    for step in (4, 8):
        entry = lineage["model", f"checkpoint-{step}"]
        assert entry["summary"]["step"] == step and entry["summary"]["framework"] == "transformers"
        assert entry["summary"]["path"] == f"assets/model/checkpoint_{step}"
        url = f"{host}/streams/v1/polyaxon/default/{project}/runs/{data['uuid']}/artifacts/tree"
        files = api.request("GET", url, params={"path": f"assets/model/checkpoint_{step}"})["files"]
        local = tmp_path / "out" / f"checkpoint-{step}"
        assert files["model.safetensors"] == (local / "model.safetensors").stat().st_size
        assert "config.json" in files and "trainer_state.json" in files


def test_final_model_from_the_environment(
    host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(env.PROJECT, project)
    monkeypatch.setenv(env.LOG_MODEL, "end")
    tiny.trainer(str(tmp_path / "out"), num_train_epochs=1).train()
    (data,) = runs(api, project)
    lineage = {(e["kind"], e["name"]): e for e in api.get_lineage("default", project, data["uuid"])}
    assert lineage["model", "model"]["summary"]["path"] == "outputs/last"
    assert not any(name.startswith("checkpoint") for _, name in lineage)
    url = f"{host}/streams/v1/polyaxon/default/{project}/runs/{data['uuid']}/artifacts/tree"
    assert "model.safetensors" in api.request("GET", url, params={"path": "outputs/last"})["files"]


def test_evaluate_alone_is_a_run_too(
    host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(env.PROJECT, project)
    metrics = tiny.trainer(str(tmp_path / "out"), run_name="eval-only").evaluate()
    assert tracking.end() is True
    (data,) = runs(api, project)
    assert data["name"] == "eval-only" and data["status"] == "succeeded"
    assert data["inputs"]["model/num_parameters"] == 1250
    assert series(api, project, data["uuid"], "eval_loss")["eval_loss"] == [(0, metrics["eval_loss"])]


def test_a_run_the_user_started_is_reused_and_left_open(
    host: str, api: PolyaxonClient, project: str, tmp_path: Path
) -> None:
    run = tracking.init(project=project, name="mine")
    assert run is not None
    trainer = tiny.trainer(str(tmp_path / "out"), num_train_epochs=1)
    trainer.train()
    trainer.evaluate(tiny.Tokens(16, seed=2), metric_key_prefix="test")
    assert tracking.get_run() is run and not run.ended  # the user's run: the user ends it
    run.log_outputs(note="mine")
    assert run.end() is True
    (data,) = runs(api, project)
    assert data["uuid"] == run.run_uuid and data["status"] == "succeeded" and data["outputs"]["note"] == "mine"
    assert data["inputs"]["model/num_parameters"] == 1250
    served = series(api, project, run.run_uuid, "loss", "test_loss")
    assert [s for s, _ in served["loss"]] == [2, 4] and [s for s, _ in served["test_loss"]] == [4]


def test_bad_log_model_is_an_error_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env.LOG_MODEL, "always")
    with pytest.raises(ValueError, match="POLYAXON_LOG_MODEL='always'"):
        PolyaxonCallback()


def test_train_that_raises_is_failed_and_the_next_train_is_a_new_run(
    host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(env.PROJECT, project)
    boom = Boom()
    trainer = tiny.trainer(str(tmp_path / "out"), callbacks=[boom], run_name="retry")
    with pytest.raises(RuntimeError, match="boom"):
        trainer.train()  # transformers calls no hook; the next train() (or the process end) says failed
    trainer.remove_callback(boom)
    trainer.train()
    first, second = runs(api, project)
    assert first["status"] == "failed" and second["status"] == "succeeded"
    assert "raised" in api.get_statuses("default", project, first["uuid"])["status_conditions"][-1]["message"]
    assert [s for s, _ in series(api, project, first["uuid"], "loss")["loss"]] == [2]
    assert [s for s, _ in series(api, project, second["uuid"], "loss")["loss"]] == [2, 4, 6, 8]


def test_a_tracking_error_never_stops_training(host: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(env.RERAISE, "false")
    trainer = tiny.trainer(str(tmp_path / "out"), callbacks=[PolyaxonCallback(project="not a name!")], report_to="none")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train()
    assert trainer.state.global_step == STEPS
    ours = [str(w.message) for w in caught if issubclass(w.category, PolyaxonWarning)]
    assert len(ours) == 1 and "on_train_begin failed: InvalidNameError" in ours[0]  # tried once, not per log


def test_hyperparameter_search_gives_one_run_per_trial(
    host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("optuna")
    monkeypatch.setenv(env.PROJECT, project)
    trainer = Trainer(
        model_init=tiny.model,  # no argument: transformers passes the trial to one that takes one
        args=tiny.arguments(str(tmp_path / "out"), run_name="search", num_train_epochs=1),
        train_dataset=tiny.Tokens(32),
        eval_dataset=tiny.Tokens(16, seed=1),
    )

    def space(trial: Any) -> dict[str, Any]:
        return {"learning_rate": trial.suggest_float("learning_rate", 1e-3, 1e-2, log=True)}

    trainer.hyperparameter_search(hp_space=space, n_trials=2, direction="minimize", backend="optuna")
    tracking.end()
    trials = runs(api, project)
    assert [r["name"] for r in trials] == ["search-trial-0", "search-trial-1"]
    for run in trials:
        assert run["status"] == "succeeded"
        assert run["inputs"]["trial/learning_rate"] == run["inputs"]["learning_rate"]
        assert series(api, project, run["uuid"], "eval_loss")["eval_loss"][-1][0] == STEPS // 2
    assert trials[0]["inputs"]["learning_rate"] != trials[1]["inputs"]["learning_rate"]


def test_pruned_trials_end_stopped(
    host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    optuna = pytest.importorskip("optuna")
    monkeypatch.setenv(env.PROJECT, project)
    trainer = Trainer(
        model_init=tiny.model,
        args=tiny.arguments(str(tmp_path / "out"), run_name="pruned", num_train_epochs=2),
        train_dataset=tiny.Tokens(32),
        eval_dataset=tiny.Tokens(16, seed=1),
    )

    def space(trial: Any) -> dict[str, Any]:
        return {"learning_rate": trial.suggest_float("learning_rate", 1e-3, 1e-2, log=True)}

    class PruneSecond(optuna.pruners.BasePruner):  # type: ignore[misc]
        def prune(self, study: Any, trial: Any) -> bool:
            return bool(trial.number == 1)  # asked after epoch 1 of 2 (step 4)

    trainer.hyperparameter_search(
        hp_space=space, n_trials=2, direction="minimize", backend="optuna", pruner=PruneSecond()
    )
    kept, pruned = runs(api, project)
    assert (kept["name"], pruned["name"]) == ("pruned-trial-0", "pruned-trial-1")
    assert kept["status"] == "succeeded" and pruned["status"] == "stopped"
    message = api.get_statuses("default", project, pruned["uuid"])["status_conditions"][-1]["message"]
    assert "Pruned by the hyperparameter search at step 4" in message
    assert [s for s, _ in series(api, project, pruned["uuid"], "eval_loss")["eval_loss"]] == [4]
    assert [s for s, _ in series(api, project, kept["uuid"], "eval_loss")["eval_loss"]] == [4, 8]


def test_run_uuid_from_the_environment_continues_that_run(
    host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``report_to="polyaxon"`` takes no arguments: ``POLYAXON_RUN_UUID`` names the run (as ``WANDB_RUN_ID``)."""
    earlier = tracking.init(project=project, name="earlier")
    assert earlier is not None
    earlier.log_metrics(step=0, loss=1.0)
    earlier.end()
    monkeypatch.setenv(env.PROJECT, project)
    monkeypatch.setenv(env.RUN_UUID, earlier.run_uuid)
    tiny.trainer(str(tmp_path / "out"), num_train_epochs=1).train()
    (data,) = runs(api, project)
    assert data["uuid"] == earlier.run_uuid and data["status"] == "succeeded"
    assert [s for s, _ in series(api, project, earlier.run_uuid, "loss")["loss"]] == [0, 2, 4]
    assert statuses(api, project, earlier.run_uuid)[-2:] == ["running", "succeeded"]
