"""Service and component base classes and the component lifecycle."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod

from ..values._values import ChannelAddress
from ._health import Health, HealthCheckManager


class Service:
    """Tagging base class of service interfaces.

    A service interface is a class that derives from :class:`Service`, is decorated with
    :func:`~container.service` and declares its methods abstract with full type hints.
    """


class ComponentStatus(enum.Enum):
    """Lifecycle state of a component: ``VIRGIN`` -> ``RUNNING`` -> ``STOPPED``."""

    VIRGIN = "virgin"
    RUNNING = "running"
    STOPPED = "stopped"


class Component(Service):
    """Base class of component interfaces: a unit that hosts services and has a lifecycle."""

    @abstractmethod
    def startup(self) -> None:
        """Start the component; called once when its server boots."""

    @abstractmethod
    def shutdown(self) -> None:
        """Stop the component; called once when its server shuts down."""

    @abstractmethod
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        """Return the channel addresses under which this component is reachable.

        Args:
            port: the port the server listens on.

        Returns:
            One address per channel the component accepts calls on.
        """

    @abstractmethod
    def get_status(self) -> ComponentStatus:
        """Return the lifecycle state."""

    @abstractmethod
    def get_health(self) -> Health:
        """Return the component's health: the worst result of its health checks."""


class AbstractComponent(Component, ABC):
    """A :class:`Component` with the usual lifecycle and health behaviour.

    Subclasses implement :meth:`get_addresses`. Health is computed by the health checks that
    apply to this component (see :func:`~container.health_checks`).
    """

    health_checks: HealthCheckManager | None = None
    """The checks of this component; set by the container that hosts it (None: made on first use)."""

    def __init__(self) -> None:
        self.status = ComponentStatus.VIRGIN

    def startup(self) -> None:
        """Mark the component running."""
        self.status = ComponentStatus.RUNNING

    def shutdown(self) -> None:
        """Mark the component stopped."""
        self.status = ComponentStatus.STOPPED

    def get_status(self) -> ComponentStatus:
        """Return the lifecycle state."""
        return self.status

    def get_health(self) -> Health:
        """Run the health checks that apply to this component and return the worst result."""
        if self.health_checks is None:
            self.health_checks = HealthCheckManager.for_component(type(self))
        return self.health_checks.check()
