"""A container hosts what it provides: not what the process imported."""

from __future__ import annotations

import socket
from abc import abstractmethod

import pytest
from dependency_injector import containers, providers

from channels.http import HttpServer
from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    ComponentStatus,
    ConfigurationException,
    Service,
    ServiceContainer,
    component,
    descriptor_of,
    implementation,
    service,
)


@service(name="ht-alpha")
class Alpha(Service):
    @abstractmethod
    def name(self) -> str: ...


@service(name="ht-beta")
class Beta(Service):
    @abstractmethod
    def name(self) -> str: ...


@component(name="ht-alpha-component", services=[Alpha])
class AlphaComponent(Component):
    pass


@component(name="ht-beta-component", services=[Beta])
class BetaComponent(Component):
    pass


@implementation()
class AlphaImpl(Alpha):
    def __init__(self, suffix: str = "") -> None:
        self.suffix = suffix

    def name(self) -> str:
        return "alpha" + self.suffix


@implementation()
class BetaImpl(Beta):
    def name(self) -> str:
        return "beta"


@implementation()
class AlphaComponentImpl(AbstractComponent, AlphaComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [ChannelAddress("local", ""), ChannelAddress("dispatch-json", f"http://127.0.0.1:{port}")]


@implementation()
class BetaComponentImpl(AbstractComponent, BetaComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        raise RuntimeError("beta cannot say where it listens")


class AlphaHost(containers.DeclarativeContainer):
    config = providers.Configuration(default={"registry": {"type": "static"}})
    services = providers.Container(ServiceContainer, config=config)
    alpha = providers.Singleton(AlphaImpl, suffix="!")


class BetaHost(containers.DeclarativeContainer):
    config = providers.Configuration(default={"registry": {"type": "static"}})
    services = providers.Container(ServiceContainer, config=config)
    beta = providers.Singleton(BetaImpl)


def test_two_containers_in_one_process_host_different_components():
    """Each container hosts the components whose implementations it provides, and only those."""
    alpha_host, beta_host = AlphaHost(), BetaHost()
    alpha_manager = alpha_host.services.service_manager()
    beta_manager = beta_host.services.service_manager()
    try:
        assert [c.name for c in alpha_manager.hosted_components()] == ["ht-alpha-component"]
        assert [c.name for c in beta_manager.hosted_components()] == ["ht-beta-component"]
        alpha = alpha_manager.get_service(Alpha)
        assert isinstance(alpha, AlphaImpl) and alpha.name() == "alpha!", "made by the container's provider"
        assert alpha is alpha_host.alpha()
        remote = beta_manager.get_service(Alpha)
        assert not isinstance(remote, AlphaImpl), "beta's container calls alpha remotely"
    finally:
        alpha_manager.close()
        beta_manager.close()


class BrokenBoot(containers.DeclarativeContainer):
    """Hosts alpha (which starts a local listener and the HTTP side) and beta, whose boot fails."""

    config = providers.Configuration(default={"registry": {"type": "static"}})
    services = providers.Container(ServiceContainer, config=config)
    alpha = providers.Singleton(AlphaImpl)
    beta = providers.Singleton(BetaImpl)


def test_a_failed_boot_undoes_everything_it_started():
    """Beta fails after alpha started, the local listener listened and the port was bound."""
    server = HttpServer()
    with pytest.raises(RuntimeError, match="beta cannot say where it listens"):
        server.boot(BrokenBoot)
    assert server.container.services.runtime().addresses.urls() == [], "the local listener was closed"
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", server.port), timeout=2),
    ):
        pass
    assert server.manager is None
    alpha_component = server.container.services.service_manager().get_instance(AlphaComponentImpl)
    assert alpha_component.get_status() is ComponentStatus.STOPPED


@service(name="ht-orphan")
class Orphan(Service):
    @abstractmethod
    def name(self) -> str: ...


@component(name="ht-orphan-component", services=[Orphan])
class OrphanComponent(Component):
    """No @implementation of this component interface exists anywhere."""


@implementation()
class OrphanImpl(Orphan):
    def name(self) -> str:
        return "orphan"


class OrphanHost(containers.DeclarativeContainer):
    config = providers.Configuration(default={"registry": {"type": "static"}})
    services = providers.Container(ServiceContainer, config=config)
    orphan = providers.Singleton(OrphanImpl)


def test_a_hosted_component_without_an_implementation_says_what_to_provide():
    """Providing a service implementation hosts its component, which then needs one too."""
    with pytest.raises(
        ConfigurationException, match="component 'ht-orphan-component'.*has no implementation"
    ):
        HttpServer().boot(OrphanHost)


def test_implementation_metadata_is_shared_but_hosting_is_not():
    """descriptor.implementation says which class implements Alpha; no container hosts it by that."""
    assert descriptor_of(Alpha).implementation is AlphaImpl
    manager = ServiceContainer(config=providers.Object({"registry": {"type": "static"}})).service_manager()
    try:
        assert manager.hosted_components() == []
    finally:
        manager.close()
