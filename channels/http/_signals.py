"""Waiting for SIGTERM or SIGINT without a lock in the signal handler, and a bounded stop.

A Python signal handler runs in the main thread between two bytecodes, wherever that thread
is. ``threading.Event.set()`` from a handler takes the event's lock, which the main thread
holds for a few bytecodes as it starts waiting on that event: a signal landing there deadlocks
the process for good (a server that never exits on SIGTERM). :class:`StopSignals` writes a byte
to a pipe instead (``os.write`` takes no lock) and the main thread reads it.

:func:`exit_bound` bounds a shutdown: when it has not ended in time, it logs what still runs and
ends the process, so that a stuck step (a registry that does not answer, a component's
``shutdown()`` that hangs, a call that ignores its deadline) cannot hold it forever.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import threading
from types import FrameType, TracebackType

__all__ = ["StopSignals", "busy_threads", "exit_bound"]

logger = logging.getLogger("servicewire.http")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """SIGINT and SIGTERM handlers for the block's duration; :meth:`wait` returns the first one's name.

    Usage::

        with StopSignals() as signals:
            server.boot(...)
            name = signals.wait()     # "SIGTERM"
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        self._previous = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        try:
            os.write(self._write, bytes([signum]))
        except OSError:
            pass  # the pipe is full: a signal is waiting to be read already

    def wait(self) -> str:
        """Block until SIGINT or SIGTERM arrives (or arrived already); return its name."""
        received = os.read(self._read, 1)
        return signal.Signals(received[0]).name

    def wait_for(self, seconds: float) -> str | None:
        """Wait at most ``seconds`` for SIGINT or SIGTERM; return its name, or None if none came."""
        ready, _, _ = select.select([self._read], [], [], max(0.0, seconds))
        return self.wait() if ready else None

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        os.close(self._read)
        os.close(self._write)


def busy_threads() -> list[str]:
    """The names of the threads that would keep the interpreter from exiting (not daemon, alive)."""
    main = threading.main_thread()
    return sorted(t.name for t in threading.enumerate() if t is not main and not t.daemon and t.is_alive())


def exit_bound(seconds: float, status: int = 1) -> threading.Timer:
    """Start a timer that ends the process with ``status`` if it is still running after ``seconds``.

    It logs an ERROR line naming the threads still busy first. Cancel the timer once the
    shutdown is over.
    """

    def expire() -> None:
        logger.error(
            "the shutdown did not end within %g s; exiting now (threads still busy: %s)",
            seconds,
            ", ".join(busy_threads()) or "none",
        )
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.name = "servicewire-exit-bound"
    timer.start()
    return timer
