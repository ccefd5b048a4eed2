"""Guarded execution: tracking problems become one warning per cause, never a crash.

Code that runs inside a training loop (hooks, flushes, uploads) goes through here.
``POLYAXON_INTEGRATIONS_RERAISE=true`` (set by the test suite) re-raises instead, so
tests see the errors that users would only see as warnings.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from . import env
from .ui import mask_credentials

__all__ = ["PolyaxonWarning", "get_logger", "guarded", "reraise", "reset_warnings", "warn_once"]

if TYPE_CHECKING:
    import logging


def get_logger() -> logging.Logger:
    """The package's logger; ``logging`` is imported on first use (a few ms a script may never pay)."""
    import logging

    return logging.getLogger("polyaxon_integrations")


P = ParamSpec("P")
R = TypeVar("R")

_seen: set[str] = set()
_lock = threading.Lock()


class PolyaxonWarning(UserWarning):
    """Tracking did not go as planned; training goes on."""


def reraise() -> bool:
    return env.read_bool(env.RERAISE, False)


def warn_once(key: str, message: str) -> bool:
    """Warn the first time ``key`` is seen in this process; return whether it warned."""
    with _lock:
        if key in _seen:
            return False
        _seen.add(key)
    # once: not also to logging, or it prints twice; never a password from a URL
    warnings.warn(mask_credentials(message), PolyaxonWarning, stacklevel=3)
    return True


def reset_warnings() -> None:
    with _lock:
        _seen.clear()


def guarded(cause: str, default: Any = None) -> Callable[[Callable[P, R]], Callable[P, R | None]]:
    """Decorate a hook so an exception becomes one warning per ``cause`` (or re-raises in tests).

    ``default`` is typed ``Any`` so that ``R`` is bound by the decorated function, not by the
    factory call (with ``default: R | None`` mypy solved ``R`` as ``Never`` for every hook).
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R | None]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if reraise():
                    raise
                warn_once(
                    f"{cause}:{type(exc).__name__}",
                    f"polyaxon-integrations: {cause} failed: {exc!r}; training continues.",
                )
                return default  # type: ignore[no-any-return]

        return wrapper

    return decorate
