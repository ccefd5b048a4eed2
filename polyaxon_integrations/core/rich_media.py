"""Rich events, media: images (arrays, PIL, files, matplotlib, with boxes), video, audio, html, histograms.

The official ``polyaxon.tracking`` calls with their names and arguments, written in the official
layout (``events/<kind>/<name>.plx`` rows, ``assets/<kind>/<name>_<step>.<ext>`` files).
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Any

from . import media
from .events import InvalidValueError
from .exceptions import ConfigError
from .guard import warn_once
from .recorder import to_step, to_timestamp
from .rich_base import Fields, RichBase, _is_file, _is_pil

__all__ = ["RichMediaMixin"]


class RichMediaMixin(RichBase):
    """The official media calls (images, video, audio, html, histograms)."""

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
