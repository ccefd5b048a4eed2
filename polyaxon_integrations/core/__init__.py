"""The context-and-client core; adapters build on it, it imports no framework."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .exceptions import (
    ApiError,
    AuthenticationError,
    ConfigError,
    InvalidNameError,
    NoContextError,
    PolyaxonClientException,
    PolyaxonError,
    ServerUnreachableError,
)

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ClientConfig",
    "ConfigError",
    "Context",
    "InvalidNameError",
    "NoContextError",
    "PolyaxonClientException",
    "PolyaxonError",
    "ServerUnreachableError",
    "resolve",
]

if TYPE_CHECKING:
    from .config import ClientConfig
    from .context import Context, resolve


def __getattr__(name: str) -> Any:
    """``ClientConfig``, ``Context`` and ``resolve`` load on first use: importing the package stays cheap."""
    if name == "ClientConfig":
        from .config import ClientConfig

        return ClientConfig
    if name in ("Context", "resolve"):
        from . import context

        return getattr(context, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
