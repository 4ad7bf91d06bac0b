"""A service that calls another one from inside its implementation (nested calls)."""

from __future__ import annotations

from abc import abstractmethod

from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    Service,
    component,
    implementation,
    service,
)
from container.testing import ConformanceService


@service(name="relay")
class RelayService(Service):
    @abstractmethod
    def downstream_context(self) -> dict[str, str]:
        """Return what the conformance service sees of a call made from inside this call."""


@component(name="relay-component", services=[RelayService])
class RelayComponent(Component):
    pass


@implementation()
class RelayServiceImpl(RelayService):
    def __init__(self, downstream: ConformanceService) -> None:
        self.downstream = downstream

    def downstream_context(self) -> dict[str, str]:
        return self.downstream.context()


@implementation()
class RelayComponentImpl(AbstractComponent, RelayComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [ChannelAddress("dispatch-msgpack", f"http://127.0.0.1:{port}")]
