"""The hello service's implementation: imported only by the process that hosts it."""

from __future__ import annotations

import os

from container import (
    AbstractComponent,
    ChannelAddress,
    health,
    implementation,
)

from .interface import Greeting, HelloComponent, HelloService


@implementation()
class HelloServiceImpl(HelloService):
    """Greets people, saying which process answered."""

    def __init__(self, greeting: str = "Hello") -> None:
        self.greeting = greeting

    def hello(self, name: str) -> str:
        """Return a greeting for ``name``."""
        return f"{self.greeting}, {name}!"

    def greet(self, name: str) -> Greeting:
        """Return a greeting for ``name`` that says which process served it."""
        return Greeting(self.hello(name), f"pid {os.getpid()}")


@health("/health")
@implementation()
class HelloComponentImpl(AbstractComponent, HelloComponent):
    """Hosts the hello service on both HTTP channels."""

    def get_addresses(self, port: int) -> list[ChannelAddress]:
        """Return the HTTP channels' addresses on ``port``."""
        # The demo runs on one machine; a deployment across hosts would use
        # Server.get_local_ip() (or an address from its own config) instead.
        host = os.environ.get("SERVICEWIRE_HOST", "127.0.0.1")
        return [
            ChannelAddress("dispatch-json", f"http://{host}:{port}"),
            ChannelAddress("dispatch-msgpack", f"http://{host}:{port}"),
        ]
