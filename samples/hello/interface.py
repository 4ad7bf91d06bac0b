"""The hello service's interface: what callers import, wherever the service runs."""

from __future__ import annotations

import dataclasses
from abc import abstractmethod

from container import Component, Service, component, service


@dataclasses.dataclass
class Greeting:
    """A greeting and who produced it."""

    text: str
    served_by: str


@service(name="hello-service", description="says hello")
class HelloService(Service):
    """Greets people."""

    @abstractmethod
    def hello(self, name: str) -> str:
        """Return a greeting for ``name``."""

    @abstractmethod
    def greet(self, name: str) -> Greeting:
        """Return a greeting for ``name`` that says which instance served it."""


@component(name="hello-component", services=[HelloService])
class HelloComponent(Component):
    """The component hosting :class:`HelloService`."""
