"""What every framework adapter needs from the core: a run resolved lazily, once, and one ownership rule.

Adapters are built before training starts (often in another process than the one that trains,
under DDP), so they keep the ``tracking.init`` options and resolve the run on first use. Who
ends the run depends only on where it came from (:class:`Origin`), the same in every adapter:

=========  ===================================================  ===========================================
origin     how the adapter got it                               what the adapter does at the end
=========  ===================================================  ===========================================
``OWNED``  it started the run (or continues the run a           ends it: ``succeeded``, ``failed`` on an
           checkpoint or ``POLYAXON_RUN_UUID`` names)           exception, ``stopped`` on Ctrl-C/pruning
``USER``   the user's open ``tracking.init()`` run, reused      leaves it open for the user (the process
           because the adapter was told nothing about where     end, or the user's ``with``, ends it)
``HANDED`` ``run=``, or a copy of the adapter pickled into      leaves it open; in a worker process it
           another process (a spawned worker)                   writes and sends everything first
=========  ===================================================  ===========================================

Once bound, an adapter's run never changes: used again after it ended (``fit`` then ``test``
with ``end_on_finalize``, an ``evaluate()`` after ``train()``), it continues the same run.
"""

from __future__ import annotations

import enum
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

from . import current
from .options import WHERE_OPTIONS, InitOptions, clean_options

if TYPE_CHECKING:
    from .run import Run

__all__ = ["LazyRun", "Origin", "status_for"]


class Origin(enum.Enum):
    OWNED = "owned"
    USER = "user"
    HANDED = "handed"


def status_for(exc: BaseException | None) -> tuple[str, str | None]:
    """The final status (and message) of a run whose training ended with ``exc`` (None: it succeeded)."""
    if exc is None:
        return "succeeded", None
    if isinstance(exc, KeyboardInterrupt):
        return "stopped", "KeyboardInterrupt"
    return "failed", f"{type(exc).__name__}: {exc}"[:1000]


class LazyRun:
    """Holds ``tracking.init`` options (or a run) and resolves the run on first ``get()``.

    Picklable before and after resolution: a copy in another process attaches to the same run
    (``HANDED``), never forks one; a deep copy in this process shares this one.
    """

    def __init__(self, run: Run | None = None, **options: Any) -> None:
        self.options: InitOptions = clean_options(options)
        self._run = run
        self._bound: dict[str, str] | None = None  # owner/project/run_uuid once known
        self.origin: Origin | None = Origin.HANDED if run is not None else None
        self._lock = threading.Lock()
        if run is not None:
            self._bind(run)
        _LAZY.add(self)

    @property
    def init_kwargs(self) -> InitOptions:
        """The options (older name)."""
        return self.options

    @property
    def resolved(self) -> bool:
        return self._run is not None

    @property
    def run(self) -> Run | None:
        """The run if already resolved in this process (never starts one)."""
        return self._run

    @property
    def run_uuid(self) -> str | None:
        """The run's uuid once known (also in a copy that has not attached yet)."""
        return self._bound["run_uuid"] if self._bound else self.options.get("run_uuid")

    @property
    def owned(self) -> bool:
        return self.origin is Origin.OWNED

    def _bind(self, run: Run) -> None:
        self._bound = {"owner": run.owner, "project": run.project, "run_uuid": run.run_uuid}

    def get(self, reopen: bool = True) -> Run | None:
        """The run, started (or reused, or attached) now if needed; None under ``POLYAXON_NO_OP``.

        A run that ended is continued (attached again) when ``reopen``; else returned as it is.
        """
        run = self._run
        if run is not None and (not run.ended or not reopen):
            return run
        with self._lock:
            if self._run is None or (self._run.ended and reopen):
                self._run = self._start()
                if self._run is not None:
                    self._bind(self._run)
            return self._run

    def named_elsewhere(self) -> bool:
        """The run is named by hand (``run_uuid=``, a run), by ``POLYAXON_RUN_UUID`` or by Polyaxon's scheduling:
        a framework's checkpoint naming another run must not override it."""
        from . import env
        from .context import in_cluster

        return self.run_uuid is not None or self._run is not None or bool(env.read_str(env.RUN_UUID)) or (
            in_cluster() is not None
        )

    def continue_run(self, owner: str | None, project: str | None, run_uuid: str) -> None:
        """Bind to the run a checkpoint names (before first use): it is continued, and owned."""
        with self._lock:
            if self._run is not None and not self._run.ended:
                return
            self._run = None
            self._bound = {"owner": owner or "", "project": project or "", "run_uuid": run_uuid}
            self.origin = Origin.OWNED

    def _start(self) -> Run | None:
        if self._bound is not None:  # continue the bound run, whoever's it is
            where = {k: v for k, v in self._bound.items() if v}
            options: InitOptions = {**self.options, **where, "is_new": False}  # type: ignore[typeddict-item]
            run = current.start(options, by_user=False)
            if run is not None and self.origin is Origin.HANDED:
                run.detach_at_exit = True
            return run
        user = current.user_run()
        if user is not None and not any(k in self.options for k in WHERE_OPTIONS):
            self.origin = Origin.USER
            return user
        self.origin = Origin.OWNED
        return current.start(self.options, by_user=False)

    def finish(self, exc: BaseException | None = None, status: str | None = None, message: str | None = None) -> None:
        """The adapter's unit of work (a ``train()``, a stage) ended with ``exc``: apply the ownership rule.

        ``status`` overrides the one ``exc`` implies (e.g. ``stopped`` for a pruned trial).
        """
        run = self._run
        if run is None or run.ended:
            return
        if self.origin is Origin.OWNED:
            implied, implied_message = status_for(exc)
            run.end(status or implied, message=message or implied_message)
        elif self.origin is Origin.HANDED and run.detach_at_exit:
            run.detach()

    def __getstate__(self) -> dict[str, Any]:
        return {"options": self.options, "bound": self._bound}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.options = state["options"]
        self._bound = state.get("bound")
        self._run = None
        self._lock = threading.Lock()
        self.origin = Origin.HANDED if self._bound else None  # the process that pickled it owns the run
        _LAZY.add(self)

    def _forked(self) -> None:
        """In a forked child: as a pickled copy (``__setstate__``). The parent's run object has no threads
        here and stays the parent's; the child attaches to that run if it logs (Lightning's ``ddp_fork``)."""
        if self._run is not None:
            self._bind(self._run)
        self.__setstate__(self.__getstate__())

    def __deepcopy__(self, memo: dict[int, Any]) -> LazyRun:
        return self  # a copy in this process logs through the same run


_LAZY: weakref.WeakSet[LazyRun] = weakref.WeakSet()


def _forked_child() -> None:
    for lazy in list(_LAZY):
        lazy._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked_child)
