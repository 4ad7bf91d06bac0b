"""The static registry: component -> channel -> [urls] from configuration.

Config shape::

    {"registry": {"type": "static",
                  "components": {"<component>": {"<channel>": ["<url>", ...]}}}}

Components registered by this process (a server booting) are added in memory beside the
configured ones; configured URLs come first.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from container import (
    Channel,
    ChannelAddress,
    ChannelInstances,
    ComponentDescriptor,
    ComponentRegistry,
    ConfigurationException,
)
from container.plugin import WatchList, redact_credentials


class StaticComponentRegistry(ComponentRegistry):
    """Addresses from configuration, plus in-memory registration of local components.

    Args:
        config: the ``registry`` config section.

    Raises:
        ConfigurationException: ``components`` is not of the documented shape; the message
            names the offending key.
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._configured = _parse_components(self.config.get("components"))
        self._registered: dict[str, list[ChannelAddress]] = {}
        self._watched = WatchList()
        self._lock = threading.Lock()

    def register(self, descriptor: ComponentDescriptor[Any], addresses: list[ChannelAddress]) -> None:
        """Add this process's addresses of a component and tell the watching channels."""
        with self._lock:
            self._registered[descriptor.name] = list(addresses)
        self._notify(descriptor.name)

    def deregister(self, descriptor: ComponentDescriptor[Any]) -> None:
        """Remove this process's addresses of a component and tell the watching channels."""
        with self._lock:
            self._registered.pop(descriptor.name, None)
        self._notify(descriptor.name)

    def watch(self, channel: Channel) -> None:
        """Remember the channel so that later (de)registrations reach it."""
        self._watched.add(channel)

    def get_addresses(self, descriptor: ComponentDescriptor[Any]) -> list[ChannelInstances]:
        """Return the configured and registered URLs of a component, per channel."""
        return self._addresses(descriptor.name)

    def list_addresses(self) -> list[ChannelInstances]:
        """Return the configured and registered URLs of every component, per channel."""
        with self._lock:
            names = sorted({*self._configured, *self._registered})
        return [address for name in names for address in self._addresses(name) if address.urls]

    def configured_addresses(self) -> dict[str, ChannelInstances]:
        """Return the configured URLs by config key (``registry.components.<c>.<channel>``)."""
        return {
            f"registry.components.{component}.{channel}": ChannelInstances(component, channel, urls)
            for component, channels in self._configured.items()
            for channel, urls in channels.items()
        }

    def close(self) -> None:
        """Forget the watched channels."""
        self._watched.clear()

    def _addresses(self, component: str) -> list[ChannelInstances]:
        with self._lock:
            by_channel: dict[str, list[str]] = {
                channel: list(urls) for channel, urls in self._configured.get(component, {}).items()
            }
            for address in self._registered.get(component, []):
                urls = by_channel.setdefault(address.channel, [])
                if address.uri not in urls:
                    urls.append(address.uri)
        return [ChannelInstances(component, channel, urls) for channel, urls in by_channel.items()]

    def _notify(self, component: str) -> None:
        self._watched.push(self._addresses)


def _parse_components(value: Any) -> dict[str, dict[str, list[str]]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationException(
            f"config key 'registry.components' must map component names to channels, got "
            f"{type(value).__name__}: {redact_credentials(repr(value))}"
        )
    parsed: dict[str, dict[str, list[str]]] = {}
    for component, channels in value.items():
        where = f"registry.components.{component}"
        if not isinstance(channels, Mapping):
            raise ConfigurationException(
                f"config key {where!r} must map channel names to URL lists, got "
                f"{redact_credentials(repr(channels))}"
            )
        parsed[str(component)] = {}
        for channel, urls in channels.items():
            if isinstance(urls, str):
                urls = [urls]
            if not isinstance(urls, (list, tuple)) or not all(isinstance(u, str) for u in urls):
                raise ConfigurationException(
                    f"config key '{where}.{channel}' must be a list of URL strings, got "
                    f"{redact_credentials(repr(urls))}"
                )
            parsed[str(component)][str(channel)] = [u.rstrip("/") for u in urls]
    return parsed
