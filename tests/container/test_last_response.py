"""last_response(): the caller reads the answer of its own calls, not of the calls those made."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from dependency_injector import containers, providers

from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    Service,
    ServiceContainer,
    ServiceManager,
    component,
    implementation,
    last_response,
    service,
    set_response_metadata,
)

from .services import CalculatorService, CalculatorServiceImpl


@service(name="summing")
class SummingService(Service):
    """Adds through the calculator, in process."""

    @abstractmethod
    def total(self, a: int, b: int) -> str:
        """Return what the calculator's answer said, as ``<sum> <x-method>``."""


@component(name="summing-component", services=[SummingService])
class SummingComponent(Component):
    """Hosts the summing service."""


@implementation()
class SummingServiceImpl(SummingService):
    def __init__(self, manager: ServiceManager) -> None:
        self.manager = manager

    def total(self, a: int, b: int) -> str:
        calculator = self.manager.proxy(CalculatorService, "local")
        with last_response() as inner:
            result = calculator.add(a, b)
        return f"{result} {inner.metadata['x-method']}"


@implementation()
class SummingComponentImpl(AbstractComponent, SummingComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return []


def name_the_method(call: Any, call_next: Any) -> Any:
    """Every answer says which method it answers."""
    set_response_metadata({"x-method": call.name})
    return call_next(call)


class Host(containers.DeclarativeContainer):
    config = providers.Configuration(default={"registry": {"type": "static"}})
    services = providers.Container(
        ServiceContainer,
        config=config,
        server_interceptors=providers.List(providers.Object(name_the_method)),
    )
    calculator = providers.Singleton(CalculatorServiceImpl)
    summing = providers.Singleton(SummingServiceImpl, manager=services.service_manager)


def test_a_block_sees_its_own_calls_answers_and_not_those_of_nested_calls():
    """In process the nested call runs on the caller's thread, yet each block records its own calls."""
    manager = Host().services.service_manager()
    try:
        summing = manager.proxy(SummingService, "local")
        with last_response() as outer:
            assert summing.total(2, 3) == "5 add", "the implementation's block saw the calculator's answer"
        assert outer.metadata["x-method"] == "total" and outer.calls == 1
        with last_response() as first, last_response() as second:
            summing.total(1, 1)
        assert first.calls == second.calls == 1 and first.metadata == second.metadata
    finally:
        manager.close()
