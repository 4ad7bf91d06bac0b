"""A service whose methods carry authorization rules, and the container that hosts it."""

from __future__ import annotations

from abc import abstractmethod

from dependency_injector import containers, providers

from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    Service,
    ServiceContainer,
    ServiceInstanceProvider,
    allow,
    call_context,
    component,
    implementation,
    service,
)


@service(name="ledger")
class LedgerService(Service):
    @abstractmethod
    def whoami(self) -> str:
        """Return the caller's subject, scheme and roles as the server sees them."""

    @abstractmethod
    def close_books(self) -> str:
        """Only administrators."""

    @abstractmethod
    def ping(self) -> str:
        """Anyone."""


@component(name="ledger-component", services=[LedgerService])
class LedgerComponent(Component):
    pass


@implementation()
class LedgerServiceImpl(LedgerService):
    def whoami(self) -> str:
        context = call_context()
        assert context is not None
        identity = context.identity
        if identity is None:
            return "anonymous"
        return f"{identity.subject} {identity.scheme} {','.join(sorted(identity.roles))}"

    @allow("role:admin")
    def close_books(self) -> str:
        return "closed"

    @allow("anyone")
    def ping(self) -> str:
        return "pong"


@implementation()
class LedgerComponentImpl(AbstractComponent, LedgerComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [ChannelAddress("dispatch-msgpack", f"http://127.0.0.1:{port}")]


class LedgerContainer(containers.DeclarativeContainer):
    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    ledger_impl = providers.Singleton(LedgerServiceImpl)
    ledger_component = providers.Singleton(LedgerComponentImpl)
    ledger = ServiceInstanceProvider(LedgerService)
