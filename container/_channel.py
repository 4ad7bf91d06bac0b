"""The channel contract: the invocation handler behind every proxy, and URL selection."""

from __future__ import annotations

import itertools
import random
import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from ._errors import ConfigurationException, NoAddressException

if TYPE_CHECKING:
    from ._descriptors import ComponentDescriptor, MethodDescriptor, ServiceDescriptor
    from ._manager import ServiceManager
    from ._server import Server
    from ._values import ChannelInstances


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
    """Chooses the URL of the next call among a component's URLs. Must be thread-safe."""

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


SELECTORS: dict[str, type[URLSelector]] = {
    "first": FirstURLSelector,
    "round-robin": RoundRobinURLSelector,
    "random": RandomURLSelector,
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

    def __init__(self) -> None:
        self.component_descriptor: ComponentDescriptor[Any] | None = None
        self.address: ChannelInstances | None = None
        self.manager: ServiceManager | None = None
        self.url_selector: URLSelector = RoundRobinURLSelector()
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
    def prepare_server(cls, server: Server, component_descriptor: ComponentDescriptor[Any]) -> None:
        """Prepare the server side for a hosted component before it is registered.

        A channel whose server side mounts on the :class:`~container.Server` has nothing to
        do; one that listens on its own starts its listener here.
        """

    @classmethod
    def stop_server(cls, server: Server) -> None:
        """Stop what :meth:`prepare_server` started; called once when the server shuts down."""

    def __repr__(self) -> str:
        component = self.component_descriptor.name if self.component_descriptor else None
        return f"<{type(self).__name__} {self.name!r} component={component!r}>"
