"""Rich logging on the Lightning logger, shaped like ``WandbLogger``'s: images, text, tables, ``watch``.

Mixed into :class:`~polyaxon_integrations._lightning_impl.LoggerMixin`; every method is rank-zero
only and guarded (a tracking error never stops training). This module imports no framework.
"""

from __future__ import annotations

import csv
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core.guard import guarded

if TYPE_CHECKING:
    from ._torch_watch import Watcher
    from .core.run import Run

__all__ = ["MediaLoggerMixin"]

_WATCHERS: weakref.WeakKeyDictionary[Any, list[Watcher]] = weakref.WeakKeyDictionary()


def _dataformats(image: Any) -> str:
    """CHW (tensors, the official default) unless the array is plainly HWC or HW (numpy images, PIL)."""
    shape = tuple(getattr(image, "shape", ()))
    if len(shape) == 2:
        return "HW"
    if len(shape) == 3 and shape[0] not in (1, 3, 4) and shape[-1] in (1, 3, 4):
        return "HWC"
    return "CHW"


class _Table:
    """Rows and columns as ``log_dataframe`` takes them, without pandas."""

    def __init__(self, columns: Sequence[str], data: Sequence[Sequence[Any]]) -> None:
        self.columns = [str(c) for c in columns]
        self.rows = [list(row) for row in data]
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"A table row has {len(row)} values for {len(self.columns)} columns: {row!r}.")

    def copy(self) -> _Table:
        return _Table(self.columns, self.rows)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), len(self.columns)

    def to_csv(self, path: Path) -> None:
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["", *self.columns])
            writer.writerows([i, *row] for i, row in enumerate(self.rows))

    def to_html(self, path: Path) -> None:
        import html

        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in self.rows)
        Path(path).write_text(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


class MediaLoggerMixin:
    """``log_image``, ``log_text``, ``log_table`` and ``watch``, as on Lightning's ``WandbLogger``."""

    if TYPE_CHECKING:

        def _run(self) -> Run | None: ...

    @guarded("lightning log_image")
    def log_image(self, key: str, images: Any, step: int | None = None, **kwargs: Any) -> None:
        """One image or a list (arrays, tensors, PIL images, files) at ``step``: ``key``, or ``key/<caption>``
        (``caption=[...]``), or ``key/<i>`` for several; ``dataformats`` is guessed unless given."""
        run = self._run()
        if run is None:
            return
        items = list(images) if isinstance(images, list | tuple) else [images]
        captions = kwargs.pop("caption", None)
        if captions is not None and len(captions) != len(items):
            raise ValueError(f"log_image: {len(captions)} captions for {len(items)} images.")
        formats = kwargs.pop("dataformats", None)
        for i, image in enumerate(items):
            name = key if len(items) == 1 and captions is None else f"{key}/{captions[i] if captions else i}"
            run.log_image(image, name=name, step=step, dataformats=formats or _dataformats(image), **kwargs)

    @guarded("lightning log_text")
    def log_text(
        self,
        key: str,
        columns: Sequence[str] | str | None = None,
        data: Sequence[Sequence[Any]] | None = None,
        dataframe: Any = None,
        step: int | None = None,
    ) -> None:
        """A table of text (``columns`` + ``data``, or a ``dataframe``), as ``WandbLogger.log_text``;
        a plain string as ``columns`` (``log_text("notes", "text")``) is a text event."""
        run = self._run()
        if run is None:
            return
        if isinstance(columns, str) and data is None and dataframe is None:
            run.log_text(key, columns, step=step)
            return
        self._log_table(run, key, columns, data, dataframe, step)

    @guarded("lightning log_table")
    def log_table(
        self,
        key: str,
        columns: Sequence[str] | None = None,
        data: Sequence[Sequence[Any]] | None = None,
        dataframe: Any = None,
        step: int | None = None,
    ) -> None:
        """A table (``columns`` + ``data``, or a pandas/polars ``dataframe``) as a CSV dataframe event."""
        run = self._run()
        if run is not None:
            self._log_table(run, key, columns, data, dataframe, step)

    @staticmethod
    def _log_table(run: Run, key: str, columns: Any, data: Any, dataframe: Any, step: int | None) -> None:
        if dataframe is None:
            if columns is None or data is None:
                raise ValueError("log_table takes columns and data, or a dataframe.")
            dataframe = _Table(columns, data)
        run.log_dataframe(dataframe, key, step=step)

    @guarded("lightning watch")
    def watch(self, model: Any, log: str = "gradients", log_freq: int = 100, log_graph: bool = True) -> None:
        """Histograms of ``model``'s gradients, parameters or ``"all"`` every ``log_freq`` steps (rank zero)."""
        run = self._run()
        if run is None:
            return
        from ._torch_watch import watch

        step = None
        if hasattr(model, "global_step"):  # a LightningModule: the trainer's step, as the metrics have
            module = model

            def step() -> int:
                return int(module.global_step)

        _WATCHERS.setdefault(self, []).append(watch(run, model, log, log_freq, step))

    def unwatch(self, model: Any = None) -> None:
        """Take the ``watch`` hooks off."""
        for watcher in _WATCHERS.pop(self, []):
            watcher.remove()
