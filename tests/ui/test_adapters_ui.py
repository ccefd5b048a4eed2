"""Runs logged by the framework adapters, as Polyaxon's own UI shows them.

Each test trains a tiny model for real, checks the client's local record against what the
framework reported, then holds the UI to it: run page (name, status, inputs, outputs) and a
step-axis dashboard whose data requests must return every point.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.ui.browser import ExpectedRun, UIPage, check_run_in_ui, metrics_logged_locally

os.environ.setdefault("KERAS_BACKEND", "torch")  # before anything imports keras (the keras tests do the same)
os.environ.setdefault("KERAS_HOME", tempfile.mkdtemp(prefix="keras-home-"))

pytestmark = [pytest.mark.server, pytest.mark.browser]


def test_lightning_run_in_the_ui(host: str, project: str, ui: UIPage, ui_out: Path, tmp_path: Path) -> None:
    import lightning.pytorch as pl

    from polyaxon_integrations.lightning import PolyaxonLogger
    from tests.lightning.tiny import data, module_class, trainer

    logger = PolyaxonLogger(project=project, name="lightning-ui", save_dir=tmp_path, log_model=True)
    checkpoint = pl.callbacks.ModelCheckpoint(monitor="val_loss", save_top_k=1)
    model = module_class(pl)(lr=0.05)
    fit = trainer(pl, logger, max_epochs=3, callbacks=[checkpoint])
    fit.fit(model, data(), data())
    run = logger.run
    assert run is not None and logger.end() is True

    metrics = metrics_logged_locally(run.get_artifacts_path())
    assert [step for step, _ in metrics["train_loss"]] == list(range(12))  # 3 epochs x 4 batches, every step
    assert len(metrics["val_loss"]) == 3
    assert metrics["val_loss"][-1][1] == pytest.approx(float(fit.callback_metrics["val_loss"]))
    want = ExpectedRun.of(
        run,
        inputs={"lr": 0.05, "model/params_total": 19},
        outputs={
            "val_loss": metrics["val_loss"][-1][1],
            "checkpoint/best": "outputs/" + Path(checkpoint.best_model_path).name,
        },
        metrics=metrics,
        exact=False,
    )
    check_run_in_ui(ui, want, ui_out)


def test_keras_run_in_the_ui(host: str, project: str, ui: UIPage, ui_out: Path) -> None:
    import keras
    import numpy as np

    from polyaxon_integrations.keras import PolyaxonCallback

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    callback = PolyaxonCallback(project=project, name="keras-ui", log_model="best")
    history = model.fit(x, y, batch_size=16, epochs=5, validation_split=0.25, verbose=0, callbacks=[callback]).history
    run = callback.run
    assert run is not None and run.end() is True

    metrics = metrics_logged_locally(run.get_artifacts_path())
    for name in ("loss", "mae", "val_loss", "val_mae"):
        assert metrics[name] == [(epoch, pytest.approx(value)) for epoch, value in enumerate(history[name])]
    want = ExpectedRun.of(
        run,
        inputs={"epochs": 5, "num_params": 49, "optimizer/class": "Adam"},  # Keras gives callbacks no batch size
        outputs={"val_loss": metrics["val_loss"][-1][1], "loss": metrics["loss"][-1][1]},
        metrics=metrics,
        exact=False,
    )
    check_run_in_ui(ui, want, ui_out)


def test_transformers_run_in_the_ui(
    host: str, project: str, ui: UIPage, ui_out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polyaxon_integrations import tracking
    from tests.transformers.tiny import trainer

    monkeypatch.setenv("POLYAXON_PROJECT", project)
    hf = trainer(str(tmp_path / "out"), run_name="transformers-ui", logging_steps=1)  # report_to="polyaxon"
    hf.train()
    run = tracking.get_run()
    assert run is not None and run.name == "transformers-ui" and run.status == "succeeded"

    metrics = metrics_logged_locally(run.get_artifacts_path())
    logged = [entry for entry in hf.state.log_history if "loss" in entry]
    assert [step for step, _ in metrics["loss"]] == [entry["step"] for entry in logged] == list(range(1, 9))
    assert [value for _, value in metrics["loss"]] == pytest.approx([entry["loss"] for entry in logged])
    assert [step for step, _ in metrics["eval_loss"]] == [4, 8]
    want = ExpectedRun.of(
        run,
        inputs={"learning_rate": 0.01, "num_train_epochs": 2, "model/hidden_size": 8},
        outputs={"eval_loss": metrics["eval_loss"][-1][1]},
        metrics={name: points for name, points in metrics.items() if name in ("loss", "eval_loss", "learning_rate")},
        exact=False,
    )
    check_run_in_ui(ui, want, ui_out)
