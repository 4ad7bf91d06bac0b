"""Each ServiceContainer owns a runtime: containers in one process see nothing of each other."""

from __future__ import annotations

import gc
import weakref
from abc import abstractmethod
from typing import Any

import msgspec
import pytest
from dependency_injector import containers, providers

from channels.inproc import LocalChannel
from container import (
    AbstractComponent,
    ChannelAddress,
    ChannelInstances,
    Component,
    ComponentDescriptor,
    ComponentRegistry,
    ListenerlessServer,
    Runtime,
    Service,
    ServiceClient,
    ServiceContainer,
    ServiceUnavailableException,
    UnknownChannelException,
    UnknownRegistryException,
    component,
    connect,
    default_runtime,
    implementation,
    service,
)
from container.plugin import CHANNELS, REGISTRIES, SECTIONS


@service(name="rt-red")
class Red(Service):
    @abstractmethod
    def colour(self) -> str: ...


@service(name="rt-blue")
class Blue(Service):
    @abstractmethod
    def colour(self) -> str: ...


@component(name="rt-red-component", services=[Red])
class RedComponent(Component):
    pass


@component(name="rt-blue-component", services=[Blue])
class BlueComponent(Component):
    pass


@implementation()
class RedImpl(Red):
    def colour(self) -> str:
        return "red"


@implementation()
class BlueImpl(Blue):
    def colour(self) -> str:
        return "blue"


@implementation()
class RedComponentImpl(AbstractComponent, RedComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [ChannelAddress("local", "")]


@implementation()
class BlueComponentImpl(AbstractComponent, BlueComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [ChannelAddress("local", "")]


class RedApp(containers.DeclarativeContainer):
    config = providers.Configuration(default={"registry": {"type": "static"}})
    runtime = providers.Singleton(Runtime)
    services = providers.Container(ServiceContainer, config=config, runtime=runtime)
    red = providers.Singleton(RedImpl)


class BlueApp(containers.DeclarativeContainer):
    config = providers.Configuration(default={"registry": {"type": "static"}})
    services = providers.Container(ServiceContainer, config=config)
    blue = providers.Singleton(BlueImpl)


class PigeonChannel(LocalChannel):
    """A channel registered in one runtime only."""

    name = "rt-pigeon"


class NoteRegistry(ComponentRegistry):
    """A registry registered in one runtime only; its section is typed there too."""

    def register(self, descriptor: ComponentDescriptor[Any], addresses: list[ChannelAddress]) -> None:
        """Nothing to keep."""

    def deregister(self, descriptor: ComponentDescriptor[Any]) -> None:
        """Nothing to drop."""

    def watch(self, channel: Any) -> None:
        """Nothing changes."""

    def get_addresses(self, descriptor: ComponentDescriptor[Any]) -> list[ChannelInstances]:
        """Nothing is known."""
        return []


class NoteSettings(msgspec.Struct, forbid_unknown_fields=True):
    pages: int = 1


def boot(app: Any) -> ListenerlessServer:
    server = ListenerlessServer()
    server.boot(app)
    return server


def test_two_containers_have_their_own_catalogs():
    """Each catalog holds what its container hosts and is asked for, nothing of the other's."""
    red_app, blue_app = RedApp(), BlueApp()
    red, blue = red_app.services.service_manager(), blue_app.services.service_manager()
    try:
        assert set(red.runtime.catalog.components) == {"rt-red-component"}
        assert set(blue.runtime.catalog.components) == {"rt-blue-component"}
        assert red.runtime is not blue.runtime
        assert isinstance(red.get_service(Red), RedImpl)
        assert not isinstance(blue.get_service(Red), RedImpl), "blue's container calls red remotely"
        assert set(blue.runtime.catalog.components) == {"rt-blue-component", "rt-red-component"}
        assert "rt-blue-component" not in red.runtime.catalog.components
        assert "rt-blue" not in red.report() and "rt-red" not in blue.report()
    finally:
        red.close()
        blue.close()


def test_plugins_registered_in_a_runtime_are_seen_by_that_runtime_only():
    """A channel, a registry and a settings section registered in one runtime exist nowhere else."""
    runtime = Runtime()
    runtime.channels.register("rt-pigeon", PigeonChannel)
    runtime.registries.register("rt-notes", NoteRegistry)
    runtime.sections.register("rt-notes", NoteSettings)
    config = {"registry": {"type": "rt-notes"}, "rt-notes": {"pages": "3"}}
    mine = ServiceContainer(config=providers.Object(config), runtime=providers.Object(runtime))
    manager = mine.service_manager()
    try:
        assert isinstance(manager.component_registry, NoteRegistry)
        assert manager.settings.section("rt-notes", NoteSettings).pages == 3
        assert manager.channel_manager.get_class("rt-pigeon") is PigeonChannel
        assert "rt-pigeon" in manager.channel_manager.names()
    finally:
        manager.close()
    other = ServiceContainer(config=providers.Object({"registry": {"type": "static"}})).service_manager()
    try:
        assert "rt-pigeon" not in other.channel_manager.names()
        with pytest.raises(UnknownChannelException):
            other.channel_manager.get_class("rt-pigeon")
        assert "rt-notes" not in other.runtime.registries.names()
    finally:
        other.close()
    with pytest.raises(UnknownRegistryException):
        ServiceContainer(config=providers.Object(config)).service_manager()
    assert "rt-pigeon" not in CHANNELS.names() and "rt-notes" not in REGISTRIES.names()
    assert SECTIONS.find("rt-notes") is None


def test_in_process_servers_are_reachable_from_their_runtime_only():
    """A local listener's inproc:// URL answers callers of its runtime; another finds nothing there."""
    red_server, blue_server = boot(RedApp()), boot(BlueApp())
    try:
        assert red_server.manager is not None and blue_server.manager is not None
        red_runtime, blue_runtime = red_server.manager.runtime, blue_server.manager.runtime
        [red_url] = red_runtime.addresses.urls()
        assert red_url.startswith("inproc://")
        assert red_url not in blue_runtime.addresses.urls()
        config = {"registry": {"type": "static", "components": {"rt-red-component": {"local": [red_url]}}}}

        same = ServiceContainer(config=providers.Object(config), runtime=providers.Object(red_runtime))
        manager = same.service_manager()
        try:
            assert manager.get_service(Red, "local").colour() == "red"
        finally:
            manager.close()

        other = ServiceContainer(config=providers.Object(config), runtime=providers.Object(blue_runtime))
        manager = other.service_manager()
        try:
            with pytest.raises(
                ServiceUnavailableException, match="nothing in this runtime listens at inproc://"
            ):
                manager.get_service(Red, "local").colour()
        finally:
            manager.close()
    finally:
        red_server.shutdown()
        blue_server.shutdown()
    assert red_runtime.addresses.urls() == [] and blue_runtime.addresses.urls() == []


def test_a_container_created_and_closed_a_thousand_times_leaves_nothing_behind():
    """Booting, calling and shutting down 1,000 times leaves the shared runtime's tables as they were."""
    runtime = Runtime()
    for _ in range(1000):
        server = boot(RedApp(runtime=providers.Object(runtime)))
        assert server.manager is not None
        assert server.manager.proxy(Red, "local").colour() == "red"
        server.shutdown()
    assert runtime.addresses.urls() == []
    assert len(runtime.clients) == 0
    assert list(runtime.catalog.components) == ["rt-red-component"]
    assert runtime.refused_urls == set()
    assert runtime.channels.names() == CHANNELS.names()


def test_runtimes_of_closed_containers_are_garbage():
    """Once closed and dropped, a container's runtime, manager and listeners are collected."""
    alive: list[weakref.ref[Any]] = []
    for _ in range(1000):
        server = boot(RedApp())
        assert server.manager is not None
        manager = server.manager
        assert manager.proxy(Red, "local").colour() == "red"
        alive += [weakref.ref(manager.runtime), weakref.ref(manager), weakref.ref(server.container)]
        server.shutdown()
        del server, manager
    gc.collect()
    assert [ref for ref in alive if ref() is not None] == []


def test_script_clients_share_a_runtime_and_leave_no_entry_behind():
    """ServiceClient and connect() use the runtime given (or the default one); closing empties its table."""
    runtime = Runtime()
    config = {"registry": {"type": "static"}}
    for _ in range(1000):
        with ServiceClient(config, runtime=runtime) as client:
            assert client.manager.runtime is runtime
    assert len(runtime.clients) == 0
    proxy = connect(Red, config, runtime=runtime)
    assert connect(Red, config, runtime=runtime) is proxy, "one manager per configuration"
    assert len(runtime.clients) == 1
    runtime.close()
    assert len(runtime.clients) == 0
    with ServiceClient(config) as client:
        assert client.runtime is default_runtime()
