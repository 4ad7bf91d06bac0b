"""The channel plugin contract: a transport moves bytes, a listener accepts them.

Everything else about a call (interceptors, deadlines, URL selection, failover, encoding, the
error envelope, routing, in-flight counting) is done once, in the core, for every channel.

Client side, a :class:`Transport` has one job: send a :class:`Request`'s bytes to a URL and
return the :class:`Response`'s bytes, within the request's deadline, saying exactly how it
failed when it did:

=====================================================  ============================================
raise                                                  when
=====================================================  ============================================
``ServiceUnavailableException(message, url)``          nothing was sent (no connection; refused)
``ServiceTimeoutException(url, "connect", seconds)``   a connection attempt ran out; nothing sent
``ServiceTimeoutException(url, "deadline", seconds)``  the deadline passed after sending
``CallInterruptedException(message, url)``             the connection broke after sending
``InvalidResponseException(message, url)``             an answer arrived that cannot be read
=====================================================  ============================================

The first two let the core try another instance; the others mean the call may have run, so
it is retried only for idempotent methods.

Calls of ``async def`` methods await :meth:`Transport.send_async`: a transport written for
asyncio overrides it (same failures, same table); one that does not is run by the default,
which calls :meth:`Transport.send` in the runtime's bounded thread pool. The core bounds the
await by the call's deadline (it cancels it then) and cancels it when the caller's task is
cancelled: an async transport closes the connection of an exchange it abandons, so that the
server sees the caller go.

Server side, a :class:`Listener` accepts requests in its own way and hands each to the
:class:`~container.plugin.Dispatcher`, which answers with a :class:`Response`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from ..config._runtime import workers_of
from ._aio import in_thread
from ._messages import Request, Response

if TYPE_CHECKING:
    from ..config._settings import Settings
    from ..declarations._descriptors import ComponentDescriptor, MethodDescriptor
    from ..values._values import ChannelAddress
    from ._calls import Invocation
    from ._dispatcher import Dispatcher, LocalRunner


class Transport(ABC):
    """Sends the bytes of calls to URLs; one instance serves every thread of a ServiceManager.

    Subclass it, implement :meth:`send` (thread-safe) and :meth:`close`, and name the class in
    your channel's ``transport`` attribute. The core creates one per ServiceManager and channel.
    Override :meth:`send_async` (and :meth:`aclose`) to serve ``async def`` methods on the
    caller's event loop; one instance then serves every thread and every event loop.

    Args:
        settings: the validated servicewire configuration (read your own typed section with
            ``settings.section("name", YourSettings)``).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def send(self, url: str, request: Request) -> Response:
        """Send ``request`` to the instance at ``url`` and return its answer.

        Honour ``request.deadline`` for every blocking step (see :meth:`Request.time_left`), and
        classify every failure (module docstring): never let an ``OSError`` or a library's own
        exception escape.
        """

    async def send_async(self, url: str, request: Request) -> Response:
        """Send ``request`` to the instance at ``url`` from an event loop; return its answer.

        The default runs :meth:`send` in the runtime's bounded thread pool
        (``settings.runtime.workers.pool``). Override it in a transport written for asyncio:
        classify failures as :meth:`send` does; the core cancels this coroutine when the
        deadline passes or the caller's task is cancelled, so close the connection of an
        exchange that is cancelled half way (it cannot carry another call).
        """
        return await in_thread(workers_of(self.settings.runtime).pool, self.send, url, request)  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close connections and threads; the transport is not used afterwards."""

    async def aclose(self) -> None:
        """Close from an event loop (``ServiceManager.aclose()``): :meth:`close` by default.

        Override it when connections belong to the event loop that opened them.
        """
        self.close()


class InProcessTransport(ABC):
    """Hands calls to a dispatcher of this process without encoding them (the ``local`` channel).

    Args:
        settings: the validated servicewire configuration.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def call(self, url: str, invocation: Invocation) -> Any:
        """Run the call at the dispatcher that ``url`` names; return its result or raise.

        Raises:
            ServiceUnavailableException: nothing at ``url`` (nothing ran).
            ServiceException: what :meth:`Dispatcher.call_local` raised.
        """

    async def call_async(self, url: str, invocation: Invocation) -> Any:
        """Run a call of an ``async def`` method at the dispatcher that ``url`` names; return its result.

        The default runs :meth:`call` in the runtime's thread pool; the ``local`` channel's
        transport awaits :meth:`Dispatcher.call_local_async` instead, so the implementation runs
        on the caller's own event loop.
        """
        return await in_thread(workers_of(self.settings.runtime).pool, self.call, url, invocation)

    def direct_runner(self, url: str, method: MethodDescriptor) -> LocalRunner | None:
        """Return a function that runs the calls of ``method`` at ``url`` directly, or None.

        Optional (the default returns None, and every call goes through :meth:`call`). The
        core asks when the URL a channel's calls go to changes (a new address, a cool-down
        that ends) and, while that URL stands, runs each call of a ``def`` method that has no
        client interceptor and no open :func:`~container.last_response` block as
        ``run(context, args, kwargs)``, without making an :class:`Invocation` (the only URL of
        the channel, so there is nothing to choose). ``run`` must do what
        ``call(url, Invocation(method, args, kwargs, context))`` would, and keep doing so: the
        ``local`` channel returns :meth:`Dispatcher.local_runner` and calls
        :meth:`Dispatcher.stop_local_runners` when its listener stops being reachable at
        ``url``. The core calls ``run`` at once, on the caller's thread, with a context it has
        just made, whose deadline had not passed then; a
        :class:`~container.ServiceCommunicationException` that ``run`` raises is handled as one
        that :meth:`call` raised (cool-down, failover).
        """
        return None

    def close(self) -> None:
        """Release what the transport holds."""

    async def aclose(self) -> None:
        """Release what the transport holds, from an event loop: :meth:`close` by default."""
        self.close()


class Listener(ABC):
    """Accepts calls of one channel for one server and hands each to the dispatcher.

    The core creates one per server and channel (when the channel names a ``listener``
    class) and calls, in order: :meth:`listen` for each address a hosted component
    advertises on the channel, then at shutdown :meth:`stop_accepting`, :meth:`drain` and
    :meth:`close`.

    Args:
        dispatcher: routes, decodes, runs and answers calls (thread-safe).
        settings: the validated servicewire configuration.
    """

    def __init__(self, dispatcher: Dispatcher, settings: Settings) -> None:
        self.dispatcher = dispatcher
        self.settings = settings

    @abstractmethod
    def listen(self, address: ChannelAddress) -> ChannelAddress:
        """Listen where ``address`` says and return the address to register.

        Called once per advertised address; start listening on the first call and serve every
        hosted component from then on. Return the address you really listen on (for example
        with the port you bound when ``address`` asked for port 0).
        """

    def listen_for(self, component: ComponentDescriptor[Any], address: ChannelAddress) -> ChannelAddress:
        """Listen for one component's advertised ``address``: what the server calls.

        It calls :meth:`listen`; implement that. (The adapter of channels written to the first
        plugin contract overrides this, because their hook needs the component.)
        """
        return self.listen(address)

    @abstractmethod
    def stop_accepting(self) -> None:
        """Stop accepting new connections; calls already received go on."""

    def drain(self, timeout: float) -> bool:
        """Wait until the calls this listener received are answered; False if ``timeout`` ran out.

        The default waits for the dispatcher's calls in flight; override it when answers can
        still sit in your buffers after the dispatcher is done.
        """
        return self.dispatcher.wait_idle(timeout)

    @abstractmethod
    def close(self) -> None:
        """Close every connection and release the port; called last."""
