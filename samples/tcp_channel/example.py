"""Two processes talking through tcp-msgpack, found through a file registry.

python example.py serve REGISTRY_FILE     # hosts the greeter; prints "serving" when registered
python example.py call REGISTRY_FILE      # calls it and prints the answer
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from abc import abstractmethod

from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    ListenerlessServer,
    Service,
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


def serve(registry: str) -> None:
    @implementation()
    class GreeterImpl(Greeter):
        def greet(self, name: str) -> str:
            return f"Hello {name} from pid {os.getpid()} over tcp-msgpack"

    @implementation()
    class GreeterComponentImpl(AbstractComponent, GreeterComponent):
        def get_addresses(self, port: int) -> list[ChannelAddress]:
            return [ChannelAddress("tcp-msgpack", "tcp://127.0.0.1:0")]

    from dependency_injector import providers

    from container import ServiceContainer

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    server = ListenerlessServer()
    server.boot(ServiceContainer(config=providers.Object({"registry": {"type": "file", "path": registry}})))
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
