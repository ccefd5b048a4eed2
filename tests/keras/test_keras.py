"""PolyaxonCallback with real Keras 3 training (torch backend, CPU) against the real sandbox.

Everything asserted is read back from the server: metrics per epoch and per batch, inputs,
the model summary and best/final models in lineage, statuses when ``fit`` succeeds, raises or
is interrupted (those in subprocesses: statuses are set when the process ends).
"""

from __future__ import annotations

import copy
import os
import pickle
import random
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from polyaxon_integrations import tracking
from polyaxon_integrations.core import env
from polyaxon_integrations.core.client import PolyaxonClient
from polyaxon_integrations.core.exceptions import ConfigError, InvalidNameError
from polyaxon_integrations.core.guard import PolyaxonWarning
from polyaxon_integrations.core.run import Run
from polyaxon_integrations.keras import PolyaxonCallback
from tests.faults import run_then_fault

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept:DeprecationWarning")  # Keras
ROOT = Path(__file__).resolve().parents[2]
LR = 0.05
TRAIN, VAL, BATCH = 48, 16, 16  # validation_split=0.25 of 64 samples: 3 training steps per epoch


def data(n: int = TRAIN + VAL, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], dtype="float32") + 0.3)[:, None]
    return x, y


def small_model(lr: Any = LR, metrics: list[Any] | None = None, extra: keras.layers.Layer | None = None) -> keras.Model:
    keras.utils.set_random_seed(0)
    layers = [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    if extra is not None:
        layers.insert(1, extra)
    model = keras.Sequential(layers, name="tiny")
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse", metrics=metrics or ["mae"])
    return model


def fit(model: keras.Model, callback: PolyaxonCallback, epochs: int, **kwargs: Any) -> dict[str, list[float]]:
    x, y = data()
    history = model.fit(
        x, y, batch_size=BATCH, epochs=epochs, validation_split=0.25, verbose=0, callbacks=[callback], **kwargs
    )
    return history.history  # type: ignore[no-any-return]


def served(api: PolyaxonClient, run: Run, *names: str) -> dict[str, dict[str, list[Any]]]:
    return api.get_metrics(run.owner, run.project, run.run_uuid, names)


def lineage(api: PolyaxonClient, run: Run) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["kind"], e["name"]): e for e in api.get_lineage(run.owner, run.project, run.run_uuid)}


def validation_loss(path: Path) -> float:
    """The saved model's loss on the validation split (the rows ``validation_split`` held out)."""
    x, y = data()
    model = keras.saving.load_model(path)
    return float(model.evaluate(x[TRAIN:], y[TRAIN:], batch_size=VAL, verbose=0, return_dict=True)["loss"])


def test_fit_logs_inputs_epochs_batches_summary_and_best_model(host: str, api: PolyaxonClient, project: str) -> None:
    callback = PolyaxonCallback(project=project, name="fit", tags=["keras"], log_model="best", log_every_n_steps=2)
    history = fit(small_model(), callback, epochs=4)
    run = callback.run
    assert run is not None and run.end() is True
    assert "tensorflow" not in sys.modules

    series = served(api, run, "loss", "mae", "val_loss", "val_mae", "learning_rate", "batch__loss", "batch__mae")
    for name in ("loss", "mae", "val_loss", "val_mae"):
        assert series[name]["step"] == [0, 1, 2, 3]  # Keras's epoch index, as History counts
        assert series[name]["metric"] == history[name]  # the very floats Keras reported
    assert series["learning_rate"]["metric"] == [float(np.float32(LR))] * 4
    # 3 optimizer steps per epoch, every 2nd logged on the batch axis (Keras dispatches these off-thread)
    assert series["batch__loss"]["step"] == series["batch__mae"]["step"] == [2, 4, 6, 8, 10, 12]

    inputs = api.get_run(run.owner, run.project, run.run_uuid)["inputs"]
    assert "batch_size" not in inputs  # Keras gives callbacks no batch size (we read no frames)
    assert {k: inputs[k] for k in ("epochs", "steps_per_epoch", "num_params", "loss", "model")} == {
        "epochs": 4,
        "steps_per_epoch": 3,
        "num_params": 4 * 8 + 8 + 8 + 1,
        "loss": "mse",
        "model": "tiny",
    }
    assert inputs["optimizer/class"] == "Adam" and inputs["optimizer/beta_1"] == 0.9
    assert inputs["learning_rate"] == pytest.approx(LR) and inputs["keras/backend"] == keras.backend.backend()

    entries = lineage(api, run)
    best = entries["model", "best"]
    val_loss = history["val_loss"]
    assert best["path"] == "outputs/best.keras"
    assert best["summary"]["framework"] == "keras" and best["summary"]["monitor"] == "val_loss"
    assert best["summary"]["score"] == min(val_loss) and best["summary"]["epoch"] == val_loss.index(min(val_loss))
    assert entries["file", "model_summary"]["path"] == "outputs/model_summary.txt"
    folder = Path(run.get_artifacts_path())
    assert "Trainable params: 49 " in (folder / "outputs/model_summary.txt").read_text()
    url = f"{host}/streams/v1/polyaxon/{run.owner}/{run.project}/runs/{run.run_uuid}/artifacts/tree"
    files = api.request("GET", url, params={"path": "outputs"})["files"]
    assert files["best.keras"] == (folder / "outputs/best.keras").stat().st_size
    assert validation_loss(folder / "outputs/best.keras") == pytest.approx(min(val_loss), rel=1e-5)


def test_several_fits_continue_one_run_and_keep_the_best(host: str, api: PolyaxonClient, project: str) -> None:
    model = small_model()
    callback = PolyaxonCallback(project=project, log_model="best")
    first = fit(model, callback, epochs=2)
    second = fit(model, callback, epochs=4, initial_epoch=2)  # Keras-style resume: epochs 2 and 3
    model.optimizer.learning_rate = 5.0  # then a third fit that diverges: the best model must stay
    third = fit(model, callback, epochs=2)  # restarts at epoch 0: logged after the last step instead
    x, y = data()
    result = model.evaluate(x, y, verbose=0, callbacks=[callback], return_dict=True)
    run = callback.run
    assert run is not None and run.end() is True

    assert [r["uuid"] for r in api.list_runs("default", project)] == [run.run_uuid]
    series = served(api, run, "val_loss", "learning_rate", "eval__loss")
    val_loss = first["val_loss"] + second["val_loss"] + third["val_loss"]
    assert series["val_loss"]["step"] == list(range(6)) and series["val_loss"]["metric"] == val_loss
    assert series["learning_rate"]["metric"][4:] == [5.0, 5.0]  # the current rate, not the one at the start
    assert series["eval__loss"] == {
        "step": [5],
        "timestamp": series["eval__loss"]["timestamp"],
        "metric": [result["loss"]],
    }

    best = lineage(api, run)["model", "best"]["summary"]
    assert min(third["val_loss"]) > min(val_loss[:4])
    assert best["score"] == min(val_loss[:4]) and best["epoch"] == val_loss.index(min(val_loss[:4]))
    assert validation_loss(Path(run.get_artifacts_path()) / "outputs/best.keras") == pytest.approx(
        best["score"], rel=1e-5
    )


class Jitter(keras.callbacks.Callback):  # type: ignore[misc]
    """An async-safe callback that takes a random while: Keras's thread pool then runs batch hooks out of order."""

    async_safe = True

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        time.sleep(random.random() * 0.004)


def test_batch_rows_stay_in_step_order_when_keras_runs_hooks_out_of_order(
    host: str, api: PolyaxonClient, project: str
) -> None:
    callback = PolyaxonCallback(project=project, log_every_n_steps=1)
    x, y = data(200)
    small_model().fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[Jitter(), callback])
    run = callback.run
    assert run is not None and run.end() is True
    assert served(api, run, "batch__loss")["batch__loss"]["step"] == list(range(1, 101))  # every row, in order


def test_existing_run_schedule_and_final_model(host: str, api: PolyaxonClient, project: str) -> None:
    run = tracking.init(project=project, name="mine")
    assert run is not None
    schedule = keras.optimizers.schedules.ExponentialDecay(LR, decay_steps=3, decay_rate=0.5)
    callback = PolyaxonCallback(run=run, log_model="end")
    fit(small_model(schedule), callback, epochs=3)
    assert callback.run is run and not run.ended  # the user's run: the user ends it
    run.log_outputs(note="after fit")
    assert run.end() is True

    series = served(api, run, "learning_rate")["learning_rate"]
    assert series["metric"] == pytest.approx([LR / 2, LR / 4, LR / 8])  # the schedule after 3, 6, 9 steps
    inputs = api.get_run(run.owner, run.project, run.run_uuid)["inputs"]
    assert inputs["optimizer/learning_rate/class_name"] == "ExponentialDecay"
    assert inputs["learning_rate"] == pytest.approx(LR)
    final = lineage(api, run)["model", "final"]
    assert final["path"] == "outputs/final.keras" and final["summary"]["epoch"] == 2
    assert ("model", "best") not in lineage(api, run)


def test_best_model_follows_the_metric_direction(host: str, api: PolyaxonClient, project: str) -> None:
    callback = PolyaxonCallback(project=project, log_model="best", monitor="val_r2_score")  # R2: higher is better
    history = fit(small_model(metrics=[keras.metrics.R2Score()]), callback, epochs=3)
    run = callback.run
    assert run is not None and run.end() is True
    best = lineage(api, run)["model", "best"]["summary"]
    scores = history["val_r2_score"]
    assert best["mode"] == "max" and best["score"] == max(scores) and best["epoch"] == scores.index(max(scores))

    offline = PolyaxonCallback(project=project, is_offline=True, log_model="best", monitor="val_acc")
    with pytest.warns(PolyaxonWarning, match=r"monitor='val_acc' is not in the logs \(learning_rate, loss, mae"):
        fit(small_model(), offline, epochs=1)
    assert offline.run is not None and offline.run.end()
    assert not (Path(offline.run.get_outputs_path()) / "best.keras").exists()


def test_evaluate_alone_is_logged(host: str, api: PolyaxonClient, project: str) -> None:
    callback = PolyaxonCallback(project=project)
    x, y = data()
    result = small_model().evaluate(x, y, verbose=0, callbacks=[callback], return_dict=True)
    run = callback.run
    assert run is not None and run.end() is True
    series = served(api, run, "eval__loss", "eval__mae")
    assert series["eval__loss"]["metric"] == [result["loss"]] and series["eval__mae"]["metric"] == [result["mae"]]
    assert series["eval__loss"]["step"] == [0]
    assert api.get_run(run.owner, run.project, run.run_uuid)["inputs"]["num_params"] == 49
    assert ("file", "model_summary") in lineage(api, run)


class Unsaveable(keras.layers.Layer):  # type: ignore[misc]
    """A layer Keras cannot serialize (a non-serializable constructor argument and no get_config)."""

    def __init__(self, thing: object, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.thing = thing

    def call(self, x: Any) -> Any:
        return x


class Vector(keras.metrics.Metric):  # type: ignore[misc]
    """A metric whose value is a vector: no scalar series can hold it."""

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        pass

    def result(self) -> Any:
        return keras.ops.ones((2,))


def test_logging_errors_never_stop_fit(host: str, api: PolyaxonClient, project: str, monkeypatch: Any) -> None:
    metrics = ["mae", keras.metrics.MeanAbsoluteError(name="mae|raw"), Vector(name="vec")]
    model = small_model(metrics=metrics, extra=Unsaveable(object()))
    monkeypatch.setenv("POLYAXON_INTEGRATIONS_RERAISE", "false")  # as for users: warnings, and training goes on
    callback = PolyaxonCallback(project=project, log_model="best")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = fit(model, callback, epochs=3)
    run = callback.run
    assert run is not None and run.end() is True
    assert len(history["loss"]) == 3
    messages = "\n".join(str(w.message) for w in caught if issubclass(w.category, PolyaxonWarning))
    assert "on_epoch_end failed: NotImplementedError" in messages  # the model could not be saved
    assert "Invalid metric name 'mae|raw'" in messages and "Metric 'vec' must be a single number" in messages
    series = served(api, run, "loss", "mae", "val_loss")
    assert all(s["step"] == [0, 1, 2] for s in series.values())  # the other metrics of every epoch are there
    assert ("model", "best") not in lineage(api, run)

    monkeypatch.setenv("POLYAXON_INTEGRATIONS_RERAISE", "true")  # the test switch: the same errors surface
    with pytest.raises(InvalidNameError, match=r"'mae\|raw'"):
        fit(model, PolyaxonCallback(project=project, log_model="best", is_new=True), epochs=1)
    with pytest.raises(NotImplementedError):
        fit(small_model(extra=Unsaveable(object())), PolyaxonCallback(project=project, log_model="best"), epochs=1)
    tracking.end()


def test_a_failing_server_never_stops_fit(project: str, monkeypatch: Any) -> None:
    with run_then_fault(monkeypatch, project, status=500) as run:
        history = fit(small_model(), PolyaxonCallback(run=run, log_model="best", log_every_n_steps=1), epochs=3)
        assert len(history["loss"]) == 3
        assert run.end(timeout=0.5) is False  # the server has not got it; the folder has
    rows = (Path(run.get_artifacts_path()) / "events/metric/val_loss.plx").read_text().split("\n")[1:]
    assert [float(r.split("|")[2]) for r in rows] == history["val_loss"]
    assert (Path(run.get_artifacts_path()) / "outputs/best.keras").is_file()


def test_constructor_rejects_misconfiguration(project: str) -> None:
    run = tracking.init(project=project, is_offline=True)
    with pytest.raises(ConfigError, match=r"either run= .* or where to log"):
        PolyaxonCallback(run=run, project="other")
    assert run is not None and run.end()
    with pytest.raises(ConfigError, match="log_model='last'"):
        PolyaxonCallback(log_model="last")
    with pytest.raises(ValueError, match="mode='lowest'"):
        PolyaxonCallback(mode="lowest")
    with pytest.raises(ValueError, match="log_every_n_steps=0"):
        PolyaxonCallback(log_every_n_steps=0)


def test_a_copy_logs_to_the_same_run(api: PolyaxonClient, host: str, project: str) -> None:
    callback = PolyaxonCallback(project=project)
    fit(small_model(), callback, epochs=1)
    twin = copy.deepcopy(callback)  # e.g. sklearn's clone of a keras.wrappers estimator's fit_kwargs
    assert pickle.loads(pickle.dumps(twin)).run is None  # resolved on first use, never carried
    fit(small_model(), twin, epochs=1)
    run = callback.run
    assert run is not None and twin.run is run and run.end() is True
    assert [r["uuid"] for r in api.list_runs("default", project)] == [run.run_uuid]
    assert served(api, run, "loss")["loss"]["step"] == [0, 1]


def test_no_op_trains_and_logs_nothing(monkeypatch: Any, isolated_env: Path) -> None:
    monkeypatch.setenv(env.NO_OP, "true")
    callback = PolyaxonCallback(project="nowhere", log_model="best", log_every_n_steps=1)
    assert len(fit(small_model(), callback, epochs=2)["loss"]) == 2
    assert callback.run is None and not (isolated_env / "offline").exists()


FAILING = """
import os, sys
import keras, numpy as np
from polyaxon_integrations.keras import PolyaxonCallback

class Fuse(keras.layers.Layer):
    '''Blows on the 3rd epoch's first training batch, inside fit.'''
    calls = 0
    def call(self, x, training=False):
        if training:
            Fuse.calls += 1
            if Fuse.calls == 7:
                raise {error}
        return x

callback = PolyaxonCallback(project=sys.argv[1])
model = keras.Sequential([keras.Input((4,)), Fuse(), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse", run_eagerly=True)  # the layer runs each step on every backend
x = np.random.rand(64, 4).astype("float32")
model.fit(x, x.sum(1), batch_size=16, epochs=5, validation_split=0.25, verbose=0, callbacks=[callback])
"""


def spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=os.getcwd()
    )


def test_statuses_when_the_process_ends(host: str, api: PolyaxonClient, project: str) -> None:
    """Started together (each pays Keras's import): the example succeeds; raising in fit fails; Ctrl-C stops."""
    failing = {
        "failed": ('ValueError("fuse blown")', "fuse blown"),  # Keras adds the layer's name and inputs
        "stopped": ("KeyboardInterrupt", "KeyboardInterrupt"),
    }
    procs = {status: spawn("-c", textwrap.dedent(FAILING.format(error=error)), f"{project}-{status}")
             for status, (error, _) in failing.items()}  # fmt: skip
    caught = FAILING.format(error='ValueError("fuse blown")').replace("model.fit(", "try:\n    model.fit(")
    caught += "except ValueError:\n    print('caught')\n"  # the script goes on and exits normally
    procs["caught"] = spawn("-c", textwrap.dedent(caught), f"{project}-caught")
    example = spawn(str(ROOT / "examples/keras_regression.py"), "--project", project, "--epochs", "6")
    out, err = example.communicate(timeout=120)
    assert example.returncode == 0, err
    uuid = next(line.split()[1] for line in out.splitlines() if line.startswith("run "))
    assert api.get_statuses("default", project, uuid)["status"] == "succeeded"
    assert f"/ui/default/{project}/runs/{uuid}" in out
    assert api.get_metrics("default", project, uuid, ["val_loss"])["val_loss"]["step"] == list(range(6))

    for status, (error, message) in failing.items():
        error_type = error.split("(")[0]
        _, err = procs[status].communicate(timeout=120)
        assert procs[status].returncode != 0 and message in err
        runs = api.list_runs("default", f"{project}-{status}")
        assert len(runs) == 1, err
        body = api.get_statuses("default", f"{project}-{status}", runs[0]["uuid"])
        reason = body["status_conditions"][-1]["message"]
        assert body["status"] == status and reason.startswith(error_type) and message in reason
        loss = api.get_metrics("default", f"{project}-{status}", runs[0]["uuid"], ["loss", "val_loss"])
        assert loss["loss"]["step"] == loss["val_loss"]["step"] == [0, 1]  # the epochs before the error

    out, err = procs["caught"].communicate(timeout=120)  # Keras calls no hook when fit raises: still failed
    assert procs["caught"].returncode == 0 and out.strip() == "caught", err
    (run,) = api.list_runs("default", f"{project}-caught")
    body = api.get_statuses("default", f"{project}-caught", run["uuid"])
    assert body["status"] == "failed" and "Model.fit() raised" in body["status_conditions"][-1]["message"]


def test_a_subclass_gets_every_hook(host: str, api: PolyaxonClient, project: str) -> None:
    calls: dict[str, int] = {}

    class Mine(PolyaxonCallback):  # type: ignore[misc]
        def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            calls["on_batch_end"] = calls.get("on_batch_end", 0) + 1

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            calls["on_epoch_end"] = calls.get("on_epoch_end", 0) + 1
            super().on_epoch_end(epoch, logs)

    callback = Mine(project=project, log_every_n_steps=1)
    assert not callback.async_safe  # its own batch hook runs where Keras runs unsafe ones
    fit(small_model(), callback, epochs=2)
    assert calls == {"on_batch_end": 6, "on_epoch_end": 2}
    assert callback.run is not None
    callback.run.end()
    assert served(api, callback.run, "loss")["loss"]["step"] == [0, 1]
    assert PolyaxonCallback(project=project).async_safe  # ours alone: Keras may dispatch it off-thread
