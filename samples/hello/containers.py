"""The application's container module: servicewire's providers plus the app's own."""

from __future__ import annotations

from dependency_injector import containers, providers

from container import ServiceContainer, ServiceInstanceProvider

from .interface import HelloService


class MainContainer(containers.DeclarativeContainer):
    """Wires the hello service; ``config`` takes servicewire's configuration mapping."""

    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    hello = ServiceInstanceProvider(HelloService)
