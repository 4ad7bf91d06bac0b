"""Every mistake config or declarations can hold is refused when the container is created, named.

"Created" is when the container's ServiceManager is made: at ``Server.boot``, at the first
injection of a service, or when ``container.services.service_manager()`` is called. A
declaration is refused by ``@service`` itself.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any, ClassVar

import pytest
from dependency_injector import containers, providers

from channels.http import HttpServer
from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    ComponentRegistry,
    ComponentStatus,
    ConfigurationException,
    ListenerlessServer,
    Runtime,
    Service,
    ServiceContainer,
    ServiceInstanceProvider,
    component,
    implementation,
    service,
)


@service(name="rf-ledger")
class Ledger(Service):
    @abstractmethod
    def balance(self, account: str) -> int: ...

    @abstractmethod
    def close_books(self) -> None: ...

    @abstractmethod
    def audit(self, year: int) -> list[str]: ...


@component(name="rf-ledger-component", services=[Ledger])
class LedgerComponent(Component):
    pass


@implementation()
class LedgerImpl(Ledger):
    def balance(self, account: str) -> int:
        return 42

    def close_books(self) -> None:
        return None

    def audit(self, year: int) -> list[str]:
        return []


@implementation()
class LedgerComponentImpl(AbstractComponent, LedgerComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [ChannelAddress("local", "")]


class LedgerApp(containers.DeclarativeContainer):
    config = providers.Configuration(default={"registry": {"type": "static"}})
    services = providers.Container(ServiceContainer, config=config)
    ledger_impl = providers.Singleton(LedgerImpl)
    ledger = ServiceInstanceProvider(Ledger)


def boot_with(config: dict[str, Any]) -> None:
    """Boot LedgerApp with ``config``; shut it down again if it booted."""
    app = LedgerApp()
    app.config.from_dict(config)
    server = ListenerlessServer()
    server.boot(app)
    server.shutdown()


def refused_at_boot_and_at_injection(config: dict[str, Any]) -> str:
    """The message of the refusal, checked to be the same at boot and at the first injection."""
    with pytest.raises(ConfigurationException) as at_boot:
        boot_with(config)
    app = LedgerApp()
    app.config.from_dict(config)
    with pytest.raises(ConfigurationException) as at_injection:
        app.ledger()
    assert str(at_injection.value) == str(at_boot.value)
    return str(at_boot.value)


STATIC = {"type": "static"}


# config


def test_an_unknown_selector_is_refused_naming_the_key():
    message = refused_at_boot_and_at_injection(
        {"registry": STATIC, "components": {"rf-ledger-component": {"selector": "fastest"}}}
    )
    assert "config key 'components.rf-ledger-component.selector' is 'fastest'" in message
    assert "round-robin" in message, "the known selectors are listed"


def test_an_unknown_channel_in_the_static_registry_is_refused_naming_the_key():
    registry = {
        "type": "static",
        "components": {"rf-ledger-component": {"dispatch-jsn": ["http://127.0.0.1:1"]}},
    }
    message = refused_at_boot_and_at_injection({"registry": registry})
    assert "config key 'registry.components.rf-ledger-component.dispatch-jsn'" in message
    assert "'dispatch-jsn', which no plugin provides" in message
    assert "dispatch-json" in message, "the known channels are listed"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme 'file'"),
        ("http://admin:hunter2@127.0.0.1:8000", "credentials"),
        ("http://127.0.0.1:99999", "does not parse"),
    ],
)
def test_a_url_its_channel_refuses_in_the_static_registry_is_refused_with_the_url(url, reason):
    registry = {"type": "static", "components": {"rf-ledger-component": {"dispatch-json": [url]}}}
    message = refused_at_boot_and_at_injection({"registry": registry})
    assert "config key 'registry.components.rf-ledger-component.dispatch-json' holds the URL" in message
    assert "channel 'dispatch-json' refuses" in message and reason in message
    assert "hunter2" not in message, "credentials never reach a message"
    if "@" not in url:
        assert repr(url) in message


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"interceptors": {"client": ["no_such_module:Timing"]}}, "interceptors.client[0]"),
        ({"interceptors": {"server": ["container:NoSuchInterceptor"]}}, "interceptors.server[0]"),
        (
            {"components": {"rf-ledger-component": {"interceptors": {"server": ["no_such_module:X"]}}}},
            "components.rf-ledger-component.interceptors.server[0]",
        ),
        ({"auth": {"authenticators": ["no_such_module:Auth"]}}, "auth.authenticators[0]"),
        ({"auth": {"bearer": {"lookup": "no_such_module:lookup"}}}, "auth.bearer.lookup"),
        ({"auth": {"credentials": {"provider": "no_such_module:token"}}}, "auth.credentials.provider"),
    ],
)
def test_an_import_path_that_does_not_import_is_refused_naming_the_key(config, key):
    message = refused_at_boot_and_at_injection({"registry": STATIC, **config})
    assert f"config key '{key}'" in message and "cannot import" in message


@service(name="rf-hosted-pigeon")
class Pigeon(Service):
    @abstractmethod
    def coo(self) -> str: ...


@component(name="rf-pigeon-component", services=[Pigeon])
class PigeonComponent(Component):
    pass


@implementation()
class PigeonImpl(Pigeon):
    def coo(self) -> str:
        return "coo"


@implementation()
class PigeonComponentImpl(AbstractComponent, PigeonComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [ChannelAddress("carrier-pigeon", f"coo://127.0.0.1:{port}")]


class PigeonApp(containers.DeclarativeContainer):
    config = providers.Configuration(default={"registry": {"type": "static"}})
    services = providers.Container(ServiceContainer, config=config)
    pigeon = providers.Singleton(PigeonImpl)


def test_an_unknown_channel_in_a_hosted_components_addresses_is_refused_at_boot():
    """What get_addresses(port) returns is known at boot: a channel no plugin provides is named there."""
    server = HttpServer()
    with pytest.raises(ConfigurationException) as info:
        server.boot(PigeonApp)
    message = str(info.value)
    assert "rf-pigeon-component.get_addresses() names the channel 'carrier-pigeon'" in message
    assert "which no plugin provides" in message
    assert server.manager is None, "the failed boot was undone"


# declarations


def test_an_async_generator_method_is_refused_at_service_saying_what_is_supported():
    """An `async def` that yields streams its results: refused, while `async def` methods are fine."""
    with pytest.raises(TypeError) as info:

        @service(name="rf-async-stream")
        class Fetcher(Service):
            @abstractmethod
            async def fetch(self, key: str) -> AsyncIterator[str]:
                yield key

    message = str(info.value)
    assert "Fetcher.fetch is an async generator (it yields)" in message
    assert "`def` and `async def` methods" in message


def test_a_generator_method_is_refused_at_service():
    with pytest.raises(TypeError) as info:

        @service(name="rf-generator")
        class Counter(Service):
            def count(self, up_to: int) -> Generator[int, None, None]:
                yield from range(up_to)

    assert "Counter.count is a generator" in str(info.value)
    assert "return a list of the values instead" in str(info.value)


@pytest.mark.parametrize("spelled", [Iterator[str], Generator[str, None, None], "Iterator[Later]"])
def test_an_iterator_result_is_refused_at_service(spelled):
    """A declared iterator or generator result is streaming: refused, even as an unresolved string."""

    def method(self: Any, path: str) -> None: ...

    method.__annotations__["return"] = spelled  # this module's annotations are strings
    with pytest.raises(TypeError) as info:

        @service(name="rf-stream")
        class Streamer(Service):
            lines = abstractmethod(method)

    message = str(info.value)
    assert "Streamer.lines returns" in message and "streaming results are not supported" in message


def test_a_list_result_and_an_iterable_argument_are_fine():
    @service(name="rf-fine")
    class Fine(Service):
        @abstractmethod
        def lines(self, paths: list[str]) -> list[str]: ...

    assert Fine.__servicewire_meta__["name"] == "rf-fine"  # type: ignore[attr-defined]


# implementations


@service(name="rf-partial")
class Partial(Service):
    @abstractmethod
    def read(self, key: str) -> str: ...

    @abstractmethod
    def write(self, key: str, value: str) -> None: ...

    @abstractmethod
    def erase(self, key: str) -> None: ...


@component(name="rf-partial-component", services=[Partial])
class PartialComponent(Component):
    pass


@implementation()
class PartialImpl(Partial):
    """Implements read only: write and erase would run the interface's empty bodies."""

    def read(self, key: str) -> str:
        return key


@implementation()
class PartialComponentImpl(AbstractComponent, PartialComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return []


class PartialApp(containers.DeclarativeContainer):
    config = providers.Configuration(default={"registry": {"type": "static"}})
    services = providers.Container(ServiceContainer, config=config)
    partial_impl = providers.Singleton(PartialImpl)
    partial = ServiceInstanceProvider(Partial)


def test_an_implementation_that_leaves_methods_unimplemented_is_refused_at_boot_naming_them():
    with pytest.raises(ConfigurationException) as info:
        ListenerlessServer().boot(PartialApp)
    message = str(info.value)
    assert "PartialImpl, the implementation of 'rf-partial'" in message
    assert "does not implement Partial.write, Partial.erase" in message
    with pytest.raises(ConfigurationException, match="does not implement Partial.write, Partial.erase"):
        PartialApp().partial()


@service(name="rf-lonely")
class Lonely(Service):
    @abstractmethod
    def hello(self) -> str: ...


@component(name="rf-lonely-component", services=[Lonely])
class LonelyComponent(Component):
    pass


@implementation()
class LonelyImpl(Lonely):
    def hello(self) -> str:
        return "hello"


@implementation()
class HandmadeLonelyComponent(LonelyComponent):
    """A component implementation without AbstractComponent that forgot two lifecycle methods."""

    def startup(self) -> None:
        """Start."""

    def shutdown(self) -> None:
        """Stop."""

    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return []

    def get_status(self) -> ComponentStatus:
        return ComponentStatus.RUNNING


class LonelyApp(containers.DeclarativeContainer):
    config = providers.Configuration(default={"registry": {"type": "static"}})
    services = providers.Container(ServiceContainer, config=config)
    lonely = providers.Singleton(LonelyImpl)


def test_a_component_implementation_must_implement_the_lifecycle_too():
    """Without AbstractComponent, every lifecycle method of Component is the implementation's to write."""
    with pytest.raises(ConfigurationException) as info:
        ListenerlessServer().boot(LonelyApp)
    assert "HandmadeLonelyComponent, the implementation of 'rf-lonely-component'" in str(info.value)
    assert "does not implement Component.get_health" in str(info.value)


class ClosingRegistry(ComponentRegistry):
    """Remembers its objects and whether each was closed."""

    made: ClassVar[list[ClosingRegistry]] = []

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.closed = False
        ClosingRegistry.made.append(self)

    def register(self, descriptor: Any, addresses: list[ChannelAddress]) -> None:
        """Nothing to keep."""

    def deregister(self, descriptor: Any) -> None:
        """Nothing to drop."""

    def watch(self, channel: Any) -> None:
        """Nothing changes."""

    def get_addresses(self, descriptor: Any) -> list[Any]:
        """Nothing is known."""
        return []

    def close(self) -> None:
        self.closed = True


def test_a_refused_container_starts_nothing_and_closes_its_registry():
    """The checks run before anything starts; the registry the container made is closed."""
    runtime = Runtime()
    runtime.registries.register("rf-closing", ClosingRegistry)
    config = {
        "registry": {"type": "rf-closing"},
        "components": {"rf-ledger-component": {"selector": "fastest"}},
    }
    services = providers.Container(ServiceContainer, config=config, runtime=providers.Object(runtime))
    app = LedgerApp(services=services)
    with pytest.raises(ConfigurationException, match="'fastest'"):
        ListenerlessServer().boot(app)
    assert [registry.closed for registry in ClosingRegistry.made] == [True]
