"""The channel contract: the invocation handler behind every proxy, and URL selection."""

from __future__ import annotations

import itertools
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ._errors import (
    CallInterruptedException,
    ConfigurationException,
    NoAddressException,
    ServiceCommunicationException,
    ServiceTimeoutException,
    ServiceUnavailableException,
)

_R = TypeVar("_R")

if TYPE_CHECKING:
    from ._descriptors import ComponentDescriptor, MethodDescriptor, ServiceDescriptor
    from ._manager import ServiceManager
    from ._server import Server
    from ._values import ChannelAddress, ChannelInstances


class Invocation:
    """One call of a service method through a proxy.

    Attributes:
        method: the called method's descriptor (name, types, service, component).
        args: the positional arguments.
        kwargs: the keyword arguments.
    """

    __slots__ = ("args", "kwargs", "method")

    def __init__(self, method: MethodDescriptor, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.method = method
        self.args = args
        self.kwargs = kwargs

    @property
    def service(self) -> ServiceDescriptor[Any]:
        """The descriptor of the called service."""
        return self.method.service

    @property
    def name(self) -> str:
        """The called method's name."""
        return self.method.name

    def __repr__(self) -> str:
        return f"<Invocation {self.method.path} args={self.args!r} kwargs={self.kwargs!r}>"


class URLSelector(ABC):
    """Chooses the URL of the next call among a component's URLs. Must be thread-safe.

    Attributes:
        tracks_calls: True when :meth:`started` and :meth:`finished` must be called around
            each call (load-aware selectors); False spares the call path two method calls.
    """

    tracks_calls: ClassVar[bool] = False

    @abstractmethod
    def get(self, urls: list[str]) -> str:
        """Return the URL for the next call.

        Args:
            urls: the known URLs, never empty.

        Raises:
            NoAddressException: ``urls`` is empty.
        """

    def started(self, url: str) -> None:
        """Called when a call to ``url`` starts (for load-aware selectors)."""

    def finished(self, url: str) -> None:
        """Called when a call to ``url`` ends, successfully or not."""


class FirstURLSelector(URLSelector):
    """Always the first URL: every call goes to one instance while its URL stays first."""

    def get(self, urls: list[str]) -> str:
        """Return ``urls[0]``."""
        if not urls:
            raise NoAddressException("no URL is known")
        return urls[0]


class RoundRobinURLSelector(URLSelector):
    """Each URL in turn, so calls spread evenly over every instance."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def get(self, urls: list[str]) -> str:
        """Return the next URL in turn."""
        if not urls:
            raise NoAddressException("no URL is known")
        # next() on itertools.count is atomic under the GIL: no lock on the call path.
        return urls[next(self._counter) % len(urls)]


class RandomURLSelector(URLSelector):
    """A URL chosen at random for each call."""

    def get(self, urls: list[str]) -> str:
        """Return a random URL."""
        if not urls:
            raise NoAddressException("no URL is known")
        return random.choice(urls)  # noqa: S311 - load spreading, not cryptography


class LeastInFlightURLSelector(URLSelector):
    """The URL with the fewest calls in flight from this client; ties go round robin."""

    tracks_calls = True

    def __init__(self) -> None:
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()
        self._counter = itertools.count()

    def get(self, urls: list[str]) -> str:
        """Return the least busy URL."""
        if not urls:
            raise NoAddressException("no URL is known")
        start = next(self._counter)
        in_flight = self._in_flight
        ordered = [urls[(start + i) % len(urls)] for i in range(len(urls))]
        return min(ordered, key=lambda url: in_flight.get(url, 0))

    def started(self, url: str) -> None:
        """Count a call to ``url`` as in flight."""
        with self._lock:
            self._in_flight[url] = self._in_flight.get(url, 0) + 1

    def finished(self, url: str) -> None:
        """Count a call to ``url`` as done."""
        with self._lock:
            self._in_flight[url] = self._in_flight.get(url, 1) - 1


SELECTORS: dict[str, type[URLSelector]] = {
    "first": FirstURLSelector,
    "round-robin": RoundRobinURLSelector,
    "random": RandomURLSelector,
    "least-in-flight": LeastInFlightURLSelector,
}
"""Selectors that config can name (``components.<name>.selector``)."""


def selector_by_name(name: str, where: str = "selector") -> URLSelector:
    """Return a new selector of the named kind.

    Args:
        name: one of the keys of :data:`SELECTORS`.
        where: the config key that held the name, for the error message.

    Raises:
        ConfigurationException: the name is unknown.
    """
    cls = SELECTORS.get(name)
    if cls is None:
        raise ConfigurationException(
            f"config key {where!r} is {name!r}; known selectors: {', '.join(sorted(SELECTORS))}"
        )
    return cls()


def _instance_failed(exc: ServiceCommunicationException) -> bool:
    if isinstance(exc, ServiceTimeoutException):
        return exc.limit == "connect"
    return isinstance(exc, (ServiceUnavailableException, CallInterruptedException))


class Channel(ABC):
    """The invocation handler behind every proxy of one component on one transport.

    A channel plugin subclasses this class and implements :meth:`invoke`. The core creates one
    instance per (component, channel name) through :class:`~container.ChannelManager`, calls
    :meth:`setup`, and the registry keeps its URLs current through :meth:`set_address`.
    Instances are shared by every thread using the component's proxies, so :meth:`invoke`
    must be thread-safe.

    Attributes:
        name: the channel name (set by ``@channel`` or the entry point).
        component_descriptor: the component this channel calls.
        address: the component's current URLs on this channel.
        url_selector: chooses the URL of each call.
        manager: the ServiceManager that created the channel.
    """

    name: ClassVar[str] = ""

    URLSelector = URLSelector
    FirstURLSelector = FirstURLSelector
    RoundRobinURLSelector = RoundRobinURLSelector
    RandomURLSelector = RandomURLSelector
    LeastInFlightURLSelector = LeastInFlightURLSelector

    DEFAULT_COOLDOWN = 5.0
    """Seconds a URL that failed is skipped while other URLs are left."""

    def __init__(self) -> None:
        self.component_descriptor: ComponentDescriptor[Any] | None = None
        self.address: ChannelInstances | None = None
        self.manager: ServiceManager | None = None
        self.url_selector: URLSelector = RoundRobinURLSelector()
        self.cooldown = self.DEFAULT_COOLDOWN
        self._cooling: dict[str, float] = {}
        self._idempotent: dict[MethodDescriptor, bool] = {}
        self._address_lock = threading.Lock()

    # configuration

    def setup(
        self,
        component_descriptor: ComponentDescriptor[Any],
        address: ChannelInstances,
        manager: ServiceManager | None = None,
    ) -> None:
        """Bind the channel to a component and its first known URLs.

        Subclasses that read configuration override this and call ``super().setup(...)``.
        """
        self.component_descriptor = component_descriptor
        self.address = address
        self.manager = manager
        settings = self._settings()
        cooldown = settings.get("cooldown", self.DEFAULT_COOLDOWN)
        if isinstance(cooldown, bool) or not isinstance(cooldown, (int, float)) or cooldown < 0:
            raise ConfigurationException(
                f"config key 'components.{component_descriptor.name}.cooldown' must be a number "
                f"of seconds, got {cooldown!r}"
            )
        self.cooldown = float(cooldown)

    def _settings(self) -> Any:
        if self.manager is None or self.component_descriptor is None:
            return {}
        return self.manager.component_settings(self.component_descriptor.name)

    def is_idempotent(self, method: MethodDescriptor) -> bool:
        """Return whether a call of ``method`` that was sent may be retried on another URL.

        True when the interface method is decorated with ``@idempotent``, or config says so:
        ``components.<component>.idempotent: true`` (every method) or
        ``components.<component>.methods.<service>.<method>.idempotent`` (or ``<method>``).
        """
        known = self._idempotent.get(method)
        if known is None:
            settings = self._settings()
            methods = settings.get("methods") or {}
            specific = methods.get(f"{method.service.name}.{method.name}") or methods.get(method.name) or {}
            known = bool(method.idempotent or specific.get("idempotent", settings.get("idempotent", False)))
            self._idempotent[method] = known
        return known

    def set_address(self, address: ChannelInstances | None) -> None:
        """Replace the component's URLs; registries call this when instances come and go."""
        with self._address_lock:
            self.address = address

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
        address = self.address
        if address is None or not address.urls:
            component = self.component_descriptor.name if self.component_descriptor else "?"
            raise NoAddressException(f"no URL known for component {component!r} on channel {self.name!r}")
        return self.url_selector.get(address.urls)

    # calls

    def call_with_failover(self, method: MethodDescriptor, send: Callable[[str], _R]) -> _R:
        """Call ``send(url)`` on the selected URL, failing over to the other URLs.

        A failure to connect (nothing was sent: :class:`ServiceUnavailableException`, or a
        connect timeout) moves on to the next URL without the caller seeing it. A failure after
        the call was sent (:class:`CallInterruptedException`, a read timeout) moves on only
        when the method is idempotent (:meth:`is_idempotent`); otherwise it is raised. A URL
        that failed is skipped for :attr:`cooldown` seconds while other URLs are left, then
        tried again. Channel plugins call this from :meth:`invoke`.

        Raises:
            NoAddressException: no URL is known.
            ServiceCommunicationException: every URL failed (the last failure is raised).
        """
        address = self.address
        urls = address.urls if address is not None else []
        if not urls:
            component = self.component_descriptor.name if self.component_descriptor else "?"
            raise NoAddressException(f"no URL known for component {component!r} on channel {self.name!r}")
        selector = self.url_selector
        cooling = self._cooling
        tried: set[str] | None = None
        while True:
            candidates = urls if tried is None else [u for u in urls if u not in tried]
            if cooling:
                now = time.monotonic()
                candidates = [u for u in candidates if cooling.get(u, 0.0) <= now] or candidates
            url = candidates[0] if len(candidates) == 1 else selector.get(candidates)
            tracks = selector.tracks_calls
            if tracks:
                selector.started(url)
            try:
                result = send(url)
            except ServiceCommunicationException as exc:
                if _instance_failed(exc):
                    self._mark_failed(url)
                if not self._may_retry(exc, method):
                    raise
                tried = tried or set()
                tried.add(url)
                if len(tried) >= len(urls):
                    raise
                continue
            finally:
                if tracks:
                    selector.finished(url)
            if cooling:
                cooling.pop(url, None)
            return result

    def _may_retry(self, exc: ServiceCommunicationException, method: MethodDescriptor) -> bool:
        if isinstance(exc, ServiceUnavailableException):
            return True
        if isinstance(exc, ServiceTimeoutException):
            return exc.limit == "connect" or self.is_idempotent(method)
        if isinstance(exc, CallInterruptedException):
            return self.is_idempotent(method)
        return False

    def _mark_failed(self, url: str) -> None:
        # A slow answer (read timeout) says nothing about the instance; only failures to
        # connect or broken connections put a URL in the cool-down.
        if self.cooldown > 0:
            self._cooling[url] = time.monotonic() + self.cooldown

    @abstractmethod
    def invoke(self, invocation: Invocation) -> Any:
        """Carry out one call and return its result, decoded into the declared return type.

        Raises:
            ServiceException: a subclass saying what went wrong; transport errors are
                translated into :class:`~container.ServiceCommunicationException` subclasses.
        """

    def close(self) -> None:
        """Release connections and threads; the channel is not used afterwards."""

    # server side

    @classmethod
    def prepare_server(
        cls, server: Server, component_descriptor: ComponentDescriptor[Any], address: ChannelAddress
    ) -> ChannelAddress:
        """Prepare the server side for a hosted component before it is registered.

        Called once per address of this channel that a hosted component's ``get_addresses``
        returned. A channel whose server side mounts on the :class:`~container.Server` (the HTTP
        channels) has nothing to do and returns ``address``. One that listens on its own starts
        its listener here (once per server; ``server.manager`` knows the hosted components) and
        returns the address it really listens on, for example with the port it bound when
        ``address`` asked for port 0. The returned address is what gets registered.
        """
        return address

    @classmethod
    def stop_server(cls, server: Server) -> None:
        """Stop what :meth:`prepare_server` started; called once when the server shuts down."""

    def __repr__(self) -> str:
        component = self.component_descriptor.name if self.component_descriptor else None
        return f"<{type(self).__name__} {self.name!r} component={component!r}>"
