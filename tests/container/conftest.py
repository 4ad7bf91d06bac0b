"""Fixtures of the container tests: an application container around the test services."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dependency_injector import containers, providers

from container import ServiceContainer, ServiceInstanceProvider, ServiceManager

from .services import CalculatorService, CalculatorServiceImpl, Clock, GreeterService

STATIC_CONFIG: dict[str, Any] = {
    "registry": {
        "type": "static",
        "components": {"ct-greeter-component": {"local": ["inproc://nowhere"]}},
    }
}


class AppContainer(containers.DeclarativeContainer):
    """An application container as a user would write it."""

    config = providers.Configuration()
    clock = providers.Singleton(Clock, offset=0)
    calculator_impl = providers.Singleton(CalculatorServiceImpl, clock=clock)
    services = providers.Container(ServiceContainer, config=config)
    calculator = ServiceInstanceProvider(CalculatorService)
    greeter = ServiceInstanceProvider(GreeterService)


@pytest.fixture
def app() -> Iterator[AppContainer]:
    """A fresh application container with the static registry config."""
    container = AppContainer()
    container.config.from_dict(STATIC_CONFIG)
    yield container
    container.services.service_manager().close()


@pytest.fixture
def manager(app: AppContainer) -> ServiceManager:
    """The application's ServiceManager."""
    return app.services.service_manager()
