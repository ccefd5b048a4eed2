"""What every framework adapter needs from the core: a run resolved lazily, once.

Adapters are built before training starts (often in another process than the one that
trains, under DDP), so they keep the ``tracking.init`` arguments and resolve the run on
first use. A run the user started with ``tracking.init()`` is reused when the adapter
was given no context of its own, as peers do (``wandb.run``, MLflow's active run).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .run import Run

__all__ = ["LazyRun"]

# Arguments that say *which* run to log to; any of them means "do not reuse the current run".
_CONTEXT_ARGS = ("owner", "project", "run_uuid", "client", "is_new", "is_offline")


class LazyRun:
    """Holds ``tracking.init`` arguments (or a run) and resolves the run on first ``get()``.

    Picklable before and after resolution (the run itself is not carried across processes).
    """

    def __init__(self, run: Run | None = None, **init_kwargs: Any) -> None:
        self._run = run
        self.init_kwargs = {k: v for k, v in init_kwargs.items() if v is not None}
        self._lock = threading.Lock()
        self.resolved = run is not None

    @property
    def run(self) -> Run | None:
        """The run if already resolved (never starts one)."""
        return self._run

    def get(self) -> Run | None:
        """The run, started (or reused) now if needed; None under ``POLYAXON_NO_OP``."""
        run = self._run
        if run is not None and not run.ended:
            return run
        with self._lock:
            if self._run is None or self._run.ended:
                self._run = self._start()
                self.resolved = True
            return self._run

    def _start(self) -> Run | None:
        from .. import tracking

        current = tracking.get_run()
        wants_own = any(k in self.init_kwargs for k in _CONTEXT_ARGS)
        if current is not None and not current.ended and not wants_own and self._run is None:
            return current
        return tracking.init(**self.init_kwargs)

    def __getstate__(self) -> dict[str, Any]:
        return {"init_kwargs": self.init_kwargs, "run_uuid": self._run.run_uuid if self._run else None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.init_kwargs = dict(state["init_kwargs"])
        if state.get("run_uuid") and "run_uuid" not in self.init_kwargs:
            self.init_kwargs["run_uuid"] = state["run_uuid"]  # a copy in another process attaches, never forks
        self._run = None
        self._lock = threading.Lock()
        self.resolved = False
