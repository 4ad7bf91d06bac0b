"""What the async runners of both sides share: the deadline of an await, and moving work to threads.

Python 3.10 is supported, so nothing here uses ``asyncio.timeout`` or task groups: a deadline
cancels the awaiting task when it passes, and the cancellation it caused is turned into the
error the caller expects (a :class:`~container.ServiceTimeoutException` on the client, a 504 on
the server). A cancellation that came from elsewhere (the caller cancelled its task) is left as
it is.

The deadlines of one event loop share one timer (:class:`_Watch`), armed for the earliest:
a timer per call (``loop.call_later`` and its cancellation) costs 1 to 2 µs, a third of an
in-process awaited call; entering a deadline here costs a heap push.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import heapq
import itertools
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Executor, Future
from typing import Any

_monotonic = time.monotonic
_current_task = asyncio.current_task
_running_loop = asyncio.get_running_loop
_heappush = heapq.heappush
_CAN_UNCANCEL = hasattr(asyncio.Task, "uncancel")  # Python 3.11+


class Deadline:
    """Cancels the current task when ``deadline`` passes; raises ``error(*args)`` instead.

    Use it around the awaits a deadline bounds::

        with Deadline(deadline, ServiceTimeoutException, url, "deadline", budget):
            answer = await send(url, request)

    A deadline that has passed already raises at once, without awaiting anything. On Python
    3.11+ a cancellation requested by someone else at the same time (``Task.cancelling()``)
    wins: it goes on as :class:`asyncio.CancelledError`.

    Args:
        deadline: a :func:`time.monotonic` value.
        error: the exception class to raise when the deadline passes.
        *args: its arguments.
    """

    __slots__ = ("_args", "_cancelling", "_deadline", "_error", "_task", "_watch", "state")

    def __init__(self, deadline: float, error: Callable[..., BaseException], *args: Any) -> None:
        self._deadline = deadline
        self._error = error
        self._args = args
        self.state = _WAITING

    def __enter__(self) -> Deadline:
        deadline = self._deadline
        if deadline <= _monotonic():
            raise self._error(*self._args)
        loop = _running_loop()
        task = _current_task(loop)
        if task is None:
            raise RuntimeError("Deadline is used inside a task")
        self._task = task
        self._cancelling = task.cancelling() if _CAN_UNCANCEL else 0  # type: ignore[attr-defined]
        watch = _watch_of(loop)
        self._watch = watch
        watch.add(deadline, self)
        return self

    def expire(self) -> None:
        """The deadline passed: cancel the task (the watch calls it, on the task's loop)."""
        self.state = _EXPIRED
        self._task.cancel()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if self.state is _WAITING:
            self.state = _DONE
            self._watch.finished()
            return
        if kind is not None and issubclass(kind, asyncio.CancelledError):
            if _CAN_UNCANCEL and self._task.uncancel() > self._cancelling:  # type: ignore[attr-defined]
                return  # cancelled from elsewhere too: that cancellation goes on
            raise self._error(*self._args) from exc


_WAITING, _DONE, _EXPIRED = "waiting", "done", "expired"


class _Watch:
    """The deadlines of one event loop: a heap of them, one timer armed for the earliest.

    A deadline that is over (the call ended) stays in the heap, marked done, until the timer
    passes it or the heap is rebuilt without the done ones (when they are most of it).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._armed = float("inf")
        self._done = 0

    def add(self, deadline: float, scope: Deadline) -> None:
        _heappush(self._heap, (deadline, next(self._order), scope))
        if deadline < self._armed:
            self._arm(deadline)

    def finished(self) -> None:
        self._done += 1
        if self._done > 256 and self._done * 2 > len(self._heap):
            self._heap = [entry for entry in self._heap if entry[2].state is _WAITING]
            heapq.heapify(self._heap)
            self._done = 0

    def _arm(self, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed = deadline
        self._timer = self._loop.call_later(max(0.0, deadline - _monotonic()), self._fire)

    def _fire(self) -> None:
        self._timer, self._armed = None, float("inf")
        heap, now = self._heap, _monotonic()
        while heap and (heap[0][0] <= now or heap[0][2].state is not _WAITING):
            scope = heapq.heappop(heap)[2]
            if scope.state is _WAITING:
                scope.expire()
            else:
                self._done = max(0, self._done - 1)
        if heap:
            self._arm(heap[0][0])


_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watch] = weakref.WeakKeyDictionary()
"""The deadline watch of each event loop (a pure cache: it goes with its loop)."""

_last: tuple[Any, Any] = (None, None)
"""The loop asked for last and its watch, as one tuple (threads of other loops replace it whole):
most processes run one loop, and a weak look-up costs more."""


def _watch_of(loop: asyncio.AbstractEventLoop) -> _Watch:
    global _last
    last = _last
    if last[0] is loop:
        return last[1]  # type: ignore[no-any-return]
    watch = _watches.get(loop)
    if watch is None:
        watch = _watches.setdefault(loop, _Watch(loop))
    _last = (loop, watch)
    return watch


async def in_thread(executor: Executor, function: Callable[..., Any], *args: Any) -> Any:
    """Run a blocking ``function(*args)`` in ``executor`` with the caller's context variables.

    Cancelling the awaiting task stops the waiting at once; the thread finishes its work.
    """
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    return await loop.run_in_executor(executor, functools.partial(context.run, function, *args))


def hop(intercept: Callable[[Any, Any], Any], executor: Executor) -> Callable[[Any, Any], Awaitable[Any]]:
    """Return an async interceptor function that runs a sync ``intercept(call, call_next)`` in a thread.

    The sync interceptor runs in a thread of ``executor`` with the caller's context variables;
    its ``call_next(call)`` hands the rest of the chain back to the event loop and blocks that
    thread until the rest is done. Cancelling the awaiting task cancels the rest of the chain.
    """

    async def hopped(call: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        loop = asyncio.get_running_loop()
        inner: list[Future[Any]] = []

        def blocking_next(changed: Any) -> Any:
            future = asyncio.run_coroutine_threadsafe(_coroutine(call_next(changed)), loop)
            inner.append(future)
            return future.result()

        try:
            return await in_thread(executor, intercept, call, blocking_next)
        except asyncio.CancelledError:
            for future in inner:
                future.cancel()
            raise

    return hopped


def _coroutine(awaitable: Awaitable[Any]) -> Coroutine[Any, Any, Any]:
    if asyncio.iscoroutine(awaitable):
        return awaitable

    async def wait() -> Any:
        return await awaitable

    return wait()


async def within(
    coroutine: Awaitable[Any], deadline: float, error: Callable[..., BaseException], *args: Any
) -> Any:
    """Await ``coroutine`` under a :class:`Deadline` (for a coroutine handed to another loop).

    A deadline passed already raises at once; ``coroutine`` is closed then, never run.
    """
    entered = False
    try:
        with Deadline(deadline, error, *args):
            entered = True
            return await coroutine
    finally:
        if not entered and asyncio.iscoroutine(coroutine):
            coroutine.close()


class Unbounded:
    """The :class:`Deadline` of a call without one: nothing happens."""

    __slots__ = ()

    def __enter__(self) -> Unbounded:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


UNBOUNDED = Unbounded()
