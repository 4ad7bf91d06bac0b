"""The component-registry contract: where instances of components can be reached."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._channel import Channel
    from ._descriptors import ComponentDescriptor
    from ._values import ChannelAddress, ChannelInstances


class ComponentRegistry(ABC):
    """Keeps track of where components run.

    A registry plugin subclasses this class and is constructed with its config section (the
    mapping under the ``registry`` key, ``type`` included). Every method may be called from
    several threads.

    Args:
        config: the registry's config section.
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config: Mapping[str, Any] = config or {}

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

    def close(self) -> None:
        """Stop background threads and release resources; called when the manager closes."""
