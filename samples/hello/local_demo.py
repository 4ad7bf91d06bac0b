"""Calls the hello service in one process: the interface resolves to the implementation."""

from __future__ import annotations

from dependency_injector.wiring import Provide, inject

from .hosting import MainContainer
from .interface import HelloService


@inject
def greet_everyone(hello: HelloService = Provide[MainContainer.hello]) -> list[str]:
    """Greet two people through whatever implementation the container injects."""
    return [hello.hello("world"), hello.greet("servicewire").text]


def main() -> None:
    """Build the container, wire this module, and call the service."""
    container = MainContainer()
    container.config.from_dict({"registry": {"type": "static"}})
    container.wire(modules=[__name__])
    for line in greet_everyone():
        print(line)
    hello = container.hello()
    print(f"resolved to {type(hello).__name__}")
    container.unwire()


if __name__ == "__main__":
    main()
