"""HTTP channel settings read from the servicewire configuration.

Shape (every key optional)::

    {"http": {"connect_timeout": 5.0, "read_timeout": 30.0, "trust_env": False,
              "max_body_size": 8388608},
     "components": {"<component>": {"connect_timeout": 1.0, "read_timeout": 10.0,
                                    "methods": {"<service>.<method>": {"read_timeout": 2.0},
                                                "<method>": {"read_timeout": 2.0}}}}}

A method's setting wins over its component's, which wins over ``http``'s, which wins over the
defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from container import ConfigurationException

DEFAULT_CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a TCP connection."""

DEFAULT_READ_TIMEOUT = 30.0
"""Seconds to wait for the answer once the request is sent."""

DEFAULT_MAX_BODY_SIZE = 8 * 1024 * 1024
"""Largest request body the server accepts, in bytes."""


@attrs.frozen
class Timeouts:
    """The connect and read limits of a call, in seconds.

    Attributes:
        connect: seconds to wait for a connection.
        read: seconds to wait for the answer.
    """

    connect: float = DEFAULT_CONNECT_TIMEOUT
    read: float = DEFAULT_READ_TIMEOUT

    def as_requests(self) -> tuple[float, float]:
        """Return the ``timeout=(connect, read)`` tuple that requests takes."""
        return (self.connect, self.read)


def section(config: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    """Return the nested mapping at ``keys`` (empty when absent).

    Raises:
        ConfigurationException: a value on the way is not a mapping.
    """
    value: Any = config
    for depth, key in enumerate(keys):
        value = value.get(key) if isinstance(value, Mapping) else None
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            where = ".".join(keys[: depth + 1])
            raise ConfigurationException(f"config key {where!r} must be a mapping, got {value!r}")
    return value  # type: ignore[no-any-return]


def _seconds(settings: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationException(
            f"config key '{where}.{key}' must be a positive number of seconds, got {value!r}"
        )
    return float(value)


def timeouts_for(config: Mapping[str, Any], component: str, service: str, method: str) -> Timeouts:
    """Return the limits of one method, applying http, component and method settings in turn."""
    connect, read = DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT
    layers = [
        (section(config, "http"), "http"),
        (section(config, "components", component), f"components.{component}"),
        (
            section(config, "components", component, "methods", method),
            f"components.{component}.methods.{method}",
        ),
        (
            section(config, "components", component, "methods", f"{service}.{method}"),
            f"components.{component}.methods.{service}.{method}",
        ),
    ]
    for settings, where in layers:
        connect = _seconds(settings, "connect_timeout", connect, where)
        read = _seconds(settings, "read_timeout", read, where)
    return Timeouts(connect, read)


def max_body_size(config: Mapping[str, Any]) -> int:
    """Return the server's request body limit in bytes."""
    value = section(config, "http").get("max_body_size", DEFAULT_MAX_BODY_SIZE)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationException(
            f"config key 'http.max_body_size' must be a positive number of bytes, got {value!r}"
        )
    return value


def trust_env(config: Mapping[str, Any]) -> bool:
    """Return whether sessions honour proxy and netrc settings from the environment."""
    return bool(section(config, "http").get("trust_env", False))
