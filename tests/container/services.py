"""Services shared by the container tests (names prefixed so they never clash)."""

from __future__ import annotations

import dataclasses
from abc import abstractmethod

from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    Service,
    ServiceException,
    component,
    idempotent,
    implementation,
    service,
)


class CalculatorError(ServiceException):
    """Raised by the calculator for bad operations."""


@dataclasses.dataclass
class Tree:
    label: str
    children: list[Tree] = dataclasses.field(default_factory=list)


@service(description="adds numbers")
class CalculatorService(Service):
    """Adds and divides."""

    @abstractmethod
    def add(self, a: int, b: int = 1) -> int:
        """Return a + b."""

    @abstractmethod
    def divide(self, a: float, b: float) -> float:
        """Return a / b; dividing by zero raises CalculatorError."""

    @idempotent
    @abstractmethod
    def count(self, tree: Tree) -> int:
        """Return the number of nodes of ``tree``."""


@service(name="ct-greeter")
class GreeterService(Service):
    """Greets."""

    @abstractmethod
    def greet(self, name: str) -> str:
        """Return a greeting."""


@component(name="ct-calculator", services=[CalculatorService])
class CalculatorComponent(Component):
    """Hosts the calculator."""


@component(name="ct-greeter-component", services=[GreeterService])
class GreeterComponent(Component):
    """Hosts the greeter; no implementation in this process (always remote)."""


class Clock:
    """A dependency injected into the calculator through the application container."""

    def __init__(self, offset: int = 0) -> None:
        self.offset = offset


@implementation()
class CalculatorServiceImpl(CalculatorService):
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()

    def add(self, a: int, b: int = 1) -> int:
        return a + b + self.clock.offset

    def divide(self, a: float, b: float) -> float:
        if b == 0:
            raise CalculatorError(f"cannot divide {a} by zero")
        return a / b

    def count(self, tree: Tree) -> int:
        return 1 + sum(self.count(child) for child in tree.children)

    def not_in_interface(self) -> str:
        return "must never be reachable remotely"


@implementation()
class CalculatorComponentImpl(AbstractComponent, CalculatorComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [ChannelAddress("local", "")]
