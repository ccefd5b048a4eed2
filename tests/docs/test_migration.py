"""The official client's names and arguments that docs/migration.md says we accept, accepted."""

from __future__ import annotations

import inspect
import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported; the machine has no TensorFlow


def test_official_class_names_are_ours() -> None:
    from polyaxon_integrations import keras, lightning, pytorch_lightning, transformers

    assert lightning.PolyaxonCallback is lightning.PolyaxonLogger
    assert pytorch_lightning.PolyaxonCallback is pytorch_lightning.PolyaxonLogger
    assert keras.PolyaxonKerasCallback is keras.PolyaxonCallback
    for callback in (transformers.PolyaxonCallback, keras.PolyaxonCallback):  # PolyaxonCallback(run) as officially
        first = next(iter(inspect.signature(callback).parameters.values()))
        assert first.name == "run" and first.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert transformers.PolyaxonCallback().run is None  # public, as on the Keras and Lightning adapters


@pytest.mark.parametrize("namespace", ["lightning", "pytorch_lightning"])
def test_lightning_takes_the_official_tracking_switches(namespace: str) -> None:
    """track_code/track_env/track_logs/collect_resources reach tracking.init (the conftest turns them all off)."""
    import importlib

    module = importlib.import_module(f"polyaxon_integrations.{namespace}")
    logger = module.PolyaxonCallback(
        project="migration",
        is_offline=True,
        track_env=True,
        track_code=False,
        track_logs=False,
        collect_resources=False,
    )
    run = logger.experiment
    try:
        options = run._system.options
        assert (options.track_env, options.track_code, options.track_logs, options.collect_resources) == (
            True,
            False,
            False,
            False,
        )
    finally:
        logger.end()
    assert (run.folder.outputs / "env.json").is_file()
