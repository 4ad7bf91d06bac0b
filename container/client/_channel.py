"""The channel: the invocation handler behind every proxy, and the client side of the pipeline.

A channel plugin declares what it is made of; the core does the rest::

    class TcpMsgpackChannel(Channel):
        name = "tcp-msgpack"          # what registries and callers call it
        codec = MSGPACK_CODEC         # how calls become bytes (None: in process, no encoding)
        schemes = ("tcp",)            # the URL schemes its addresses use
        url_shapes = (URLShape.HOST_PORT,)  # tcp://host:port (the default)
        transport = TcpTransport      # moves the bytes (client side)
        listener = TcpListener        # accepts them (server side), when it serves

When it is set up, a channel compiles one plan per method
(:class:`~container.client._plan.MethodPlan`: timeouts, idempotency, codec, the client
interceptors composed around the terminal, the channel's attempts); a proxy's call runs its
method's plan: the context, the Invocation, the interceptors, then encoding, choosing a URL,
sending through the transport, failing over when that is safe, and decoding the answer or
raising the error it carries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from ..call._calls import InterceptorLike, Invocation
from ..call._proxy import target_of
from ..call._transport import InProcessTransport, Listener, Transport
from ..config._settings import DEFAULT_COOLDOWN, Settings
from ..policies._attempts import Attempts
from ..policies._events import NO_EVENTS, ChannelEvents
from ..policies._selectors import (
    FirstURLSelector,
    LeastInFlightURLSelector,
    RandomURLSelector,
    RoundRobinURLSelector,
    URLSelector,
    selector_by_name,
)
from ..policies._urls import ALL_SHAPES, URLShape, url_problem, usable_urls
from ..values._values import ChannelInstances
from ..wire._codec import Codec
from ._first_contract import FirstContract, overrides_invoke, uses_first_contract
from ._plan import MethodPlan

_R = TypeVar("_R")
_Selector = URLSelector  # the class attribute Channel.URLSelector shadows the name inside the class

if TYPE_CHECKING:
    from ..declarations._descriptors import ComponentDescriptor, MethodDescriptor


class ChannelHost(Protocol):
    """What a channel reads of the ServiceManager that made it (``container.ServiceManager`` is one).

    Named here as a protocol, so that the channel sits below the runtime that creates it.
    """

    @property
    def settings(self) -> Settings:
        """The validated configuration."""

    @property
    def channel_events(self) -> ChannelEvents:
        """Where the channel tells what happens to instances (failovers, new URLs)."""

    def transport_for(self, channel_class: type[Channel]) -> Transport | InProcessTransport:
        """Return the manager's transport of a channel class (one, shared by its components)."""

    def client_interceptors(self, component: str) -> list[InterceptorLike]:
        """Return the interceptors of calls to ``component``, outermost first."""


class Channel(FirstContract):
    """The invocation handler behind every proxy of one component on one channel.

    A channel plugin subclasses this class and sets :attr:`name`, :attr:`codec`,
    :attr:`transport` and, when it serves calls, :attr:`listener` (see the module docstring).
    The core creates one instance per (ServiceManager, component, channel name) through
    :class:`~container.ChannelManager`, calls :meth:`setup`, and the registry keeps its URLs
    current through :meth:`set_address`. One instance serves every thread.

    Attributes:
        name: the channel name (set by ``@channel``, the entry point, or the class).
        codec: the wire format of byte transports; None for an in-process transport.
        schemes: the URL schemes this channel's addresses use (``("http", "https")``).
        url_shapes: the shapes of URL it accepts (:class:`~container.plugin.URLShape`;
            host:port unless the class says otherwise; every shape for a channel of the
            first contract that declares none).
        transport: the :class:`~container.plugin.Transport` (or ``InProcessTransport``) class.
        listener: the :class:`~container.plugin.Listener` class, or None when the channel is
            served by the :class:`~container.Server` itself (the HTTP channels) or not at all.
        component_descriptor: the component this channel calls.
        address: the component's current URLs on this channel.
        url_selector: chooses the URL of each call.
        cooldown: seconds a URL that failed to connect is skipped while others are left.
        manager: the ServiceManager that created the channel.
    """

    name: ClassVar[str] = ""
    codec: ClassVar[Codec | None] = None
    schemes: ClassVar[tuple[str, ...]] = ()
    url_shapes: ClassVar[tuple[URLShape, ...]] = (URLShape.HOST_PORT,)
    transport: ClassVar[type[Transport] | type[InProcessTransport] | None] = None
    listener: ClassVar[type[Listener] | None] = None

    URLSelector = URLSelector
    FirstURLSelector = FirstURLSelector
    RoundRobinURLSelector = RoundRobinURLSelector
    RandomURLSelector = RandomURLSelector
    LeastInFlightURLSelector = LeastInFlightURLSelector

    DEFAULT_COOLDOWN = DEFAULT_COOLDOWN
    """Seconds a URL that failed is skipped while other URLs are left."""

    __servicewire_core__ = True  # its invoke() and call_with_failover() are the pipeline's
    __servicewire_channel_class__ = True  # what @channel checks

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        shapes = cls.__dict__.get("url_shapes")
        if shapes is not None:
            try:
                cls.url_shapes = tuple(URLShape(shape) for shape in shapes)
            except ValueError as exc:
                raise TypeError(
                    f"{cls.__qualname__}.url_shapes: {exc}; use {', '.join(repr(s.value) for s in URLShape)}"
                ) from None
        elif cls.url_shapes is Channel.url_shapes and uses_first_contract(cls):
            cls.url_shapes = ALL_SHAPES  # the first guide allowed any URL
        transport = cls.__dict__.get("transport")
        if transport is None:
            return
        in_process = isinstance(transport, type) and issubclass(transport, InProcessTransport)
        if not in_process and not (isinstance(transport, type) and issubclass(transport, Transport)):
            raise TypeError(f"{cls.__qualname__}.transport must be a Transport subclass, got {transport!r}")
        if in_process and cls.codec is not None:
            raise TypeError(f"{cls.__qualname__}: an InProcessTransport needs codec = None")
        if not in_process and cls.codec is None:
            raise TypeError(f"{cls.__qualname__}: a byte Transport needs a codec (JSON_CODEC, MSGPACK_CODEC)")

    def __init__(self) -> None:
        self.component_descriptor: ComponentDescriptor[Any] | None = None
        self.address: ChannelInstances | None = None
        self.manager: ChannelHost | None = None
        self.settings = Settings()
        self.events: ChannelEvents = NO_EVENTS
        self.attempts = Attempts(
            self, f"no URL known on channel {self.name!r}", cooldown=self.DEFAULT_COOLDOWN
        )
        """Where this channel's calls go: its URLs, its selector, the URLs cooling down."""
        self.plans: dict[MethodDescriptor, MethodPlan] = {}
        """The compiled plan of each method of the component (made by :meth:`setup`)."""
        self._transport: Transport | InProcessTransport | None = None
        self._interceptors: list[InterceptorLike] = []
        self._owns_transport = False
        self._address_lock = threading.Lock()

    # configuration

    def setup(
        self,
        component_descriptor: ComponentDescriptor[Any],
        address: ChannelInstances,
        manager: ChannelHost | None = None,
    ) -> None:
        """Bind the channel to a component and its first known URLs, and compile its plans.

        Reads the component's settings (selector, cool-down, timeouts), takes the manager's
        transport for this channel and its client interceptors, and compiles one plan per
        method. Subclasses that read more settings override this and call
        ``super().setup(...)`` first.

        Raises:
            ConfigurationException: a setting of the component is wrong (the key is named), or
                a method's types cannot be carried by the codec.
        """
        self.component_descriptor = component_descriptor
        self.manager = manager
        if manager is not None:
            self.settings = manager.settings
            self.events = self.attempts.events = manager.channel_events
        settings = self.settings.component(component_descriptor.name)
        self.attempts.no_address = (
            f"no URL known for component {component_descriptor.name!r} on channel {self.name!r}"
        )
        self.attempts.cooldown = settings.cooldown
        if settings.selector is not None:
            self.attempts.selector = selector_by_name(
                settings.selector, f"components.{component_descriptor.name}.selector"
            )
        transport = type(self).transport
        if transport is not None:
            if manager is not None:
                self._transport = manager.transport_for(type(self))
            else:
                self._transport = transport(self.settings)
                self._owns_transport = True
        if manager is not None:
            self._interceptors = manager.client_interceptors(component_descriptor.name)
        for service in component_descriptor.services:
            for method in service.methods.values():
                self.plan_of(method)  # builds codecs now: a bad type hint shows at get_service
        self._use(self._checked(address))

    def plan_of(self, method: MethodDescriptor) -> MethodPlan:
        """Return the compiled plan of a method (compiled now when :meth:`setup` did not)."""
        plan = self.plans.get(method)
        if plan is None:
            own_invoke = overrides_invoke(type(self))
            plan = MethodPlan(
                method,
                self.settings,
                self.attempts,
                self._interceptors,
                self._transport,
                self.codec,
                self.invoke if own_invoke else None,
                f"channel {self.name!r} ({type(self).__qualname__})",
            )
            self.plans[method] = plan
        return plan

    def is_idempotent(self, method: MethodDescriptor) -> bool:
        """Return whether a call of ``method`` that was sent may be retried on another URL.

        True when the interface method is decorated with ``@idempotent``, or config says so:
        ``components.<component>.idempotent: true`` (every method) or
        ``components.<component>.methods.<service>.<method>.idempotent`` (or ``<method>``).
        """
        return self.plan_of(method).idempotent

    @classmethod
    def check_url(cls, url: object) -> str | None:
        """Return why this channel cannot use an instance URL, or None when it can.

        The URL must be of one of :attr:`schemes` and of one of :attr:`url_shapes`, and carry
        no credentials, query or fragment (see :func:`container.plugin.url_problem`). The core
        asks it of every URL a registry gives and of every address a server registers; override
        it for a URL syntax of your own.
        """
        return url_problem(url, cls.schemes, cls.url_shapes)

    def set_address(self, address: ChannelInstances | None) -> None:
        """Replace the component's URLs; registries call this when instances come and go.

        URLs this channel cannot use (see :meth:`check_url`: another scheme, another shape,
        credentials in the URL) are left out and logged once. The candidates of the next calls
        are computed here, once per change.
        """
        self._use(self._checked(address))

    def _use(self, address: ChannelInstances | None) -> None:
        with self._address_lock:
            self.address = address
            self.attempts.set_urls(address.urls if address is not None else ())
        self.events.addresses_changed(self, address)

    def _checked(self, address: ChannelInstances | None) -> ChannelInstances | None:
        if address is None or not address.urls:
            return address
        where = f"channel {self.name!r} of {address.component!r}"
        usable = usable_urls(address.urls, self.check_url, where, self.settings.runtime.refused_urls)
        if len(usable) == len(address.urls):
            return address
        return ChannelInstances(address.component, address.channel, usable)

    @property
    def url_selector(self) -> _Selector:
        """Chooses the URL of each call (round robin unless config or code chose another)."""
        return self.attempts.selector

    @url_selector.setter
    def url_selector(self, selector: _Selector) -> None:
        self.attempts.selector = selector

    @property
    def cooldown(self) -> float:
        """Seconds a URL that failed is skipped while other URLs are left."""
        return self.attempts.cooldown

    @cooldown.setter
    def cooldown(self, seconds: float) -> None:
        self.attempts.cooldown = seconds

    def select_first_url(self) -> None:
        """Send every call to the first URL."""
        self.url_selector = FirstURLSelector()

    def select_round_robin(self) -> None:
        """Spread calls over every URL in turn (the default)."""
        self.url_selector = RoundRobinURLSelector()

    def get_url(self) -> str:
        """Return the URL of the next call.

        Raises:
            NoAddressException: no URL is known for the component.
        """
        return self.attempts.pick()

    # calls

    def call(self, invocation: Invocation) -> Any:
        """Run one call whose Invocation is made (with its context): the method's chain."""
        return self.plan_of(invocation.method).chain(invocation)

    def invoke(self, invocation: Invocation) -> Any:
        """Carry out a call after the interceptors: encode, choose a URL, send, decode.

        The end of each method's chain. (A channel of the first plugin contract overrides it
        and sends by itself, see :meth:`call_with_failover`.)

        Raises:
            ServiceCommunicationException: the exchange could not be completed (no URL, no
                connection on any URL, broken after sending, the deadline passed, an
                unreadable answer).
            RemoteServiceException: the server answered with an error.
            ServiceException: an application exception the server raised, as itself.
            SerializationException: an argument cannot be encoded (nothing was sent).
        """
        plan = self.plan_of(invocation.method)
        return plan.terminal(invocation)

    def call_with_failover(self, method: MethodDescriptor, send: Callable[[str], _R]) -> _R:
        """Call ``send(url)`` on the selected URL with the pipeline's failover rules.

        For channels of the first contract, whose ``invoke`` sends by itself: a failure that
        sent nothing moves on to the next URL, one that may have run the call only for an
        idempotent method; failed URLs cool down.
        """
        return self.plan_of(method).attempt(lambda url, _: send(url), None, None, None)[1]  # type: ignore[no-any-return]

    def close(self) -> None:
        """Release what the channel owns; the channel is not used afterwards."""
        if self._owns_transport and self._transport is not None:
            self._transport.close()
            self._transport = None

    def __repr__(self) -> str:
        component = self.component_descriptor.name if self.component_descriptor else None
        return f"<{type(self).__name__} {self.name!r} component={component!r}>"


def channel_of(proxy: Any) -> Channel:
    """Return the channel behind a proxy (its URLs, its selector, ``select_first_url()``).

    A proxy chooses its channel on its first call; asked before, the registry is consulted now
    (without waiting for an address to appear).

    Raises:
        TypeError: ``proxy`` is not a proxy (for example, the local implementation itself).
        NoAddressException: the proxy made no call yet and the registry knows no address.
    """
    return target_of(proxy)  # type: ignore[return-value]
