"""Rich events in the run folder: off the calling thread, copied at the call, bounded, and never fatal.

Server read-back is in test_rich_server.py; here the folder and the official reader are the judges.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from polyaxon_integrations import tracking
from polyaxon_integrations.core import media
from polyaxon_integrations.core.events import InvalidValueError
from polyaxon_integrations.core.guard import PolyaxonWarning
from polyaxon_integrations.core.run import Run
from tests.conftest import SERVER_PYTHON

PIL = pytest.importorskip("PIL.Image")


def offline(project: str = "media") -> Run:
    run = tracking.init(project=project, is_offline=True)
    assert run is not None
    return run


def rows(run: Run, kind: str, name: str) -> list[str]:
    run.flush()
    text = (Path(run.get_artifacts_path()) / "events" / kind / f"{name}.plx").read_text()
    return text.split("\n")[1:]


def payloads(run: Run, kind: str, name: str) -> list[Any]:
    return [json.loads(row.split("|", 2)[2]) for row in rows(run, kind, name)]


@pytest.fixture
def no_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make ``import <module>`` fail as if it were not installed."""

    def hide(module: str) -> None:
        for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, module, None)
        media._found.clear()

    yield hide
    media._found.clear()


def test_the_array_is_copied_at_the_call_and_encoded_on_the_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    run = offline()
    threads: list[str] = []
    encode = media.encode_png
    monkeypatch.setattr(
        media, "encode_png", lambda *a, **k: (threads.append(threading.current_thread().name), encode(*a, **k))
    )
    image = np.zeros((3, 2, 2), dtype=np.float32)
    run.log_image(image, name="copy", step=0)
    image[:] = 1.0  # the caller moves on and changes its array: the logged image must not change
    run.end()
    assert threads == ["polyaxon-writer"]
    picture = PIL.open(Path(run.get_artifacts_path()) / "assets/image/copy_0.png")
    assert np.asarray(picture).max() == 0


def test_histogram_is_binned_on_the_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    run = offline()
    threads: list[str] = []
    binning = media.histogram
    monkeypatch.setattr(
        media, "histogram", lambda *a: (threads.append(threading.current_thread().name), binning(*a))[1]
    )
    values = np.arange(10, dtype=np.float64)
    run.log_histogram("h", values, bins=5, step=1)
    values[:] = 100.0
    assert payloads(run, "histogram", "h") == [{"values": [2.0] * 5, "counts": [0.0, 1.8, 3.6, 5.4, 7.2, 9.0]}]
    assert threads == ["polyaxon-writer"]
    run.end()


def test_tensors_of_any_framework_and_pil_images() -> None:
    torch = pytest.importorskip("torch")
    run = offline()
    run.log_image(torch.ones(1, 3, 4), name="tensor", step=1)  # 1 channel: stacked to RGB
    run.log_image(torch.rand(10, 3, 2, 2, requires_grad=True), name="batch", step=1, dataformats="NCHW")
    run.log_image(PIL.new("RGB", (6, 2), "red"), name="pil", step=1)
    run.log_image(np.ones((4, 5), dtype=np.uint8) * 7, name="gray", step=1, dataformats="HW")
    run.log_histogram("bf16", torch.ones(8, dtype=torch.bfloat16), bins=2, step=1)
    assert payloads(run, "image", "tensor") == [
        {"height": 3, "width": 4, "colorspace": 3, "path": "assets/image/tensor_1.png"}
    ]
    assert payloads(run, "image", "batch")[0]["height"] == 4 and payloads(run, "image", "batch")[0]["width"] == 16
    run.end()
    folder = Path(run.get_artifacts_path())
    assert PIL.open(folder / "assets/image/batch_1.png").size == (16, 4)  # 8 columns, 2 rows
    assert PIL.open(folder / "assets/image/pil_1.png").getpixel((0, 0)) == (255, 0, 0)
    assert PIL.open(folder / "assets/image/gray_1.png").convert("RGB").getpixel((0, 0)) == (7, 7, 7)


def test_rescale_records_the_size_before_it() -> None:
    run = offline()
    run.log_image(np.random.rand(3, 4, 5), name="big", step=1, rescale=2)
    assert payloads(run, "image", "big")[0]["height"] == 4
    run.end()
    assert PIL.open(Path(run.get_artifacts_path()) / "assets/image/big_1.png").size == (10, 8)


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("log_image", (np.zeros((2, 3)),)),  # CHW expected
        ("log_image", (np.zeros((5, 3, 3)),)),  # 5 channels
        ("log_image", ("no/such/file.png",)),
        ("log_video", (np.zeros((2, 3, 3)),)),
        ("log_audio", (np.zeros((2, 3)),)),
        ("log_np_histogram", ("h", [1, 2], [0, 1])),
        ("log_histogram", ("h", [], 3)),
        ("log_histogram", ("h", [1.0, 2.0], 10_000)),
        ("log_curve", ("c", [1, 2], [1])),
        ("log_dataframe", (object(), "df")),
    ],
)
def test_bad_input_is_a_value_error_at_the_call(call: str, args: tuple[Any, ...]) -> None:
    run = offline()
    with pytest.raises(ValueError):
        getattr(run, call)(*args)
    run.end()


def test_confusion_matrix_that_is_not_square_is_skipped_with_a_warning() -> None:
    run = offline()
    with pytest.warns(PolyaxonWarning, match="not logged"):
        run.log_confusion_matrix("cm", ["a", "b"], ["a", "b"], [[1, 2, 3], [4, 5, 6]])
    run.end()
    assert not (Path(run.get_artifacts_path()) / "events/confusion").exists()


@pytest.mark.parametrize(
    ("module", "call", "args"),
    [
        ("PIL", "log_image", (np.zeros((3, 2, 2)),)),
        ("PIL", "log_video", (np.zeros((1, 2, 3, 2, 2)),)),
        ("numpy", "log_histogram", ("h", [1.0, 2.0], 2)),
        ("numpy", "log_audio", ([0.1, 0.2],)),
        ("sklearn", "log_sklearn_roc_auc_curve", ("c", [0.1, 0.9], [0, 1])),
        ("bokeh", "log_bokeh_chart", ("b", object())),
        ("matplotlib", "log_mpl_image", (object(),)),
    ],
)
def test_a_missing_dependency_is_one_warning_naming_the_extra(
    no_module: Any, module: str, call: str, args: tuple[Any, ...]
) -> None:
    run = offline()
    no_module(module)
    with pytest.warns(PolyaxonWarning, match=r"polyaxon-integrations\[media\]") as caught:
        getattr(run, call)(*args)
        getattr(run, call)(*args)  # the second time: silent
    assert len([w for w in caught if issubclass(w.category, PolyaxonWarning)]) == 1
    run.log_text("still", "logging", step=1)  # the run goes on
    run.end()
    folder = Path(run.get_artifacts_path())
    assert sorted(p.parent.name for p in (folder / "events").glob("*/*.plx")) == ["text"]


def test_mpl_plotly_chart_falls_back_to_an_image_without_plotly(no_module: Any) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(2, 1), dpi=50)
    axes.plot([1, 2, 3])
    run = offline()
    no_module("plotly")
    run.log_mpl_plotly_chart("fig", figure, step=1)
    assert payloads(run, "image", "fig") == [
        {"height": 50, "width": 100, "colorspace": 3, "path": "assets/image/fig_1.png"}
    ]
    assert not plt.fignum_exists(figure.number)  # close=True
    run.end()


def test_backlog_is_bounded_and_drops_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_INTEGRATIONS_MEDIA_BACKLOG_MB", "1")
    run = offline()
    gate = threading.Event()
    run._recorder.writer.put_now(("call", lambda: gate.wait(30)))  # the writer is stuck (a slow disk)
    image = np.zeros((3, 128, 128), dtype=np.float32)  # 192 KiB
    with pytest.warns(PolyaxonWarning, match="dropped"):
        for step in range(20):
            run.log_image(image, name="img", step=step)
    backlog = run._rich_backlog
    assert backlog is not None and backlog.queued <= 1 << 20
    kept = 20 - run.media_dropped
    assert run.media_dropped > 0 and kept >= 1
    assert run.run_data["meta_info"]["media_dropped"] == run.media_dropped  # reported with the run
    gate.set()
    run.end()
    assert len(list((Path(run.get_artifacts_path()) / "assets/image").glob("*.png"))) == kept
    assert len(rows(run, "image", "img")) == kept
    assert backlog.queued == 0


def test_a_failing_encoder_costs_only_its_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_INTEGRATIONS_RERAISE", "false")

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(media, "encode_png", broken)
    run = offline()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        run.log_image(np.zeros((3, 2, 2)), name="lost", step=1)
        run.log_histogram("kept", [1.0, 2.0], bins=2, step=1)
        run.end()
    assert len(rows(run, "histogram", "kept")) == 1
    assert not (Path(run.get_artifacts_path()) / "events/image").exists()
    assert run._rich_backlog is not None and run._rich_backlog.queued == 0


def test_the_official_reader_reads_our_rows_even_with_a_pipe_inside(tmp_path: Path) -> None:
    """``|`` in a payload is written as a JSON escape: the official reader (pyarrow) keeps the columns."""
    run = offline()
    run.log_curve("c", [1, 2], [3, 4], annotation="a|b", step=1)
    run.log_confusion_matrix("m", ["x|y", "z"], ["x|y", "z"], [[1, 0], [0, 1]], step=2)
    run.log_html("h", "<b>|</b>", step=3)
    run.end()
    folder = Path(run.get_artifacts_path())
    script = """
import json, sys
from traceml.events import V1Events
out = {}
for kind, name in [("curve", "c"), ("confusion", "m"), ("html", "h")]:
    data = open(f"{sys.argv[1]}/events/{kind}/{name}.plx").read()
    events = V1Events.read(kind=kind, name=name, data=data, parse_dates=False, engine="pyarrow")
    out[kind] = events.to_dict()
print(json.dumps(out, default=str))
"""
    result = subprocess.run(
        [str(SERVER_PYTHON), "-c", script, str(folder)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    read = json.loads(result.stdout.strip().splitlines()[-1])
    assert json.loads(read["curve"]["curve"][0])["annotation"] == "a|b"
    assert json.loads(read["confusion"]["confusion"][0])["x"] == ["x|y", "z"]
    assert read["html"]["html"] == ["<b>|</b>"] and read["html"]["step"] == [3]


def test_no_plotting_library_is_imported_by_tracking() -> None:
    code = (
        "import sys; from polyaxon_integrations import tracking; import polyaxon_integrations.core.rich;"
        "print(sorted(m for m in ('numpy', 'PIL', 'matplotlib', 'plotly', 'pandas', 'sklearn', 'bokeh') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_module_functions_follow_the_current_run() -> None:
    run = offline()
    tracking.log_image(np.zeros((3, 2, 2)), name="m", step=1)
    tracking.log_html("h", "<p/>", step=1)
    tracking.log_progress(0.25)
    with pytest.raises(ValueError):
        tracking.log_progress(1.5)
    with pytest.raises(TypeError):
        tracking.log_progress("half")  # type: ignore[arg-type]
    assert len(rows(run, "image", "m")) == 1
    tracking.end()
    assert run.run_data["meta_info"]["progress"] == 0.25
    with pytest.raises(InvalidValueError):
        offline().log_artifact_ref("x", kind="no-such-kind")


def test_nan_in_a_payload_is_null_not_invalid_json() -> None:
    run = offline()
    run.log_confusion_matrix("normalized", ["a", "b"], ["a", "b"], [[float("nan"), 1.0], [0.5, 0.5]], step=1)
    run.log_curve("gaps", [0.0, 1.0], [float("inf"), 2.0], step=1)
    assert payloads(run, "confusion", "normalized") == [
        {"x": ["a", "b"], "y": ["a", "b"], "z": [[None, 1.0], [0.5, 0.5]]}
    ]
    assert payloads(run, "curve", "gaps")[0]["y"] == [None, 2.0]
    run.end()


def test_many_large_copies_never_mix_two_images() -> None:
    """Copies made while the writer encodes and frees earlier ones: each PNG still has its own pixels."""
    run = offline()
    image = np.zeros((3, 128, 128), dtype=np.float32)  # 192 KiB
    for step in range(8):
        image[:] = step / 10
        run.log_image(image, name="pooled", step=step)
        image[:] = 1.0  # changed right after the call
        if step % 3 == 0:
            run.flush()  # the writer encodes and frees the copies made so far
    histogram = np.arange(100_000, dtype=np.float32)
    run.log_histogram("pooled", histogram, bins=4, step=0)
    histogram[:] = -1
    run.end()
    folder = Path(run.get_artifacts_path()) / "assets/image"
    for step in range(8):
        pixels = np.asarray(PIL.open(folder / f"pooled_{step}.png"))
        assert (pixels == int(step / 10 * 255)).all(), step
    assert payloads(run, "histogram", "pooled")[0]["values"] == [25_000.0] * 4


def test_set_artifacts_path_keeps_the_run_folder(tmp_path: Path) -> None:
    run = offline()
    run.set_artifacts_path(run.get_artifacts_path())  # its own folder: nothing to say
    with pytest.warns(PolyaxonWarning, match="ignored"):
        tracking.set_artifacts_path(str(tmp_path / "elsewhere"))
    run.log_html("h", "<p/>", step=1)
    run.end()
    assert (Path(run.get_artifacts_path()) / "events/html/h.plx").is_file()
    assert not (tmp_path / "elsewhere").exists()
