"""Bridges between sync and async code: an async method from a script, a sync one from a loop.

A proxy's ``async def`` method returns a coroutine, which sync code cannot await, and its
``def`` methods block, which an event loop must not. Both bridges borrow the runtime of the
proxy (its :class:`~container.config._workers.Workers`): never a new event loop per call, never
a thread per call.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from ..call._aio import in_thread
from ..call._proxy import workers_of_proxy
from ..config._workers import Workers
from ._connect import default_runtime

P = ParamSpec("P")
R = TypeVar("R")


def call_blocking(method: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """Call an ``async def`` method from sync code and return its result (or raise its error).

    The call runs on the background event loop of the proxy's runtime (started on first use,
    one per runtime), with this thread's context: :func:`~container.call_options` and
    :func:`~container.last_response` blocks around it apply. Example::

        with call_options(timeout=2.0):
            order = call_blocking(orders.place, "pen", 2)   # orders.place is async def

    A ``def`` method is simply called. An interrupt while waiting (Ctrl-C) cancels the call.

    Args:
        method: a proxy's method (or any coroutine function: it then runs on the background
            loop of :func:`~container.default_runtime`).
        *args: its positional arguments.
        **kwargs: its keyword arguments.

    Raises:
        BlockingCallException: called on a thread that runs an event loop: await the method there.
    """
    if not inspect.iscoroutinefunction(method):
        return method(*args, **kwargs)  # type: ignore[return-value]
    return _workers(method).run(method(*args, **kwargs))  # type: ignore[arg-type]


async def call_in_thread(method: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """Call a ``def`` method from an event loop without blocking it; return its result.

    The call runs in the bounded thread pool of the proxy's runtime, with the awaiting task's
    context (call options, the call being served). Example::

        stock = await call_in_thread(inventory.reserve, "pen", 2)   # inventory.reserve is def

    Cancelling the awaiting task stops the waiting at once; the call itself finishes in its
    thread, within its deadline. An ``async def`` method is simply awaited.

    Args:
        method: a proxy's method (or any callable: it then runs in the pool of
            :func:`~container.default_runtime`).
        *args: its positional arguments.
        **kwargs: its keyword arguments.
    """
    if inspect.iscoroutinefunction(method):
        return await method(*args, **kwargs)  # type: ignore[no-any-return]
    return await in_thread(_workers(method).pool, functools.partial(method, *args, **kwargs))  # type: ignore[no-any-return]


def _workers(method: Any) -> Workers:
    """The workers of the runtime a bound proxy method belongs to; the default runtime's otherwise."""
    found = workers_of_proxy(getattr(method, "__self__", None))
    return found if found is not None else default_runtime().workers
