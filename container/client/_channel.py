"""The channel: the invocation handler behind every proxy, and the client side of the pipeline.

A channel plugin declares what it is made of; the core does the rest::

    class TcpMsgpackChannel(Channel):
        name = "tcp-msgpack"          # what registries and callers call it
        codec = MSGPACK_CODEC         # how calls become bytes (None: in process, no encoding)
        schemes = ("tcp",)            # the URL schemes its addresses use
        url_shapes = (URLShape.HOST_PORT,)  # tcp://host:port (the default)
        transport = TcpTransport      # moves the bytes (client side)
        listener = TcpListener        # accepts them (server side), when it serves

For each call a proxy makes, :meth:`Channel.call` builds the :class:`~container.CallContext`
(metadata and deadline), runs the client interceptors, then :meth:`Channel.invoke`: encodes
the arguments once, chooses a URL, sends through the transport, fails over when that is safe,
and decodes the answer or raises the error it carries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from ..call._calls import InterceptorLike, Invocation, compose
from ..call._context import (
    CallContext,
    check_metadata,
    new_client_context,
    options_variable,
    serving_variable,
)
from ..call._messages import Request, Response
from ..call._proxy import target_of
from ..call._transport import InProcessTransport, Listener, Transport
from ..config._settings import DEFAULT_COOLDOWN, Settings
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
from ..values._errors import (
    NoAddressException,
    PluginException,
    ServiceCommunicationException,
    ServiceTimeoutException,
)
from ..values._status import Status
from ..values._values import ChannelInstances
from ..wire._codec import Codec, CodecError, MethodCodec, bad_answer, codec_for
from ..wire._codec import error_for_status as _error_for_status
from ._first_contract import FirstContract, uses_first_contract

_R = TypeVar("_R")
_monotonic = time.monotonic
_serving_get = serving_variable.get
_options_get = options_variable.get

# Plain ints on the call path: comparing with an int is a little cheaper than with an IntEnum.
OK = int(Status.OK)
UNAVAILABLE = int(Status.UNAVAILABLE)
DEADLINE_EXCEEDED = int(Status.DEADLINE_EXCEEDED)

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


class _Plan:
    """What a channel precomputes per method."""

    __slots__ = ("codec", "connect_timeout", "idempotent", "path", "timeout")

    def __init__(
        self, codec: MethodCodec | None, path: str, timeout: float, connect_timeout: float, idempotent: bool
    ) -> None:
        self.codec = codec
        self.path = path
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.idempotent = idempotent


def _instance_failed(exc: ServiceCommunicationException) -> bool:
    # A URL goes into the cool-down when connecting failed or the connection broke; a slow
    # answer (deadline) or a missing address says nothing about the instance.
    if isinstance(exc, NoAddressException):
        return False
    if isinstance(exc, ServiceTimeoutException):
        return exc.limit == "connect"
    return True


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

    __servicewire_core__ = True  # its invoke() is the pipeline's (see _first_contract)
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
        self.url_selector: URLSelector = RoundRobinURLSelector()
        self.cooldown = self.DEFAULT_COOLDOWN
        self._cooling: dict[str, float] = {}
        self._plans: dict[MethodDescriptor, _Plan] = {}
        self._timeouts: dict[MethodDescriptor, float] = {}  # the plans' default deadlines, for call()
        self._transport: Transport | InProcessTransport | None = None
        self._in_process: Callable[[str, Invocation], Any] | None = None
        self._owns_transport = False
        self._entry: Callable[[Invocation], Any] = self.invoke
        self._address_lock = threading.Lock()
        self.events: ChannelEvents = NO_EVENTS

    # configuration

    def setup(
        self,
        component_descriptor: ComponentDescriptor[Any],
        address: ChannelInstances,
        manager: ChannelHost | None = None,
    ) -> None:
        """Bind the channel to a component and its first known URLs.

        Reads the component's settings (selector, cool-down, timeouts), takes the manager's
        transport for this channel and its client interceptors. Subclasses that read more
        settings override this and call ``super().setup(...)`` first.

        Raises:
            ConfigurationException: a setting of the component is wrong (the key is named).
        """
        self.component_descriptor = component_descriptor
        self.address = self._checked(address)
        self.manager = manager
        if manager is not None:
            self.settings = manager.settings
            self.events = manager.channel_events
        settings = self.settings.component(component_descriptor.name)
        self.cooldown = settings.cooldown
        if settings.selector is not None:
            self.url_selector = selector_by_name(
                settings.selector, f"components.{component_descriptor.name}.selector"
            )
        transport = type(self).transport
        if transport is not None:
            if manager is not None:
                self._transport = manager.transport_for(type(self))
            else:
                self._transport = transport(self.settings)
                self._owns_transport = True
        if isinstance(self._transport, InProcessTransport):
            self._in_process = self._transport.call
        interceptors = manager.client_interceptors(component_descriptor.name) if manager is not None else []
        self._entry = compose(interceptors, self.invoke)
        if self._in_process is not None and not interceptors and type(self).invoke is Channel.invoke:
            self.call = self._call_in_process  # type: ignore[method-assign]
        for service in component_descriptor.services:
            for method in service.methods.values():
                self._plan(method)  # builds codecs now: a bad type hint shows at get_service
        self.events.addresses_changed(self, self.address)

    def _plan(self, method: MethodDescriptor) -> _Plan:
        plan = self._plans.get(method)
        if plan is None:
            component, service = method.service.component_descriptor.name, method.service.name
            settings = self.settings
            plan = _Plan(
                MethodCodec(method, self.codec) if self.codec is not None else None,
                method.path,
                settings.timeout(component, service, method.name),
                settings.connect_timeout(component),
                method.idempotent or settings.idempotent(component, service, method.name),
            )
            self._plans[method] = plan
            self._timeouts[method] = plan.timeout
        return plan

    def is_idempotent(self, method: MethodDescriptor) -> bool:
        """Return whether a call of ``method`` that was sent may be retried on another URL.

        True when the interface method is decorated with ``@idempotent``, or config says so:
        ``components.<component>.idempotent: true`` (every method) or
        ``components.<component>.methods.<service>.<method>.idempotent`` (or ``<method>``).
        """
        return self._plan(method).idempotent

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
        credentials in the URL) are left out and logged once.
        """
        address = self._checked(address)
        with self._address_lock:
            self.address = address
        self.events.addresses_changed(self, address)

    def _checked(self, address: ChannelInstances | None) -> ChannelInstances | None:
        if address is None or not address.urls:
            return address
        where = f"channel {self.name!r} of {address.component!r}"
        usable = usable_urls(address.urls, self.check_url, where, self.settings.runtime.refused_urls)
        if len(usable) == len(address.urls):
            return address
        return ChannelInstances(address.component, address.channel, usable)

    def select_first_url(self) -> None:
        """Send every call to the first URL."""
        self.url_selector = FirstURLSelector()

    def select_round_robin(self) -> None:
        """Spread calls over every URL in turn (the default)."""
        self.url_selector = RoundRobinURLSelector()

    @property
    def _tracks(self) -> bool:
        return self.url_selector.tracks_calls

    def get_url(self) -> str:
        """Return the URL of the next call.

        Raises:
            NoAddressException: no URL is known for the component.
        """
        return self.url_selector.get(self._urls())

    def _urls(self) -> list[str]:
        address = self.address
        if address is None or not address.urls:
            component = self.component_descriptor.name if self.component_descriptor else "?"
            raise NoAddressException(f"no URL known for component {component!r} on channel {self.name!r}")
        return address.urls

    # calls

    def call(self, invocation: Invocation) -> Any:
        """Run one call made through a proxy: context, client interceptors, then :meth:`invoke`."""
        if invocation.context is None:
            timeout = self._timeouts.get(invocation.method)
            if timeout is None:
                timeout = self._plan(invocation.method).timeout
            # new_client_context(timeout), inlined for the common case: this runs on every call.
            invocation.started = now = _monotonic()
            deadline = now + timeout
            serving = _serving_get()
            if serving is not None:
                inherited = serving.deadline
                if inherited is not None and inherited < deadline:
                    deadline = inherited
            if _options_get() is None:
                invocation.context = CallContext({}, deadline)
            else:
                invocation.context = new_client_context(timeout)
        return self._entry(invocation)

    def _call_in_process(self, invocation: Invocation) -> Any:
        """:meth:`call` for an in-process channel without client interceptors, in one frame.

        Proxies of the ``local`` channel run this on every call; it does what :meth:`call`
        and :meth:`invoke` do for one URL, and hands anything else to them.
        """
        method = invocation.method
        timeout = self._timeouts.get(method)
        serving = _serving_get()
        if timeout is None or _options_get() is not None or self._cooling:
            return Channel.call(self, invocation)
        invocation.started = now = _monotonic()
        deadline = now + timeout
        if serving is not None:
            inherited = serving.deadline
            if inherited is not None and inherited < deadline:
                deadline = inherited
        invocation.context = CallContext({}, deadline)
        address = self.address
        if address is None or len(address.urls) != 1:
            return self.invoke(invocation)
        url = invocation.url = address.urls[0]
        try:
            return self._in_process(url, invocation)  # type: ignore[misc]
        except ServiceCommunicationException as exc:
            if _instance_failed(exc):
                self._mark_failed(url)
            raise

    def invoke(self, invocation: Invocation) -> Any:
        """Carry out a call after the interceptors: encode, choose a URL, send, decode.

        Raises:
            ServiceCommunicationException: the exchange could not be completed (no URL, no
                connection on any URL, broken after sending, the deadline passed, an
                unreadable answer).
            RemoteServiceException: the server answered with an error.
            ServiceException: an application exception the server raised, as itself.
            SerializationException: an argument cannot be encoded (nothing was sent).
        """
        in_process = self._in_process
        if in_process is not None:
            address = self.address
            if address is not None and len(address.urls) == 1 and not self._cooling:
                # The common in-process case: one URL, nothing failing; no failover loop.
                url = invocation.url = address.urls[0]
                try:
                    return in_process(url, invocation)
                except ServiceCommunicationException as exc:
                    if _instance_failed(exc):
                        self._mark_failed(url)
                    raise
            plan = self._plans.get(invocation.method) or self._plan(invocation.method)
            return self._attempts(invocation, plan, lambda url: in_process(url, invocation))
        plan = self._plans.get(invocation.method) or self._plan(invocation.method)
        transport = self._transport
        if transport is None:
            raise PluginException(
                f"channel {self.name!r} ({type(self).__qualname__}) declares no transport: set "
                "`transport = YourTransport` on the class (see docs/writing-a-channel-plugin.md)"
            )
        context = invocation.context
        if context.metadata:
            check_metadata(context.metadata)
        codec = self.codec
        assert plan.codec is not None and codec is not None
        deadline = context.deadline
        request = Request(
            plan.path,
            plan.codec.encode_call(invocation.args, invocation.kwargs),
            codec.content_type,
            context.metadata,
            deadline,
            plan.connect_timeout,
            0.0 if deadline is None else deadline - invocation.started,
        )
        send = transport.send  # type: ignore[union-attr]  # byte transport: in-process ones returned above
        address = self.address
        if address is not None and len(address.urls) == 1 and not self._cooling and not self._tracks:
            # The common case: one instance, nothing failing; no failover loop, no closure.
            url = invocation.url = address.urls[0]
            try:
                response = send(url, request)
            except ServiceCommunicationException as exc:
                if _instance_failed(exc):
                    self._mark_failed(url)
                raise
        else:

            def exchange(url: str) -> Response:
                answer = send(url, request)
                if answer.status == UNAVAILABLE or answer.status == DEADLINE_EXCEEDED:  # it did not run
                    raise _error_for_status(
                        self._codec_of(answer), answer.status, answer.body, url, plan.path
                    )
                return answer

            response = self._attempts(invocation, plan, exchange)
        if response.status == OK:
            try:
                return plan.codec.decode_result(response.body)
            except CodecError as exc:
                raise bad_answer(invocation.url, exc) from exc
        error = _error_for_status(
            self._codec_of(response), response.status, response.body, invocation.url, plan.path
        )
        if response.status == UNAVAILABLE:  # a single instance that did not run the call: cool it down
            self._mark_failed(invocation.url)
        raise error

    def _codec_of(self, response: Response) -> Codec:
        return codec_for(response.content_type) or self.codec or codec_for("application/json")  # type: ignore[return-value]

    def _attempts(self, invocation: Invocation, plan: _Plan, send: Callable[[str], _R]) -> _R:
        """Send to the selected URL, failing over to the others while that is safe.

        A failure that sent nothing (``exc.sent`` False: no connection, a connect timeout, a
        server that refused to run the call) moves on to the next URL. One that may have run
        the call moves on only for idempotent methods. Never past the deadline; a URL that
        failed to connect or broke is skipped for :attr:`cooldown` seconds while others are left.
        """
        urls = self._urls()
        selector = self.url_selector
        tracks = selector.tracks_calls
        if len(urls) == 1 and not self._cooling and not tracks:
            url = invocation.url = urls[0]
            try:
                return send(url)
            except ServiceCommunicationException as exc:
                if _instance_failed(exc):
                    self._mark_failed(url)
                raise
        cooling = self._cooling
        tried: set[str] | None = None
        deadline = invocation.context.deadline if invocation.context is not None else None
        while True:
            candidates = urls if tried is None else [u for u in urls if u not in tried]
            if cooling:
                now = time.monotonic()
                candidates = [u for u in candidates if cooling.get(u, 0.0) <= now] or candidates
            url = candidates[0] if len(candidates) == 1 else selector.get(candidates)
            invocation.url = url
            if tracks:
                selector.started(url)
            try:
                result = send(url)
            except ServiceCommunicationException as exc:
                if _instance_failed(exc):
                    self._mark_failed(url)
                if exc.sent and not plan.idempotent:
                    raise
                if isinstance(exc, ServiceTimeoutException) and exc.limit == "deadline":
                    raise
                tried = tried or set()
                tried.add(url)
                if len(tried) >= len(urls):
                    raise
                if deadline is not None and time.monotonic() >= deadline:
                    raise ServiceTimeoutException(url, "deadline", plan.timeout) from exc
                self.events.failed_over(self, url, exc)
                continue
            finally:
                if tracks:
                    selector.finished(url)
            if cooling:
                cooling.pop(url, None)
            return result

    def _mark_failed(self, url: str) -> None:
        if self.cooldown > 0:
            self._cooling[url] = time.monotonic() + self.cooldown
            self.events.cooled_down(self, url)

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
