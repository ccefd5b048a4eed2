"""Values the server can store: inputs, outputs and meta converted at the call, not at upload.

The server parses request bodies as strict JSON: a NaN or an infinity is refused (HTTP 400,
"Out of range float values are not JSON compliant") and a numpy number does not encode at
all. Converting where the user logs means the error (if any) names the key at the call, and
nothing the mirror sends later can fail to encode.

NaN and the infinities are stored as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``
(what the sandbox stores and returns unchanged, and what ``float()`` and JavaScript's
``Number()`` read back); ``null`` would lose which of the three it was.

>>> storable_dict({"lr": 1e-3, "best": float("inf")}, "outputs")
{'lr': 0.001, 'best': 'Infinity'}
"""

from __future__ import annotations

import datetime as _dt
import enum
import math
import os
from collections.abc import Mapping
from typing import Any

from .exceptions import UnstorableValueError

__all__ = ["NAN", "NEG_INF", "POS_INF", "UnstorableValueError", "encode_float", "storable", "storable_dict"]

NAN, POS_INF, NEG_INF = "NaN", "Infinity", "-Infinity"
_MAX_DEPTH = 32


def encode_float(value: float) -> float | str:
    """A float as JSON can carry it: finite as is, NaN/±inf as the documented strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return NAN
    return POS_INF if value > 0 else NEG_INF


def storable(value: Any, key: str = "value") -> Any:
    """``value`` as plain JSON data (dict/list/str/int/float/bool/None); raises naming ``key`` if impossible.

    Framework numbers are recognised by duck typing (``item()``, ``tolist()``), so no framework
    is imported: numpy scalars and 0-d arrays, one-element tensors, arrays and tensors (as lists).
    """
    return _convert(value, key, 0)


def storable_dict(values: Mapping[str, Any], what: str = "inputs") -> dict[str, Any]:
    """Each value of ``values`` through :func:`storable`; an error names ``what`` and the key."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise UnstorableValueError(f"Invalid {what} key {key!r}: keys are strings.")
        out[key] = _convert(value, f"{what}[{key!r}]", 0)
    return out


def _convert(value: Any, key: str, depth: int) -> Any:
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is int:
        return value
    if kind is float:
        return encode_float(value)
    if depth > _MAX_DEPTH:
        raise UnstorableValueError(f"{key} is nested more than {_MAX_DEPTH} levels deep (a cycle?); log plain data.")
    if isinstance(value, enum.Enum):
        return _convert(value.value, key, depth + 1)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):  # numpy.str_ and other subclasses
        return str(value)
    if isinstance(value, int):  # IntEnum-free int subclasses
        return int(value)
    if isinstance(value, float):
        return encode_float(float(value))
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not (isinstance(k, str | bool | int | float) or k is None):  # json.dumps' own rule for keys
                raise UnstorableValueError(f"{key} has a key {k!r} of type {type(k).__name__}; keys are strings.")
            out[str(k)] = _convert(v, f"{key}[{str(k)!r}]", depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_convert(v, f"{key}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, set | frozenset):
        return [_convert(v, f"{key}[{i}]", depth + 1) for i, v in enumerate(sorted(value, key=repr))]
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if not isinstance(value, bytes | bytearray | complex):
        shape = getattr(value, "shape", None)
        item = getattr(value, "item", None)
        if callable(item) and (shape is None or tuple(shape) == () or _size(shape) == 1):
            try:  # numpy scalars and 0-d arrays, one-element tensors
                return _convert(item(), key, depth + 1)
            except (TypeError, ValueError, RuntimeError):
                pass
        tolist = getattr(value, "tolist", None)
        if callable(tolist):  # arrays and tensors: nested lists of numbers
            try:
                listed = tolist()
            except (TypeError, ValueError, RuntimeError):
                listed = None
            if isinstance(listed, list | int | float | bool):
                return _convert(listed, key, depth + 1)
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise UnstorableValueError(
        f"{key} cannot be stored: {kind.__name__} {shown} has no JSON form. "
        "Log a number, string, bool, None, or a list/dict of those (str(value) if text is what you want)."
    )


def _size(shape: Any) -> int:
    try:
        return math.prod(int(n) for n in shape)
    except (TypeError, ValueError):
        return -1
