"""What the framework adapters share: hyperparameter flattening, ``LazyRun``, files written with the run."""

from __future__ import annotations

import dataclasses
import enum
import math
import pickle
import sys
import threading
from argparse import Namespace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from polyaxon_integrations import tracking
from polyaxon_integrations.core.adapter import LazyRun, Origin
from polyaxon_integrations.core.client import PolyaxonClient
from polyaxon_integrations.core.exceptions import ConfigError
from polyaxon_integrations.core.guard import PolyaxonWarning
from polyaxon_integrations.core.params import flatten_params, to_input_value


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Optim:
    lr: float = 0.1
    betas: tuple[float, float] = (0.9, 0.999)


def test_flatten_nested_namespaces_dataclasses_and_callables() -> None:
    params = {
        "model": {"layers": 2, "act": math.tanh, "cls": Path},
        "args": Namespace(batch_size=8, color=Color.RED),
        "optim": Optim(),
        "np": np.float32(0.5),
        "array": np.arange(3),
        "empty": {},
        "none": None,
        "nan": float("nan"),
    }
    assert flatten_params(params) == {
        "model/layers": 2,
        "model/act": "math.tanh",
        "model/cls": "pathlib.Path",
        "args/batch_size": 8,
        "args/color": "red",
        "optim/lr": 0.1,
        "optim/betas": [0.9, 0.999],
        "np": 0.5,
        "array": "array([0, 1, 2])",
        "empty": {},
        "none": None,
        "nan": "NaN",
    }


def test_classes_of_private_modules_are_named_where_they_are_exported(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.13 defines ``pathlib.Path`` in ``pathlib._local``: a name must not depend on the Python."""
    import types

    package, impl = types.ModuleType("pkgx"), types.ModuleType("pkgx._impl")
    exported = type("Thing", (), {"__module__": "pkgx._impl"})
    hidden = type("Hidden", (), {"__module__": "pkgx._impl"})
    package.Thing = exported  # type: ignore[attr-defined]
    package.Other = hidden  # type: ignore[attr-defined]  # same object under another name: not where it lives
    monkeypatch.setitem(sys.modules, "pkgx", package)
    monkeypatch.setitem(sys.modules, "pkgx._impl", impl)
    assert to_input_value(exported) == "pkgx.Thing"
    assert to_input_value(hidden) == "pkgx._impl.Hidden"
    assert to_input_value(Path) == "pathlib.Path"
    assert to_input_value(pickle.Pickler) == "_pickle.Pickler"  # a private top-level module has no public parent


def test_flatten_is_stable_and_bounded() -> None:
    assert flatten_params(Namespace(a=1), sep=".", prefix="hp") == {"hp.a": 1}
    assert len(to_input_value("x" * 10_000)) == 500
    assert to_input_value({1, 3, 2}) == [1, 2, 3]
    assert isinstance(to_input_value(list(range(1000))), str)  # long lists are shown, not stored item by item
    with pytest.raises(TypeError, match="pass a dict"):
        flatten_params(3)


def test_lazy_run_reuses_only_a_run_the_user_started(host: str, project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lazy = LazyRun(project=project, name="mine")
    assert lazy.run is None and not lazy.resolved  # nothing happens until first use
    own = lazy.get()
    assert own is not None and own.project == project and own.name == "mine" and lazy.origin is Origin.OWNED
    assert lazy.get() is own
    assert tracking.get_run() is own  # tracking.log_* in user code reaches it
    # Another adapter told nothing does not log into this adapter's open run: it starts its own.
    monkeypatch.setenv("POLYAXON_PROJECT", project)
    other = LazyRun(name="other")
    theirs = other.get()
    assert theirs is not None and theirs.run_uuid != own.run_uuid and other.origin is Origin.OWNED
    assert tracking.get_run() is theirs  # the latest run started is current (a user run would stay)
    theirs.end()
    own.end()
    again = lazy.get()  # the run it held has ended: used again, it continues the same run
    assert again is not None and again is not own and again.run_uuid == own.run_uuid
    assert lazy.get(reopen=False) is again
    again.end()
    assert lazy.get(reopen=False) is again and again.ended  # peeking never starts or reopens a run
    copy = pickle.loads(pickle.dumps(lazy))
    assert copy.run is None and copy.run_uuid == own.run_uuid and copy.origin is Origin.HANDED  # attaches, never forks
    assert copy.__deepcopy__({}) is copy
    user = tracking.init(project=project, name="users")
    assert user is not None
    reused = LazyRun(name="adapter")
    assert reused.get() is user and reused.origin is Origin.USER
    reused.finish(RuntimeError("boom"))
    assert not user.ended  # the user's run is the user's to end
    assert LazyRun(project=project).get() is not user  # told where to log: its own run
    user.end()


def test_finish_applies_the_ownership_rule(host: str, project: str) -> None:
    for exc, status in ((None, "succeeded"), (RuntimeError("x"), "failed"), (KeyboardInterrupt(), "stopped")):
        lazy = LazyRun(project=project)
        run = lazy.get()
        assert run is not None
        lazy.finish(exc)
        assert run.ended and run.status == status
    handed = tracking.init(project=project)
    assert handed is not None
    lazy = LazyRun(handed)
    assert lazy.origin is Origin.HANDED
    lazy.finish(RuntimeError("x"))
    assert not handed.ended
    handed.end()


def test_options_are_checked() -> None:
    with pytest.raises(TypeError, match="unexpected option"):
        LazyRun(projekt="p")
    assert LazyRun(project="p", name=None).options == {"project": "p"}


def test_lazy_run_is_none_under_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_NO_OP", "true")
    assert LazyRun(project="p").get() is None


def lineage(api: PolyaxonClient, project: str, uuid: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["kind"], e["name"]): e for e in api.get_lineage("default", project, uuid)}


def test_log_file_writes_outputs_and_lineage(host: str, api: PolyaxonClient, project: str) -> None:
    run = tracking.init(project=project)
    assert run is not None
    assert run.log_file("model_summary.txt", "Linear(3, 1)\n4 params") == "outputs/model_summary.txt"
    with pytest.raises(ConfigError, match="Invalid file name"):
        run.log_file("../escape.txt", "x")
    assert run.end() is True
    assert (Path(run.get_outputs_path()) / "model_summary.txt").read_text() == "Linear(3, 1)\n4 params"
    entry = lineage(api, project, run.run_uuid)["file", "model_summary"]
    assert entry["path"] == "outputs/model_summary.txt" and entry["summary"]["hash"]
    url = f"{host}/streams/v1/polyaxon/default/{project}/runs/{run.run_uuid}/artifacts/tree"
    assert api.request("GET", url, params={"path": "outputs"})["files"] == {"model_summary.txt": 21}


def test_a_checkpoint_removed_before_the_copy_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_INTEGRATIONS_RERAISE", "false")
    run = tracking.init(project="p", is_offline=True)
    assert run is not None
    checkpoint = tmp_path / "epoch=1.ckpt"
    checkpoint.write_bytes(b"w")
    gate = threading.Event()
    run._recorder.writer.put(("call", gate.wait))  # hold the writer so the file is removed before it copies
    run._recorder.writer.put(("call", checkpoint.unlink))
    with pytest.warns(PolyaxonWarning, match="removed before it could be saved"):
        run.log_model(checkpoint, name="checkpoint", step=1)
        gate.set()
        run.flush()
    run.end()
