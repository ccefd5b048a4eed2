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

__all__ = [
    "ARTIFACT_KINDS",
    "normalize_uuid",
    "safe_relpath",
    "slugify",
    "split_project",
    "validate_kind",
    "validate_run_ids",
    "validate_slug",
]

_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,128}\Z")
_HEX32 = re.compile(r"^[0-9a-f]{32}\Z")
# The artifact kinds the server's lineage API accepts (Polyaxon 2.18's V1ArtifactKind values).
ARTIFACT_KINDS = frozenset(
    """model audio video histogram image tensor dataframe chart csv tsv psv ssv metric env html text file dir
    dockerfile docker_image data coderef table tensorboard curve confusion analysis iteration markdown system
    artifact span""".split()
)
# Our own files at the top of a run folder: an artifact written over one would corrupt the run.
_BOOKKEEPING = frozenset({"run.plx.json", "lineages.plx.json", ".sync.plx.json"})

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


def validate_run_ids(owner: object, project: object, uuid: object, *, source: str = "") -> tuple[str, str, str]:
    """``(owner, project, uuid)`` read from disk (``run.plx.json``, ``.sync.plx.json``), checked before use.

    They become URL path segments, so anything but slugs and a 32-hex uuid (lowercase, no dashes:
    the form our folders and the server use) is refused: ``"../../victim/runs/<uuid>"`` would
    otherwise address another project's run. ``source`` (a file path) goes into the message.
    """
    where = f" in {source}" if source else ""
    for value, what in ((owner, "owner"), (project, "project")):
        if not isinstance(value, str) or not _SLUG.match(value):
            raise InvalidNameError(
                f"Refusing {what} {value!r}{where}: expected a slug (letters, digits, '-', '_'). "
                "The folder may have been edited or planted; check it before syncing."
            )
    if not isinstance(uuid, str) or not _HEX32.match(uuid):
        raise InvalidNameError(
            f"Refusing run uuid {uuid!r}{where}: expected 32 lowercase hex digits. "
            "The folder may have been edited or planted; check it before syncing."
        )
    return owner, project, uuid  # type: ignore[return-value]


def validate_kind(kind: object) -> str:
    """An artifact kind the server's lineage accepts (it answers 400 to any other, e.g. ``"checkpoint"``).

    Every one of them is a plain word, so a kind can also name the ``assets/<kind>/`` folder safely.
    """
    if not isinstance(kind, str) or kind not in ARTIFACT_KINDS:
        hint = " A checkpoint is kind 'model' (or use log_model)." if kind == "checkpoint" else ""
        raise InvalidNameError(
            f"Invalid artifact kind {kind!r}: the server accepts {', '.join(sorted(ARTIFACT_KINDS))}.{hint}"
        )
    return kind


def safe_relpath(value: object, what: str = "rel_path") -> str:
    """A run-relative path that cannot leave the run folder nor replace its bookkeeping files.

    Refused: absolute paths, ``..`` parts, backslashes, NUL, empty names; ``a//b/./c`` becomes ``a/b/c``.
    """
    if not isinstance(value, str) or not value.strip() or "\x00" in value or "\\" in value:
        raise InvalidNameError(f"Invalid {what} {value!r}: use a relative path such as 'assets/data/x.csv'.")
    if value.startswith("/"):
        raise InvalidNameError(f"Invalid {what} {value!r}: it must be relative to the run folder, not absolute.")
    parts = [part for part in value.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        raise InvalidNameError(f"Invalid {what} {value!r}: '..' would leave the run folder; use a path inside it.")
    if parts[0] in _BOOKKEEPING or (len(parts) == 1 and parts[0].endswith(".tmp")):
        raise InvalidNameError(f"Invalid {what} {value!r}: the run folder keeps its own {parts[0]} there.")
    return "/".join(parts)
