"""Hyperparameters from whatever a framework hands us, as flat JSON-safe inputs.

Lightning passes nested dicts and ``Namespace``s, transformers dataclasses, Keras
optimizer configs; all become ``{"a/b": value}`` with values the server stores as
they are (numbers, strings, bools, None, short lists of those). The rest is named
(callables, classes: ``module.qualname``) or shown (``repr``, cut at 500 characters),
so logging hyperparameters never fails and never drops a key.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import sys
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from .values import encode_float

__all__ = ["flatten_params", "to_input_value"]

_MAX_TEXT = 500
_MAX_LIST = 64
_SIMPLE = (bool, int, str, type(None))


def _as_mapping(obj: Any) -> Mapping[str, Any] | None:
    if isinstance(obj, Mapping):
        return obj
    if isinstance(obj, Namespace):
        return vars(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    to_dict = getattr(obj, "to_dict", None)  # transformers configs, pandas-free duck typing
    if callable(to_dict) and not isinstance(obj, type):
        try:
            result = to_dict()
        except Exception:  # a to_dict that needs arguments is not ours to call
            return None
        return result if isinstance(result, Mapping) else None
    return None


def to_input_value(value: Any) -> Any:
    """One value as the server can store it: scalars as they are, the rest named or shown."""
    if isinstance(value, _SIMPLE):
        if isinstance(value, str) and len(value) > _MAX_TEXT:
            return value[: _MAX_TEXT - 1] + "…"
        return value
    if isinstance(value, float):
        return encode_float(value)  # JSON has no nan/inf: the strings documented in core/values.py
    if isinstance(value, enum.Enum):
        return to_input_value(value.value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    item = getattr(value, "item", None)  # numpy / torch / jax scalars
    if callable(item) and not isinstance(value, Mapping):
        try:
            return to_input_value(item())  # raises for arrays of more than one element
        except Exception:
            pass
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
        if len(items) <= _MAX_LIST and all(isinstance(v, (*_SIMPLE, float)) for v in items):
            return [to_input_value(v) for v in items]
    if isinstance(value, type) or callable(value):
        module = getattr(value, "__module__", None)
        qualname = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
        if qualname:
            if not module or module == "builtins":
                return str(qualname)
            return f"{_public_module(module, qualname, value)}.{qualname}"
    text = repr(value)
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _public_module(module: str, qualname: str, value: Any) -> str:
    """The public package a class is imported from when its module is private, so a name reads the same on
    every Python: 3.13 defines ``pathlib.Path`` in ``pathlib._local``. Only modules already imported are looked at.
    """
    parts = module.split(".")
    if not any(part.startswith("_") for part in parts):
        return module
    for end in range(1, len(parts)):
        if parts[end - 1].startswith("_"):
            break
        found: Any = sys.modules.get(".".join(parts[:end]))
        for name in qualname.split("."):
            found = getattr(found, name, None)
        if found is value:
            return ".".join(parts[:end])
    return module


def flatten_params(params: Any, sep: str = "/", prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings, Namespaces and dataclasses into ``{"outer/inner": value}``."""
    mapping = _as_mapping(params)
    if mapping is None:
        if not prefix:
            raise TypeError(f"Cannot read hyperparameters from {type(params).__name__}: pass a dict.")
        return {prefix: to_input_value(params)}
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if _as_mapping(value) is not None and not isinstance(value, type):
            nested = flatten_params(value, sep, name)
            flat.update(nested if nested else {name: {}})
        else:
            flat[name] = to_input_value(value)
    return flat
