"""The component-registry contract: where instances of components can be reached."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ..config._settings import convert
from ..values._errors import ListingNotSupportedException
from ..values._values import ChannelInstances

if TYPE_CHECKING:
    from ..client._channel import Channel
    from ..declarations._descriptors import ComponentDescriptor
    from ..values._values import ChannelAddress


class ComponentRegistry(ABC):
    """Keeps track of where components run.

    A registry plugin subclasses this class and is constructed with its config section (the
    mapping under the ``registry`` key, ``type`` included). Every method may be called from
    several threads.

    A plugin that sets :attr:`settings_type` (a msgspec Struct or an attrs class) gets its
    section validated when it is created, which is when the container's configuration is
    validated: a wrong key or value is a ConfigurationException naming the full key path
    (``config key 'registry.ttl': ...``), and :attr:`settings` holds the typed object.

    Args:
        config: the registry's config section.

    Raises:
        ConfigurationException: the section does not fit :attr:`settings_type`.

    Attributes:
        config: the section as given, ``type`` included.
        settings: the section converted into :attr:`settings_type` (``type`` left out), or
            None when the class declares no type.
    """

    settings_type: ClassVar[type | None] = None
    """The type of the ``registry`` section (without ``type``), or None to read ``config`` yourself."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config: Mapping[str, Any] = config or {}
        self.settings: Any = None
        if self.settings_type is not None:
            section = {key: value for key, value in self.config.items() if key != "type"}
            self.settings = convert(section, self.settings_type, "registry")

    @abstractmethod
    def register(self, descriptor: ComponentDescriptor[Any], addresses: list[ChannelAddress]) -> None:
        """Announce that this process hosts a component under the given addresses."""

    @abstractmethod
    def deregister(self, descriptor: ComponentDescriptor[Any]) -> None:
        """Withdraw exactly this process's addresses of a component."""

    @abstractmethod
    def watch(self, channel: Channel) -> None:
        """Keep a channel's URLs current: call ``channel.set_address`` when they change."""

    @abstractmethod
    def get_addresses(self, descriptor: ComponentDescriptor[Any]) -> list[ChannelInstances]:
        """Return the component's URLs, one entry per channel it is reachable on."""

    def list_addresses(self) -> list[ChannelInstances]:
        """Return every component's URLs: one entry per (component, channel) with live instances.

        Optional: operator tools (``servicewire list``, the dashboard) call it; calls never do.
        A plugin that cannot enumerate its entries leaves it out, and this default says so.

        Raises:
            ListingNotSupportedException: this registry cannot list its components.
        """
        raise ListingNotSupportedException(type(self).__name__)

    def configured_addresses(self) -> Mapping[str, ChannelInstances]:
        """Return the addresses this registry's configuration states, by config key.

        The core checks them when the container is created: every channel named must be
        known, and every URL must be one its channel accepts; otherwise the container is
        refused, naming the key (``registry.components.hello.dispatch-json``). A registry
        whose addresses come from elsewhere (a file, etcd) states none: the default.
        """
        return {}

    def close(self) -> None:
        """Stop background threads and release resources; called when the manager closes."""


class WatchList:
    """The channels a registry watches, and the URL list each was last told.

    A registry plugin adds channels in :meth:`ComponentRegistry.watch` and calls :meth:`push`
    whenever addresses may have changed; only channels whose URL list really changed get
    ``set_address``, and that call happens outside the list's lock.
    """

    def __init__(self) -> None:
        self._channels: list[Channel] = []
        self._told: dict[int, list[str]] = {}
        self._lock = threading.Lock()

    def add(self, channel: Channel) -> None:
        """Start watching ``channel``."""
        with self._lock:
            self._channels.append(channel)

    def clear(self) -> None:
        """Stop watching every channel."""
        with self._lock:
            self._channels.clear()
            self._told.clear()

    def push(self, addresses_of: Callable[[str], list[ChannelInstances]]) -> None:
        """Tell every watched channel its component's URLs, when they changed.

        Args:
            addresses_of: returns a component's current addresses, one entry per channel; it
                is called once per watched component.
        """
        changes = []
        with self._lock:
            by_component: dict[str, dict[str, ChannelInstances]] = {}
            for channel in self._channels:
                component = channel.component_descriptor
                if component is None:
                    continue
                if component.name not in by_component:
                    by_component[component.name] = {a.channel: a for a in addresses_of(component.name)}
                address = by_component[component.name].get(
                    channel.name, ChannelInstances(component.name, channel.name)
                )
                if self._told.get(id(channel)) != address.urls:
                    self._told[id(channel)] = list(address.urls)
                    changes.append((channel, address))
        for channel, address in changes:
            channel.set_address(address)
