"""The event pipeline without a server: metric values, event names, the ``.plx`` file format, summaries, the writer.

The server reads these files as they are written, so one wrong byte (a header twice, a trailing newline, a
timestamp in another format) loses a series; and ``log_metrics`` runs in training loops, so it must never do
I/O on the caller's thread or lose rows when several threads log at once.
"""

from __future__ import annotations

import builtins
import io
import json
import math
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyaxon_integrations import tracking
from polyaxon_integrations.core import folder as folder_mod
from polyaxon_integrations.core.events import EventNames, InvalidValueError, Series, TimestampFormatter, to_number
from polyaxon_integrations.core.exceptions import InvalidNameError, PolyaxonError
from polyaxon_integrations.core.writer import EventWriter

TS = datetime(2026, 11, 25, 16, 12, 21, 734928, tzinfo=timezone.utc).timestamp()
STAMP = "2026-11-25 16:12:21.734928+00:00"
HEADER = "step|timestamp|metric"


class FakeTensor:
    """Shaped like a torch/tf/jax tensor: ``item()`` works for one element only."""

    def __init__(self, *values: float) -> None:
        self.values = values
        self.shape = (len(values),)

    def item(self) -> float:
        if len(self.values) != 1:
            raise RuntimeError(f"a Tensor with {len(self.values)} elements cannot be converted to Scalar")
        return self.values[0]


# fmt: off
NUMBERS = [
    (3, 3, int), (2.5, 2.5, float), (True, 1, int), (False, 0, int), (np.float32(0.1), float(np.float32(0.1)), float),
    (np.float64(-1.25), -1.25, float), (np.int64(7), 7, int), (np.bool_(True), 1, int), (np.array([2.5]), 2.5, float),
    (np.array([[4]]), 4, int), (FakeTensor(0.25), 0.25, float), (Decimal("1.5"), 1.5, float),
    (Fraction(1, 4), 0.25, float),
]
NOT_NUMBERS = [
    ("0.5", "str"), (None, "NoneType"), ([1.0], "list"), (np.zeros((2, 3)), "shape (2, 3)"),
    (FakeTensor(1.0, 2.0), "shape (2,)"), (1 + 2j, "complex"), (np.complex128(1 + 2j), "complex128"),
]
# fmt: on


@pytest.mark.parametrize(("value", "expected", "kind"), NUMBERS)
def test_to_number_accepts_scalars(value: object, expected: float, kind: type) -> None:
    result = to_number("loss", value)
    assert result == expected and type(result) is kind


@pytest.mark.parametrize(("value", "shown"), NOT_NUMBERS)
def test_to_number_rejects_non_scalars_naming_the_metric(value: object, shown: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        to_number("train/loss", value)
    assert isinstance(info.value, ValueError)
    assert "'train/loss'" in str(info.value) and shown in str(info.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), np.float32("nan"), np.float64("-inf")])
def test_to_number_keeps_nan_and_infinities(value: object) -> None:
    result = to_number("m", value)
    assert type(result) is float and not math.isfinite(result)
    assert math.isnan(result) == math.isnan(float(value))  # type: ignore[arg-type]


@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers()))
def test_to_number_round_trips(value: float) -> None:
    assert to_number("m", value) == value and type(to_number("m", value)) is type(value)
    if isinstance(value, float):
        assert to_number("m", np.float64(value)) == value


@given(st.text(max_size=80))
def test_stem_is_a_safe_stable_file_name(name: str) -> None:
    names = EventNames()
    try:
        stem = names.stem("metric", name)
    except InvalidNameError:
        return
    assert stem and "/" not in stem and not stem.startswith(".") and len(stem.encode()) <= 200
    assert not any(ch.isspace() for ch in stem)
    assert names.stem("metric", name) == stem == EventNames().stem("metric", name)


@given(st.text(alphabet="ab/_ -.", min_size=1, max_size=6), st.text(alphabet="ab/_ -.", min_size=1, max_size=6))
def test_names_sharing_a_stem_are_refused(first: str, second: str) -> None:
    names = EventNames()
    try:
        stem = names.stem("metric", first)
        alone = EventNames().stem("metric", second)
    except InvalidNameError:
        return
    if alone == stem and first != second:
        with pytest.raises(InvalidNameError) as info:
            names.stem("metric", second)
        assert repr(first) in str(info.value) and repr(second) in str(info.value)
    else:
        assert names.stem("metric", second) == alone


@pytest.mark.parametrize(("first", "second"), [("a/b", "a__b"), ("x y", "x-y"), ("x  y", "x\u00a0y"), (" a", "a")])
def test_known_collisions(first: str, second: str) -> None:
    names = EventNames()
    names.stem("metric", first)
    with pytest.raises(InvalidNameError, match="would both be stored as") as info:
        names.stem("metric", second)
    assert repr(first) in str(info.value) and repr(second) in str(info.value)
    assert names.stem("text", second)  # other kinds have their own files


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_names_that_cannot_be_file_names_are_refused_when_logged(project: str) -> None:
    """Once accepted, "é" * 200 (404 bytes: ENAMETOOLONG) was never written, and a lone surrogate killed the writer."""
    run = tracking.init(project=project, is_offline=True)
    assert run is not None
    for bad, reason in (("é" * 200, "200 bytes"), ("bad\ud800", "not valid Unicode")):
        with pytest.raises(InvalidNameError, match=reason):
            run.log_metrics(step=1, **{bad: 1.0})
    stem = EventNames().stem("metric", "é" * 100)
    run.log_metrics(step=1, ok=2.0, **{"é" * 100: 3.0})
    assert run.end() is True
    root = Path(run.get_artifacts_path()) / "events/metric"
    for name, value in (("ok", "2.0"), (stem, "3.0")):
        header, row = (root / f"{name}.plx").read_text().split("\n")
        assert header == HEADER and row.startswith("1|") and row.endswith(f"|{value}")


def test_metric_rows_exact_text(tmp_path: Path) -> None:
    changed: list[set[str]] = []
    writer = EventWriter(tmp_path, flush_interval=0.05, on_flush=changed.append)
    writer.put(("metrics", 1, TS, {"loss": 0.5, "acc": 3}))
    writer.put(("metrics", None, TS, {"loss": float("nan"), "acc": 0.1}))
    writer.put(("metrics", 3, TS + 1, {"loss": float("inf"), "acc": float("-inf")}))
    model = '{"path": "assets/model/best_5.bin"}'
    writer.put(("model", "best", 5, TS, model))
    assert writer.flush(5)
    assert str(datetime.fromtimestamp(TS, timezone.utc)) == STAMP
    later = str(datetime.fromtimestamp(TS + 1, timezone.utc))
    root = tmp_path / "events"
    assert (root / "metric/loss.plx").read_text() == f"{HEADER}\n1|{STAMP}|0.5\n|{STAMP}|nan\n3|{later}|inf"
    assert (root / "metric/acc.plx").read_text() == f"{HEADER}\n1|{STAMP}|3\n|{STAMP}|0.1\n3|{later}|-inf"
    assert (root / "model/best.plx").read_text() == f"step|timestamp|model\n5|{STAMP}|{model}"
    assert set().union(*changed) == {"events/metric/loss.plx", "events/metric/acc.plx", "events/model/best.plx"}
    assert writer.close(5)
    assert writer.series[("metric", "loss")].count == 3 and writer.rows_written == 7


def test_text_rows_are_json_lines_without_header(tmp_path: Path) -> None:
    writer = EventWriter(tmp_path, flush_interval=0.05)
    writer.put(("text", "notes", 1, TS, "hello"))
    writer.put(("text", "notes", None, TS, 'a|b "c"\nd,é'))
    assert writer.close(5)
    text = (tmp_path / "events/text/notes.plx").read_text()
    assert text.startswith('\n{"timestamp": ') and not text.endswith("\n")
    rows = text.split("\n")
    assert rows[0] == "" and len(rows) == 3
    first, second = (json.loads(row) for row in rows[1:])
    assert list(first) == list(second) == ["timestamp", "step", "text"]
    assert first == {"timestamp": STAMP, "step": 1, "text": "hello"}
    assert second == {"timestamp": STAMP, "step": None, "text": 'a|b "c"\nd,é'}


def test_reopening_appends_under_one_header(tmp_path: Path) -> None:
    for step in (1, 2):
        writer = EventWriter(tmp_path, flush_interval=0.05)
        writer.put(("metrics", step, TS, {"loss": float(step)}))
        writer.put(("text", "notes", step, TS, f"t{step}"))
        assert writer.close(5)
    assert (tmp_path / "events/metric/loss.plx").read_text() == f"{HEADER}\n1|{STAMP}|1.0\n2|{STAMP}|2.0"
    texts = (tmp_path / "events/text/notes.plx").read_text().split("\n")
    assert texts[0] == "" and [json.loads(row)["text"] for row in texts[1:]] == ["t1", "t2"]


def test_writer_flushes_on_its_own_within_the_interval(tmp_path: Path) -> None:
    writer = EventWriter(tmp_path, flush_interval=0.05)
    writer.put(("metrics", 1, TS, {"loss": 1.5}))
    path = tmp_path / "events/metric/loss.plx"
    expected, deadline = f"{HEADER}\n1|{STAMP}|1.5", time.monotonic() + 2
    while time.monotonic() < deadline and not (path.exists() and path.read_text() == expected):
        time.sleep(0.01)
    assert path.read_text() == expected
    assert writer.close(5)


def test_series_summary_matches_numpy() -> None:
    rng = np.random.default_rng(7)
    finite = [float(v) for v in rng.normal(3.0, 2.0, 400)]
    series = Series()
    for step, value in enumerate([*finite[:200], float("nan"), float("inf"), *finite[200:], float("-inf"), 5]):
        series.add(step, TS + step, value)
    values = [*finite, 5]
    stats = series.summary()["metric"]
    assert stats["count"] == 404.0 and stats["last"] == 5
    assert stats["mean"] == pytest.approx(statistics.fmean(values), rel=1e-12)
    assert stats["std"] == pytest.approx(statistics.stdev(values), rel=1e-9)
    assert stats["min"] == min(values) and stats["max"] == max(values)
    ordered = sorted(values)
    for q in (25, 50, 75):
        assert stats[f"{q}%"] == ordered[q * 4] == pytest.approx(float(np.percentile(values, q)), rel=1e-15)
    summary = series.summary()
    assert summary["step"] == {"count": 404, "min": 0, "max": 403}
    assert summary["timestamp"]["min"] == STAMP
    json.dumps(summary, allow_nan=False)  # strict JSON: the server refuses NaN


def test_series_last_nan_and_empty_stats() -> None:
    series, only_bad, texts = Series(), Series(), Series()
    for value in (1.0, float("nan")):
        series.add(None, TS, value)
    only_bad.add(1, TS, float("-inf"))
    texts.add(1, TS, None)
    stats = series.summary()["metric"]
    assert stats["last"] == "NaN" and stats["count"] == 2.0 and stats["mean"] == 1.0 and stats["max"] == 1.0
    assert only_bad.summary()["metric"] == {"count": 1.0, "last": "-Infinity"}
    assert "metric" not in texts.summary() and texts.summary()["step"]["count"] == 1
    json.dumps([series.summary(), only_bad.summary()], allow_nan=False)


def test_series_memory_is_flat() -> None:
    series = Series()
    for i in range(100_000):
        series.add(i, TS, float(i))
    assert len(series.reservoir) <= 512
    stats = series.summary()["metric"]
    assert stats["count"] == 100_000.0 and stats["min"] == 0.0 and stats["max"] == 99_999.0 and stats["last"] == 99_999
    assert stats["mean"] == pytest.approx(49_999.5)
    assert stats["50%"] == pytest.approx(50_000, abs=6_000)  # estimated from the reservoir


def test_series_std_is_accurate_for_large_values() -> None:
    values = [1e9 + i for i in range(10)]  # e.g. tokens seen: stdev 3.03, the sum-of-squares formula said 11.9
    series = Series()
    for step, value in enumerate(values):
        series.add(step, TS, value)
    assert series.summary()["metric"]["std"] == pytest.approx(statistics.stdev(values), rel=1e-6)


def test_threads_logging_at_once_lose_nothing(project: str) -> None:
    run = tracking.init(project=project, is_offline=True)
    assert run is not None

    def work(k: int) -> None:
        for i in range(2000):
            run.log_metrics(step=i, **{f"t{k}": i})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))  # re-raises what a thread raised
    assert run.end() is True
    root = Path(run.get_artifacts_path())
    for k in range(8):
        header, *rows = (root / f"events/metric/t{k}.plx").read_text().split("\n")
        fields = [row.split("|") for row in rows]
        assert header == HEADER and len(rows) == 2000
        assert [(f[0], f[2]) for f in fields] == [(str(i), str(i)) for i in range(2000)]
    assert json.loads((root / "run.plx.json").read_text())["outputs"] == {f"t{k}": 1999 for k in range(8)}


def test_first_metrics_and_inputs_from_several_threads(project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every thread once wrote run.plx.json through the same temporary name: FileNotFoundError in the caller."""
    run = tracking.init(project=project, is_offline=True)
    assert run is not None
    real_dump = json.dump

    def slow_dump(*args: Any, **kwargs: Any) -> None:  # widens the race window, does not create it
        time.sleep(0.05)
        real_dump(*args, **kwargs)

    monkeypatch.setattr(folder_mod.json, "dump", slow_dump)
    barrier = threading.Barrier(4)

    def work(k: int) -> None:
        barrier.wait()
        run.log_metrics(step=0, loss=1.0) if k == 0 else run.log_inputs(**{f"p{k}": k})

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    monkeypatch.undo()
    assert run.end() is True
    data = json.loads((Path(run.get_artifacts_path()) / "run.plx.json").read_text())
    assert data["inputs"] == {"p1": 1, "p2": 2, "p3": 3} and data["meta_info"]["has_metrics"] is True


@contextmanager
def no_io_on_this_thread() -> Iterator[None]:
    """``open``/``os.replace`` raise on the calling thread only (the writer thread may do its job)."""
    me = threading.get_ident()

    def guard(real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == me:
                raise AssertionError(f"I/O on the calling thread: {real.__name__}{args[:1]!r}")
            return real(*args, **kwargs)

        return wrapper

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(builtins, "open", guard(builtins.open))
        patch.setattr(io, "open", guard(io.open))
        patch.setattr(os, "replace", guard(os.replace))
        yield


def test_log_metrics_does_no_io_on_the_calling_thread(project: str) -> None:
    """The first call too (it once wrote run.plx.json for meta_info), and a name first seen mid-run."""
    run = tracking.init(project=project, is_offline=True)
    assert run is not None
    with no_io_on_this_thread():
        for i in range(1000):
            run.log_metrics(step=i, loss=i / 2, **({"acc": np.float32(i)} if i >= 500 else {}))
    assert run.end() is True
    root = Path(run.get_artifacts_path())
    rows = (root / "events/metric/loss.plx").read_text().split("\n")[1:]
    assert len(rows) == 1000 and rows[-1].endswith("|499.5")
    assert len((root / "events/metric/acc.plx").read_text().split("\n")) == 501
    assert json.loads((root / "run.plx.json").read_text())["meta_info"]["has_metrics"] is True


def test_the_fast_path_still_validates_every_call(tmp_path: Path) -> None:
    """Known names with float/int values skip validation; anything else must still be checked and converted."""
    run = tracking.init(project="p", is_offline=True)
    assert run is not None
    run.log_metrics(step=0, loss=1.0, n=1)
    run.log_metrics(step=1, loss=0.5, n=2)  # fast path
    with pytest.raises(InvalidValueError, match="'loss' must be a number, got str"):
        run.log_metrics(step=2, loss="0.1")
    with pytest.raises(InvalidValueError, match="step must be an integer"):
        run.log_metrics(step=2.5, loss=0.1)
    with pytest.raises(InvalidNameError):
        run.log_metrics(step=2, loss=0.1, **{"bad|name": 1.0})  # loss is logged, the bad name is not
    run.log_metrics(step=np.int64(3), loss=np.float32(0.25), n=True)  # converted on the slow path
    tracking.log_metrics(step=4, loss=0.125, n=4)  # the module-level call takes the same path
    assert run.end() is True
    rows = (Path(run.get_artifacts_path()) / "events/metric/loss.plx").read_text().split("\n")[1:]
    assert [(r.split("|")[0], r.split("|")[2]) for r in rows] == [
        ("0", "1.0"),
        ("1", "0.5"),
        ("2", "0.1"),
        ("3", "0.25"),
        ("4", "0.125"),
    ]
    n_rows = (Path(run.get_artifacts_path()) / "events/metric/n.plx").read_text().split("\n")[1:]
    assert [r.split("|")[2] for r in n_rows] == ["1", "2", "1", "4"]


def test_series_in_batches_matches_one_by_one_and_samples_uniformly() -> None:
    """The writer summarizes a flush's points as one batch; the result must not depend on batching."""
    rng = np.random.default_rng(3)
    values = sorted(float(v) for v in rng.uniform(0, 1000, 50_000))  # rising: a biased sample would show
    values[10] = float("nan")
    values[20_000] = float("inf")
    batched, single = Series(), Series()
    position = 0
    for size in rng.integers(1, 3000, 100):
        chunk = values[position : position + int(size)]
        batched.add_batch(chunk, [(position + i, TS + position + i) for i in range(len(chunk))])
        position += len(chunk)
    for step, value in enumerate(values[:position]):
        single.add(step, TS + step, value)
    finite = [v for v in values[:position] if math.isfinite(v)]
    for series in (batched, single):
        stats = series.summary()["metric"]
        assert stats["count"] == float(position) and stats["last"] == values[position - 1]
        assert stats["mean"] == pytest.approx(statistics.fmean(finite), rel=1e-12)
        assert stats["std"] == pytest.approx(statistics.stdev(finite), rel=1e-9)
        assert stats["min"] == min(finite) and stats["max"] == max(finite)
        assert len(series.reservoir) == 512
        for q in (25, 50, 75):  # a uniform sample of a uniform distribution: within a few percent
            assert stats[f"{q}%"] == pytest.approx(q * 10, abs=60)
        assert series.summary()["step"] == {"count": position, "min": 0, "max": position - 1}


def test_a_bad_metric_costs_only_itself(tmp_path: Path) -> None:
    run = tracking.init(project="p", is_offline=True)
    assert run is not None
    with pytest.raises(InvalidValueError, match=r"'acc' must be a number.*'f1' must be a number.*other 1 metric"):
        run.log_metrics(step=1, loss=0.5, acc="high", f1=[1, 2])
    with pytest.raises(InvalidNameError, match=r"bad\|name"):
        run.log_metrics(step=2, **{"bad|name": 1.0, "loss": 0.25})
    with pytest.raises(InvalidValueError, match="step must be an integer"):
        run.log_metrics(step="x", loss=0.125)  # a bad step logs nothing of the call
    assert run.end() is True
    rows = (Path(run.get_artifacts_path()) / "events/metric/loss.plx").read_text().split("\n")[1:]
    assert [r.split("|")[0] for r in rows] == ["1", "2"]


def test_logging_after_end_is_an_error_on_every_path() -> None:
    run = tracking.init(project="p", is_offline=True)
    assert run is not None
    run.log_metrics(step=0, loss=1.0)
    run.log_metrics(step=1, loss=0.5)  # the name is known: later calls take the fast path
    run.end()
    for metrics in ({"loss": 0.25}, {"new_name": 1.0}, {}):
        with pytest.raises(PolyaxonError, match="has ended"):
            run.log_metrics(step=2, **metrics)
    rows = (Path(run.get_artifacts_path()) / "events/metric/loss.plx").read_text().split("\n")[1:]
    assert len(rows) == 2


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_timestamp_formatter_matches_datetime(ts: float) -> None:
    formatter = TimestampFormatter()
    assert formatter(ts) == str(datetime.fromtimestamp(ts, timezone.utc))
    assert formatter(ts + 0.25) == str(datetime.fromtimestamp(ts + 0.25, timezone.utc))  # the cached second
