"""Timeouts of HTTP calls, kept for code written against the first release.

The call's deadline now bounds the whole exchange; it is configured as ``timeout`` (or its
older name ``read_timeout``) under ``calls``, ``components.<name>`` or
``components.<name>.methods.<method>``, and the connect limit as ``connect_timeout`` (see
:class:`container.Settings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from container import Settings


@attrs.frozen
class Timeouts:
    """The connect limit and the deadline of a call, in seconds.

    Attributes:
        connect: seconds to wait for a connection.
        read: the call's deadline (the whole exchange), seconds.
    """

    connect: float
    read: float

    def as_requests(self) -> tuple[float, float]:
        """Return the ``timeout=(connect, read)`` tuple that requests takes."""
        return (self.connect, self.read)


def timeouts_for(config: Mapping[str, Any] | Settings, component: str, service: str, method: str) -> Timeouts:
    """Return the limits of one method, applying ``calls``, component and method settings."""
    settings = config if isinstance(config, Settings) else Settings(config)
    return Timeouts(settings.connect_timeout(component), settings.timeout(component, service, method))
