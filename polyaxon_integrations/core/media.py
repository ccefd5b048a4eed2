"""Rich event data: taken (validated, copied) on the caller's thread, encoded on the writer thread.

Nothing here imports numpy, PIL or a plotting library at module import. Inputs are
duck-typed: numpy arrays, torch/TF/JAX tensors (``detach``/``cpu``/``numpy``/``__array__``),
PIL images, lists. A missing optional dependency is one warning naming the ``media``
extra, and the event is skipped: never an exception into training, never a writer crash.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import os
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .events import InvalidValueError
from .guard import warn_once

__all__ = [
    "EXTRA",
    "available",
    "copy_array",
    "encode_gif",
    "encode_png",
    "encode_wav",
    "float_list",
    "histogram",
    "image_shape",
    "missing",
    "payload",
    "video_grid_shape",
]

EXTRA = 'pip install "polyaxon-integrations[media]"'
_found: dict[str, bool] = {}


def available(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (cached; ``sys.modules[m] = None`` counts as no)."""
    known = _found.get(module)
    if known is None:
        import sys

        if module in sys.modules:
            known = sys.modules[module] is not None
        else:
            try:
                known = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                known = False
        _found[module] = known
    return known


def missing(what: str, module: str) -> None:
    """One warning per missing module: what could not be logged and how to get it."""
    warn_once(
        f"media-missing-{module}",
        f"polyaxon-integrations: {what} needs the {module!r} package, which is not installed; "
        f"the event was not logged. Install it with `{EXTRA}`.",
    )


def require(what: str, *modules: str) -> bool:
    for module in modules:
        if not available(module):
            missing(what, module)
            return False
    return True


# --- caller's thread: take a copy ---------------------------------------------------------


def copy_array(data: Any, what: str) -> Any:
    """A numpy copy of ``data`` (an array, a tensor of any framework, a PIL image, a list), or None without numpy.

    The copy is what makes logging safe: the writer encodes it later, after the caller has
    moved on and perhaps changed its own array (an optimizer step updates weights in place).
    """
    if not require(what, "numpy"):
        return None
    import numpy as np

    value = data
    detach = getattr(value, "detach", None)
    if callable(detach) and not isinstance(value, np.ndarray):  # torch
        value = detach()
        if getattr(value, "dtype", None) is not None and str(value.dtype) == "torch.bfloat16":
            value = value.float()
        cpu = getattr(value, "cpu", None)
        if callable(cpu):
            value = cpu()
    if not isinstance(value, np.ndarray):
        to_numpy = getattr(value, "numpy", None)  # torch, TF eager tensors
        if callable(to_numpy):
            try:
                value = to_numpy()
            except (TypeError, RuntimeError, ValueError):
                pass
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"Cannot log {type(data).__name__} as {what}: {exc}") from None
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise InvalidValueError(f"Cannot log {type(data).__name__} as {what}: expected numbers, got {array.dtype}.")
    # ``tobytes`` copies holding the GIL; ``ndarray.copy`` lets it go for large arrays, and getting it back
    # from a busy writer thread costs the caller up to the interpreter's switch interval (5 ms).
    return np.frombuffer(array.tobytes(), dtype=array.dtype).reshape(array.shape)


def float_list(values: Any, what: str) -> list[float | None]:
    """``values`` (list, array, tensor) as a list of floats; NaN/inf become None (JSON has no NaN)."""
    if hasattr(values, "tolist") or hasattr(values, "detach"):
        array = copy_array(values, what)
        if array is None:
            raise InvalidValueError(f"Cannot log {what} from {type(values).__name__} without numpy.")
        values = array.reshape(-1).tolist()
    try:
        floats = [float(v) for v in values]
    except (TypeError, ValueError):
        raise InvalidValueError(f"{what} must be a sequence of numbers, got {type(values).__name__}.") from None
    return [v if math.isfinite(v) else None for v in floats]


def plain(value: Any) -> Any:
    """Arrays and tensors as (nested) lists; anything else as it is."""
    if hasattr(value, "detach") or hasattr(value, "tolist"):
        array = copy_array(value, "a value")
        return value if array is None else array.tolist()
    return value


def payload(fields: dict[str, Any]) -> str:
    """A ``.plx`` cell: compact JSON with None fields left out, and ``|`` written as ``\\u007c``.

    The official reader splits rows on ``|`` with no quoting, so a ``|`` in a caption or an
    annotation would shift its columns; as a JSON escape it reads back as the same string.
    """
    kept = {k: v for k, v in fields.items() if v is not None}
    try:
        text = json.dumps(kept, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or an infinity (a normalized confusion matrix with an empty row): null, as pydantic
        text = json.dumps(_finite(kept), separators=(",", ":"), allow_nan=False)
    return text.replace("|", "\\u007c")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


# --- shapes, known on the caller's thread --------------------------------------------------


def _format(shape: Sequence[int], dataformats: str) -> str:
    formats = dataformats.upper()
    if len(set(formats)) != len(formats) or set(formats) - set("NCHW"):
        raise InvalidValueError(f"dataformats {dataformats!r} must use each of N, C, H, W at most once.")
    if len(formats) != len(shape):
        raise InvalidValueError(f"An image of shape {tuple(shape)} does not match dataformats {dataformats!r}.")
    if "H" not in formats or "W" not in formats:
        raise InvalidValueError(f"dataformats {dataformats!r} needs H and W.")
    if len(formats) == 4 and "C" not in formats:
        raise InvalidValueError(f"dataformats {dataformats!r}: a batch of images needs C.")
    return formats


def image_shape(shape: Sequence[int], dataformats: str) -> tuple[int, int, int]:
    """(height, width, channels) of the PNG an array of ``shape`` becomes (a batch becomes a grid of 8 columns)."""
    formats = _format(shape, dataformats)
    size = dict(zip(formats, shape, strict=True))
    channels = size.get("C", 1)
    if channels not in (1, 3, 4):
        raise InvalidValueError(f"An image has 1, 3 or 4 channels, got {channels} (shape {tuple(shape)}).")
    height, width = size["H"], size["W"]
    if height < 1 or width < 1:
        raise InvalidValueError(f"An image of shape {tuple(shape)} is empty.")
    count = size.get("N", 1)
    if count < 1:
        raise InvalidValueError(f"An image batch of shape {tuple(shape)} is empty.")
    cols = min(count, 8)
    rows = math.ceil(count / cols)
    return height * rows, width * cols, 3 if channels == 1 else channels


def video_grid_shape(shape: Sequence[int]) -> tuple[int, int, int, int, int]:
    """(batch, frames, channels, height, width) of a ``(B,T,C,H,W)`` or ``(T,C,H,W)`` video; validated."""
    if len(shape) == 4:
        shape = (1, *shape)
    if len(shape) != 5:
        raise InvalidValueError(f"A video is (batch, time, channels, height, width); got shape {tuple(shape)}.")
    batch, frames, channels, height, width = shape
    if channels not in (1, 3, 4) or min(shape) < 1:
        raise InvalidValueError(f"A video has 1, 3 or 4 channels and no empty axis; got shape {tuple(shape)}.")
    return batch, frames, channels, height, width


# --- writer thread: encode -------------------------------------------------------------


def _to_uint8(array: Any) -> Any:
    import numpy as np

    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype.kind in "iu":  # integers: already 0..255
        return np.clip(array, 0, 255).astype(np.uint8)
    scaled = np.nan_to_num(array.astype(np.float32) * 255.0, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def to_hwc(array: Any, dataformats: str) -> Any:
    """An image array as uint8 HWC with 3 or 4 channels; a batch as a grid of up to 8 columns."""
    import numpy as np

    formats = _format(array.shape, dataformats)
    image = _to_uint8(array)
    if len(formats) == 2:
        image = image.transpose([formats.find(c) for c in "HW"])[:, :, None]
    elif len(formats) == 3:
        order = [formats.find(c) for c in "HWC" if c in formats]
        image = image.transpose(order) if "C" in formats else image.transpose(order)[:, :, None]
    else:
        batch = image.transpose([formats.find(c) for c in "NHWC"])
        count, height, width, channels = batch.shape
        cols = min(count, 8)
        rows = math.ceil(count / cols)
        grid = np.zeros((height * rows, width * cols, channels), dtype=np.uint8)
        for i in range(count):
            y, x = divmod(i, cols)
            grid[y * height : (y + 1) * height, x * width : (x + 1) * width] = batch[i]
        image = grid
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image)


def write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def encode_png(target: Path, image: Any, rescale: float = 1, boxes: Any = None) -> None:
    """Write ``image`` (uint8 HWC array or PIL image) as PNG; red ``[x1,y1,x2,y2]`` boxes drawn before any rescale."""
    from PIL import Image, ImageDraw

    picture = image if hasattr(image, "save") else Image.fromarray(image)
    if boxes is not None and len(boxes):
        picture = picture.convert("RGB")
        draw = ImageDraw.Draw(picture)
        for box in boxes:
            x1, y1, x2, y2 = (float(v) for v in box[:4])
            draw.rectangle([min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)], outline="red", width=2)
    if rescale != 1:
        size = (max(1, int(picture.width * rescale)), max(1, int(picture.height * rescale)))
        picture = picture.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)  # beside training: less CPU beats a smaller file
    write_atomic(target, buffer.getvalue())


def video_frames(array: Any) -> Any:
    """``(B,T,C,H,W)`` -> uint8 ``(T, rows*H, cols*W, C)``: the batch padded to a power of two and tiled."""
    import numpy as np

    if array.ndim == 4:
        array = array[None]
    batch, frames, channels, height, width = array.shape
    video = _to_uint8(array)
    padded = 1 << max(0, (batch - 1).bit_length())
    if padded != batch:
        video = np.concatenate([video, np.zeros((padded - batch, frames, channels, height, width), np.uint8)])
    rows = 2 ** ((batch.bit_length() - 1) // 2)  # from the batch before padding, as the official layout
    cols = padded // rows
    video = video.reshape(rows, cols, frames, channels, height, width).transpose(2, 0, 4, 1, 5, 3)
    return video.reshape(frames, rows * height, cols * width, channels)


def encode_gif(target: Path, array: Any, fps: float) -> tuple[int, int, int]:
    """Write a video array as an animated GIF; (height, width, channels) of its frames."""
    from PIL import Image

    frames = video_frames(array)
    channels = frames.shape[3]
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
    pictures = [Image.fromarray(frame[:, :, 0] if channels == 1 else frame, mode=mode) for frame in frames]
    buffer = io.BytesIO()
    duration = max(1, round(1000 / fps)) if fps and fps > 0 else 250
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=duration, loop=0)
    write_atomic(target, buffer.getvalue())
    return frames.shape[1], frames.shape[2], channels


def encode_wav(target: Path, samples: Any, sample_rate: int) -> None:
    """16-bit mono PCM WAV of samples in [-1, 1] (clipped)."""
    import numpy as np

    pcm = (np.clip(np.nan_to_num(samples.astype(np.float64)), -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(pcm.tobytes())
    write_atomic(target, buffer.getvalue())


def histogram(values: Any, bins: Any, max_bins: int | None) -> tuple[list[float], list[float]] | None:
    """(per-bin counts, edges) of the finite ``values``; None when none is finite."""
    import numpy as np

    flat = values.reshape(-1).astype(np.float64, copy=False)  # edges in float64, as the official ones
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        warn_once("histogram-empty", "polyaxon-integrations: a histogram with no finite value was not logged.")
        return None
    counts, edges = np.histogram(flat, bins=bins)
    limit = max_bins or 512
    if counts.size > limit:
        warn_once(
            "histogram-bins", f"polyaxon-integrations: a histogram of {counts.size} bins (over {limit}) was not logged."
        )
        return None
    return counts.astype(float).tolist(), edges.astype(float).tolist()


def plain_typed_arrays(value: Any) -> Any:
    """Plotly >= 6 writes arrays as ``{"dtype", "bdata"[, "shape"]}`` (base64); as plain lists every plotly.js
    version draws them, the UI's included."""
    if isinstance(value, dict):
        if "bdata" in value and "dtype" in value and len(value) <= 3:
            import base64

            import numpy as np

            array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
            shape = value.get("shape")
            if shape:
                dims = [int(d) for d in str(shape).split(",")] if not isinstance(shape, list) else shape
                array = array.reshape(dims)
            return array.tolist()
        return {k: plain_typed_arrays(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_typed_arrays(v) for v in value]
    return value
