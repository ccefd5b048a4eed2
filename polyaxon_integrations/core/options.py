"""The options every adapter forwards to ``tracking.init``, typed once.

Adapters take them as ``**options: Unpack[InitOptions]`` (or, where a framework reads the
signature, as the same keywords spelled out, checked against :data:`INIT_OPTIONS` by a test),
so no adapter silently lacks one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from .client import PolyaxonClient
    from .run_client import RunClient

__all__ = ["INIT_OPTIONS", "WHERE_OPTIONS", "InitOptions", "clean_options"]


class InitOptions(TypedDict, total=False):
    """``tracking.init``'s keyword arguments; None means "not given" (the context decides)."""

    owner: str | None
    project: str | None
    run_uuid: str | None
    client: PolyaxonClient | RunClient | None
    is_new: bool | None
    is_offline: bool | None
    name: str | None
    description: str | None
    tags: str | Iterable[str] | None
    end_timeout: float | None
    track_code: bool | None
    track_env: bool | None
    track_logs: bool | None
    collect_resources: bool | None


INIT_OPTIONS: tuple[str, ...] = tuple(InitOptions.__annotations__)

#: Options that say *which* run to log to: any of them means "not the run the user started".
WHERE_OPTIONS: tuple[str, ...] = ("owner", "project", "run_uuid", "client", "is_new", "is_offline")


def clean_options(options: dict[str, Any]) -> InitOptions:
    """The given options without the ``None`` ones; an unknown name is a ``TypeError`` (as a bad keyword)."""
    unknown = sorted(set(options) - set(INIT_OPTIONS))
    if unknown:
        raise TypeError(f"unexpected option(s) {', '.join(unknown)}; tracking.init takes {', '.join(INIT_OPTIONS)}.")
    return {k: v for k, v in options.items() if v is not None}  # type: ignore[return-value]
