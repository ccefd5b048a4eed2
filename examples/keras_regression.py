"""Keras 3 (torch backend, CPU) tracked with PolyaxonCallback, then read back from the server.

    POLYAXON_HOST=http://127.0.0.1:31833 python examples/keras_regression.py [--project keras-demo] [--epochs 20]

Fits a small MLP to a noisy linear target. Logged: hyperparameters and the model summary at the start,
loss/mae/val_loss/val_mae/learning_rate per epoch, batch metrics every 5 steps, the best model (lowest
val_loss), then a held-out evaluation. No ``end()``: the run is marked succeeded when the script exits.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported: it picks its backend once

import keras
import numpy as np

from polyaxon_integrations.keras import PolyaxonCallback


def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    weights = np.linspace(-2, 2, 8, dtype="float32")
    y = (x @ weights + 0.5 + rng.normal(scale=0.1, size=n).astype("float32"))[:, None]
    return x, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default="keras-demo")
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    x, y = make_data(512, seed=0)
    x_test, y_test = make_data(128, seed=1)
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)], name="mlp"
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])

    tracker = PolyaxonCallback(
        project=args.project, name="keras-regression", tags=["keras", "demo"], log_model="best", log_every_n_steps=5
    )
    reduce_lr = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2)
    model.fit(x, y, batch_size=32, epochs=args.epochs, validation_split=0.2, verbose=0, callbacks=[tracker, reduce_lr])
    result = model.evaluate(x_test, y_test, verbose=0, callbacks=[tracker], return_dict=True)

    run = tracker.run
    assert run is not None
    run.flush()  # wait until the server has what was logged (the run itself ends with the script)
    client = run.context.client
    print(f"run {run.run_uuid} ({run.owner}/{run.project}/{run.name})")
    if client is None:
        return
    data = client.get_run(run.owner, run.project, run.run_uuid)
    print("  inputs: ", {k: data["inputs"][k] for k in sorted(data["inputs"])[:8]}, "...")
    names = ["loss", "val_loss", "learning_rate", "batch__loss", "eval__loss"]
    for name, series in client.get_metrics(run.owner, run.project, run.run_uuid, names).items():
        print(f"  {name:14} {len(series['step'])} points, last {series['metric'][-1]:.4f} at step {series['step'][-1]}")
    for entry in client.get_lineage(run.owner, run.project, run.run_uuid):
        if entry["kind"] in ("model", "file"):
            summary = {k: v for k, v in (entry["summary"] or {}).items() if k in ("score", "epoch", "monitor")}
            print(f"  {entry['kind']:6} {entry['name']:14} {entry['path']} {summary or ''}")
    print(f"  evaluate: loss {result['loss']:.4f}, mae {result['mae']:.4f}")
    print(f"  UI:      {run.url}")
    print(f"  curves:  {run.dashboard_url()}")


if __name__ == "__main__":
    main()
