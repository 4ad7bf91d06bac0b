"""The channel and registry plugins of this process, found by name.

Channels come from direct registrations (tests), classes marked with ``@channel(name)``, and
the ``servicewire.channels`` entry points, in that order; registries from registrations and
the ``servicewire.registries`` entry points (see :class:`~container.plugin.PluginGroup`).
"""

from __future__ import annotations

from ..client._channel import Channel
from ..config._plugins import CHANNEL_GROUP, REGISTRY_GROUP, PluginGroup
from ..declarations._decorators import CHANNEL_NAME_ATTRIBUTE
from ..discovery._registry import ComponentRegistry
from ..values._errors import UnknownChannelException, UnknownRegistryException


def _channel_base() -> type:
    return Channel


def _registry_base() -> type:
    return ComponentRegistry


def declared_channels() -> dict[str, type]:
    """Return the Channel subclasses marked with ``@channel(name)``, by name (the last defined wins)."""
    found: dict[str, type] = {}
    pending: list[type] = [Channel]
    seen: set[type] = set()
    while pending:
        cls = pending.pop(0)
        subclass: type
        for subclass in cls.__subclasses__():
            if subclass in seen:
                continue
            seen.add(subclass)
            pending.append(subclass)
            name = vars(subclass).get(CHANNEL_NAME_ATTRIBUTE)
            if isinstance(name, str):
                found[name] = subclass
    return found


CHANNELS = PluginGroup(CHANNEL_GROUP, "channel", _channel_base, UnknownChannelException, declared_channels)
"""The channel plugins of this process."""

REGISTRIES = PluginGroup(REGISTRY_GROUP, "registry", _registry_base, UnknownRegistryException)
"""The registry plugins of this process."""
