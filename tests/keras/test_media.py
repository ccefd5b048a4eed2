"""PolyaxonCallback(histogram_freq=N): weight histograms every N epochs, read back from the sandbox."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from polyaxon_integrations.client import PolyaxonClient
from polyaxon_integrations.core.exceptions import ConfigError
from polyaxon_integrations.keras import PolyaxonCallback
from tests.core.rich_helpers import read_events

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept:DeprecationWarning")


def test_weight_histograms_every_n_epochs(host: str, api: PolyaxonClient, project: str) -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, name="hidden"), keras.layers.Dense(1, name="out")]
    )
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    callback = PolyaxonCallback(project=project, histogram_freq=2)
    model.fit(x, x.sum(1, keepdims=True), epochs=5, batch_size=16, verbose=0, callbacks=[callback])
    run = callback.run
    assert run is not None and run.end()
    kernel = model.get_layer("hidden").kernel
    names = {f"weights__{w.path.replace('/', '__')}" for w in model.weights}
    assert len(names) == 4  # each layer's kernel and bias, by their Keras paths
    served = read_events(api, project, run.run_uuid, "histogram", sorted(names))
    assert sorted(served) == sorted(names)
    for name in names:
        assert served[name]["step"] == [0, 2, 4], name
    last = json.loads(served[f"weights__{kernel.path.replace('/', '__')}"]["histogram"][-1])
    counts, edges = np.histogram(np.asarray(kernel).astype(np.float64), bins=30)  # the weights after epoch 4
    assert last == {"values": counts.astype(float).tolist(), "counts": edges.tolist()}


def test_histogram_freq_is_validated() -> None:
    with pytest.raises(ConfigError, match="histogram_freq"):
        PolyaxonCallback(histogram_freq=-1)
