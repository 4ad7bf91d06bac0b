"""What the async runners of both sides share: the deadline of an await, and moving work to threads.

Python 3.10 is supported, so nothing here uses ``asyncio.timeout`` or task groups: a deadline
is a timer (``loop.call_later``) that cancels the awaiting task, and the cancellation it caused
is turned into the error the caller expects (a :class:`~container.ServiceTimeoutException` on
the client, a 504 on the server). A cancellation that came from elsewhere (the caller cancelled
its task) is left as it is.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Executor, Future
from typing import Any

_monotonic = time.monotonic
_current_task = asyncio.current_task
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

    __slots__ = ("_args", "_cancelling", "_deadline", "_error", "_expired", "_handle", "_task")

    def __init__(self, deadline: float, error: Callable[..., BaseException], *args: Any) -> None:
        self._deadline = deadline
        self._error = error
        self._args = args
        self._expired = False

    def __enter__(self) -> Deadline:
        left = self._deadline - _monotonic()
        if left <= 0:
            raise self._error(*self._args)
        task = _current_task()
        if task is None:
            raise RuntimeError("Deadline is used inside a task")
        self._task = task
        self._cancelling = task.cancelling() if _CAN_UNCANCEL else 0  # type: ignore[attr-defined]
        self._handle = task.get_loop().call_later(left, self._expire)
        return self

    def _expire(self) -> None:
        self._expired = True
        self._task.cancel()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self._handle.cancel()
        if self._expired and kind is not None and issubclass(kind, asyncio.CancelledError):
            if _CAN_UNCANCEL and self._task.uncancel() > self._cancelling:  # type: ignore[attr-defined]
                return  # cancelled from elsewhere too: that cancellation goes on
            raise self._error(*self._args) from exc


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
