"""The contract every adapter keeps, run over each of them against the real sandbox.

In the spirit of Lightning's ``tests_pytorch/loggers/test_all.py`` and transformers' callback tests:
fit then test is one run; the adapter pickles and deep-copies; passed twice it logs once and leaves no
failed run; two adapters in a row are two runs (no silent reuse of another adapter's run); beside the
framework's own logger both get everything; evaluate-only and predict-only work; a run the user started is
reused and left open; after ``end()`` nothing starts another run.
"""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any

import pytest

from polyaxon_integrations import tracking
from polyaxon_integrations.core import env
from polyaxon_integrations.core.client import PolyaxonClient
from polyaxon_integrations.core.options import INIT_OPTIONS
from tests.integrations.drivers import DRIVERS, FIT_METRIC, RUNS_FOR_TWO_FITS, TEST_METRIC, Driver

pytestmark = [
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),  # the frameworks' own advice (few batches, no workers...)
]
OWNER = "default"


@pytest.fixture(params=sorted(DRIVERS))
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> Driver:
    modules = {"lightning": "lightning.pytorch", "keras": "keras", "transformers": "transformers"}
    pytest.importorskip(modules[request.param])
    return DRIVERS[request.param](tmp_path)


def runs(api: PolyaxonClient, project: str) -> list[dict[str, Any]]:
    return sorted(api.list_runs(OWNER, project), key=lambda r: r["created_at"])


def steps(api: PolyaxonClient, project: str, uuid: str, name: str) -> list[int]:
    served = api.get_metrics(OWNER, project, uuid, [name])
    return list(served[name]["step"]) if name in served else []


def end(*adapters: Any) -> None:
    for adapter in adapters:
        run = adapter.run
        if run is not None and not run.ended:
            run.end()


def test_every_adapter_takes_every_init_option() -> None:
    """The options are one type: an adapter that lacks one fails here, not in a user's hands."""
    import inspect

    from polyaxon_integrations.keras import PolyaxonCallback as KerasCallback
    from polyaxon_integrations.lightning import PolyaxonLogger
    from polyaxon_integrations.transformers import PolyaxonCallback as HFCallback

    assert set(inspect.signature(PolyaxonLogger).parameters) >= set(INIT_OPTIONS)  # spelled out for LightningCLI
    for adapter in (KerasCallback, HFCallback):
        assert inspect.signature(adapter).parameters["options"].kind is inspect.Parameter.VAR_KEYWORD
        adapter(end_timeout=3, track_code=False, track_env=False, track_logs=False, collect_resources=False)
        with pytest.raises(TypeError, match="unexpected option"):
            adapter(projekt="typo")


def test_fit_then_test_is_one_run(driver: Driver, host: str, api: PolyaxonClient, project: str) -> None:
    adapter = driver.make(project=project)
    driver.fit(adapter)
    driver.test()
    end(adapter)
    (data,) = runs(api, project)
    assert data["status"] == "succeeded"
    assert steps(api, project, data["uuid"], FIT_METRIC[driver.name])
    assert steps(api, project, data["uuid"], TEST_METRIC[driver.name])


def test_pickle_and_deepcopy(driver: Driver, host: str, api: PolyaxonClient, project: str) -> None:
    adapter = driver.make(project=project)
    pickle.loads(pickle.dumps(adapter))  # before training: nothing started
    copy.deepcopy(adapter)
    assert adapter.run is None and api.list_runs(OWNER, project) == [] if _project_exists(api, project) else True
    driver.fit(adapter)
    run = adapter.run
    assert run is not None
    remote = pickle.loads(pickle.dumps(adapter))  # another process's copy: attaches to this run, never forks
    assert remote.run is None and remote._lazy.run_uuid == run.run_uuid
    assert copy.deepcopy(adapter).run is run  # a copy here logs through the same run object
    end(adapter)
    assert [r["uuid"] for r in runs(api, project)] == [run.run_uuid]


def _project_exists(api: PolyaxonClient, project: str) -> bool:
    try:
        api.list_runs(OWNER, project)
    except Exception:
        return False
    return True


def test_passed_twice_logs_once_and_no_failed_run(driver: Driver, host: str, api: PolyaxonClient, project: str) -> None:
    adapter = driver.make(project=project)
    driver.fit(adapter, adapter)
    end(adapter)
    (data,) = runs(api, project)
    assert data["status"] == "succeeded"
    logged = steps(api, project, data["uuid"], FIT_METRIC[driver.name])
    assert logged and logged == sorted(set(logged))  # every step once


def test_a_new_adapter_never_reuses_another_adapters_run(
    driver: Driver, host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env.PROJECT, project)  # neither adapter is told where to log
    first, second = driver.make(), driver.make()
    driver.fit(first)
    driver.state.clear()
    driver.fit(second)
    assert first.run is not None and second.run is not None and first.run.run_uuid != second.run.run_uuid
    end(first, second)
    assert [r["status"] for r in runs(api, project)] == ["succeeded", "succeeded"]


def test_the_same_adapter_trained_twice(driver: Driver, host: str, api: PolyaxonClient, project: str) -> None:
    adapter = driver.make(project=project)
    driver.fit(adapter)
    first = adapter.run
    driver.fit(adapter)
    end(adapter)
    found = runs(api, project)
    assert len(found) == RUNS_FOR_TWO_FITS[driver.name] and {r["status"] for r in found} == {"succeeded"}
    assert found[0]["uuid"] == first.run_uuid


def test_beside_the_frameworks_own_logger(driver: Driver, host: str, api: PolyaxonClient, project: str) -> None:
    adapter = driver.make(project=project)
    assert driver.fit_beside_own_logger(adapter) > 0
    end(adapter)
    (data,) = runs(api, project)
    assert data["status"] == "succeeded" and steps(api, project, data["uuid"], FIT_METRIC[driver.name])


def test_evaluate_only(driver: Driver, host: str, api: PolyaxonClient, project: str) -> None:
    adapter = driver.make(project=project)
    driver.evaluate_only(adapter)
    end(adapter)
    (data,) = runs(api, project)
    assert data["status"] == "succeeded" and steps(api, project, data["uuid"], TEST_METRIC[driver.name])


def test_predict_only_leaves_no_failed_run(driver: Driver, host: str, api: PolyaxonClient, project: str) -> None:
    adapter = driver.make(project=project)
    driver.predict_only(adapter)
    end(adapter)
    found = runs(api, project) if _project_exists(api, project) else []
    assert len(found) <= 1 and all(r["status"] == "succeeded" for r in found)


def test_a_run_the_user_started_is_reused_and_left_open(
    driver: Driver, host: str, api: PolyaxonClient, project: str
) -> None:
    mine = tracking.init(project=project, name="mine")
    assert mine is not None
    adapter = driver.make()
    driver.fit(adapter)
    driver.test()
    assert adapter.run is mine and not mine.ended  # the user's run: the user ends it
    mine.end()
    (data,) = runs(api, project)
    assert data["uuid"] == mine.run_uuid and data["status"] == "succeeded"


def test_after_end_nothing_starts_another_run(driver: Driver, host: str, api: PolyaxonClient, project: str) -> None:
    adapter = driver.make(project=project)
    driver.fit(adapter)
    run = adapter.run
    assert run is not None
    run.end()
    if driver.name == "lightning":
        assert adapter.experiment is run  # reading it does not start (or reopen) a run
    driver.test()  # used again: the same run continues
    end(adapter)
    assert [r["uuid"] for r in runs(api, project)] == [run.run_uuid]
    assert runs(api, project)[0]["status"] == "succeeded"
