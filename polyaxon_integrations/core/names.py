"""Validation of the names the server will accept, done before anything is sent.

The server validates owner, project and run names as Django slugs and refuses a list
of reserved project names; checking here turns a late HTTP 400 (or an offline run that
can never be pushed) into an immediate error that names the bad value.
"""

from __future__ import annotations

import re
import unicodedata
import uuid as _uuid

from .exceptions import InvalidNameError

__all__ = ["normalize_uuid", "slugify", "split_project", "validate_slug"]

_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,128}\Z")

# Project names the server refuses ("reserved word or already taken"), singular and plural.
_RESERVED = frozenset(
    """user profile preset admin root abstract experiment gateway stream service project health
    50x 404 500 rewrite-service permission healthz api polyaxon haupt dashboard index log metric
    portfolio public revision version support tryout output artifact data dataset secret config_map
    pod deployment model management dependency dependencie repo cluster event manage login account
    register accept organization org team help doc logout static _static statusz status statuses
    _status out debug remote cli blog welcome feature customer integration signup pricing subscribe
    enterprise about job run thank guide privacy security term from sponsorship for at vs _admin
    contact bookmark pipeline dag operation component action hook monitor setting hub registry
    registrie legal avatar self this name list detail update create delete get fetch query put patch
    member new archive restore catalog auth activity activitie history analytic""".split()
)
RESERVED_NAMES = _RESERVED | {f"{name}s" for name in _RESERVED}


def validate_slug(value: object, what: str, *, check_reserved: bool = False) -> str:
    """Return ``value`` if the server would accept it as ``what``, else raise naming it."""
    if not isinstance(value, str) or not _SLUG.match(value):
        raise InvalidNameError(
            f"Invalid {what} {value!r}: use 1-128 letters, digits, '-' or '_' (no spaces, dots or slashes)."
        )
    if check_reserved and value.lower() in RESERVED_NAMES:
        raise InvalidNameError(f"Invalid {what} {value!r}: the server reserves this name; choose another.")
    return value


def split_project(project: str, owner: str | None) -> tuple[str | None, str]:
    """``"org/p"`` -> ``("org", "p")``; ``"p"`` -> ``(owner, "p")``; conflicting owners are an error."""
    if not isinstance(project, str):
        raise InvalidNameError(f"Invalid project {project!r}: expected a string like 'p' or 'owner/p'.")
    if "/" in project:
        parts = project.split("/")
        if len(parts) != 2:
            raise InvalidNameError(f"Invalid project {project!r}: expected 'p' or 'owner/p'.")
        project_owner, name = parts
        validate_slug(project_owner, "owner")
        if owner is not None and owner != project_owner:
            raise InvalidNameError(f"Conflicting owners: owner={owner!r} but project={project!r}; pass one of them.")
        owner = project_owner
    else:
        name = project
    validate_slug(name, "project", check_reserved=True)
    return owner, name


def normalize_uuid(value: object) -> str:
    """Polyaxon addresses runs by the 32-hex form; accept the dashed form too."""
    try:
        return _uuid.UUID(str(value)).hex
    except (ValueError, TypeError, AttributeError):
        raise InvalidNameError(f"Invalid run_uuid {value!r}: expected a UUID such as '8aac02e3...'.") from None


def slugify(value: str) -> str:
    """Turn a free-form run name into one the server accepts (``"my run.v2"`` -> ``"my-run-v2"``)."""
    value = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s./-]", "", value).strip()
    value = re.sub(r"[-.\s/]+", "-", value).strip("-")
    return value[:128]
