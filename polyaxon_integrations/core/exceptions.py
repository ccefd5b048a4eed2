"""One exception root, so callers can catch everything of ours in one clause.

Bad input is also a :class:`ValueError`, so generic validation code keeps working.
``PolyaxonClientException`` is the official client's name for its root; it is kept
as an alias so code migrating from ``polyaxon.tracking`` keeps its ``except`` clauses.
"""

from __future__ import annotations

from .ui import mask_credentials

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


class PolyaxonError(Exception):
    """Root of every exception raised by polyaxon-integrations; credentials in URLs never reach its message."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(mask_credentials(arg) if isinstance(arg, str) else arg for arg in args))


PolyaxonClientException = PolyaxonError


class ConfigError(PolyaxonError, ValueError):
    """A setting, argument or config file is wrong; the message says how to fix it."""


class InvalidNameError(ConfigError):
    """An owner, project or run name is not a valid Polyaxon slug."""


class UnstorableValueError(ConfigError):
    """A logged input/output value has no JSON form the server stores; the message names the key."""


class NoContextError(PolyaxonError):
    """``init`` found nowhere to log to; the message lists every source it checked."""


class ApiError(PolyaxonError):
    """The server answered with an error status."""

    def __init__(self, message: str, *, status_code: int | None = None, method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.method = method
        self.url = mask_credentials(url)


class AuthenticationError(ApiError):
    """The server rejected the token (401/403)."""


class ServerUnreachableError(ApiError):
    """No answer from the server: refused, reset, timed out or DNS failure."""
