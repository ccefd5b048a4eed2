"""Rich events on a run: images, video, audio, html, histograms, curves, confusion matrices, charts, dataframes.

The official ``polyaxon.tracking`` calls, with their names and arguments, written in the
official layout (``events/<kind>/<name>.plx`` rows, ``assets/<kind>/<name>_<step>.<ext>``
files). The caller's thread validates and copies (an array, a figure's data); encoding
PNG/GIF/WAV, histograms and JSON happens on the writer thread. What waits to be encoded
is bounded (``POLYAXON_INTEGRATIONS_MEDIA_BACKLOG_MB``): past it new events are dropped,
counted (``run.media_dropped``) and warned about, so memory never grows with a slow disk.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import threading
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import env, media, ui
from .events import InvalidValueError
from .exceptions import ConfigError
from .guard import warn_once
from .lineage import copy_into
from .recorder import to_step, to_timestamp
from .refs import RefsMixin

if TYPE_CHECKING:
    from .recorder import Recorder

__all__ = ["RichLoggingMixin"]

Fields = dict[str, Any]
Encoder = Callable[[Path], "Fields | None"]


class _Backlog:
    """Bytes copied for the writer and not yet encoded; ``take`` refuses past the limit (and counts it)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.queued = 0
        self.dropped = 0
        self._lock = threading.Lock()  # held for an addition, never across I/O

    def take(self, nbytes: int) -> bool:
        with self._lock:
            if self.queued and self.queued + nbytes > self.limit:
                self.dropped += 1
                return False
            self.queued += nbytes
            return True

    def give(self, nbytes: int) -> None:
        with self._lock:
            self.queued -= nbytes


def _is_file(data: Any) -> bool:
    return isinstance(data, str | os.PathLike) and os.path.isfile(data)


def _is_pil(data: Any) -> bool:
    return type(data).__module__.startswith("PIL.") and hasattr(data, "getbands")


def _ext(path: Path, default: str) -> str:
    return path.suffix[1:].lower() or default


def _json_default(value: Any) -> Any:
    """Arrays, numpy scalars and dates inside chart figures, as JSON has them."""
    for attr in ("tolist", "isoformat"):
        method = getattr(value, attr, None)
        if callable(method):
            return method()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _chart(kind: str, figure: Any) -> str:
    if kind == "plotly":
        figure = media.plain_typed_arrays(figure)
    return json.dumps({"kind": kind, "figure": figure}, default=_json_default)


class RichLoggingMixin(RefsMixin):
    """The official rich-event calls on :class:`~polyaxon_integrations.core.run.Run`."""

    if TYPE_CHECKING:
        _recorder: Recorder

    _rich_backlog: _Backlog | None = None
    _has_rich_events = False

    @property
    def media_dropped(self) -> int:
        """Rich events dropped because the writer was too far behind (``POLYAXON_INTEGRATIONS_MEDIA_BACKLOG_MB``)."""
        return self._rich_backlog.dropped if self._rich_backlog is not None else 0

    # --- plumbing ----------------------------------------------------------------------

    def _rich_stem(self, kind: str, name: str) -> str:
        self._check_open()
        stem = self._recorder.names.stem(kind, name)
        if not self._has_rich_events:
            self._has_rich_events = True
            self._rich_first_steps: dict[tuple[str, str], int | None] = {}
            if not self._state.meta_info.get("has_events"):
                self.log_meta(has_events=True)
        return stem

    def _backlog(self) -> _Backlog:
        backlog = self._rich_backlog
        if backlog is None:
            limit = env.read_float(env.MEDIA_BACKLOG_MB, 256.0)
            backlog = self._rich_backlog = _Backlog(int(limit * (1 << 20)))
        return backlog

    def _take(self, nbytes: int) -> bool:
        """Room in the backlog for ``nbytes`` more; False (counted, warned once) when the writer is that far behind."""
        backlog = self._backlog()
        if backlog.take(nbytes):
            return True
        self.log_meta(media_dropped=backlog.dropped)  # the count, in the run's meta_info (server and folder)
        warn_once(
            f"media-dropped-{self.run_uuid}",
            f"polyaxon-integrations: the writer is {backlog.queued >> 20} MB of images/histograms behind; new ones "
            f"are dropped until it catches up (count: run.media_dropped; limit: {env.MEDIA_BACKLOG_MB}).",
        )
        return False

    def events_dashboard_url(self, kinds: Iterable[str] | None = None) -> str | None:
        """A UI link showing the rich events logged so far (images, histograms, curves...), a section per kind."""
        page = getattr(self, "url", None)
        if page is None:
            return None
        wanted = None if kinds is None else set(kinds)
        seen: dict[tuple[str, str], int | None] = getattr(self, "_rich_first_steps", {})
        events = [(k, n, s) for (k, n), s in seen.items() if wanted is None or k in wanted]
        return ui.events_dashboard_url(page, events)

    def _seen(self, kind: str, stem: str, step: int | None) -> None:
        if (kind, stem) not in self._rich_first_steps:
            self._rich_first_steps[(kind, stem)] = step

    def _event(self, kind: str, stem: str, step: int | None, ts: float, build: Callable[[], str | None]) -> None:
        """A row whose value ``build`` makes on the writer thread (JSON of a long list, a histogram)."""
        self._seen(kind, stem, step)

        def job() -> list[tuple[Any, ...]] | None:
            value = build()
            return None if value is None else [(kind, stem, step, ts, value)]

        self._recorder.writer.put(("job", job))

    def _asset(
        self,
        kind: str,
        stem: str,
        step: int | None,
        ts: float,
        ext: str,
        encode: Encoder,
        *,
        nbytes: int = 0,
        tail: Fields | None = None,
        urgent: bool = False,
    ) -> None:
        """Write ``assets/<kind>/<stem>[_<step>].<ext>`` with ``encode`` on the writer thread, then its row.

        ``encode`` returns the payload's fields before ``path`` (None: nothing to log); ``tail``
        the fields after it, as the official payloads order them.
        """
        backlog = self._backlog()
        if nbytes and not self._take(nbytes):
            return
        self._seen(kind, stem, step)
        rel = f"assets/{kind}/{stem}{'' if step is None else f'_{step}'}.{ext}"
        root, mirror = self._recorder.root, self._recorder.mirror

        def job() -> list[tuple[Any, ...]] | None:
            try:
                fields = encode(root / rel)
            finally:
                if nbytes:
                    backlog.give(nbytes)
            if fields is None:
                return None
            if mirror is not None:
                mirror.files_changed([rel])
            return [(kind, stem, step, ts, media.payload({**fields, "path": rel, **(tail or {})}))]

        writer = self._recorder.writer
        (writer.put_now if urgent else writer.put)(("job", job))

    def _copy_file(
        self,
        kind: str,
        data: Any,
        name: str | None,
        step: Any,
        timestamp: Any,
        default_ext: str,
        tail: Fields | None = None,
    ) -> None:
        source = Path(data)
        stem = self._rich_stem(kind, name or source.name.split(".", 1)[0] or kind)
        ext = _ext(source, default_ext)

        def encode(target: Path) -> Fields | None:
            if not source.exists():
                warn_once(f"vanished-{source}", f"polyaxon-integrations: {source} was removed before it was saved.")
                return None
            copy_into(source, target)
            return {}

        step = to_step(step)
        tail = {"content_type": ext, **(tail or {})} if kind == "video" else tail
        self._asset(kind, stem, step, to_timestamp(timestamp), ext, encode, tail=tail, urgent=True)

    # --- images ------------------------------------------------------------------------

    def log_image(
        self,
        data: Any,
        name: str | None = None,
        step: int | None = None,
        timestamp: Any = None,
        rescale: int = 1,
        dataformats: str = "CHW",
        ext: str | None = None,
    ) -> None:
        """An image: a file, an array or tensor (``dataformats``: CHW by default, HWC, HW, NCHW grids), a PIL image.

        Arrays: floats are in [0, 1], integers in [0, 255]; saved as PNG (``rescale`` resizes it).
        """
        if _is_file(data):
            self._copy_file("image", data, name, step, timestamp, ext or "png")
            return
        if isinstance(data, str | os.PathLike):
            raise ConfigError(f"Cannot log image {str(data)!r}: no such file.")
        step, ts = to_step(step), to_timestamp(timestamp)
        stem = self._rich_stem("image", name or "image")
        encoded = getattr(data, "encoded_image_string", None)
        if encoded is not None:  # a TF summary image: already PNG
            raw = bytes(encoded)
            summary = {"height": data.height, "width": data.width, "colorspace": data.colorspace}

            def encode_raw(target: Path) -> Fields:
                media.write_atomic(target, raw)
                return summary

            self._asset("image", stem, step, ts, "png", encode_raw)
            return
        if not media.require("log_image", "PIL"):
            return
        if _is_pil(data):
            picture = data.copy()
            fields = {"height": picture.height, "width": picture.width, "colorspace": len(picture.getbands())}

            def encode_pil(target: Path) -> Fields:
                media.encode_png(target, picture, rescale)
                return fields

            nbytes = picture.height * picture.width * len(picture.getbands())
            self._asset("image", stem, step, ts, "png", encode_pil, nbytes=nbytes)
            return
        array = media.copy_array(data, "an image")
        if array is None:
            return
        self._log_image_array(stem, step, ts, array, dataformats, rescale, None)

    def _log_image_array(
        self, stem: str, step: int | None, ts: float, array: Any, dataformats: str, rescale: float, boxes: Any
    ) -> None:
        height, width, channels = media.image_shape(array.shape, dataformats)
        fields = {"height": height, "width": width, "colorspace": channels}

        def encode(target: Path) -> Fields:
            media.encode_png(target, media.to_hwc(array, dataformats), rescale, boxes)
            return fields

        self._asset("image", stem, step, ts, "png", encode, nbytes=array.nbytes)

    def log_image_with_boxes(
        self,
        tensor_image: Any,
        tensor_boxes: Any,
        name: str | None = None,
        step: int | None = None,
        timestamp: Any = None,
        rescale: int = 1,
        dataformats: str = "CHW",
    ) -> None:
        """An image with boxes ``[[x1, y1, x2, y2], ...]`` drawn in red."""
        step, ts = to_step(step), to_timestamp(timestamp)
        stem = self._rich_stem("image", name or "figure")
        if not media.require("log_image_with_boxes", "PIL"):
            return
        boxes = media.copy_array(tensor_boxes, "boxes")
        if boxes is None:
            return
        boxes = boxes.reshape(-1, 4) if boxes.size else boxes.reshape(0, 4)
        if _is_file(tensor_image):
            source = Path(tensor_image)

            def encode_file(target: Path) -> Fields:
                from PIL import Image

                with Image.open(source) as picture:
                    loaded = picture.convert("RGB")
                media.encode_png(target, loaded, rescale, boxes)
                return {"height": loaded.height, "width": loaded.width, "colorspace": 3}

            self._asset("image", stem, step, ts, "png", encode_file, urgent=True)
            return
        array = media.copy_array(tensor_image, "an image")
        if array is not None:
            self._log_image_array(stem, step, ts, array, dataformats, rescale, boxes)

    def log_mpl_image(
        self, data: Any, name: str | None = None, close: bool = True, step: int | None = None, timestamp: Any = None
    ) -> None:
        """A matplotlib figure (or a list of them, as a grid) as an image; rendered here, encoded on the writer."""
        if not media.require("log_mpl_image", "numpy") or not media.require("log_mpl_image", "matplotlib"):
            return
        figures = data if isinstance(data, list | tuple) else [data]
        images = [_render(figure, close) for figure in figures]
        if isinstance(data, list | tuple):
            import numpy as np

            if len({image.shape for image in images}) != 1:
                raise InvalidValueError("log_mpl_image: the figures of a list must have the same size.")
            self.log_image(np.stack(images), name or "figure", step, timestamp, dataformats="NHWC")
        else:
            self.log_image(images[0], name or "figure", step, timestamp, dataformats="HWC")

    # --- video, audio ------------------------------------------------------------------

    def log_video(
        self,
        data: Any,
        name: str | None = None,
        fps: int = 4,
        step: int | None = None,
        timestamp: Any = None,
        content_type: str | None = None,
    ) -> None:
        """A video: a file, or an array ``(batch, time, channels, height, width)`` (a batch is tiled) as a GIF."""
        if _is_file(data):
            self._copy_file("video", data, name, step, timestamp, content_type or "gif")
            return
        step, ts = to_step(step), to_timestamp(timestamp)
        stem = self._rich_stem("video", name or "video")
        if not media.require("log_video", "PIL"):
            return
        array = media.copy_array(data, "a video")
        if array is None:
            return
        media.video_grid_shape(array.shape)
        if content_type not in (None, "gif"):
            warn_once("video-gif", f"polyaxon-integrations: video arrays are saved as GIF, not {content_type!r}.")

        def encode(target: Path) -> Fields:
            height, width, channels = media.encode_gif(target, array, fps)
            return {"height": height, "width": width, "colorspace": channels}

        self._asset("video", stem, step, ts, "gif", encode, nbytes=array.nbytes, tail={"content_type": "gif"})

    def log_audio(
        self,
        data: Any,
        name: str | None = None,
        sample_rate: int = 44100,
        step: int | None = None,
        timestamp: Any = None,
        content_type: str | None = None,
    ) -> None:
        """Audio: a file, or mono samples in [-1, 1] (an array or tensor) saved as a 16-bit WAV."""
        if _is_file(data):
            tail = {"content_type": content_type} if content_type else None
            self._copy_file("audio", data, name, step, timestamp, content_type or "wav", tail)
            return
        step, ts = to_step(step), to_timestamp(timestamp)
        stem = self._rich_stem("audio", name or "audio")
        array = media.copy_array(data, "audio")
        if array is None:
            return
        samples = array.squeeze()
        if samples.ndim != 1 or samples.size == 0:
            raise InvalidValueError(f"log_audio takes mono samples (one axis), got shape {tuple(array.shape)}.")
        if not sample_rate or sample_rate <= 0:
            raise InvalidValueError(f"log_audio: sample_rate must be positive, got {sample_rate!r}.")
        fields = {"sample_rate": float(sample_rate), "num_channels": 1, "length_frames": int(samples.size)}

        def encode(target: Path) -> Fields:
            media.encode_wav(target, samples, sample_rate)
            return fields

        self._asset("audio", stem, step, ts, "wav", encode, nbytes=samples.nbytes, tail={"content_type": "audio/wav"})

    # --- html --------------------------------------------------------------------------

    def log_html(self, name: str, html: str, step: int | None = None, timestamp: Any = None) -> None:
        stem = self._rich_stem("html", name)
        step = to_step(step)
        self._seen("html", stem, step)
        self._recorder.writer.put(("html", stem, step, to_timestamp(timestamp), str(html)))

    # --- histograms --------------------------------------------------------------------

    def log_histogram(
        self,
        name: str,
        values: Any,
        bins: Any,
        max_bins: int | None = None,
        step: int | None = None,
        timestamp: Any = None,
    ) -> None:
        """A histogram of ``values`` (any array or tensor) with ``bins`` (a count, edges, or a numpy rule like "auto").

        The values are copied here and binned on the writer thread.
        """
        step, ts = to_step(step), to_timestamp(timestamp)
        stem = self._rich_stem("histogram", name)
        array = media.copy_array(values, "a histogram")
        if array is None:
            return
        if array.size == 0:
            raise InvalidValueError(f"Histogram {name!r} has no values.")
        limit = max_bins or 512
        if isinstance(bins, int) and not isinstance(bins, bool) and not 0 < bins <= limit:
            raise InvalidValueError(f"Histogram {name!r}: bins must be in 1..{limit}, got {bins}.")
        bins = bins.value if isinstance(bins, Enum) else bins
        if not isinstance(bins, int | str):
            bins = media.copy_array(bins, "histogram edges")
        if not self._take(array.nbytes):
            return
        backlog = self._backlog()

        def build() -> str | None:
            try:
                result = media.histogram(array, bins, max_bins)
            finally:
                backlog.give(array.nbytes)
            return None if result is None else media.payload({"values": result[0], "counts": result[1]})

        self._event("histogram", stem, step, ts, build)

    def log_np_histogram(
        self, name: str, values: Any, counts: Any, step: int | None = None, timestamp: Any = None
    ) -> None:
        """A histogram already binned: ``values`` are the per-bin counts, ``counts`` the edges (one more)."""
        step, ts = to_step(step), to_timestamp(timestamp)
        stem = self._rich_stem("histogram", name)
        bin_counts, edges = media.float_list(values, "values"), media.float_list(counts, "counts")
        if len(bin_counts) > 512:
            raise InvalidValueError(f"Histogram {name!r}: at most 512 bins, got {len(bin_counts)}.")
        if len(bin_counts) + 1 != len(edges):
            raise InvalidValueError(
                f"Histogram {name!r}: len(counts) (edges) must be len(values) + 1, got {len(edges)} and "
                f"{len(bin_counts)}."
            )
        self._event("histogram", stem, step, ts, lambda: media.payload({"values": bin_counts, "counts": edges}))

    # --- curves, confusion matrix ----------------------------------------------------------

    def _curve(self, name: str, kind: str, x: Any, y: Any, annotation: Any, step: Any, timestamp: Any) -> None:
        step, ts = to_step(step), to_timestamp(timestamp)
        stem = self._rich_stem("curve", name)
        xs, ys = media.float_list(x, "x"), media.float_list(y, "y")
        if len(xs) != len(ys):
            raise InvalidValueError(f"Curve {name!r}: x and y have different lengths ({len(xs)} and {len(ys)}).")
        note = str(annotation) if annotation else None
        fields = {"kind": kind, "x": xs, "y": ys, "annotation": note}
        self._event("curve", stem, step, ts, lambda: media.payload(fields))

    def log_roc_auc_curve(
        self, name: str, fpr: Any, tpr: Any, auc: float | None = None, step: int | None = None, timestamp: Any = None
    ) -> None:
        self._curve(name, "roc", fpr, tpr, auc, step, timestamp)

    def log_pr_curve(
        self,
        name: str,
        precision: Any,
        recall: Any,
        average_precision: float | None = None,
        step: int | None = None,
        timestamp: Any = None,
    ) -> None:
        self._curve(name, "pr", precision, recall, average_precision, step, timestamp)

    def log_curve(
        self, name: str, x: Any, y: Any, annotation: str | None = None, step: int | None = None, timestamp: Any = None
    ) -> None:
        self._curve(name, "custom", x, y, annotation, step, timestamp)

    def log_sklearn_roc_auc_curve(
        self,
        name: str,
        y_preds: Any,
        y_targets: Any,
        step: int | None = None,
        timestamp: Any = None,
        is_multi_class: bool = False,
    ) -> None:
        """ROC curve(s) computed by scikit-learn on the writer thread (multi-class: one per class, ``<name>_<i>``)."""
        self._sklearn_curve("roc", name, y_preds, y_targets, step, timestamp, is_multi_class)

    def log_sklearn_pr_curve(
        self,
        name: str,
        y_preds: Any,
        y_targets: Any,
        step: int | None = None,
        timestamp: Any = None,
        is_multi_class: bool = False,
    ) -> None:
        self._sklearn_curve("pr", name, y_preds, y_targets, step, timestamp, is_multi_class)

    def _sklearn_curve(
        self, kind: str, name: str, y_preds: Any, y_targets: Any, step: Any, timestamp: Any, multi: bool
    ) -> None:
        step, ts = to_step(step), to_timestamp(timestamp)
        if not media.require(f"log_sklearn_{kind}_curve", "sklearn"):
            return
        preds, targets = media.copy_array(y_preds, "predictions"), media.copy_array(y_targets, "targets")
        if preds is None or targets is None:
            return
        if not multi:
            self._event("curve", self._rich_stem("curve", name), step, ts, lambda: _sk_curve(kind, preds, targets))
            return
        import numpy as np

        classes = np.unique(targets)
        if preds.ndim != 2 or preds.shape[1] != len(classes):
            raise InvalidValueError(
                f"Curve {name!r}: multi-class predictions are (samples, {len(classes)} classes), got {preds.shape}."
            )
        for i, label in enumerate(classes):
            stem = self._rich_stem("curve", f"{name}_{i}")
            self._event("curve", stem, step, ts, functools.partial(_sk_curve, kind, preds[:, i], targets, label))

    def log_confusion_matrix(
        self, name: str, x: Any, y: Any, z: Any = None, step: int | None = None, timestamp: Any = None
    ) -> None:
        """A confusion matrix: ``x`` and ``y`` the labels, ``z`` the ``len(x)`` rows of ``len(x)`` counts."""
        step, ts = to_step(step), to_timestamp(timestamp)
        stem = self._rich_stem("confusion", name)
        xs, ys, zs = media.plain(x), media.plain(y), media.plain(z)
        try:
            square = len(xs) == len(ys) == len(zs) and all(len(row) == len(zs) for row in zs)
        except TypeError:
            square = False
        if not square:
            warn_once(
                f"confusion-{stem}",
                f"polyaxon-integrations: confusion matrix {name!r} was not logged: x, y and z must have the same "
                "length and z must be square.",
            )
            return
        xs, ys, zs = copy.deepcopy(list(xs)), copy.deepcopy(list(ys)), [list(row) for row in zs]
        self._event("confusion", stem, step, ts, lambda: media.payload({"x": xs, "y": ys, "z": zs}))

    # --- charts ------------------------------------------------------------------------

    def _log_chart(self, kind: str, name: str, figure: Any, step: Any, timestamp: Any) -> None:
        step, ts = to_step(step), to_timestamp(timestamp)
        stem = self._rich_stem("chart", name)
        self._event("chart", stem, step, ts, lambda: _chart(kind, figure))

    def log_plotly_chart(self, name: str, figure: Any, step: int | None = None, timestamp: Any = None) -> None:
        """A plotly figure (or its dict, or a matplotlib figure, converted by plotly), drawn by the UI."""
        if type(figure).__module__.startswith("matplotlib"):
            self.log_mpl_plotly_chart(name, figure, step, timestamp, fallback_to_image=False)
            return
        if isinstance(figure, dict):
            snapshot = copy.deepcopy(figure)
        elif callable(getattr(figure, "to_dict", None)):
            snapshot = figure.to_dict()  # plotly's is a deep copy: later changes to the figure are not logged
        else:
            raise InvalidValueError(f"log_plotly_chart takes a plotly figure or a dict, got {type(figure).__name__}.")
        self._log_chart("plotly", name, snapshot, step, timestamp)

    def log_bokeh_chart(self, name: str, figure: Any, step: int | None = None, timestamp: Any = None) -> None:
        if not media.require("log_bokeh_chart", "bokeh"):
            return
        from bokeh.embed import json_item  # type: ignore[import-not-found,unused-ignore]

        self._log_chart("bokeh", name, json_item(figure), step, timestamp)

    def log_altair_chart(self, name: str, figure: Any, step: int | None = None, timestamp: Any = None) -> None:
        """An altair (vega-lite) chart: anything with ``to_dict()``."""
        self._log_chart("vega", name, figure.to_dict(), step, timestamp)

    def log_mpl_plotly_chart(
        self,
        name: str,
        figure: Any,
        step: int | None = None,
        timestamp: Any = None,
        close: bool = True,
        fallback_to_image: bool = True,
    ) -> None:
        """A matplotlib figure converted to plotly; as an image if plotly cannot convert it (``fallback_to_image``)."""
        try:
            if not media.available("plotly"):
                raise ImportError("plotly is not installed")
            from plotly.tools import mpl_to_plotly  # type: ignore[import-untyped,unused-ignore]

            converted = mpl_to_plotly(figure).to_dict()
        except Exception as exc:
            if not fallback_to_image:
                warn_once(
                    f"mpl-plotly-{type(exc).__name__}",
                    f"polyaxon-integrations: chart {name!r} was not logged: plotly could not convert the matplotlib "
                    f"figure ({exc}); `{media.EXTRA}` installs plotly.",
                )
                return
            self.log_mpl_image(figure, name, close, step, timestamp)
            return
        if close:
            _close(figure)
        self._log_chart("plotly", name, converted, step, timestamp)

    # --- dataframes ----------------------------------------------------------------------

    def log_dataframe(
        self, df: Any, name: str, content_type: str = "csv", step: int | None = None, timestamp: Any = None
    ) -> None:
        """A pandas (or polars) data frame, saved as ``csv`` (index included) or ``html`` on the writer thread."""
        kind = content_type.value if isinstance(content_type, Enum) else content_type
        if kind not in ("csv", "html"):
            raise InvalidValueError(f"log_dataframe: content_type is 'csv' or 'html', got {content_type!r}.")
        step, ts = to_step(step), to_timestamp(timestamp)
        stem = self._rich_stem("dataframe", name)
        if callable(getattr(df, "clone", None)) and not callable(getattr(df, "to_csv", None)):
            snapshot = df.clone()  # polars
        elif callable(getattr(df, "copy", None)):
            snapshot = df.copy()  # pandas: a deep copy
        else:
            raise InvalidValueError(f"log_dataframe takes a pandas or polars DataFrame, got {type(df).__name__}.")
        shape = getattr(snapshot, "shape", (0, 0))
        nbytes = int(math.prod(shape)) * 8 if len(shape) == 2 else 0

        def encode(target: Path) -> Fields:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            if kind == "csv":
                if callable(getattr(snapshot, "to_csv", None)):
                    snapshot.to_csv(tmp)
                else:
                    snapshot.write_csv(tmp)
            elif callable(getattr(snapshot, "to_html", None)):
                snapshot.to_html(tmp)
            else:
                tmp.write_text(snapshot._repr_html_())
            os.replace(tmp, target)
            return {}

        self._asset("dataframe", stem, step, ts, kind, encode, nbytes=nbytes, tail={"content_type": kind})


def _sk_curve(kind: str, preds: Any, targets: Any, label: Any = None) -> str:
    """On the writer thread: the curve scikit-learn computes, as its payload."""
    from sklearn import metrics  # type: ignore[import-untyped,unused-ignore]

    if kind == "roc":
        fpr, tpr, _ = metrics.roc_curve(targets, preds, pos_label=label)
        x, y, note = fpr, tpr, metrics.auc(fpr, tpr)
    else:
        precision, recall, _ = metrics.precision_recall_curve(targets, preds, pos_label=label)
        truth = targets if label is None else targets == label
        x, y, note = precision, recall, metrics.average_precision_score(truth, preds)
    return media.payload(
        {"kind": kind, "x": media.float_list(x, "x"), "y": media.float_list(y, "y"), "annotation": str(note)}
    )


def _figure(figure: Any) -> Any:
    """The matplotlib Figure of a figure, an Axes or the ``pyplot`` module (its current figure)."""
    if getattr(figure, "__name__", "") == "matplotlib.pyplot":
        return figure.gcf()
    if type(figure).__name__ != "Figure" and hasattr(figure, "figure"):
        return figure.figure
    return figure


def _close(figure: Any) -> None:
    import matplotlib.pyplot as plt

    plt.close(_figure(figure))


def _render(figure: Any, close: bool) -> Any:
    """A matplotlib figure's pixels (HWC, RGB), drawn on this thread: figures are not thread-safe, and may change."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = _figure(figure)
    canvas = fig.canvas if hasattr(fig.canvas, "buffer_rgba") else FigureCanvasAgg(fig)
    canvas.draw()
    pixels = np.array(canvas.buffer_rgba())[:, :, :3]
    if close:
        _close(fig)
    return pixels
