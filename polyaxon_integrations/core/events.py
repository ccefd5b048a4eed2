"""Event values, names and the ``.plx`` file format the server reads.

Validation runs on the caller's thread (so a bad value is an error where it was
logged) and is made cheap for the common case: a known name and a ``float``/``int``.
Formatting runs on the writer thread.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .exceptions import ConfigError, InvalidNameError
from .values import encode_float

__all__ = ["EventNames", "InvalidValueError", "Series", "format_timestamp", "to_number"]

JSONL_KINDS = frozenset({"text", "html", "chart", "span"})
_RESERVOIR = 512


class InvalidValueError(ConfigError):
    """A logged value is not what its kind takes (e.g. a metric that is not a single number)."""


def to_number(name: str, value: Any) -> float | int:
    """A metric value as a Python number; numpy scalars and one-element tensors of any framework too.

    Tensors are recognised by their ``item()`` method, so no framework is imported. NaN and
    infinities are kept (the server shows them as gaps); bools become 0/1.
    """
    kind = type(value)
    if kind is float or kind is int:
        return value  # type: ignore[no-any-return]
    if kind is bool:
        return int(value)
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, str | bytes):
        try:
            value = item()
        except (ValueError, RuntimeError, TypeError):
            shape = getattr(value, "shape", None)
            raise InvalidValueError(
                f"Metric {name!r} must be a single number, got a {kind.__name__} of shape {tuple(shape or ())}."
            ) from None
        if type(value) is bool:
            return int(value)
        if isinstance(value, int | float):
            return value
    elif isinstance(value, int | float):  # Fraction-free subclasses such as IntEnum, numpy-free floats
        return float(value) if isinstance(value, float) else int(value)
    elif hasattr(value, "__float__") and not isinstance(value, str | bytes | complex):
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise InvalidValueError(f"Metric {name!r} must be a number, got {kind.__name__}: {shown}.")


_BAD_CHARS = re.compile(r"[,|\\\x00-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


class EventNames:
    """Maps event names to file names (``"train/loss"`` -> ``train__loss``) and refuses collisions.

    Two names that would share a file are an error, never silently merged into one series.
    """

    def __init__(self) -> None:
        self._stems: dict[tuple[str, str], str] = {}  # (kind, name) -> stem
        self._owners: dict[tuple[str, str], str] = {}  # (kind, stem) -> name
        self._lock = threading.Lock()

    def stem(self, kind: str, name: str) -> str:
        known = self._stems.get((kind, name))
        if known is not None:
            return known
        return self._register(kind, name)

    def _register(self, kind: str, name: str) -> str:
        if not isinstance(name, str) or not name.strip():
            raise InvalidNameError(f"Invalid {kind} name {name!r}: use a non-empty string such as 'train/loss'.")
        if _BAD_CHARS.search(name):
            raise InvalidNameError(
                f"Invalid {kind} name {name!r}: ',', '|', '\\' and control characters are not allowed."
            )
        stem = _SPACES.sub("-", name.strip()).replace("/", "__")
        try:
            size = len(stem.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidNameError(f"Invalid {kind} name {name!r}: it is not valid Unicode text.") from None
        if stem.startswith(".") or size > 200:
            raise InvalidNameError(
                f"Invalid {kind} name {name!r}: it may not start with '.' or exceed 200 bytes as a file name."
            )
        with self._lock:
            owner = self._owners.get((kind, stem))
            if owner is not None and owner != name:
                raise InvalidNameError(
                    f"{kind.capitalize()} names {owner!r} and {name!r} would both be stored as {stem!r}; rename one."
                )
            self._owners[(kind, stem)] = name
            self._stems[(kind, name)] = stem
        return stem

    def names(self, kind: str) -> dict[str, str]:
        """stem -> name for every name of ``kind`` seen so far."""
        with self._lock:
            return {stem: name for (k, stem), name in self._owners.items() if k == kind}


def format_timestamp(ts: float) -> str:
    """``str(datetime)`` in UTC with offset, as the server parses it."""
    return str(datetime.fromtimestamp(ts, timezone.utc))


class TimestampFormatter:
    """``format_timestamp`` for a stream of nearby times: the date and time of day are formatted once a
    second, the microseconds per call (rounded as ``datetime`` rounds them, so the text is identical)."""

    def __init__(self) -> None:
        self._second: int | None = None
        self._prefix = ""

    def __call__(self, ts: float) -> str:
        second = math.floor(ts)
        micros = round((ts - second) * 1e6)
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        if second != self._second:
            self._second, self._prefix = second, format_timestamp(second)[:19]
        return f"{self._prefix}.{micros:06d}+00:00" if micros else f"{self._prefix}+00:00"


def format_value(value: float | int) -> str:
    """A metric value as its ``.plx`` cell (the writer inlines this in its hot loop)."""
    return repr(value) if type(value) is float else str(value)


@dataclass
class Series:
    """Running summary of one metric series, for the lineage entry and the outputs summary.

    Values arrive in batches (one per writer flush), so the per-point work is a few C-level
    passes over a list. Quantiles come from a fixed-size reservoir (Li's algorithm L: random
    numbers only for the points that enter it), so memory stays flat however long the run.
    """

    count: int = 0
    finite: int = 0
    mean: float = 0.0
    m2: float = 0.0  # running sum of squared deviations (merged per batch, Chan et al.): stable for large values
    minimum: float = math.inf
    maximum: float = -math.inf
    last: float | int | None = None
    step_min: int | None = None
    step_max: int | None = None
    step_count: int = 0
    ts_min: float | None = None
    ts_max: float | None = None
    reservoir: list[float] = field(default_factory=list)
    _rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False)
    _w: float = 1.0  # algorithm L's running weight
    _next: int = 0  # index (among finite values) of the next one to enter a full reservoir

    def add(self, step: int | None, ts: float, value: float | int | None) -> None:
        """Count one event; ``value`` is None for non-numeric kinds (text, models)."""
        if value is None:
            self.count += 1
            self._add_steps([step] if step is not None else [], ts, ts)
        else:
            self.add_batch([value], [(step, ts)])

    def _add_steps(self, steps: list[int], ts_min: float, ts_max: float) -> None:
        if steps:
            self.step_count += len(steps)
            low, high = min(steps), max(steps)
            self.step_min = low if self.step_min is None else min(self.step_min, low)
            self.step_max = high if self.step_max is None else max(self.step_max, high)
        self.ts_min = ts_min if self.ts_min is None else min(self.ts_min, ts_min)
        self.ts_max = ts_max if self.ts_max is None else max(self.ts_max, ts_max)

    def add_batch(self, values: list[float | int], when: list[tuple[int | None, float]]) -> None:
        """Count numeric ``values`` logged at ``when`` = ``[(step, timestamp), ...]`` (same length)."""
        if not values:
            return
        self.count += len(values)
        self._add_steps([w[0] for w in when if w[0] is not None], min(w[1] for w in when), max(w[1] for w in when))
        self.last = values[-1]
        try:
            total = math.fsum(values)
        except (OverflowError, ValueError):  # inf - inf, or finite values overflowing
            total = math.nan
        finite = values if math.isfinite(total) else [v for v in values if math.isfinite(v)]
        if not finite:
            return
        if finite is not values:
            try:
                total = math.fsum(finite)
            except OverflowError:  # finite values whose sum is not (a diverging run near the float limit)
                total = math.inf
        n_a, n_b = self.finite, len(finite)
        n = n_a + n_b
        try:  # products, not ``** 2``: a huge finite value then gives inf instead of raising OverflowError
            mean_b = total / n_b
            m2_b = math.fsum((v - mean_b) * (v - mean_b) for v in finite)
            delta = mean_b - self.mean
            self.mean += delta * n_b / n
            self.m2 += m2_b + delta * delta * n_a * n_b / n
        except (OverflowError, ValueError):
            self.mean = self.m2 = math.nan
        self.finite = n
        low, high = min(finite), max(finite)
        self.minimum = low if low < self.minimum else self.minimum
        self.maximum = high if high > self.maximum else self.maximum
        self._sample(finite, n_a)

    def _sample(self, finite: list[float | int], seen: int) -> None:
        room = _RESERVOIR - len(self.reservoir)
        if room > 0:
            self.reservoir.extend(float(v) for v in finite[:room])
            seen += min(room, len(finite))
            if len(self.reservoir) == _RESERVOIR:
                self._skip(seen - 1)
            finite = finite[room:]
            if not finite:
                return
        end = seen + len(finite)
        rng = self._rng
        while self._next < end:
            self.reservoir[rng.randrange(_RESERVOIR)] = float(finite[self._next - seen])
            self._skip(self._next)

    def _skip(self, index: int) -> None:
        """Algorithm L: the index of the next value to enter the (full) reservoir after ``index``."""
        rng = self._rng
        self._w *= math.exp(math.log(1.0 - rng.random()) / _RESERVOIR)
        self._next = index + 1 + int(math.log(1.0 - rng.random()) / math.log1p(-self._w))

    def summary(self) -> dict[str, Any]:
        """The lineage summary of an event series (the server's and the official client's shape)."""
        summary: dict[str, Any] = {
            "is_event": True,
            "step": {"count": self.step_count, "min": self.step_min, "max": self.step_max},
            "timestamp": {
                "min": format_timestamp(self.ts_min) if self.ts_min is not None else None,
                "max": format_timestamp(self.ts_max) if self.ts_max is not None else None,
            },
        }
        if self.last is None:
            return summary
        stats: dict[str, Any] = {"count": float(self.count), "last": json_number(self.last)}
        if self.finite:
            ordered = sorted(self.reservoir)
            std = math.sqrt(self.m2 / (self.finite - 1)) if self.finite > 1 and self.m2 >= 0 else None
            stats.update(  # each a JSON number, or the NaN/inf strings: values near the float limit overflow
                mean=json_number(self.mean),
                std=json_number(std),
                min=json_number(self.minimum),
                max=json_number(self.maximum),
                **{f"{q}%": json_number(_quantile(ordered, q / 100)) for q in (25, 50, 75)},
            )
        summary["metric"] = stats
        return summary


def _quantile(ordered: list[float], q: float) -> float:
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def json_number(value: float | int | None) -> float | int | str | None:
    """JSON has no NaN/inf: such a value is the string ``"NaN"``/``"Infinity"``/``"-Infinity"`` (see ``values``)."""
    if isinstance(value, float):
        return encode_float(value)
    return value


def jsonl_row(kind: str, step: int | None, ts: float, value: Any) -> str:
    return "\n" + json.dumps({"timestamp": format_timestamp(ts), "step": step, kind: value})
