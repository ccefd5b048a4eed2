"""Ending runs with the right status when the process ends without calling ``end()``.

An unhandled exception -> ``failed``; KeyboardInterrupt or SIGTERM -> ``stopped``;
a normal exit -> ``succeeded``, unless the run was marked unfinished: a framework with no
failure hook (transformers' ``train()``) marks its run while training, so an exception that
the user caught, followed by a normal exit, still ends it ``failed``. The hooks are installed
once per process, chain to whatever was installed before, and only touch runs still open.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import weakref
from types import FrameType, TracebackType
from typing import Any, Protocol

__all__ = ["mark_unfinished", "register", "unregister"]


class _Endable(Protocol):
    def _end_at_exit(self, status: str, message: str | None) -> None: ...


_runs: weakref.WeakSet[Any] = weakref.WeakSet()
_unfinished: dict[int, tuple[Any, str]] = {}  # id(run) -> (run, message): held until marked finished
_installed_pid: int | None = None
_exit_status: tuple[str, str | None] | None = None
_lock = threading.Lock()


def register(run: _Endable) -> None:
    global _installed_pid
    with _lock:
        _runs.add(run)
        if _installed_pid != os.getpid():
            _installed_pid = os.getpid()
            _install()


def unregister(run: _Endable) -> None:
    with _lock:
        _runs.discard(run)
        _unfinished.pop(id(run), None)


def mark_unfinished(run: _Endable, message: str | None) -> None:
    """While set (``message``), a normal process exit ends ``run`` as failed with ``message``; None clears it."""
    with _lock:
        if message is None:
            _unfinished.pop(id(run), None)
        else:
            _unfinished[id(run)] = (run, message)


def _install() -> None:
    previous_hook = sys.excepthook

    def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        global _exit_status
        if issubclass(exc_type, KeyboardInterrupt):
            _exit_status = ("stopped", "KeyboardInterrupt")
        else:
            _exit_status = ("failed", f"{exc_type.__name__}: {exc}"[:1000])
        previous_hook(exc_type, exc, tb)

    sys.excepthook = excepthook
    atexit.register(_at_exit)
    if threading.current_thread() is threading.main_thread():
        try:
            previous = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, _make_sigterm_handler(previous))
        except (ValueError, OSError):  # embedded interpreters may refuse; statuses then rely on atexit
            pass


def _end_all(status: str, message: str | None) -> None:
    with _lock:
        runs = list(_runs)
        unfinished = dict(_unfinished)
    for run in runs:
        try:
            if status == "succeeded" and id(run) in unfinished:
                run._end_at_exit("failed", unfinished[id(run)][1])
                continue
            run._end_at_exit(status, message)
        except Exception:  # at exit there is no one left to tell but stderr
            print(f"polyaxon-integrations: could not end run {run!r}", file=sys.stderr)


def _at_exit() -> None:
    status, message = _exit_status or ("succeeded", None)
    _end_all(status, message)


def _forget_in_child() -> None:
    """A forked child (a DataLoader worker, a Pool process, a ``ddp_fork`` worker) inherits the runs and the
    handlers but owns none of them: its exit or SIGTERM (how DataLoader and Pool stop a worker) must not end
    the parent's runs. The child's own runs register again."""
    global _lock, _installed_pid, _exit_status
    _lock = threading.Lock()
    _runs.clear()
    _unfinished.clear()
    _installed_pid, _exit_status = None, None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


def _make_sigterm_handler(previous: Any) -> Any:
    def handler(signum: int, frame: FrameType | None) -> None:
        _end_all("stopped", "SIGTERM")
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_IGN:
            return
        else:  # default action: terminate, as the process would have without us
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    return handler
