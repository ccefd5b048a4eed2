"""The context-and-client core; adapters build on it, it imports no framework."""

from __future__ import annotations

from .config import ClientConfig
from .context import Context, resolve
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
