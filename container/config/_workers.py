"""The threads and the event loop a runtime lends to calls that cross between sync and async code.

Async callers must never block their event loop, and sync callers cannot await; where one
meets the other, the work moves:

- blocking work of an async caller (a transport without ``send_async``, a sync method called
  through :func:`~container.call_in_thread`, a registry look-up) runs in a bounded pool of
  threads (:attr:`Workers.pool`);
- a sync-only interceptor wrapping an async method runs in a thread of its own pool
  (:attr:`Workers.hops`) while the rest of the call goes on on the loop: a separate pool, so
  that an interceptor waiting for the rest of its call never waits for a thread that the rest
  of the call needs;
- a coroutine of a sync caller (:func:`~container.call_blocking`) runs on one background event
  loop (:class:`BackgroundLoop`), started on first use, never a new loop per call.

Each runtime owns one :class:`Workers` (``settings.runtime.workers``); everything in it starts
on first use and stops with :meth:`Workers.close`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..values._errors import BlockingCallException

_T = TypeVar("_T")

POOL_THREADS = 64
"""Threads of the pool running blocking work for async callers: enough for 64 calls in flight
through a transport without ``send_async`` (each holds a thread while it waits)."""

HOP_THREADS = 256
"""Threads running sync-only interceptors of async methods: each call in flight through one holds
a thread until the call is answered, so this bounds such calls in flight (docs/async.md)."""


class BackgroundLoop:
    """An event loop running in a daemon thread of its own, started on first use.

    Sync code hands it coroutines with :meth:`run` (and waits) or :meth:`submit` (and gets a
    :class:`concurrent.futures.Future`); their tasks see a copy of the caller's context
    variables (deadlines, call options, the call being served), as a thread of the caller would.

    Args:
        name: the thread's name.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop (started now if it is not running)."""
        loop = self._loop
        if loop is None:
            with self._lock:
                if self._loop is None:
                    started = threading.Event()
                    loop = asyncio.new_event_loop()
                    thread = threading.Thread(
                        target=self._run, args=(loop, started), name=self.name, daemon=True
                    )
                    thread.start()
                    started.wait()
                    self._thread = thread
                    self._loop = loop
                loop = self._loop
        return loop

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, started: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(started.set)
        try:
            loop.run_forever()
        finally:
            try:
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    @property
    def running(self) -> bool:
        """True while the loop's thread runs."""
        return self._loop is not None

    def in_loop_thread(self) -> bool:
        """Return True when called on the loop's own thread."""
        return self._thread is not None and self._thread is threading.current_thread()

    def submit(self, coroutine: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        """Schedule ``coroutine`` on the loop and return the future of its result.

        Cancelling the future cancels the coroutine's task.
        """
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coroutine`` on the loop and wait for its result (or its exception).

        An interrupt while waiting (Ctrl-C) cancels the coroutine.

        Raises:
            BlockingCallException: called on the loop's own thread, or on the thread of another running
                event loop (which would stop while this waits): await the coroutine there.
        """
        refuse_blocking(coroutine, "wait for a coroutine on the background loop")
        future = self.submit(coroutine)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        """Stop the loop (its tasks are cancelled) and wait for its thread; it restarts on next use."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not threading.current_thread():
            thread.join(timeout=5)


def refuse_blocking(coroutine: Any, what: str) -> None:
    """Refuse to block a thread that runs an event loop; close ``coroutine`` (never awaited) first.

    Raises:
        BlockingCallException: the current thread runs an event loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    if asyncio.iscoroutine(coroutine):
        coroutine.close()  # never awaited: close it, or Python warns when it is collected
    raise BlockingCallException(
        f"cannot {what} on a thread that runs an event loop: the loop would stop until the call "
        "is over (or forever, when the call needs that loop); await the async method instead, "
        "or call a sync method with `await call_in_thread(proxy.method, ...)` (docs/async.md)"
    )


class Workers:
    """The thread pools and the background event loop of one runtime (see the module docstring).

    Args:
        pool_threads: threads of :attr:`pool`.
        hop_threads: threads of :attr:`hops`.
    """

    def __init__(self, pool_threads: int = POOL_THREADS, hop_threads: int = HOP_THREADS) -> None:
        self._sizes = {"pool": pool_threads, "hops": hop_threads}
        self._pools: dict[str, concurrent.futures.ThreadPoolExecutor] = {}
        self._lock = threading.Lock()
        self.background = BackgroundLoop("servicewire-async")
        """The loop of sync callers' coroutines (:func:`~container.call_blocking`)."""

    def _executor(self, kind: str) -> concurrent.futures.ThreadPoolExecutor:
        found = self._pools.get(kind)
        if found is None:
            with self._lock:
                found = self._pools.get(kind)
                if found is None:
                    found = concurrent.futures.ThreadPoolExecutor(
                        self._sizes[kind], thread_name_prefix=f"servicewire-{kind}"
                    )
                    self._pools[kind] = found
        return found

    @property
    def pool(self) -> concurrent.futures.ThreadPoolExecutor:
        """The bounded pool running blocking work for async callers."""
        return self._executor("pool")

    @property
    def hops(self) -> concurrent.futures.ThreadPoolExecutor:
        """The pool running sync-only interceptors of async methods."""
        return self._executor("hops")

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coroutine`` on the background loop and wait for it (see :meth:`BackgroundLoop.run`)."""
        return self.background.run(coroutine)

    def close(self) -> None:
        """Stop the loop and the pools (threads busy with a call finish it); they restart on next use."""
        self.background.close()
        with self._lock:
            pools, self._pools = self._pools, {}
        for executor in pools.values():
            executor.shutdown(wait=False, cancel_futures=True)

    def __repr__(self) -> str:
        started = ", ".join(sorted(self._pools)) or "no pool"
        return f"<Workers: {started} started, loop {'running' if self.background.running else 'not started'}>"
