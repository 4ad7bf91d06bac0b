"""Conformance kit for channel and registry plugins, run with pytest.

Subclass a kit class in your plugin's tests, say how to reach your plugin, and pytest runs the
same checks that servicewire's built-in plugins pass::

    from container import ChannelAddress
    from container.testing import ChannelConformance

    class TestMyChannel(ChannelConformance):
        channel = "my-channel"

        def address(self, port: int) -> ChannelAddress:
            return ChannelAddress("my-channel", "my://127.0.0.1:0")

    from container.testing import RegistryConformance

    class TestMyRegistry(RegistryConformance):
        shared = True               # registry objects of one config see each other's entries
        liveness_timeout = 5.0      # entries of a SIGKILLed process vanish within 5 s (None: no claim)

        def registry_config(self, tmp_path, request):
            return {"type": "my-registry", "url": "..."}

The kit hosts its own services (``sw-conformance-service``, with typed values, errors and an
instance id, and ``sw-conformance-async-service``, whose ``async def`` methods check results,
errors, metadata, deadlines and cancellation of awaited calls) on servers made by
:meth:`ChannelConformance.make_server`, and calls them through your channel from a separate
ServiceManager whose static registry lists the registered URLs. The servers and that manager
share one :class:`~container.Runtime` per test (an in-process channel reaches the listeners of
its own runtime only).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import decimal
import enum
import json
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from abc import abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Optional
from urllib.parse import urlsplit, urlunsplit

import attrs
import pytest
from dependency_injector import containers, providers

from .call._context import call_context, call_options, last_response, set_response_metadata
from .client._channel import Channel, channel_of
from .client._first_contract import uses_first_contract, uses_first_contract_server
from .declarations._component import AbstractComponent, Component, Service
from .declarations._decorators import component, descriptor_of, idempotent, implementation, service
from .declarations._descriptors import ComponentDescriptor
from .discovery._registry import ComponentRegistry
from .runtime._bridges import call_in_thread
from .runtime._channel_manager import ChannelManager
from .runtime._manager import ServiceManager
from .runtime._runtime import Runtime
from .runtime._server import ListenerlessServer, Server
from .runtime._service_container import ServiceContainer, create_registry
from .values._errors import (
    CallInterruptedException,
    ListingNotSupportedException,
    NoAddressException,
    RemoteServiceException,
    ServiceCommunicationException,
    ServiceException,
    ServiceTimeoutException,
    ServiceUnavailableException,
)
from .values._values import ChannelAddress, ChannelInstances

# the conformance service


class Shade(enum.Enum):
    """An enum carried by the conformance service."""

    LIGHT = "light"
    DARK = "dark"


@dataclasses.dataclass
class Tree:
    """A recursive dataclass carried by the conformance service."""

    label: str
    weight: float
    children: list[Tree] = dataclasses.field(default_factory=list)


@attrs.frozen
class Record:
    """An attrs class with most supported value types."""

    id: uuid.UUID
    amount: decimal.Decimal
    when: dt.datetime
    shade: Shade
    note: Optional[str] = None  # noqa: UP045 - the Optional spelling is part of what is checked
    tags: frozenset[str] = frozenset()


class ConformanceError(ServiceException):
    """Raised by the conformance service; known on both sides, so raised again as itself."""


class ConformanceShortage(ServiceException):
    """An application exception with fields of its own and a constructor that is not (message).

    Attributes:
        item: what ran short.
        wanted: how many were asked for.
        left: how many there are.
    """

    def __init__(self, item: str, wanted: int, left: int) -> None:
        super().__init__(f"{item}: wanted {wanted}, {left} left")
        self.item = item
        self.wanted = wanted
        self.left = left


FRAMEWORK_FAILURES: dict[str, Callable[[], Exception]] = {
    "unavailable": lambda: ServiceUnavailableException("a downstream server refused", "http://downstream"),
    "interrupted": lambda: CallInterruptedException("a downstream connection broke", "http://downstream"),
    "timeout": lambda: ServiceTimeoutException("http://downstream", "connect", 1.0),
    "no-address": lambda: NoAddressException("no URL known downstream"),
    "connection-reset": lambda: ConnectionResetError("reset by a downstream peer"),
}
"""What the conformance service's ``fail_framework`` can raise: servicewire's own errors and an OSError."""


@service(name="sw-conformance-service")
class ConformanceService(Service):
    """The service every channel plugin must carry faithfully."""

    @abstractmethod
    def echo_text(self, text: str) -> str:
        """Return ``text``."""

    @abstractmethod
    def echo_tree(self, tree: Tree) -> Tree:
        """Return ``tree``."""

    @abstractmethod
    def echo_record(self, record: Record, scale: int = 1) -> Record:
        """Return ``record`` with its amount multiplied by ``scale``."""

    @abstractmethod
    def echo_mapping(self, values: dict[str, list[int]], day: dt.date) -> dict[str, int]:
        """Return the sum of each list, plus the day's ordinal under ``"day"``."""

    @abstractmethod
    def fail_known(self, message: str) -> None:
        """Raise :class:`ConformanceError`."""

    @abstractmethod
    def fail_unknown(self, message: str) -> None:
        """Raise a KeyError (unknown to the wire: becomes RemoteServiceException)."""

    @abstractmethod
    def fail_with_fields(self, item: str, wanted: int, left: int) -> None:
        """Raise :class:`ConformanceShortage` with these fields."""

    @abstractmethod
    def fail_framework(self, kind: str) -> None:
        """Count the attempt, then raise ``FRAMEWORK_FAILURES[kind]()`` (not idempotent)."""

    @idempotent
    @abstractmethod
    def attempts(self) -> int:
        """Return how many times ``fail_framework`` ran in this instance."""

    @abstractmethod
    def context(self) -> dict[str, str]:
        """Return the metadata the call arrived with, and ``remaining-ms``: the deadline's time left."""

    @abstractmethod
    def echo_metadata(self, text: str, fail: bool = False) -> str:
        """Answer with the call's ``x-echo-*`` metadata pairs as the answer's metadata.

        Returns ``text``, or with ``fail`` raises :class:`ConformanceError` after setting the
        metadata (the gRPC interoperability case "custom_metadata").
        """

    @abstractmethod
    def sleep(self, seconds: float) -> float:
        """Sleep, then return ``seconds``."""

    @idempotent
    @abstractmethod
    def instance(self) -> str:
        """Return the id of the serving instance."""


@service(name="sw-conformance-async-service")
class AsyncConformanceService(Service):
    """The awaited calls every channel plugin must carry: ``async def`` methods beside a ``def`` one."""

    @abstractmethod
    async def echo_record(self, record: Record, scale: int = 1) -> Record:
        """Return ``record`` with its amount multiplied by ``scale``."""

    @abstractmethod
    async def echo_text(self, text: str) -> str:
        """Return ``text`` after yielding to the event loop once."""

    @abstractmethod
    async def fail_known(self, message: str) -> None:
        """Raise :class:`ConformanceError`."""

    @abstractmethod
    async def fail_unknown(self, message: str) -> None:
        """Raise a KeyError (unknown to the wire: becomes RemoteServiceException)."""

    @abstractmethod
    async def echo_metadata(self, text: str) -> str:
        """Answer with the call's ``x-echo-*`` metadata pairs as the answer's metadata; return ``text``."""

    @abstractmethod
    async def sleep(self, seconds: float, tag: str) -> float:
        """Sleep, noting ``started``, then ``finished`` or ``cancelled`` under ``tag``."""

    @abstractmethod
    def observed(self, tag: str) -> list[str]:
        """Return what :meth:`sleep` noted under ``tag`` (a ``def`` method of the same interface)."""


@component(name="sw-conformance-component", services=[ConformanceService, AsyncConformanceService])
class ConformanceComponent(Component):
    """Hosts the conformance services."""


@implementation()
class ConformanceServiceImpl(ConformanceService):
    """The conformance service's implementation (one per hosting ServiceManager)."""

    def __init__(self) -> None:
        self.id = uuid.uuid4().hex
        self.failed = 0
        self.lock = threading.Lock()

    def echo_text(self, text: str) -> str:
        """Return ``text``."""
        return text

    def echo_tree(self, tree: Tree) -> Tree:
        """Return ``tree``."""
        return tree

    def echo_record(self, record: Record, scale: int = 1) -> Record:
        """Return ``record`` with its amount scaled."""
        return attrs.evolve(record, amount=record.amount * scale)

    def echo_mapping(self, values: dict[str, list[int]], day: dt.date) -> dict[str, int]:
        """Return the sums and the day's ordinal."""
        return {**{k: sum(v) for k, v in values.items()}, "day": day.toordinal()}

    def fail_known(self, message: str) -> None:
        """Raise ConformanceError."""
        raise ConformanceError(message)

    def fail_unknown(self, message: str) -> None:
        """Raise KeyError."""
        raise KeyError(message)

    def fail_with_fields(self, item: str, wanted: int, left: int) -> None:
        """Raise ConformanceShortage."""
        raise ConformanceShortage(item, wanted, left)

    def fail_framework(self, kind: str) -> None:
        """Count the attempt, then raise the framework failure named ``kind``."""
        with self.lock:
            self.failed += 1
        raise FRAMEWORK_FAILURES[kind]()

    def attempts(self) -> int:
        """Return how many times fail_framework ran here."""
        with self.lock:
            return self.failed

    def context(self) -> dict[str, str]:
        """Return the incoming metadata and the time left before the deadline."""
        current = call_context()
        if current is None:
            return {}
        remaining = current.time_remaining()
        return {
            **current.metadata,
            "remaining-ms": "none" if remaining is None else str(int(remaining * 1000)),
        }

    def echo_metadata(self, text: str, fail: bool = False) -> str:
        """Set the ``x-echo-*`` pairs the call arrived with as the answer's metadata."""
        current = call_context()
        received = current.metadata if current is not None else {}
        set_response_metadata({key: value for key, value in received.items() if key.startswith("x-echo-")})
        set_response_metadata({"x-echo-count": str(sum(key.startswith("x-echo-") for key in received))})
        if fail:
            raise ConformanceError(text)
        return text

    def sleep(self, seconds: float) -> float:
        """Sleep, then return the seconds slept."""
        time.sleep(seconds)
        return seconds

    def instance(self) -> str:
        """Return this instance's id."""
        return self.id


@implementation()
class AsyncConformanceServiceImpl(AsyncConformanceService):
    """The async conformance service's implementation (one per hosting ServiceManager)."""

    def __init__(self) -> None:
        self.notes: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    async def echo_record(self, record: Record, scale: int = 1) -> Record:
        """Return ``record`` with its amount scaled."""
        return attrs.evolve(record, amount=record.amount * scale)

    async def echo_text(self, text: str) -> str:
        """Return ``text`` after yielding once."""
        await asyncio.sleep(0)
        return text

    async def fail_known(self, message: str) -> None:
        """Raise ConformanceError."""
        raise ConformanceError(message)

    async def fail_unknown(self, message: str) -> None:
        """Raise KeyError."""
        raise KeyError(message)

    async def echo_metadata(self, text: str) -> str:
        """Set the ``x-echo-*`` pairs the call arrived with as the answer's metadata."""
        current = call_context()
        received = current.metadata if current is not None else {}
        set_response_metadata({key: value for key, value in received.items() if key.startswith("x-echo-")})
        return text

    async def sleep(self, seconds: float, tag: str) -> float:
        """Sleep, noting what happened under ``tag``."""
        self._note(tag, "started")
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self._note(tag, "cancelled")
            raise
        self._note(tag, "finished")
        return seconds

    def observed(self, tag: str) -> list[str]:
        """Return the notes of ``tag``."""
        with self.lock:
            return list(self.notes.get(tag, ()))

    def _note(self, tag: str, what: str) -> None:
        with self.lock:
            self.notes.setdefault(tag, []).append(what)


@implementation()
class ConformanceComponentImpl(AbstractComponent, ConformanceComponent):
    """Advertises the addresses the running kit asks for.

    Args:
        addresses: returns the addresses to advertise for the server's port.
    """

    def __init__(self, addresses: Callable[[int], list[ChannelAddress]] = lambda port: []) -> None:
        super().__init__()
        self._addresses = addresses

    def get_addresses(self, port: int) -> list[ChannelAddress]:
        """Return the kit's addresses for ``port``."""
        return self._addresses(port)


class ConformanceContainer(containers.DeclarativeContainer):
    """An application container hosting the conformance service (what the kit boots).

    Override ``addresses`` with a function of the server's port returning the addresses to
    advertise, ``config`` with the servicewire configuration, and ``runtime`` to share one
    with the kit's clients (in-process channels reach only listeners of their runtime).
    """

    config = providers.Configuration(default={"registry": {"type": "static"}})
    addresses: providers.Object[Callable[[int], list[ChannelAddress]]] = providers.Object(lambda port: [])
    runtime = providers.Singleton(Runtime)
    services = providers.Container(ServiceContainer, config=config, runtime=runtime)
    service = providers.Singleton(ConformanceServiceImpl)
    async_service = providers.Singleton(AsyncConformanceServiceImpl)
    component = providers.Singleton(ConformanceComponentImpl, addresses=addresses)


def _conformance_component() -> ComponentDescriptor[Any]:
    descriptor = descriptor_of(ConformanceComponent)
    assert isinstance(descriptor, ComponentDescriptor)
    return descriptor


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds passed; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def _sample_tree() -> Tree:
    return Tree("root", 1.5, [Tree(f"child-{i}", i / 3, [Tree(f"leaf-{i}", -1.0)]) for i in range(4)])


def _sample_record() -> Record:
    return Record(
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        decimal.Decimal("10.25"),
        dt.datetime(2026, 11, 27, 12, 30, tzinfo=dt.timezone.utc),
        Shade.DARK,
        None,
        frozenset({"a", "b"}),
    )


# the channel kit


class ChannelConformance:
    """Checks a channel plugin end to end against servers hosting the conformance service.

    Set :attr:`channel` and implement :meth:`address`; override :meth:`make_server` when your
    server side needs a particular Server (the HTTP channels use ``channels.http.HttpServer``).

    Attributes:
        channel: the channel name under test.
        config: extra servicewire config for the client side (timeouts and so on).
        cancels_promptly: the channel stops the server's work as soon as an awaiting caller
            cancels its call (its transport implements ``send_async`` and closes the
            connection of a cancelled exchange, its listener reports the caller gone); when
            False, the kit checks only that the work stops by the call's deadline.
    """

    channel: ClassVar[str] = ""
    config: ClassVar[dict[str, Any]] = {}
    cancels_promptly: ClassVar[bool] = False

    def address(self, port: int) -> ChannelAddress:
        """Return the address the conformance component advertises on a server's ``port``."""
        raise NotImplementedError("set channel and implement address(port)")

    def make_server(self) -> Server:
        """Return a new, not yet booted server (default: one that listens on nothing itself)."""
        return ListenerlessServer()

    # fixtures

    @pytest.fixture
    def servers(self) -> Iterator[list[Server]]:
        """Two booted servers hosting the conformance service on the channel under test."""
        booted: list[Server] = []
        try:
            for _ in range(2):
                server = self.make_server()
                server.boot(
                    ConformanceContainer(
                        addresses=providers.Object(lambda port: [self.address(port)]),
                        runtime=providers.Object(self.runtime),
                    )
                )
                booted.append(server)
            yield booted
        finally:
            for server in booted:
                server.shutdown(timeout=5)

    def urls_of(self, server: Server) -> list[str]:
        """Return the URLs a booted server registered for the conformance component."""
        assert server.manager is not None
        descriptor = _conformance_component()
        for address in server.manager.component_registry.get_addresses(descriptor):
            if address.channel == self.channel:
                return list(address.urls)
        raise AssertionError(
            f"the server registered no {self.channel!r} address for the conformance component"
        )

    def client(self, urls: list[str], selector: str = "round-robin") -> ServiceManager:
        """Return a client-side ServiceManager whose static registry lists ``urls``."""
        settings = {
            "registry": {"type": "static", "components": {"sw-conformance-component": {self.channel: urls}}},
            "components": {"sw-conformance-component": {"selector": selector, "cooldown": 1.0}},
            **self.config,
        }
        return ServiceContainer(
            config=providers.Object(settings), runtime=providers.Object(self.runtime)
        ).service_manager()

    @property
    def runtime(self) -> Runtime:
        """The runtime this test's servers and clients share (one per test)."""
        found: Runtime | None = self.__dict__.get("_runtime")
        if found is None:
            found = self.__dict__["_runtime"] = Runtime()
        return found

    @pytest.fixture
    def proxy(self, servers: list[Server]) -> Iterator[ConformanceService]:
        """A proxy through the channel under test, to the first server."""
        manager = self.client(self.urls_of(servers[0]))
        yield manager.proxy(ConformanceService, self.channel)
        manager.close()

    @pytest.fixture
    def async_proxy(self, servers: list[Server]) -> Iterator[AsyncConformanceService]:
        """A proxy of the async conformance service through the channel under test, to the first server."""
        self._needs_the_pipeline()
        manager = self.client(self.urls_of(servers[0]))
        yield manager.proxy(AsyncConformanceService, self.channel)
        manager.close()

    # checks

    def test_proxy_uses_the_channel(self, proxy: ConformanceService) -> None:
        """The proxy sends through the channel under test, not a local shortcut."""
        channel = channel_of(proxy)
        assert isinstance(channel, Channel)
        assert channel.name == self.channel

    def test_text_round_trip(self, proxy: ConformanceService) -> None:
        """Strings, unicode and empty ones included, come back unchanged."""
        for text in ("hello", "", "grüße ✓ 日本", "x" * 100_000):
            assert proxy.echo_text(text) == text

    def test_recursive_dataclass_round_trip(self, proxy: ConformanceService) -> None:
        """A recursive dataclass comes back equal and of its own type."""
        tree = _sample_tree()
        answer = proxy.echo_tree(tree)
        assert answer == tree and isinstance(answer.children[0], Tree)

    def test_attrs_uuid_decimal_datetime_enum_round_trip(self, proxy: ConformanceService) -> None:
        """An attrs class with UUID, Decimal, aware datetime, Enum, Optional and a set survives."""
        record = _sample_record()
        answer = proxy.echo_record(record, scale=2)
        assert answer == attrs.evolve(record, amount=decimal.Decimal("20.50"))
        assert isinstance(answer.id, uuid.UUID) and isinstance(answer.shade, Shade)

    def test_mapping_and_date_arguments(self, proxy: ConformanceService) -> None:
        """Dicts of lists and dates are decoded by the parameter types."""
        day = dt.date(2026, 1, 31)
        assert proxy.echo_mapping({"a": [1, 2], "b": []}, day) == {"a": 3, "b": 0, "day": day.toordinal()}

    def test_known_exception_is_raised_as_itself(self, proxy: ConformanceService) -> None:
        """A ServiceException subclass known to the caller is raised as itself."""
        with pytest.raises(ConformanceError, match="known failure"):
            proxy.fail_known("known failure")

    def test_other_exception_becomes_remote_service_exception(self, proxy: ConformanceService) -> None:
        """Any other exception arrives as RemoteServiceException naming the remote type.

        Its message stays on the server (it may hold paths or secrets): the caller reads a
        generic message with the error id under which the server logged the traceback.
        """
        with pytest.raises(RemoteServiceException) as info:
            proxy.fail_unknown("lost key")
        assert info.value.remote_type == "builtins.KeyError"
        channel_class = ChannelManager(self.runtime.channels).get_class(self.channel)
        if uses_first_contract_server(channel_class):
            return  # its own server answers with the message; the core's dispatcher hides it
        assert "lost key" not in info.value.remote_message
        assert info.value.error_id and info.value.error_id in info.value.remote_message

    def test_application_exception_keeps_its_fields(self, proxy: ConformanceService) -> None:
        """An application exception arrives as itself with the same attributes, args and str()."""
        self._needs_the_pipeline()
        with pytest.raises(ConformanceShortage) as info:
            proxy.fail_with_fields("tea", 5, 2)
        shortage = info.value
        assert type(shortage) is ConformanceShortage
        assert (shortage.item, shortage.wanted, shortage.left) == ("tea", 5, 2)
        assert str(shortage) == "tea: wanted 5, 2 left" and shortage.args == ("tea: wanted 5, 2 left",)

    @pytest.mark.parametrize("kind", sorted(FRAMEWORK_FAILURES))
    def test_framework_exception_of_the_server_is_remote_and_runs_once(
        self, servers: list[Server], kind: str
    ) -> None:
        """What a server raises is a RemoteServiceException; with two instances it ran once.

        servicewire's own exceptions (and any other) raised by an implementation are never
        revived from the wire: a ServiceUnavailableException there means the *server* could not
        reach something, so the caller must not take it for its own failure and retry elsewhere.
        """
        urls = self.urls_of(servers[0]) + self.urls_of(servers[1])
        manager = self.client(urls)
        try:
            proxy = manager.proxy(ConformanceService, self.channel)
            for _ in range(4):
                with pytest.raises(RemoteServiceException) as info:
                    proxy.fail_framework(kind)
                assert not isinstance(info.value, ServiceCommunicationException)
                expected = type(FRAMEWORK_FAILURES[kind]())
                assert info.value.remote_type.endswith("." + expected.__name__)
            counts = [self._attempts_at(url) for url in urls]
        finally:
            manager.close()
        assert sum(counts) == 4, f"four calls, each run once; ran {counts}"

    def test_metadata_reaches_the_implementation(self, proxy: ConformanceService) -> None:
        """Metadata set for a call is what the implementation's call_context() holds."""
        self._needs_the_pipeline()
        with call_options(metadata={"tenant": "acme", "request-id": "r-42"}):
            seen = proxy.context()
        assert seen["tenant"] == "acme" and seen["request-id"] == "r-42"

    def test_response_metadata_reaches_the_caller(
        self, servers: list[Server], proxy: ConformanceService
    ) -> None:
        """What the implementation sets on its answer is what the caller's last_response() holds.

        The gRPC interoperability case "custom_metadata": the server echoes the call's metadata
        in its answer's metadata.
        """
        self._needs_the_pipeline()
        sent = {"x-echo-initial": "test_initial_metadata_value", "x-echo-trailing": "test-trailing-value"}
        with call_options(metadata=sent), last_response() as response:
            assert proxy.echo_metadata("hi") == "hi"
        assert {key: response.metadata.get(key) for key in sent} == sent
        assert response.metadata.get("x-echo-count") == "2", "pairs set twice by the server add up"
        assert response.url in self.urls_of(servers[0]), "the URL of the instance that answered"
        assert response.calls == 1

    def test_response_metadata_comes_with_an_error_answer(self, proxy: ConformanceService) -> None:
        """Metadata set before the implementation raised reaches the caller with the error."""
        self._needs_the_pipeline()
        with call_options(metadata={"x-echo-why": "refused"}), last_response() as response:
            with pytest.raises(ConformanceError, match="nope"):
                proxy.echo_metadata("nope", fail=True)
        assert response.metadata.get("x-echo-why") == "refused"
        with last_response() as plain:
            assert proxy.echo_text("no metadata") == "no metadata"
        assert "x-echo-why" not in plain.metadata and plain.calls == 1

    def test_deadline_reaches_the_implementation(self, proxy: ConformanceService) -> None:
        """The implementation sees the caller's deadline: less time left than the caller gave."""
        self._needs_the_pipeline()
        with call_options(timeout=5.0):
            remaining = int(proxy.context()["remaining-ms"])
        assert 0 < remaining <= 5000

    def test_deadline_bounds_the_call(self, proxy: ConformanceService) -> None:
        """A call whose deadline passes while the server works raises ServiceTimeoutException in time.

        An in-process channel runs the implementation on the caller's own thread, so it cannot
        stop waiting: it checks the deadline before running and passes it on to nested calls,
        and returns the result of a call that finished late rather than lose it.
        """
        self._needs_the_pipeline()
        started = time.monotonic()
        if ChannelManager(self.runtime.channels).get_class(self.channel).codec is None:
            with call_options(timeout=0.5):
                assert proxy.sleep(0.8) == 0.8
            return
        with pytest.raises(ServiceTimeoutException) as info, call_options(timeout=0.3):
            proxy.sleep(1.5)
        assert info.value.limit == "deadline"
        assert time.monotonic() - started < 1.2, "the caller stopped waiting at its deadline"

    # awaited calls (``async def`` methods)

    def test_async_methods_are_awaited_with_typed_values(self, async_proxy: AsyncConformanceService) -> None:
        """An awaited call carries typed values; 20 calls at once each get their own answer."""

        async def calls() -> tuple[Record, list[str]]:
            record = await async_proxy.echo_record(_sample_record(), scale=2)
            texts = await asyncio.gather(*(async_proxy.echo_text(f"text-{i}") for i in range(20)))
            return record, list(texts)

        record, texts = asyncio.run(calls())
        assert record == attrs.evolve(_sample_record(), amount=decimal.Decimal("20.50"))
        assert isinstance(record.id, uuid.UUID) and isinstance(record.shade, Shade)
        assert texts == [f"text-{i}" for i in range(20)]
        assert async_proxy.observed("nothing") == [], "a def method of the same interface is called directly"

    def test_async_errors_follow_the_error_rules(self, async_proxy: AsyncConformanceService) -> None:
        """An awaited call raises a known application exception as itself, others as RemoteServiceException.

        As for sync calls: the error rules do not depend on how a method is called.
        """
        with pytest.raises(ConformanceError, match="known failure"):
            asyncio.run(async_proxy.fail_known("known failure"))
        with pytest.raises(RemoteServiceException) as info:
            asyncio.run(async_proxy.fail_unknown("lost key"))
        assert info.value.remote_type == "builtins.KeyError"
        assert "lost key" not in info.value.remote_message

    def test_async_metadata_travels_both_ways(self, async_proxy: AsyncConformanceService) -> None:
        """An awaited call's metadata reaches the implementation, and the answer's comes back."""
        sent = {"x-echo-tenant": "acme", "x-echo-request": "r-7"}

        async def call() -> tuple[str, dict[str, str]]:
            with call_options(metadata=sent), last_response() as response:
                text = await async_proxy.echo_metadata("hi")
            return text, dict(response.metadata)

        text, received = asyncio.run(call())
        assert text == "hi" and {key: received.get(key) for key in sent} == sent

    def test_async_deadline_stops_the_call_and_the_work(
        self, async_proxy: AsyncConformanceService
    ) -> None:
        """An awaited call times out at its deadline; the server's coroutine is cancelled then too.

        The caller gets ServiceTimeoutException; the server's ``async def`` implementation sees
        CancelledError, so its work stops rather than going on for nobody. On a busy machine the
        request can reach the server after its deadline: the server then answers 504 without
        running anything, which is as good (nothing started, nothing goes on).
        """
        tag = f"deadline-{uuid.uuid4().hex}"

        async def call() -> None:
            with call_options(timeout=0.5):
                await async_proxy.sleep(30.0, tag)

        started = time.monotonic()
        with pytest.raises(ServiceTimeoutException) as info:
            asyncio.run(call())
        assert info.value.limit == "deadline"
        assert time.monotonic() - started < 2.5, "the caller stopped waiting at its deadline"
        stopped = wait_until(lambda: "cancelled" in async_proxy.observed(tag), timeout=5.0)
        seen = async_proxy.observed(tag)
        assert stopped or seen == [], f"the server's work went on after the deadline: {seen}"

    def test_async_cancellation_stops_the_call_and_the_work(
        self, async_proxy: AsyncConformanceService
    ) -> None:
        """Cancelling the awaiting task stops the call at once; the server's coroutine is cancelled too.

        It is cancelled as soon as the caller cancels on a channel that reports it
        (:attr:`cancels_promptly`), else at the call's deadline (5 s here) at the latest.
        """
        tag = f"cancel-{uuid.uuid4().hex}"

        async def call_then_cancel() -> float:
            with call_options(timeout=5.0):
                task = asyncio.ensure_future(async_proxy.sleep(30.0, tag))
            while "started" not in await call_in_thread(async_proxy.observed, tag):
                assert not task.done(), task
                await asyncio.sleep(0.02)
            task.cancel()
            cancelled_at = time.monotonic()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert time.monotonic() - cancelled_at < 1.0, "the caller stopped waiting at once"
            return cancelled_at

        cancelled_at = asyncio.run(call_then_cancel())
        assert wait_until(lambda: "cancelled" in async_proxy.observed(tag), timeout=8.0), (
            f"the server's work went on past the deadline: {async_proxy.observed(tag)}"
        )
        if self.cancels_promptly:
            assert time.monotonic() - cancelled_at < 2.0, "the server's work stopped when the call did"

    def _attempts_at(self, url: str) -> int:
        manager = self.client([url])
        try:
            return manager.proxy(ConformanceService, self.channel).attempts()
        finally:
            manager.close()

    def _needs_the_pipeline(self) -> None:
        channel_class = ChannelManager(self.runtime.channels).get_class(self.channel)
        if uses_first_contract(channel_class):
            pytest.skip(
                f"{channel_class.__qualname__} is written to the first plugin contract (it overrides "
                "invoke() or prepare_server()), which carries neither metadata, deadlines nor "
                "exception fields"
            )

    def test_threads_share_one_proxy(self, proxy: ConformanceService) -> None:
        """Eight threads calling one proxy each get their own answers."""
        mixed: list[str] = []

        def work(n: int) -> None:
            for i in range(25):
                text = f"{n}-{i}"
                if proxy.echo_text(text) != text:
                    mixed.append(text)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert mixed == []

    def test_round_robin_reaches_both_instances_first_url_sticks(self, servers: list[Server]) -> None:
        """Round robin spreads calls over both servers; the first-URL selector stays on one."""
        urls = self.urls_of(servers[0]) + self.urls_of(servers[1])
        spread = self.client(urls)
        assert len({spread.proxy(ConformanceService, self.channel).instance() for _ in range(6)}) == 2
        spread.close()
        sticky = self.client(urls, "first")
        assert len({sticky.proxy(ConformanceService, self.channel).instance() for _ in range(6)}) == 1
        sticky.close()

    def test_set_address_changes_where_calls_go(self, servers: list[Server]) -> None:
        """set_address replaces the URLs: none gives NoAddressException, a dead one fails over."""
        manager = self.client(self.urls_of(servers[0]), "first")
        proxy = manager.proxy(ConformanceService, self.channel)
        channel = channel_of(proxy)
        first = proxy.instance()
        descriptor = _conformance_component()
        channel.set_address(ChannelInstances(descriptor.name, self.channel, []))
        with pytest.raises(NoAddressException):
            proxy.instance()
        second_url = self.urls_of(servers[1])[0]
        channel.set_address(ChannelInstances(descriptor.name, self.channel, [second_url]))
        second = proxy.instance()
        assert second != first
        dead = _with_port(second_url, free_port())
        channel.set_address(ChannelInstances(descriptor.name, self.channel, [dead, second_url]))
        assert proxy.instance() == second, "a URL where nothing listens is skipped"
        manager.close()

    def test_unreachable_url_is_a_communication_error(self) -> None:
        """With only a dead URL, the call fails with a ServiceCommunicationException."""
        probe = self.address(free_port()).uri
        manager = self.client([_with_port(probe, free_port())])
        with pytest.raises(ServiceCommunicationException):
            manager.proxy(ConformanceService, self.channel).echo_text("anyone?")
        manager.close()

    def test_shutdown_stops_serving(self, servers: list[Server]) -> None:
        """After a server shuts down, calls to it fail with ServiceCommunicationException."""
        manager = self.client(self.urls_of(servers[0]))
        proxy = manager.proxy(ConformanceService, self.channel)
        assert proxy.echo_text("before") == "before"
        servers[0].shutdown(timeout=5)
        with pytest.raises(ServiceCommunicationException):
            proxy.echo_text("after")
        manager.close()


def _with_port(url: str, port: int) -> str:
    """The same URL at another port: where nothing listens (a socket path gets another path)."""
    parts = urlsplit(url)
    if not parts.hostname:  # an opaque name or a socket path: keep the scheme:// urlunsplit drops
        return f"{parts.scheme}://{parts.netloc}{parts.path}.{port}"
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))


# the registry kit


_KILLED_REGISTRANT = textwrap.dedent(
    """
    import json, sys
    from container import ChannelAddress, descriptor_of
    from container.plugin import create_registry
    from container.testing import ConformanceComponent
    registry = create_registry({"registry": json.loads(sys.argv[1])})
    descriptor = descriptor_of(ConformanceComponent)
    registry.register(descriptor, [ChannelAddress("local", "inproc://doomed")])
    print("registered", flush=True)
    sys.stdin.read()
    """
)


class RegistryConformance:
    """Checks a registry plugin: registration, look-up, watching, several instances, liveness.

    Implement :meth:`registry_config`; set :attr:`shared` when registry objects built from the
    same config see each other's entries (file, etcd; not static), :attr:`liveness_timeout`
    when entries of a process that died without deregistering vanish by themselves, and
    :attr:`lists` to False when the plugin leaves out the optional ``list_addresses``.

    Attributes:
        shared: registry objects of one config share their entries.
        liveness_timeout: seconds within which a SIGKILLed process's entries vanish, or None.
        lists: the plugin implements ``list_addresses`` (operator tools list its components);
            when False, the kit checks that it says it cannot.
    """

    shared: ClassVar[bool] = True
    lists: ClassVar[bool] = True
    liveness_timeout: ClassVar[Optional[float]] = None  # noqa: UP045 - ClassVar of a union reads badly

    def registry_config(self, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
        """Return the ``registry`` config section of the plugin under test."""
        raise NotImplementedError("implement registry_config(tmp_path, request)")

    @pytest.fixture
    def settings(self, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
        """The registry section under test."""
        return self.registry_config(tmp_path, request)

    @pytest.fixture
    def make(self, settings: dict[str, Any]) -> Iterator[Callable[[], ComponentRegistry]]:
        """A factory of registry objects built from the config; all closed afterwards."""
        made: list[ComponentRegistry] = []

        def build() -> ComponentRegistry:
            registry = create_registry({"registry": settings})
            made.append(registry)
            return registry

        yield build
        for registry in made:
            registry.close()

    @staticmethod
    def _urls(registry: ComponentRegistry, channel: str = "local") -> list[str]:
        for address in registry.get_addresses(_conformance_component()):
            if address.channel == channel:
                return sorted(address.urls)
        return []

    def test_register_get_deregister(self, make: Callable[[], ComponentRegistry]) -> None:
        """A registered address is returned per channel; deregistering removes it."""
        registry = make()
        descriptor = _conformance_component()
        registry.register(
            descriptor, [ChannelAddress("local", "inproc://a"), ChannelAddress("other", "x://a")]
        )
        assert self._urls(registry) == ["inproc://a"]
        assert self._urls(registry, "other") == ["x://a"]
        registry.deregister(descriptor)
        assert self._urls(registry) == []

    def test_watch_notifies_channels(self, make: Callable[[], ComponentRegistry]) -> None:
        """A watched channel is told its new URL list when an instance registers or leaves."""
        observer = make()
        source = make() if self.shared else observer
        descriptor = _conformance_component()
        source.register(descriptor, [ChannelAddress("local", "inproc://first")])
        address = next(a for a in observer.get_addresses(descriptor) if a.channel == "local")
        channel = ChannelManager().make("local", descriptor, address)
        observer.watch(channel)
        other = make() if self.shared else observer
        if other is source:
            source.register(
                descriptor,
                [ChannelAddress("local", "inproc://first"), ChannelAddress("local", "inproc://second")],
            )
        else:
            other.register(descriptor, [ChannelAddress("local", "inproc://second")])
        assert wait_until(lambda: sorted(channel.address.urls) == ["inproc://first", "inproc://second"])  # type: ignore[union-attr]
        if other is source:
            source.register(descriptor, [ChannelAddress("local", "inproc://first")])
        else:
            other.deregister(descriptor)
        assert wait_until(lambda: channel.address.urls == ["inproc://first"])  # type: ignore[union-attr]

    def test_several_instances(self, make: Callable[[], ComponentRegistry]) -> None:
        """Instances registered by different registry objects are all returned (shared only)."""
        if not self.shared:
            pytest.skip("this registry keeps its entries per registry object (shared = False)")
        first, second, reader = make(), make(), make()
        descriptor = _conformance_component()
        first.register(descriptor, [ChannelAddress("local", "inproc://one")])
        second.register(descriptor, [ChannelAddress("local", "inproc://two")])
        assert wait_until(lambda: self._urls(reader) == ["inproc://one", "inproc://two"])
        first.deregister(descriptor)
        assert wait_until(lambda: self._urls(reader) == ["inproc://two"])

    def test_entries_of_a_killed_process_vanish(
        self, make: Callable[[], ComponentRegistry], settings: dict[str, Any]
    ) -> None:
        """A process SIGKILLed without deregistering loses its entries within liveness_timeout."""
        if self.liveness_timeout is None:
            pytest.skip("this registry does not claim liveness (liveness_timeout = None)")
        process = subprocess.Popen(  # noqa: S603 - our own script, this interpreter
            [sys.executable, "-c", _KILLED_REGISTRANT, json.dumps(settings)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None and process.stdout.readline().strip() == "registered"
            reader = make()
            assert wait_until(lambda: self._urls(reader) == ["inproc://doomed"])
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            assert wait_until(lambda: self._urls(reader) == [], timeout=self.liveness_timeout)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()

    def test_list_addresses(self, make: Callable[[], ComponentRegistry]) -> None:
        """Every registered component is listed per channel; a registry that cannot list says so."""
        registry = make()
        descriptor = _conformance_component()
        if not self.lists:
            with pytest.raises(ListingNotSupportedException):
                registry.list_addresses()
            return
        registry.register(
            descriptor, [ChannelAddress("local", "inproc://listed"), ChannelAddress("other", "x://listed")]
        )
        reader = make() if self.shared else registry

        def listed() -> dict[str, list[str]]:
            found = [a for a in reader.list_addresses() if a.component == descriptor.name]
            assert all(isinstance(a, ChannelInstances) and a.urls for a in found)
            return {a.channel: sorted(a.urls) for a in found}

        assert wait_until(lambda: listed() == {"local": ["inproc://listed"], "other": ["x://listed"]})
        registry.deregister(descriptor)
        assert wait_until(lambda: listed() == {})

    def test_close_is_clean(self, make: Callable[[], ComponentRegistry]) -> None:
        """close() after registering and watching raises nothing and can be repeated."""
        registry = make()
        descriptor = _conformance_component()
        registry.register(descriptor, [ChannelAddress("local", "inproc://closing")])
        registry.close()
        registry.close()


__all__ = [
    "FRAMEWORK_FAILURES",
    "AsyncConformanceService",
    "ChannelConformance",
    "ConformanceComponent",
    "ConformanceContainer",
    "ConformanceError",
    "ConformanceService",
    "ConformanceShortage",
    "ListenerlessServer",
    "Record",
    "RegistryConformance",
    "Shade",
    "Tree",
    "free_port",
    "wait_until",
]
