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

Server side, a :class:`Listener` accepts requests in its own way and hands each to the
:class:`~container.plugin.Dispatcher`, which answers with a :class:`Response`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from ._messages import Request, Response

if TYPE_CHECKING:
    from ..config._settings import Settings
    from ..declarations._descriptors import ComponentDescriptor
    from ..values._values import ChannelAddress
    from ._calls import Invocation
    from ._dispatcher import Dispatcher


class Transport(ABC):
    """Sends the bytes of calls to URLs; one instance serves every thread of a ServiceManager.

    Subclass it, implement :meth:`send` (thread-safe) and :meth:`close`, and name the class in
    your channel's ``transport`` attribute. The core creates one per ServiceManager and channel.

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

    def close(self) -> None:
        """Close connections and threads; the transport is not used afterwards."""


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

    def close(self) -> None:
        """Release what the transport holds."""


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
