"""A component whose health check fails with an exception that holds secrets, and its container.

The check's exception text names a database URL with a password and a path under /srv: what
a real driver's error often holds. ``VaultChecks.failing`` switches it on (each container has
its own checks object).
"""

from __future__ import annotations

from abc import abstractmethod

from dependency_injector import containers, providers

from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    Service,
    ServiceContainer,
    allow,
    component,
    health_check,
    health_checks,
    implementation,
    service,
)

SECRET = "s3cret-pw-41"
FAILURE = f"cannot connect to postgres://vault:{SECRET}@db.internal:5432/vault (config /srv/vault/db.conf)"


@service(name="vault")
class VaultService(Service):
    @abstractmethod
    def ping(self) -> str:
        """Anyone."""


@component(name="vault-component", services=[VaultService])
class VaultComponent(Component):
    pass


@implementation()
@allow("anyone")
class VaultServiceImpl(VaultService):
    def ping(self) -> str:
        return "pong"


@implementation()
class VaultComponentImpl(AbstractComponent, VaultComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [ChannelAddress("dispatch-json", f"http://127.0.0.1:{port}")]


@health_checks(component=VaultComponent)
class VaultChecks:
    def __init__(self) -> None:
        self.failing = False

    @health_check(name="database")
    def database(self) -> None:
        if self.failing:
            raise ConnectionError(FAILURE)


class VaultContainer(containers.DeclarativeContainer):
    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    vault_impl = providers.Singleton(VaultServiceImpl)
    vault_component = providers.Singleton(VaultComponentImpl)
    checks = providers.Singleton(VaultChecks)
