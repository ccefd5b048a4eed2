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


# Official functions that are the official client's plumbing, not tracking calls a training script makes.
_INTERNAL = {
    "get_log_level",
    "pull_remote_run",
    "push_offline_run",
    "set_run_event_logger",
    "set_run_process_sidecar",
    "set_run_resource_logger",
    "sync_events_summaries",
    "sync_system_events_summaries",
    "update",
}


# Arguments the migration page tells users to remove (they name the official client's own machinery), and
# official arguments of the scalar/artifact calls not taken yet (known, listed here so no new gap slips in).
_DROPPED = {
    "init": {"refresh_data", "artifacts_path", "collect_artifacts", "log_context"},
    "get_artifacts_path": {"rel_path", "ensure_path", "is_dir", "use_store_path"},
    "get_outputs_path": {"rel_path", "ensure_path", "is_dir", "use_store_path"},
    "log_model": {"rel_path", "skip_hash_calculation", "kwargs"},
    "log_artifact": {"summary", "step", "timestamp", "skip_hash_calculation", "kwargs"},
    "log_status": {"last_transition_time", "last_update_time"},
    **{name: {"async_req"} for name in ("set_description", "set_name", "log_inputs", "log_outputs", "log_tags")},
}


def test_every_official_tracking_call_exists_with_its_arguments() -> None:
    """The official ``polyaxon.tracking`` functions (read from the official 2.18 client) are all here, and each
    takes every argument name the official one takes, so a migrated call cannot fail with a TypeError."""
    import json
    import subprocess

    from polyaxon_integrations import tracking
    from tests.conftest import SERVER_PYTHON

    script = (
        "import inspect, json, warnings; warnings.filterwarnings('ignore'); import polyaxon.tracking as t;"
        "print(json.dumps({n: list(inspect.signature(f).parameters) for n, f in vars(t).items()"
        " if not n.startswith('_') and inspect.isfunction(f) and f.__module__.startswith(('polyaxon', 'traceml'))}))"
    )
    result = subprocess.run(
        [str(SERVER_PYTHON), "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    official = {k: v for k, v in json.loads(result.stdout.strip().splitlines()[-1]).items() if k not in _INTERNAL}
    assert len(official) == 54
    missing = sorted(name for name in official if not callable(getattr(tracking, name, None)))
    assert missing == [], f"official tracking calls we lack: {missing}"
    for name, params in official.items():
        ours = inspect.signature(getattr(tracking, name)).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in ours.values()):
            continue
        lacking = [p for p in params if p not in ours and p not in _DROPPED.get(name, set())]
        assert lacking == [], f"tracking.{name} does not take {lacking}"


def test_the_migration_page_lists_no_missing_call() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "migration.md").read_text()
    assert "Not yet here" not in page and "raises `AttributeError`" not in page
