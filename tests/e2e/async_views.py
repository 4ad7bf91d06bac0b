"""The mixed service declared the other way round: what a client process with older code may hold.

Same component, service and method names as :mod:`tests.container.async_services`, so calls
reach the same server; each method is declared `def` where the server implements it `async
def`, and the reverse. Never imported by a process that imports the original declaration (one
process cannot declare one name twice).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from container import Component, Service, component, idempotent, service


@service(name="as-mixed")
class MixedOtherWay(Service):
    """The mixed service with every method's way flipped."""

    @abstractmethod
    async def add(self, a: int, b: int = 1) -> int:
        """A `def` method of the server, awaited here."""

    @abstractmethod
    def double(self, value: int) -> int:
        """An `async def` method of the server, called synchronously here."""

    @idempotent
    @abstractmethod
    def where(self) -> dict[str, Any]:
        """Where the server's async implementation ran."""

    @abstractmethod
    async def pause(self, seconds: float) -> float:
        """A slow `def` method of the server, awaited here."""


@component(name="as-mixed-component", services=[MixedOtherWay])
class MixedOtherWayComponent(Component):
    """The component, as this client declares it."""
