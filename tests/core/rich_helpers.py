"""Log one of every rich event with values the test knows, and read them back from the server's streams API.

Shared by the server tests (online, offline + ``sync``, offline + ``polyaxon ops push``) and the UI tests.
Expected payloads are written here from the inputs (numpy/sklearn recomputed by the test), not read from
the code under test.
"""

from __future__ import annotations

import io
import json
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from polyaxon_integrations.core.client import PolyaxonClient

IMAGE = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5) / 60.0  # CHW in [0, 1)
HIST_VALUES = np.random.default_rng(0).normal(size=10_000).astype(np.float32)
AUDIO = np.sin(np.linspace(0, 20 * np.pi, 800))
VIDEO = np.random.default_rng(1).random((3, 5, 3, 8, 8))  # (B, T, C, H, W): padded to 4 and tiled 1x4
Y_TRUE = np.array([0, 0, 1, 1, 0, 1, 1, 0, 1, 0])
Y_SCORE = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.6, 0.3, 0.7, 0.55])


@dataclass
class Logged:
    """What a run was given: expected payloads per (kind, name), and a check per asset path."""

    events: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    assets: dict[str, Any] = field(default_factory=dict)  # path -> callable(bytes) raising on mismatch

    def add(self, kind: str, name: str, payload: Any) -> None:
        self.events.setdefault((kind, name), []).append(payload)


def _png_of(width: int, height: int, pixels: np.ndarray | None = None) -> Any:
    def check(data: bytes) -> None:
        from PIL import Image

        assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
        picture = Image.open(io.BytesIO(data))
        assert picture.size == (width, height), picture.size
        if pixels is not None:
            assert np.array_equal(np.asarray(picture.convert("RGB")), pixels)

    return check


def log_everything(run: Any, tmp: Path) -> Logged:
    """One of each rich call, at step 1 (and an image file at step 3); returns what the server must serve."""
    import pandas as pd
    import plotly.graph_objects as go
    from sklearn import metrics

    want = Logged()
    run.log_image(IMAGE, name="sample", step=1)
    want.add("image", "sample", {"height": 4, "width": 5, "colorspace": 3, "path": "assets/image/sample_1.png"})
    hwc = (IMAGE.transpose(1, 2, 0) * 255).astype(np.uint8)
    want.assets["assets/image/sample_1.png"] = _png_of(5, 4, hwc)

    from PIL import Image

    Image.new("RGB", (7, 3), "blue").save(tmp / "photo.png")
    run.log_image(str(tmp / "photo.png"), step=3)
    want.add("image", "photo", {"path": "assets/image/photo_3.png"})
    want.assets["assets/image/photo_3.png"] = _png_of(7, 3)

    run.log_image_with_boxes(np.zeros((3, 16, 16)), np.array([[2, 2, 10, 10]]), name="boxes", step=1)
    want.add("image", "boxes", {"height": 16, "width": 16, "colorspace": 3, "path": "assets/image/boxes_1.png"})

    def red_box(data: bytes) -> None:
        picture = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        assert tuple(picture[2, 5]) == (255, 0, 0) and tuple(picture[8, 8]) == (0, 0, 0)

    want.assets["assets/image/boxes_1.png"] = red_box

    run.log_histogram("weights", HIST_VALUES, bins=20, step=1)
    counts, edges = np.histogram(HIST_VALUES.astype(np.float64), bins=20)
    want.add("histogram", "weights", {"values": counts.astype(float).tolist(), "counts": edges.tolist()})
    run.log_np_histogram("binned", [1, 2, 3], [0.0, 1.0, 2.0, 4.0], step=1)
    want.add("histogram", "binned", {"values": [1.0, 2.0, 3.0], "counts": [0.0, 1.0, 2.0, 4.0]})

    run.log_roc_auc_curve("roc", [0, 0.5, 1], [0, 0.8, 1], auc=0.75, step=1)
    want.add("curve", "roc", {"kind": "roc", "x": [0.0, 0.5, 1.0], "y": [0.0, 0.8, 1.0], "annotation": "0.75"})
    run.log_pr_curve("pr", [1, 0.5], [0, 1], average_precision=0.6, step=1)
    want.add("curve", "pr", {"kind": "pr", "x": [1.0, 0.5], "y": [0.0, 1.0], "annotation": "0.6"})
    run.log_curve("custom", [1, 2, 3], [3, 2, 1], annotation="a|b", step=1)  # a "|" must not split the row
    want.add("curve", "custom", {"kind": "custom", "x": [1.0, 2.0, 3.0], "y": [3.0, 2.0, 1.0], "annotation": "a|b"})
    run.log_sklearn_roc_auc_curve("sk_roc", Y_SCORE, Y_TRUE, step=1)
    fpr, tpr, _ = metrics.roc_curve(Y_TRUE, Y_SCORE)
    want.add(
        "curve",
        "sk_roc",
        {"kind": "roc", "x": fpr.tolist(), "y": tpr.tolist(), "annotation": str(metrics.auc(fpr, tpr))},
    )
    run.log_sklearn_pr_curve("sk_pr", Y_SCORE, Y_TRUE, step=1)
    precision, recall, _ = metrics.precision_recall_curve(Y_TRUE, Y_SCORE)
    ap = metrics.average_precision_score(Y_TRUE, Y_SCORE)
    want.add("curve", "sk_pr", {"kind": "pr", "x": precision.tolist(), "y": recall.tolist(), "annotation": str(ap)})

    run.log_confusion_matrix("confusion", ["cat", "dog"], ["cat", "dog"], [[5, 1], [2, 7]], step=1)
    want.add("confusion", "confusion", {"x": ["cat", "dog"], "y": ["cat", "dog"], "z": [[5, 1], [2, 7]]})

    run.log_html("report", "<h3>Report</h3><p>ok | fine</p>", step=1)
    want.add("html", "report", "<h3>Report</h3><p>ok | fine</p>")
    run.log_text("notes", "hello | world\nline2", step=1)
    want.add("text", "notes", "hello | world\nline2")

    figure = go.Figure(go.Scatter(x=np.arange(3), y=np.array([1, 3, 2]), name="line"))
    run.log_plotly_chart("plotly", figure, step=1)
    figure.data[0].y = [9, 9, 9]  # changed after logging: not what was logged
    want.add("chart", "plotly", ("plotly", {"x": [0, 1, 2], "y": [1, 3, 2]}))

    class Vega:
        def to_dict(self) -> dict[str, Any]:
            return {"mark": "bar", "data": {"values": [{"a": "x", "b": 2}]}}

    run.log_altair_chart("vega", Vega(), step=1)
    want.add("chart", "vega", ("vega", {"mark": "bar", "data": {"values": [{"a": "x", "b": 2}]}}))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawing, axes = plt.subplots(figsize=(2, 1), dpi=50)
    axes.plot([1, 2, 3], [3, 1, 2])
    run.log_mpl_image(drawing, name="mpl", step=1, close=False)
    want.add("image", "mpl", {"height": 50, "width": 100, "colorspace": 3, "path": "assets/image/mpl_1.png"})
    want.assets["assets/image/mpl_1.png"] = _png_of(100, 50)
    run.log_mpl_plotly_chart("mpl_plotly", drawing, step=1)  # closes it
    want.add("chart", "mpl_plotly", ("plotly", {"x": [1.0, 2.0, 3.0], "y": [3.0, 1.0, 2.0]}))

    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y|z"]})
    run.log_dataframe(frame, "table", step=1)
    want.add("dataframe", "table", {"path": "assets/dataframe/table_1.csv", "content_type": "csv"})
    expected_csv = frame.to_csv().encode()
    want.assets["assets/dataframe/table_1.csv"] = lambda data: _equal(data, expected_csv)

    run.log_audio(AUDIO, name="tone", sample_rate=8000, step=1)
    want.add(
        "audio",
        "tone",
        {
            "sample_rate": 8000.0,
            "num_channels": 1,
            "length_frames": 800,
            "path": "assets/audio/tone_1.wav",
            "content_type": "audio/wav",
        },
    )

    def wav(data: bytes) -> None:
        with wave.open(io.BytesIO(data)) as sound:
            assert (sound.getframerate(), sound.getnchannels(), sound.getnframes()) == (8000, 1, 800)
            samples = np.frombuffer(sound.readframes(800), dtype="<i2") / 32767
        assert np.allclose(samples, AUDIO, atol=1e-4)

    want.assets["assets/audio/tone_1.wav"] = wav

    run.log_video(VIDEO, name="clip", fps=5, step=1)
    want.add(
        "video",
        "clip",
        {"height": 8, "width": 32, "colorspace": 3, "path": "assets/video/clip_1.gif", "content_type": "gif"},
    )

    def gif(data: bytes) -> None:
        clip = Image.open(io.BytesIO(data))
        assert clip.format == "GIF" and clip.size == (32, 8) and clip.n_frames == 5

    want.assets["assets/video/clip_1.gif"] = gif
    return want


def _equal(data: bytes, expected: bytes) -> None:
    assert data == expected, (data, expected)


def streams(api: PolyaxonClient, project: str, uuid: str, what: str) -> str:
    return f"{api.config.streams_url}/default/{project}/runs/{uuid}/{what}"


def read_events(api: PolyaxonClient, project: str, uuid: str, kind: str, names: list[str]) -> dict[str, Any]:
    """``{name: {"step": [...], "timestamp": [...], kind: [...]}}`` as the streams API serves them."""
    body = api.request(
        "GET",
        streams(api, project, uuid, f"events/{kind}"),
        params={"names": ",".join(names), "orient": "dict", "force": "true"},
    )
    return {item["name"]: item["data"] for item in (body or {}).get("data") or []}


def read_asset(api: PolyaxonClient, project: str, uuid: str, path: str) -> bytes:
    data = api.request(
        "GET", streams(api, project, uuid, "artifact"), params={"path": path, "stream": "true"}, raw=True
    )
    assert isinstance(data, bytes)
    return data


def check_served(api: PolyaxonClient, project: str, uuid: str, want: Logged) -> None:
    """Every event and asset the run logged, as the server serves it."""
    by_kind: dict[str, list[str]] = {}
    for kind, name in want.events:
        by_kind.setdefault(kind, []).append(name)
    for kind, names in by_kind.items():
        served = read_events(api, project, uuid, kind, names)
        assert sorted(served) == sorted(names), (kind, sorted(served))
        for name in names:
            values = served[name][kind]
            expected = want.events[(kind, name)]
            assert served[name]["step"] == [3 if name == "photo" else 1] * len(expected), (kind, name)
            assert len(values) == len(expected), (kind, name, values)
            for got, wanted in zip(values, expected, strict=True):
                if kind in ("text", "html"):
                    assert got == wanted
                elif kind == "chart":
                    chart = json.loads(got)
                    assert chart["kind"] == wanted[0]
                    if wanted[0] == "plotly":
                        trace = chart["figure"]["data"][0]
                        assert {"x": trace["x"], "y": trace["y"]} == wanted[1]
                    else:
                        assert chart["figure"] == wanted[1]
                else:
                    assert json.loads(got) == wanted, (kind, name)
    for path, check in want.assets.items():
        check(read_asset(api, project, uuid, path))
