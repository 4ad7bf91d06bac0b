"""Two processes talking through tcp-msgpack, found through a file registry.

python example.py serve REGISTRY_FILE     # hosts the greeter; prints "serving" when registered
python example.py call REGISTRY_FILE      # calls it and prints the answer

Both processes import the implementation below; only the serving one hosts it, because only its
container provides it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from abc import abstractmethod

from dependency_injector import containers, providers

from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    ListenerlessServer,
    Service,
    ServiceContainer,
    component,
    connect,
    implementation,
    service,
)


@service(name="tcp-example-greeter")
class Greeter(Service):
    """Greets."""

    @abstractmethod
    def greet(self, name: str) -> str:
        """Return a greeting that says which process answered."""


@component(name="tcp-example", services=[Greeter])
class GreeterComponent(Component):
    """Hosts the greeter."""


@implementation()
class GreeterImpl(Greeter):
    """Greets, saying which process answered."""

    def greet(self, name: str) -> str:
        """Return a greeting with this process's id."""
        return f"Hello {name} from pid {os.getpid()} over tcp-msgpack"


@implementation()
class GreeterComponentImpl(AbstractComponent, GreeterComponent):
    """Offers the greeter over tcp-msgpack on a port the listener picks."""

    def get_addresses(self, port: int) -> list[ChannelAddress]:
        """Ask for port 0: the listener binds a free one and registers it."""
        return [ChannelAddress("tcp-msgpack", "tcp://127.0.0.1:0")]


class ServerContainer(containers.DeclarativeContainer):
    """The serving process's container: providing GreeterImpl is what hosts the greeter."""

    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    greeter = providers.Singleton(GreeterImpl)


def serve(registry: str) -> None:
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    container = ServerContainer()
    container.config.from_dict({"registry": {"type": "file", "path": registry}})
    server = ListenerlessServer()
    server.boot(container)
    print("serving", flush=True)
    done.wait()
    server.shutdown()


def call(registry: str) -> None:
    greeter = connect(
        Greeter, {"registry": {"type": "file", "path": registry}}, preferred_channel="tcp-msgpack"
    )
    print(greeter.greet("world"))


if __name__ == "__main__":
    {"serve": serve, "call": call}[sys.argv[1]](sys.argv[2])
