"""ServiceInstanceProvider behaves as a real dependency-injector provider."""

import inspect

import pytest
from dependency_injector import containers, providers
from dependency_injector.wiring import Provide, inject

from container import (
    ConfigurationException,
    ServiceContainer,
    ServiceInstanceProvider,
    ServiceManager,
    channel_of,
)

from .conftest import STATIC_CONFIG, AppContainer
from .services import CalculatorService, CalculatorServiceImpl, GreeterService


@inject
def add_with(calculator: CalculatorService = Provide[AppContainer.calculator]) -> int:
    return calculator.add(20, 22)


class Consumer:
    @inject
    def __init__(self, calculator: CalculatorService = Provide[AppContainer.calculator]) -> None:
        self.calculator = calculator


def test_one_argument_form_finds_the_service_manager(app):
    """container.calculator() yields the implementation without any extra wiring."""
    calculator = app.calculator()
    assert isinstance(calculator, CalculatorServiceImpl)
    assert calculator is app.services.service_manager().get_service(CalculatorService)


def test_remote_service_yields_a_proxy(app):
    """A service hosted elsewhere is provided as a proxy of its interface."""
    greeter = app.greeter()
    assert isinstance(greeter, GreeterService)
    assert not isinstance(greeter, CalculatorServiceImpl)
    assert "name: 'str'" in str(inspect.signature(greeter.greet)) or "name: str" in str(
        inspect.signature(greeter.greet)
    )


def test_wiring_into_functions_and_classes(app):
    """@inject + Provide[...] injects the service into functions and constructors."""
    app.wire(modules=[__name__])
    try:
        assert add_with() == 42
        assert isinstance(Consumer().calculator, CalculatorServiceImpl)
    finally:
        app.unwire()


def test_override_with_a_fake(app):
    """.override() replaces the service in tests, and reset restores it."""

    class FakeCalculator(CalculatorService):
        def add(self, a: int, b: int = 1) -> int:
            return -1

        def divide(self, a: float, b: float) -> float:
            return 0.0

        def count(self, tree) -> int:
            return 0

    with app.calculator.override(FakeCalculator()):
        assert app.calculator().add(1, 2) == -1
        app.wire(modules=[__name__])
        try:
            assert add_with() == -1
        finally:
            app.unwire()
    assert app.calculator().add(1, 2) == 3


def test_deepcopy_keeps_the_container_link(app):
    """A deep copy of the container yields working, independent providers."""
    copied = providers.deepcopy(app.calculator)
    assert isinstance(copied, ServiceInstanceProvider)
    assert copied is not app.calculator
    assert copied.service_type is CalculatorService
    assert copied().add(1, 1) == 2


def test_traverse_finds_the_service_provider(app):
    """traverse() walks into the provider and the included ServiceContainer."""
    found = list(app.traverse(types=[ServiceInstanceProvider]))
    assert app.calculator in found and app.greeter in found
    assert any(p is app.services.service_manager for p in app.traverse())


def test_explicit_manager_argument():
    """manager= names the ServiceManager provider explicitly."""

    class Explicit(containers.DeclarativeContainer):
        core = providers.Container(ServiceContainer, config=STATIC_CONFIG)
        calculator_impl = providers.Singleton(CalculatorServiceImpl)
        calculator = ServiceInstanceProvider(CalculatorService, manager=core.service_manager)

    container = Explicit()
    assert isinstance(container.calculator(), CalculatorServiceImpl)
    assert isinstance(container.core.service_manager(), ServiceManager)


def test_config_given_as_plain_mapping():
    """providers.Container(ServiceContainer, config={...}) accepts the mapping directly."""

    class Plain(containers.DeclarativeContainer):
        services = providers.Container(ServiceContainer, config=STATIC_CONFIG)
        greeter = ServiceInstanceProvider(GreeterService)

    greeter = Plain().greeter()
    channel = channel_of(greeter)
    assert channel.address.urls == ["inproc://nowhere"]


def test_container_without_service_container_is_a_clear_error():
    """Without a ServiceContainer in the container, the error says what to add."""

    class Lonely(containers.DeclarativeContainer):
        calculator = ServiceInstanceProvider(CalculatorService)

    with pytest.raises(ConfigurationException, match="includes no ServiceContainer"):
        Lonely().calculator()


def test_provider_outside_a_container_is_a_clear_error():
    """A provider declared outside any container says how to place it."""
    with pytest.raises(ConfigurationException, match="not declared in a container"):
        ServiceInstanceProvider(CalculatorService)()
