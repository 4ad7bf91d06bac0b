"""The factory that turns a channel name into a ready channel instance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..client._channel import Channel, ChannelHost
from ..config._plugins import PluginGroup
from ._plugins import CHANNELS

if TYPE_CHECKING:
    from ..declarations._descriptors import ComponentDescriptor
    from ..values._values import ChannelInstances


class ChannelManager:
    """Creates channels by name from the ``servicewire.channels`` plugins.

    Args:
        plugins: the plugin group to look names up in (the process's channel plugins by
            default).
    """

    def __init__(self, plugins: PluginGroup = CHANNELS) -> None:
        self.plugins = plugins

    def get_class(self, name: str) -> type[Channel]:
        """Return the channel class registered under ``name``.

        Raises:
            UnknownChannelException: no channel of that name; the message lists the known ones.
        """
        return self.plugins.get(name)  # type: ignore[return-value]

    def names(self) -> list[str]:
        """Return every known channel name."""
        return self.plugins.names()

    def make(
        self,
        name: str,
        descriptor: ComponentDescriptor[Any],
        address: ChannelInstances,
        manager: ChannelHost | None = None,
    ) -> Channel:
        """Create a channel of the named kind bound to a component and its URLs."""
        channel = self.get_class(name)()
        channel.setup(descriptor, address, manager)
        return channel
