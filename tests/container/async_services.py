"""A service with `def` and `async def` methods side by side, for the async tests (names prefixed)."""

from __future__ import annotations

import asyncio
import threading
import time
from abc import abstractmethod
from typing import Any

from dependency_injector import containers, providers

from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    Health,
    HealthStatus,
    Service,
    ServiceContainer,
    ServiceException,
    call_context,
    component,
    health_check,
    health_checks,
    idempotent,
    implementation,
    service,
    set_response_metadata,
)


class MixedError(ServiceException):
    """An application exception of the mixed service, with a field of its own."""

    def __init__(self, item: str) -> None:
        super().__init__(f"no {item}")
        self.item = item


@service(name="as-mixed")
class MixedService(Service):
    """A `def` method and `async def` methods in one interface."""

    @abstractmethod
    def add(self, a: int, b: int = 1) -> int:
        """Return a + b (a `def` method)."""

    @abstractmethod
    async def double(self, value: int) -> int:
        """Return 2 * value after yielding to the loop."""

    @abstractmethod
    async def fail(self, item: str) -> None:
        """Raise MixedError(item)."""

    @abstractmethod
    async def crash(self) -> None:
        """Raise an unexpected exception."""

    @abstractmethod
    async def echo_context(self) -> dict[str, str]:
        """Return the call's metadata and caller; answer with ``answered: yes`` as metadata."""

    @abstractmethod
    async def sleep(self, seconds: float, tag: str) -> str:
        """Sleep, noting ``started`` and then ``finished`` or ``cancelled`` under ``tag``."""

    @idempotent
    @abstractmethod
    async def where(self) -> dict[str, Any]:
        """Return the id of the running loop and the name of the running thread."""

    @abstractmethod
    def notes(self, tag: str) -> list[str]:
        """Return what was noted under ``tag``."""

    @abstractmethod
    def pause(self, seconds: float) -> float:
        """Block the calling thread for ``seconds`` (a slow `def` method); return them."""


@component(name="as-mixed-component", services=[MixedService])
class MixedComponent(Component):
    """Hosts the mixed service."""


@implementation()
class MixedServiceImpl(MixedService):
    """Implements each method the way the interface declares it."""

    def __init__(self) -> None:
        self.noted: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def add(self, a: int, b: int = 1) -> int:
        return a + b

    async def double(self, value: int) -> int:
        await asyncio.sleep(0)
        return 2 * value

    async def fail(self, item: str) -> None:
        raise MixedError(item)

    async def crash(self) -> None:
        raise KeyError("a secret detail")

    async def echo_context(self) -> dict[str, str]:
        current = call_context()
        assert current is not None
        set_response_metadata({"answered": "yes"})
        caller = current.identity.subject if current.identity is not None else ""
        return {**current.metadata, "caller": caller}

    async def sleep(self, seconds: float, tag: str) -> str:
        self.note(tag, "started")
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.note(tag, "cancelled")
            raise
        self.note(tag, "finished")
        return tag

    async def where(self) -> dict[str, Any]:
        return {"loop": id(asyncio.get_running_loop()), "thread": threading.current_thread().name}

    def notes(self, tag: str) -> list[str]:
        with self.lock:
            return list(self.noted.get(tag, ()))

    def pause(self, seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    def note(self, tag: str, what: str) -> None:
        with self.lock:
            self.noted.setdefault(tag, []).append(what)


@health_checks(component=MixedComponent)
class MixedChecks:
    """An async health check beside a sync one."""

    verdict = HealthStatus.OK

    @health_check()
    async def remote_store(self) -> tuple[HealthStatus, str]:
        await asyncio.sleep(0)
        return type(self).verdict, f"checked on a loop: {asyncio.get_running_loop() is not None}"

    @health_check()
    def disk(self) -> None:
        return None


@implementation()
class MixedComponentImpl(AbstractComponent, MixedComponent):
    """Offers the mixed service on the local channel."""

    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [ChannelAddress("local", "inproc://0")]


class MixedApp(containers.DeclarativeContainer):
    """Hosts the mixed service; interceptors and config come from the test."""

    config = providers.Configuration(
        default={"registry": {"type": "static"}, "auth": {"expose": {"health_details": "open"}}}
    )
    client_interceptors = providers.List()
    server_interceptors = providers.List()
    services = providers.Container(
        ServiceContainer,
        config=config,
        client_interceptors=client_interceptors,
        server_interceptors=server_interceptors,
    )
    mixed = providers.Singleton(MixedServiceImpl)
    component = providers.Singleton(MixedComponentImpl)


@service(name="as-awaited-health")
class AwaitedHealthService(Service):
    """A service whose component reports its health with an `async def get_health`."""

    @abstractmethod
    async def ping(self) -> str:
        """Return "pong"."""


@component(name="as-awaited-health-component", services=[AwaitedHealthService])
class AwaitedHealthComponent(Component):
    """Its health is awaited."""


@implementation()
class AwaitedHealthImpl(AwaitedHealthService):
    async def ping(self) -> str:
        return "pong"


@implementation()
class AwaitedHealthComponentImpl(AbstractComponent, AwaitedHealthComponent):
    """``get_health`` is an ``async def``, as in the seed API."""

    healthy = True

    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [ChannelAddress("local", "inproc://0")]

    async def get_health(self) -> Health:  # type: ignore[override]
        await asyncio.sleep(0)
        return Health(HealthStatus.OK if type(self).healthy else HealthStatus.ERROR)


class AwaitedHealthApp(containers.DeclarativeContainer):
    services = providers.Container(ServiceContainer, config={"registry": {"type": "static"}})
    ping = providers.Singleton(AwaitedHealthImpl)
    component = providers.Singleton(AwaitedHealthComponentImpl)
