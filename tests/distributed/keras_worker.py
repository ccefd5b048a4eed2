"""A Keras fit with ``PolyaxonCallback()``, run as one task of a ``TF_CONFIG`` cluster (no TensorFlow needed).

KERAS_BACKEND=torch TF_CONFIG='{"cluster": ..., "task": {"type": "worker", "index": 0}}' python keras_worker.py OUT
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np

from polyaxon_integrations.keras import PolyaxonCallback


def main() -> None:
    out = Path(sys.argv[1])
    task = json.loads(os.environ["TF_CONFIG"])["task"]
    keras.utils.set_random_seed(0)
    x = np.random.RandomState(int(task["index"]) + (task["type"] == "chief")).rand(32, 4).astype("float32")
    y = x.sum(axis=1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    callback = PolyaxonCallback(log_model="end", log_every_n_steps=2)
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[callback])
    run = callback.run
    record = {"run": type(run).__name__, "uuid": run.run_uuid if run else None, "loss": history.history["loss"]}
    (out / f"{task['type']}{task['index']}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main()
