"""Public exceptions (one root: :class:`PolyaxonError`, alias ``PolyaxonClientException``)."""

from __future__ import annotations

from .core.exceptions import (
    ApiError,
    AuthenticationError,
    ConfigError,
    InvalidNameError,
    NoContextError,
    PolyaxonClientException,
    PolyaxonError,
    ServerUnreachableError,
    UnstorableValueError,
)

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ConfigError",
    "InvalidNameError",
    "NoContextError",
    "PolyaxonClientException",
    "PolyaxonError",
    "ServerUnreachableError",
    "UnstorableValueError",
]
