"""Every mistake config or declarations can hold is refused when the container is created, named.

"Created" is when the container's ServiceManager is made: at ``Server.boot``, at the first
injection of a service, or when ``container.services.service_manager()`` is called. A
declaration is refused by ``@service`` itself.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterator
from typing import Any, ClassVar, Optional

import attrs
import msgspec
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
    registry = {"type": "static", "components": {"rf-ledger-component": {"dispatch-jsn": ["http://127.0.0.1:1"]}}}
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


# what the configuration names: methods, components, sections


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("rf-ledger.balanec", "it names no method of component 'rf-ledger-component'"),
        ("balanec", "it names no method of component 'rf-ledger-component'"),
        ("rf-ledgr.balance", "component 'rf-ledger-component' has no service 'rf-ledgr'"),
    ],
)
def test_a_method_key_that_names_no_method_is_refused_listing_the_methods(key, why):
    message = refused_at_boot_and_at_injection(
        {"registry": STATIC, "components": {"rf-ledger-component": {"methods": {key: {"timeout": 2}}}}}
    )
    assert f"config key 'components.rf-ledger-component.methods.{key}' is unknown: {why}" in message
    assert "its methods: rf-ledger.balance, rf-ledger.close_books, rf-ledger.audit" in message


def test_a_misspelt_method_rule_is_refused_instead_of_dropping_the_authorization():
    """The headline: a rule that would silently apply to nothing lets a clerk call an admin method."""
    auth = {
        "bearer": {"tokens": {"clerk-token": {"subject": "clerk", "roles": ["clerk"]}}},
        "allow": ["authenticated"],
    }
    methods = {"rf-ledger.balanec": {"allow": ["role:admin"]}}
    message = refused_at_boot_and_at_injection(
        {"registry": STATIC, "auth": auth, "components": {"rf-ledger-component": {"methods": methods}}}
    )
    assert "'components.rf-ledger-component.methods.rf-ledger.balanec' is unknown" in message


def test_method_keys_of_both_forms_that_name_methods_boot():
    methods = {"rf-ledger.balance": {"timeout": 2}, "audit": {"idempotent": True}}
    boot_with({"registry": STATIC, "components": {"rf-ledger-component": {"methods": methods}}})


def test_a_method_key_of_a_component_this_client_calls_is_refused_when_the_container_is_created():
    """A component declared by a class of the process is checked at creation, hosted or not."""
    config = {
        "registry": STATIC,
        "components": {"rf-partial-component": {"methods": {"raed": {"timeout": 1}}}},
    }
    services = ServiceContainer(config=config)
    with pytest.raises(
        ConfigurationException, match="'components.rf-partial-component.methods.raed' is unknown"
    ):
        services.service_manager()


def test_a_method_key_of_a_component_declared_later_is_refused_when_it_is_first_asked_for():
    config = {
        "registry": STATIC,
        "components": {"rf-late-component": {"methods": {"rf-late.pign": {"timeout": 1}}}},
    }
    services = ServiceContainer(config=config)
    manager = services.service_manager()
    try:

        @service(name="rf-late")
        class Late(Service):
            @abstractmethod
            def ping(self) -> str: ...

        @component(name="rf-late-component", services=[Late])
        class LateComponent(Component):
            pass

        with pytest.raises(ConfigurationException) as info:
            manager.get_service(Late)
        assert "'components.rf-late-component.methods.rf-late.pign' is unknown" in str(info.value)
        assert "its methods: rf-late.ping" in str(info.value)
    finally:
        manager.close()


def test_an_unknown_top_level_section_is_logged_naming_it(caplog):
    """Not refused: a plugin may read a section it does not declare (docs/concepts.md says why)."""
    with caplog.at_level("WARNING", logger="servicewire"):
        boot_with({"registry": STATIC, "componets": {"rf-ledger-component": {}}, "http": {}})
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(
        "config key 'componets' is not a section of servicewire or of any installed plugin"
    )
    assert "components" in warnings[0] and "serve" in warnings[0], "the declared sections are listed"


def test_an_unknown_component_of_a_hosting_container_is_logged_naming_it(caplog):
    with caplog.at_level("WARNING", logger="servicewire"):
        boot_with({"registry": STATIC, "components": {"rf-ledgr-component": {"timeout": 2}}})
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(
        w.startswith("config key 'components.rf-ledgr-component' names a component that no class")
        for w in warnings
    ), warnings


@pytest.mark.parametrize("token", ["", "  ", "sha256:"])
def test_an_empty_bearer_token_is_refused_naming_the_key(token):
    auth = {"bearer": {"tokens": {token: {"subject": "ghost", "roles": ["admin"]}}}}
    message = refused_at_boot_and_at_injection({"registry": STATIC, "auth": auth})
    assert "config key 'auth.bearer.tokens' holds the empty token" in message


def test_the_serve_section_is_typed():
    """`serve` belongs to the CLI, which declares it: a misspelt key is refused like any other."""
    message = refused_at_boot_and_at_injection({"registry": STATIC, "serve": {"setpu": "x:y"}})
    assert message == "config key 'serve.setpu' is unknown; known keys there: setup"
    boot_with({"registry": STATIC, "serve": {"setup": "samples.hello.demo:main"}})


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


class Plain:
    """A class the codec cannot build (no dataclass, attrs class, Struct or pydantic model)."""


@dataclasses.dataclass
class Point:
    x: int
    y: int


@attrs.define
class Span:
    start: int
    end: int


class Shape(msgspec.Struct):
    points: list[Point]


def declared(body: Callable[..., Any], name: str = "m") -> type:
    """Declare a @service whose one method is ``body``."""
    body.__name__ = name
    return service(name=f"rf-shape-{name}")(type("Shapes", (Service,), {name: abstractmethod(body)}))


def refusal(body: Callable[..., Any]) -> str:
    with pytest.raises(TypeError) as info:
        declared(body)
    return str(info.value)


def test_an_untyped_parameter_is_refused_at_service_naming_the_method_and_the_parameter():
    def m(self, x) -> int: ...  # type: ignore[no-untyped-def]

    message = refusal(m)
    assert "Shapes.m: parameter 'x' has no type annotation" in message
    assert "`def` and `async def` methods whose every parameter and result is annotated" in message


def test_a_method_without_a_return_annotation_is_refused_and_told_about_none():
    def m(self, x: int): ...  # type: ignore[no-untyped-def]

    message = refusal(m)
    assert "Shapes.m has no return annotation" in message and "`-> None`" in message


def test_untyped_star_args_are_refused_and_typed_ones_are_fine():
    def untyped(self, *values) -> int: ...  # type: ignore[no-untyped-def]

    def untyped_kwargs(self, **options) -> int: ...  # type: ignore[no-untyped-def]

    def typed(self, *values: int, **options: str) -> int: ...

    assert "parameter '*values' has no type annotation" in refusal(untyped)
    assert "parameter '**options' has no type annotation" in refusal(untyped_kwargs)
    declared(typed, "typed")


def test_self_needs_no_annotation_and_none_is_a_result():
    def m(self) -> None: ...

    declared(m, "nothing")


@pytest.mark.parametrize(
    ("annotation", "spelled"),
    [
        (Callable[[], int], "Callable[[], int]"),
        (Plain, "Plain"),
        (complex, "complex"),
        (list[Plain], "list["),
    ],
)
def test_a_parameter_type_the_codec_cannot_carry_is_refused(annotation, spelled):
    def m(self, value: int) -> int: ...

    m.__annotations__["value"] = annotation
    message = refusal(m)
    assert f"Shapes.m: parameter 'value' is typed {spelled}" in message
    assert "which the codec cannot carry" in message


@pytest.mark.parametrize(
    "annotation",
    [
        Optional[Iterator[int]],  # noqa: UP045 - the typing spelling is the case
        list[Iterator[int]],
        Iterator[int] | None,
        dict[str, Generator[int, None, None]],
    ],
)
def test_a_stream_nested_in_a_result_is_refused(annotation):
    """The stream check looks inside Optional, unions and containers, not only at the outer type."""

    def m(self) -> int: ...

    m.__annotations__["return"] = annotation
    message = refusal(m)
    assert "Shapes.m returns" in message and "because of" in message
    assert "streaming results are not supported" in message


def test_a_stream_argument_is_refused():
    def m(self, values: Iterator[int]) -> int: ...

    assert "streaming arguments are not supported" in refusal(m)


@pytest.mark.parametrize("annotation", [Awaitable[int], Coroutine[None, None, int], Awaitable[int] | None])
def test_an_awaitable_result_is_refused_with_the_async_def_way(annotation):
    def m(self) -> int: ...

    m.__annotations__["return"] = annotation
    message = refusal(m)
    assert "an awaitable, which no channel carries" in message
    assert "`async def m(...) -> int`" in message


def test_the_types_the_codec_carries_are_accepted():
    def m(
        self,
        point: Point,
        span: Span,
        shape: Shape,
        anything: Any,
        some: object,
        maybe: dict[str, list[Point]] | None,
    ) -> tuple[Point, Span] | None: ...

    declared(m, "carried")

    async def a(self, shape: Shape) -> list[Shape]: ...

    declared(a, "awaited")


def test_an_unresolved_forward_reference_is_checked_when_it_resolves():
    """A hint naming a class defined after the interface is checked when the method is described."""
    import sys
    import types

    module = types.ModuleType("rf_forward_module")
    sys.modules[module.__name__] = module
    try:
        exec(
            "from abc import abstractmethod\n"
            "from container import Service, service\n"
            "@service(name='rf-forward')\n"
            "class Forward(Service):\n"
            "    @abstractmethod\n"
            "    def m(self, later: 'Later') -> int: ...\n"
            "class Later:\n"
            "    pass\n",
            module.__dict__,
        )
        from container import ServiceDescriptor

        with pytest.raises(TypeError) as info:
            _ = ServiceDescriptor(None, module.Forward).methods  # type: ignore[arg-type]
        assert "Forward.m: parameter 'later' is typed Later, which the codec cannot carry" in str(info.value)
    finally:
        del sys.modules[module.__name__]


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
