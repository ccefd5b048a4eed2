"""What the run page shows beside metrics: resources, logs, environment, code reference.

End to end against the sandbox: the server's resources endpoint serves our samples, its logs
endpoint serves the lines the process printed, lineage holds env, code and system entries, for
a live run and for an offline run pushed later. Then the parts that need no server: switches
and defaults, the tee's manners (delegation, several runs, streams replaced under it, fork),
line assembly, GPU sampling with a stand-in for NVIDIA's library, packages and git.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from polyaxon_integrations import tracking
from polyaxon_integrations.core import env, logcapture, system
from polyaxon_integrations.core.client import PolyaxonClient
from polyaxon_integrations.core.context import Context
from polyaxon_integrations.core.exceptions import ConfigError
from polyaxon_integrations.core.folder import RunFolder
from polyaxon_integrations.core.logcapture import LogLines
from polyaxon_integrations.core.provenance import code_reference, installed_packages
from polyaxon_integrations.core.resources import ResourceSampler
from polyaxon_integrations.core.run import Run
from polyaxon_integrations.core.sync import push_folder
from polyaxon_integrations.core.system import SystemOptions
from tests.conftest import schedule_run

SWITCHES = (env.TRACK_LOGS, env.TRACK_ENV, env.TRACK_CODE, env.COLLECT_RESOURCES)
HOST_RESOURCES = {"cpu", "memory", "memory_used", "load", "process_cpu", "process_memory_used"}


@pytest.fixture
def system_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The defaults (conftest turns system tracking off for the other tests), sampling every 0.2 s."""
    for name in SWITCHES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(env.RESOURCES_INTERVAL, "0.2")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_checkout(path: Path, remote: str = "https://bot:s3cret@git.example.com/acme/model.git") -> str:
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "t@example.com")
    git(path, "config", "user.name", "t")
    git(path, "remote", "add", "origin", remote)
    (path / "train.py").write_text("print('hi')\n")
    git(path, "add", "train.py")
    git(path, "commit", "-q", "-m", "first")
    return git(path, "rev-parse", "HEAD")


def streams(host: str, project: str, uuid: str, what: str) -> str:
    return f"{host}/streams/v1/polyaxon/default/{project}/runs/{uuid}/{what}"


def served_resources(api: PolyaxonClient, host: str, project: str, uuid: str) -> dict[str, dict[str, list[Any]]]:
    body = api.request("GET", streams(host, project, uuid, "resources"), params={"force": "true"})
    return {item["name"]: item["data"] for item in body["data"]}


def served_logs(api: PolyaxonClient, host: str, project: str, uuid: str) -> list[str]:
    body = api.request("GET", streams(host, project, uuid, "logs"), params={"force": "true"})
    return [line["value"] for line in body["logs"]]


def lineage(api: PolyaxonClient, project: str, uuid: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["kind"], e["name"]): e for e in api.get_lineage("default", project, uuid)}


def train(run: Run, seconds: float, samples: int = 0) -> int:
    """A small CPU loop that logs and prints as training scripts do (a progress bar included).

    It runs ``seconds``, and on until the sampler has taken ``samples`` (at most 20 s): on a
    loaded machine a CPU-bound thread leaves the sampling thread little of the GIL.
    """
    weights = [0.1] * 64
    step = 0
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds or (run._system.samples < samples and elapsed < 20):
        grad = [w * 0.99 + 1e-3 * ((step * i) % 7) for i, w in enumerate(weights)]
        weights = [w - 0.01 * g for w, g in zip(weights, grad, strict=True)]
        run.log_metrics(step=step, loss=sum(weights))
        if step % 2000 == 0:
            print(f"step {step} loss {sum(weights):.4f}")
        if step % 50 == 0:
            sys.stdout.write(f"\rprogress {step // 50 % 100:3d}%")
        step += 1
    sys.stdout.write("\rprogress 100%\n")
    return step


def test_resources_logs_env_and_code_reach_the_server(
    system_on: None, host: str, api: PolyaxonClient, project: str, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = isolated_env / "work"
    commit = make_checkout(checkout)
    framework = logging.getLogger("some.framework")  # created before init, as frameworks' loggers are
    handler = logging.StreamHandler(sys.stderr)
    framework.addHandler(handler)
    framework.setLevel(logging.INFO)
    before = sys.stdout
    try:
        run = tracking.init(project=project)
        assert run is not None
        print("hello from the training script")
        train(run, 1.2, samples=3)
        framework.info("framework says %s", "hi")
        print("a warning on stderr", file=sys.stderr)
        assert run.end() is True
    finally:
        framework.removeHandler(handler)
    assert sys.stdout is before and handler.stream is sys.stderr  # all given back
    uuid = run.run_uuid

    resources = served_resources(api, host, project, uuid)
    assert HOST_RESOURCES <= set(resources)
    for name in HOST_RESOURCES:
        assert len(resources[name]["metric"]) == run._system.samples >= 4, name  # 3 or more, then one at the end
        stamps = resources[name]["timestamp"]
        assert stamps == sorted(stamps)
    assert all(0 < v <= 100 for v in resources["memory"]["metric"])
    assert all(v > 10e6 for v in resources["process_memory_used"]["metric"])  # a Python process's RSS

    logs = served_logs(api, host, project, uuid)
    assert logs[0] == "hello from the training script"
    assert logs[1].startswith("step 0 loss ")
    assert [line for line in logs if line.startswith("progress  39%step 2000 loss")]  # as a terminal shows it
    assert logs[-3:] == ["progress 100%", "framework says hi", "a warning on stderr"]
    assert not [line for line in logs if "progress  5%" in line]  # redraws collapse into the final state

    served = lineage(api, project, uuid)
    code = served["coderef", commit]
    assert code["summary"] == {
        "commit": commit,
        "branch": "main",
        "url": "https://git.example.com/acme/model",  # credentials never leave the machine
        "is_dirty": False,
    }
    assert code["is_input"] is True
    assert served["env", "env"]["path"] == "outputs/env.json"
    assert served["system", "cpu"]["path"] == "resources/metric/cpu.plx"
    assert served["system", "cpu"]["summary"]["metric"]["count"] == len(resources["cpu"]["metric"])
    env_json = api.request(
        "GET", streams(host, project, uuid, "artifact"), params={"path": "outputs/env.json", "stream": "true"}
    )
    assert env_json["pid"] == os.getpid() and env_json["python_version"] == sys.version.split()[0]
    assert ["requests", importlib.metadata.version("requests")] in env_json["packages"]


def test_logs_reach_the_server_while_the_run_lasts(
    host: str, api: PolyaxonClient, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env.TRACK_LOGS, "true")
    run = tracking.init(project=project)
    assert run is not None
    print("epoch 1 done")
    deadline = time.monotonic() + 8.0
    served: list[str] = []
    while time.monotonic() < deadline and not served:
        time.sleep(0.5)
        served = served_logs(api, host, project, run.run_uuid)
    run.end()
    assert served == ["epoch 1 done"]


def test_offline_run_records_everything_and_sync_sends_it(
    system_on: None, host: str, api: PolyaxonClient, project: str
) -> None:
    run = tracking.init(project=project, is_offline=True)
    assert run is not None
    print("offline line 1")
    train(run, 0.3)
    assert run.end() is True
    push_folder(api, RunFolder(Path(run.get_artifacts_path())))
    assert served_logs(api, host, project, run.run_uuid)[:1] == ["offline line 1"]
    assert HOST_RESOURCES <= set(served_resources(api, host, project, run.run_uuid))
    served = lineage(api, project, run.run_uuid)
    assert ("env", "env") in served and ("system", "memory") in served
    assert not [key for key in served if key[0] == "coderef"]  # the working folder is not a checkout


def test_in_cluster_only_resources_when_the_platform_asks(
    host: str, sandbox: Any, api: PolyaxonClient, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-cluster the platform collects logs and code; resources follow its POLYAXON_COLLECT_RESOURCES."""
    if not sandbox.artifacts_store.is_dir():
        pytest.skip("needs the sandbox's store folder (not known with PLX_TEST_HOST)")
    for name in SWITCHES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(env.COLLECT_RESOURCES, "true")  # as Polyaxon's plugins set it for the job
    monkeypatch.setenv(env.RESOURCES_INTERVAL, "0.2")
    schedule_run(api, project, tmp_path / "plx-context", monkeypatch, sandbox.artifacts_store)
    before = sys.stdout
    run = tracking.init()
    assert run is not None and run.is_managed and sys.stdout is before
    time.sleep(0.5)
    run.end()
    assert HOST_RESOURCES <= set(served_resources(api, host, project, run.run_uuid))
    folder = Path(run.get_artifacts_path())
    assert not (folder / "plxlogs").exists() and not (folder / "outputs" / "env.json").exists()
    assert {kind for kind, _ in lineage(api, project, run.run_uuid)} == {"system"}


def test_arguments_win_over_environment_and_turn_each_part_off(
    project: str, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    make_checkout(isolated_env / "work")
    for name in SWITCHES:
        monkeypatch.setenv(name, "true")
    before = sys.stdout
    run = tracking.init(
        project=project, is_offline=True, track_code=False, track_env=False, track_logs=False, collect_resources=False
    )
    assert run is not None and sys.stdout is before
    print("not captured")
    run.end()
    folder = Path(run.get_artifacts_path())
    assert not (folder / "plxlogs").exists() and not (folder / "resources").exists()
    assert not (folder / "outputs" / "env.json").exists() and not (folder / "lineages.plx.json").exists()

    monkeypatch.setenv(env.TRACK_ENV, "false")
    monkeypatch.setenv(env.COLLECT_RESOURCES, "false")
    run = tracking.init(project=project, is_offline=True)  # logs and code on (environment), the rest off
    assert run is not None
    print("captured")
    run.end()
    folder = Path(run.get_artifacts_path())
    assert (folder / "plxlogs" / "logs.jsonl").read_text().count("captured") == 1
    assert not (folder / "resources").exists() and not (folder / "outputs" / "env.json").exists()
    assert [e["kind"] for e in json.loads((folder / "lineages.plx.json").read_text())] == ["coderef"]


def context(**overrides: Any) -> Context:
    return Context(config=None, owner="o", project="p", run_uuid=None, **overrides)


def test_defaults_on_locally_and_offline_off_in_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SWITCHES:
        monkeypatch.delenv(name, raising=False)
    everything = SystemOptions(track_code=True, track_env=True, track_logs=True, collect_resources=True)
    assert SystemOptions.resolve(context()) == everything
    assert SystemOptions.resolve(context(is_offline=True)) == everything
    managed = SystemOptions.resolve(context(is_managed=True))
    assert not (managed.track_code or managed.track_env or managed.track_logs or managed.collect_resources)
    monkeypatch.setenv(env.COLLECT_RESOURCES, "true")  # what Polyaxon's plugins set for a scheduled job
    assert SystemOptions.resolve(context(is_managed=True)).collect_resources is True
    assert SystemOptions.resolve(context(is_managed=True), track_logs=True).track_logs is True
    monkeypatch.setenv(env.TRACK_LOGS, "sometimes")
    with pytest.raises(ConfigError, match=env.TRACK_LOGS):
        SystemOptions.resolve(context())
    monkeypatch.setenv(env.TRACK_LOGS, "true")
    monkeypatch.setenv(env.RESOURCES_INTERVAL, "0.5")
    assert SystemOptions.resolve(context()).interval == 0.5


def test_tee_delegates_and_serves_several_runs(
    project: str, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(env.TRACK_LOGS, "true")
    before = sys.stdout
    first = tracking.init(project=project, is_offline=True)
    assert first is not None
    tee = sys.stdout
    assert isinstance(tee, logcapture._Tee) and tee.wrapped is before
    assert tee.isatty() == before.isatty() and tee.encoding == before.encoding
    print("to the first run")
    second = tracking.init(project=project, is_offline=True)
    assert second is not None and sys.stdout is tee  # one tee, two runs
    print("to both runs")
    first.end()
    assert sys.stdout is tee
    print("to the second run")
    second.end()
    assert sys.stdout is before
    print("to no run")
    assert capfd.readouterr().out.splitlines()[-4:] == [
        "to the first run",
        "to both runs",
        "to the second run",
        "to no run",
    ]  # the process printed as before

    def lines(run: Run) -> list[str]:
        text = (Path(run.get_artifacts_path()) / "plxlogs" / "logs.jsonl").read_text()
        return [json.loads(row)["value"] for row in text.splitlines() if row]

    assert lines(first) == ["to the first run", "to both runs"]
    assert lines(second) == ["to both runs", "to the second run"]


def test_a_stream_replaced_under_the_tee_is_left_alone(project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env.TRACK_LOGS, "true")
    run = tracking.init(project=project, is_offline=True)
    assert run is not None
    replacement = io.StringIO()
    monkeypatch.setattr(sys, "stdout", replacement)  # e.g. contextlib.redirect_stdout inside the run
    run.end()
    assert sys.stdout is replacement


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_children_stop_queueing(project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env.TRACK_LOGS, "true")
    run = tracking.init(project=project, is_offline=True)
    assert run is not None
    assert sys.stdout._sinks  # type: ignore[union-attr]
    pid = os.fork()
    if pid == 0:  # a DataLoader-style worker: nobody drains its queue, so nothing may be queued
        os._exit(0 if sys.stdout._sinks == () else 1)  # type: ignore[union-attr]
    _, status = os.waitpid(pid, 0)
    run.end()
    assert os.WEXITSTATUS(status) == 0


def values(rows: list[str]) -> list[str]:
    return [json.loads(row)["value"] for row in rows]


def test_lines_are_assembled_as_a_terminal_shows_them() -> None:
    lines = LogLines()
    assert lines.feed(1.0, 0, "par") == []
    assert values(lines.feed(2.0, 0, "tial\nnext")) == ["partial"]
    assert values(lines.feed(3.0, 1, "err\r\n")) == ["err"]  # stderr has its own partial line
    assert lines.feed(4.0, 0, "\r 10%") == [] and lines.feed(4.1, 0, "\r 90%\r") == []
    assert values(lines.feed(5.0, 0, "\r100%\n\n   \n")) == ["100%"]  # blank lines are dropped
    assert values(lines.feed(6.0, 0, "x" * 70_000)) == ["x" * 70_000]  # a line that never ends is cut
    assert values(lines.feed(7.0, 0, "  indented \nlast")) == ["  indented"]
    assert values(lines.finish(8.0)) == ["last"]
    row = json.loads(lines.feed(9.0, 0, "ünïcode\n")[0])
    assert row["timestamp"] == "1970-01-01T00:00:09+00:00" and row["container"] == "polyaxon-main"


class FakeNVML(SimpleNamespace):
    """Stands in for NVIDIA's ``pynvml`` (absent here: no GPU): two devices, then one that fails."""

    def __init__(self, devices: int = 2, init_error: bool = False) -> None:
        super().__init__(devices=devices, init_error=init_error, calls=0, shut=False)

    def nvmlInit(self) -> None:
        if self.init_error:
            raise RuntimeError("NVML Shared Library Not Found")

    def nvmlDeviceGetCount(self) -> int:
        return self.devices  # type: ignore[no-any-return]

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        self.calls += 1
        if self.calls > 4:
            raise RuntimeError("GPU is lost")
        return SimpleNamespace(used=(handle + 1) * 2**30, free=2**33, total=2**33 + (handle + 1) * 2**30)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(gpu=40 + handle, memory=10)

    def nvmlShutdown(self) -> None:
        self.shut = True


def test_gpu_sampling_with_a_stand_in_library() -> None:
    nvml = FakeNVML()
    sampler = ResourceSampler(psutil=None, nvml=nvml)
    expected = {
        "gpu_0_utilization": 40.0,
        "gpu_0_memory_used": float(2**30),
        "gpu_0_memory_free": float(2**33),
        "gpu_1_utilization": 41.0,
        "gpu_1_memory_used": float(2**31),
        "gpu_1_memory_free": float(2**33),
    }
    assert sampler.sample() == expected
    assert sampler.sample() == expected
    assert sampler.sample() == {} and "gpu" not in sampler.probes  # a failing GPU is dropped, not retried
    sampler.close()
    assert nvml.shut
    assert ResourceSampler(psutil=None, nvml=FakeNVML(init_error=True)).probes == {}  # no driver: quietly none
    assert ResourceSampler(psutil=None, nvml=FakeNVML(devices=0)).probes == {}


def test_host_sampling_with_psutil() -> None:
    sampler = ResourceSampler.load()  # pynvml is not installed here: host and process only
    time.sleep(0.05)
    sample = sampler.sample()
    assert HOST_RESOURCES <= set(sample) and not [n for n in sample if n.startswith("gpu")]
    assert sample["process_memory_used"] > 10e6


def test_packages_are_listed_fast_and_as_importlib_metadata_lists_them() -> None:
    started = time.perf_counter()
    packages = installed_packages()
    elapsed = time.perf_counter() - started
    expected = {
        re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version for d in importlib.metadata.distributions()
    }
    assert dict(packages) == expected
    assert elapsed < 0.05, elapsed  # importlib.metadata takes 150-300 ms here


def test_code_reference(tmp_path: Path) -> None:
    assert code_reference(tmp_path) is None  # not a checkout
    git(tmp_path, "init", "-q", "-b", "dev")
    assert code_reference(tmp_path) is None  # no commit yet
    repo = tmp_path / "repo"
    repo.mkdir()
    commit = make_checkout(repo, remote="git@github.com:acme/model.git")
    assert code_reference(repo) == {
        "commit": commit,
        "branch": "main",
        "url": "https://github.com/acme/model",
        "is_dirty": False,
    }
    (repo / "untracked.txt").write_text("x")
    assert code_reference(repo)["is_dirty"] is False  # type: ignore[index]
    (repo / "train.py").write_text("print('changed')\n")
    assert code_reference(repo / ".")["is_dirty"] is True  # type: ignore[index]


def test_without_psutil_resources_are_skipped_with_one_message(
    project: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "psutil", None)  # what `import psutil` sees when it is not installed
    monkeypatch.setattr(system, "_told_no_sampler", False)
    caplog.set_level(logging.INFO, logger="polyaxon_integrations")
    for _ in range(2):
        run = tracking.init(project=project, is_offline=True, collect_resources=True, track_logs=True)
        assert run is not None
        print("still captured")
        assert run.end() is True
        assert not (Path(run.get_artifacts_path()) / "resources").exists()
        assert "still captured" in (Path(run.get_artifacts_path()) / "plxlogs" / "logs.jsonl").read_text()
    told = [r for r in caplog.records if "polyaxon-integrations[system]" in r.getMessage()]
    assert len(told) == 1
