"""Two services that call each other, each in its own process: python -m tests.e2e.mutual ping|pong FILE."""

from __future__ import annotations

import os
import sys
from abc import abstractmethod

from dependency_injector import containers, providers

from channels.http import HttpServer
from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    Service,
    ServiceContainer,
    ServiceInstanceProvider,
    component,
    implementation,
    service,
)


@service(name="ping")
class PingService(Service):
    @abstractmethod
    def ping(self, rounds: int) -> list[str]:
        """Answer, then let pong play the remaining rounds."""


@service(name="pong")
class PongService(Service):
    @abstractmethod
    def pong(self, rounds: int) -> list[str]:
        """Answer, then let ping play the remaining rounds."""


@component(name="ping-component", services=[PingService])
class PingComponent(Component):
    pass


@component(name="pong-component", services=[PongService])
class PongComponent(Component):
    pass


@implementation()
class PingImpl(PingService):
    def __init__(self, other: PongService) -> None:
        self.other = other

    def ping(self, rounds: int) -> list[str]:
        played = [f"ping {os.getpid()}"]
        return played + (self.other.pong(rounds - 1) if rounds > 1 else [])


@implementation()
class PongImpl(PongService):
    def __init__(self, other: PingService) -> None:
        self.other = other

    def pong(self, rounds: int) -> list[str]:
        played = [f"pong {os.getpid()}"]
        return played + (self.other.ping(rounds - 1) if rounds > 1 else [])


class _HttpComponent(AbstractComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [ChannelAddress("dispatch-msgpack", f"http://127.0.0.1:{port}")]


@implementation()
class PingComponentImpl(_HttpComponent, PingComponent):
    pass


@implementation()
class PongComponentImpl(_HttpComponent, PongComponent):
    pass


class PingContainer(containers.DeclarativeContainer):
    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    pong = ServiceInstanceProvider(PongService)
    ping = providers.Singleton(PingImpl, other=pong)


class PongContainer(containers.DeclarativeContainer):
    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    ping = ServiceInstanceProvider(PingService)
    pong = providers.Singleton(PongImpl, other=ping)


if __name__ == "__main__":
    container = {"ping": PingContainer, "pong": PongContainer}[sys.argv[1]]()
    container.config.from_dict({"registry": {"type": "file", "path": sys.argv[2], "poll_interval": 0.05}})
    HttpServer().serve_forever(container)
