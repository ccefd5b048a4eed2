"""The plumbing of rich events (images, histograms, charts...): names, the bounded backlog, rows and assets.

The caller's thread validates and copies (an array, a figure's data); encoding PNG/GIF/WAV,
histograms and JSON happens on the writer thread. What waits to be encoded is bounded
(``POLYAXON_INTEGRATIONS_MEDIA_BACKLOG_MB``): past it new events are dropped, counted
(``run.media_dropped``) and warned about, so memory never grows with a slow disk. The calls
themselves are in :mod:`.rich_media` (images, video, audio, html, histograms) and :mod:`.rich`
(curves, confusion matrices, charts, dataframes).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import env, media, ui
from .guard import warn_once
from .lineage import copy_into
from .recorder import to_step, to_timestamp
from .refs import RefsMixin

if TYPE_CHECKING:
    from .recorder import Recorder


__all__ = ["Encoder", "Fields", "RichBase"]

Fields = dict[str, Any]
Encoder = Callable[[Path], "Fields | None"]


class _Backlog:
    """Bytes copied for the writer and not yet encoded; ``take`` refuses past the limit (and counts it)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.queued = 0
        self.dropped = 0
        self._lock = threading.Lock()  # held for an addition, never across I/O

    def take(self, nbytes: int) -> bool:
        with self._lock:
            if self.queued and self.queued + nbytes > self.limit:
                self.dropped += 1
                return False
            self.queued += nbytes
            return True

    def give(self, nbytes: int) -> None:
        with self._lock:
            self.queued -= nbytes


def _is_file(data: Any) -> bool:
    return isinstance(data, str | os.PathLike) and os.path.isfile(data)


def _is_pil(data: Any) -> bool:
    return type(data).__module__.startswith("PIL.") and hasattr(data, "getbands")


def _ext(path: Path, default: str) -> str:
    return path.suffix[1:].lower() or default


class RichBase(RefsMixin):
    """What every rich-event call of :class:`~polyaxon_integrations.core.run.Run` builds on."""

    if TYPE_CHECKING:
        _recorder: Recorder

    _rich_backlog: _Backlog | None = None
    _has_rich_events = False

    @property
    def media_dropped(self) -> int:
        """Rich events dropped because the writer was too far behind (``POLYAXON_INTEGRATIONS_MEDIA_BACKLOG_MB``)."""
        return self._rich_backlog.dropped if self._rich_backlog is not None else 0

    # --- plumbing ----------------------------------------------------------------------

    def _rich_stem(self, kind: str, name: str) -> str:
        self._check_open()
        stem = self._recorder.names.stem(kind, name)
        if not self._has_rich_events:
            self._has_rich_events = True
            self._rich_first_steps: dict[tuple[str, str], int | None] = {}
            if not self._state.meta_info.get("has_events"):
                self.log_meta(has_events=True)
        return stem

    def _backlog(self) -> _Backlog:
        backlog = self._rich_backlog
        if backlog is None:
            limit = env.read_float(env.MEDIA_BACKLOG_MB, 256.0)
            backlog = self._rich_backlog = _Backlog(int(limit * (1 << 20)))
        return backlog

    def _take(self, nbytes: int) -> bool:
        """Room in the backlog for ``nbytes`` more; False (counted, warned once) when the writer is that far behind."""
        backlog = self._backlog()
        if backlog.take(nbytes):
            return True
        self.log_meta(media_dropped=backlog.dropped)  # the count, in the run's meta_info (server and folder)
        warn_once(
            f"media-dropped-{self.run_uuid}",
            f"polyaxon-integrations: the writer is {backlog.queued >> 20} MB of images/histograms behind; new ones "
            f"are dropped until it catches up (count: run.media_dropped; limit: {env.MEDIA_BACKLOG_MB}).",
        )
        return False

    def events_dashboard_url(self, kinds: Iterable[str] | None = None) -> str | None:
        """A UI link showing the rich events logged so far (images, histograms, curves...), a section per kind."""
        page = getattr(self, "url", None)
        if page is None:
            return None
        wanted = None if kinds is None else set(kinds)
        seen: dict[tuple[str, str], int | None] = getattr(self, "_rich_first_steps", {})
        events = [(k, n, s) for (k, n), s in seen.items() if wanted is None or k in wanted]
        return ui.events_dashboard_url(page, events)

    def _seen(self, kind: str, stem: str, step: int | None) -> None:
        if (kind, stem) not in self._rich_first_steps:
            self._rich_first_steps[(kind, stem)] = step

    def _event(self, kind: str, stem: str, step: int | None, ts: float, build: Callable[[], str | None]) -> None:
        """A row whose value ``build`` makes on the writer thread (JSON of a long list, a histogram)."""
        self._seen(kind, stem, step)

        def job() -> list[tuple[Any, ...]] | None:
            value = build()
            return None if value is None else [(kind, stem, step, ts, value)]

        self._recorder.writer.put(("job", job))

    def _asset(
        self,
        kind: str,
        stem: str,
        step: int | None,
        ts: float,
        ext: str,
        encode: Encoder,
        *,
        nbytes: int = 0,
        tail: Fields | None = None,
        urgent: bool = False,
    ) -> None:
        """Write ``assets/<kind>/<stem>[_<step>].<ext>`` with ``encode`` on the writer thread, then its row.

        ``encode`` returns the payload's fields before ``path`` (None: nothing to log); ``tail``
        the fields after it, as the official payloads order them.
        """
        backlog = self._backlog()
        if nbytes and not self._take(nbytes):
            return
        self._seen(kind, stem, step)
        rel = f"assets/{kind}/{stem}{'' if step is None else f'_{step}'}.{ext}"
        root, mirror = self._recorder.root, self._recorder.mirror

        def job() -> list[tuple[Any, ...]] | None:
            try:
                fields = encode(root / rel)
            finally:
                if nbytes:
                    backlog.give(nbytes)
            if fields is None:
                return None
            if mirror is not None:
                mirror.files_changed([rel])
            return [(kind, stem, step, ts, media.payload({**fields, "path": rel, **(tail or {})}))]

        writer = self._recorder.writer
        (writer.put_now if urgent else writer.put)(("job", job))

    def _copy_file(
        self,
        kind: str,
        data: Any,
        name: str | None,
        step: Any,
        timestamp: Any,
        default_ext: str,
        tail: Fields | None = None,
    ) -> None:
        source = Path(data)
        stem = self._rich_stem(kind, name or source.name.split(".", 1)[0] or kind)
        ext = _ext(source, default_ext)

        def encode(target: Path) -> Fields | None:
            if not source.exists():
                warn_once(f"vanished-{source}", f"polyaxon-integrations: {source} was removed before it was saved.")
                return None
            copy_into(source, target)
            return {}

        step = to_step(step)
        tail = {"content_type": ext, **(tail or {})} if kind == "video" else tail
        self._asset(kind, stem, step, to_timestamp(timestamp), ext, encode, tail=tail, urgent=True)
