"""Metadata of services and components, and the process catalog that records them."""

from __future__ import annotations

import builtins
import inspect
import re
import threading
import typing
from typing import Any, Generic, TypeVar

from ..values._errors import ServiceNotFoundException
from ._component import Component, Service

T = TypeVar("T")

_DESCRIPTOR_ATTRIBUTE = "__servicewire_descriptor__"
IDEMPOTENT_ATTRIBUTE = "__servicewire_idempotent__"


def default_name(cls: type) -> str:
    """Return the seed's default name of a class: ``HelloService`` -> ``hello-service``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", cls.__name__).lower()


class MethodDescriptor:
    """A public method of a service interface, with its resolved type hints.

    Attributes:
        service: the descriptor of the declaring service.
        name: the method name.
        signature: the method's signature (``self`` included).
        parameters: the parameters after ``self``, in order.
        parameter_types: the type hint of each parameter (``Any`` when missing).
        return_type: the return type hint (``Any`` when missing).
        idempotent: whether a call that was already sent may be retried.
    """

    __slots__ = (
        "idempotent",
        "name",
        "parameter_types",
        "parameters",
        "return_type",
        "service",
        "signature",
    )

    def __init__(self, service: ServiceDescriptor[Any], function: Any) -> None:
        self.service = service
        self.name: str = function.__name__
        self.signature = inspect.signature(function)
        try:
            hints = typing.get_type_hints(function)
        except Exception as exc:  # unresolvable forward reference: name it
            raise ServiceNotFoundException(
                f"cannot resolve the type hints of {service.type.__qualname__}.{self.name}: {exc}",
                service.type,
            ) from exc
        self.parameters = list(self.signature.parameters.values())[1:]
        self.parameter_types: dict[str, Any] = {p.name: hints.get(p.name, Any) for p in self.parameters}
        self.return_type: Any = hints.get("return", Any)
        self.idempotent: bool = bool(getattr(function, IDEMPOTENT_ATTRIBUTE, False))

    @property
    def path(self) -> str:
        """Return ``component/service/method``, the method's address on the wire."""
        return f"{self.service.component_descriptor.name}/{self.service.name}/{self.name}"

    def __repr__(self) -> str:
        return f"<MethodDescriptor {self.service.type.__qualname__}.{self.name}{self.signature}>"


class BaseDescriptor(Generic[T]):
    """Metadata common to services and components.

    Attributes:
        type: the decorated interface.
        decorator: the decorator that produced the descriptor (:func:`service` or
            :func:`component`; None for a class that is not decorated).
        name: the name on the wire and in registries.
        description: free text.
    """

    def __init__(self, type: type[T], decorator: Any = None) -> None:
        self.type = type
        meta: dict[str, Any] = vars(type).get("__servicewire_meta__", {})
        self.decorator = decorator if decorator is not None else meta.get("decorator")
        self.name: str = meta.get("name") or default_name(type)
        self.description: str = meta.get("description", "")

    @property
    def implementation(self) -> builtins.type | None:
        """The ``@implementation`` class of this interface that was defined last, or None.

        This is metadata about classes: which components a process *hosts* is decided by the
        application container (see :class:`~container.ServiceManager`), never by this.
        """
        known = CATALOG.implementations.get(self.type)
        return known[-1] if known else None

    def get_component_descriptor(self) -> ComponentDescriptor[Any]:
        """Return the component this descriptor belongs to (itself for a component)."""
        raise NotImplementedError

    def is_component(self) -> bool:
        """Return True for a component descriptor."""
        return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.type.__qualname__}>"


class ServiceDescriptor(BaseDescriptor[T]):
    """Metadata of a service interface hosted by a component."""

    def __init__(self, component_descriptor: ComponentDescriptor[Any], service_type: type[T]) -> None:
        super().__init__(service_type)
        self.component_descriptor = component_descriptor
        self._methods: dict[str, MethodDescriptor] | None = None
        self._lock = threading.Lock()

    def get_component_descriptor(self) -> ComponentDescriptor[Any]:
        """Return the hosting component's descriptor."""
        return self.component_descriptor

    @property
    def methods(self) -> dict[str, MethodDescriptor]:
        """The public methods of the interface, by name (resolved on first use)."""
        methods = self._methods
        if methods is None:
            with self._lock:
                if self._methods is None:
                    self._methods = {
                        name: MethodDescriptor(self, function)
                        for name, function in public_methods(self.type).items()
                    }
                methods = self._methods
        return methods


class ComponentDescriptor(BaseDescriptor[T]):
    """Metadata of a component interface and the services it hosts.

    Attributes:
        services: the descriptors of the hosted services.
        health_endpoint: the ``@health`` endpoint of the implementation, or None.
    """

    def __init__(self, component_type: type[T], service_types: list[type]) -> None:
        super().__init__(component_type)
        self.services: list[ServiceDescriptor[Any]] = [ServiceDescriptor(self, t) for t in service_types]
        self.health_endpoint: str | None = None

    def get_component_descriptor(self) -> ComponentDescriptor[T]:
        """Return itself."""
        return self

    def is_component(self) -> bool:
        """Return True."""
        return True

    def service(self, name: str) -> ServiceDescriptor[Any] | None:
        """Return the hosted service called ``name``, or None."""
        for descriptor in self.services:
            if descriptor.name == name:
                return descriptor
        return None


def public_methods(interface: type) -> dict[str, Any]:
    """Return the public methods a service interface declares, by name.

    Methods come from the interface and its bases, except :class:`~container.Service`,
    :class:`~container.Component` and ``object``; names starting with ``_`` are never public.
    """
    excluded = {Service, Component, object}
    found: dict[str, Any] = {}
    for klass in reversed(interface.__mro__):
        if klass in excluded or klass.__module__ == "abc":
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or not inspect.isfunction(value):
                continue
            found[name] = value
    return found


NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
"""The alphabet of component and service names: letters, digits, ``-``, ``_`` and ``.``.

A name becomes a segment of URL paths and registry keys, so nothing in it may forge one
(no ``/``, no ``%``, no spaces); it starts with a letter or a digit, at most 128 characters.
"""


def check_name(name: str, cls: type) -> None:
    """Refuse a component or service name outside :data:`NAME`'s alphabet.

    Raises:
        ValueError: the name, the class and the allowed alphabet.
    """
    if not NAME.match(name):
        raise ValueError(
            f"name {name!r} of {_qualified(cls)} is not allowed: use letters, digits, '-', '_' and "
            "'.', starting with a letter or a digit, at most 128 characters (names become URL "
            "path segments and registry keys)"
        )


class Catalog:
    """The process catalog: metadata of the decorated interfaces and implementation classes.

    Component names and service names are separate namespaces (they are separate segments of
    a call's path). It records what classes *are*; what a process *hosts* belongs to its
    application container.
    """

    def __init__(self) -> None:
        self.by_type: dict[type, BaseDescriptor[Any]] = {}
        self.components: dict[str, ComponentDescriptor[Any]] = {}
        self.services: dict[str, ServiceDescriptor[Any]] = {}
        self.implementations: dict[type, list[type]] = {}
        self._lock = threading.Lock()

    def add_component(self, descriptor: ComponentDescriptor[Any]) -> None:
        """Record a component and its services.

        Raises:
            ValueError: a name is outside the allowed alphabet; another class uses the
                component's name, or one of its services' names; a service is already listed
                by another component (each message names both classes).
        """
        check_name(descriptor.name, descriptor.type)
        for service in descriptor.services:
            check_name(service.name, service.type)
        with self._lock:
            other = self.components.get(descriptor.name)
            if other is not None and not _same_class(other.type, descriptor.type):
                raise ValueError(
                    f"duplicate component name {descriptor.name!r}: used by "
                    f"{_qualified(other.type)} and {_qualified(descriptor.type)}"
                )
            for service in descriptor.services:
                owner = self.by_type.get(service.type)
                if isinstance(owner, ServiceDescriptor) and not _same_class(
                    owner.component_descriptor.type, descriptor.type
                ):
                    raise ValueError(
                        f"service {_qualified(service.type)} is listed by two components: "
                        f"{_qualified(owner.component_descriptor.type)} and {_qualified(descriptor.type)}"
                    )
                named = self.services.get(service.name)
                if named is not None and not _same_class(named.type, service.type):
                    raise ValueError(
                        f"duplicate service name {service.name!r}: used by "
                        f"{_qualified(named.type)} and {_qualified(service.type)}"
                    )
            self.components[descriptor.name] = descriptor
            self.by_type[descriptor.type] = descriptor
            for service in descriptor.services:
                self.services[service.name] = service
                self.by_type[service.type] = service

    def add_implementation(self, cls: type) -> list[BaseDescriptor[Any]]:
        """Record an ``@implementation`` class; return the descriptors of what it implements."""
        with self._lock:
            implemented = [self.by_type[base] for base in cls.__mro__[1:] if base in self.by_type]
            for descriptor in implemented:
                known = self.implementations.setdefault(descriptor.type, [])
                known[:] = [k for k in known if not _same_class(k, cls)] + [cls]
            return implemented

    def interfaces_of(self, cls: type) -> list[BaseDescriptor[Any]]:
        """Return the descriptors of the decorated interfaces ``cls`` derives from."""
        return [self.by_type[base] for base in cls.__mro__[1:] if base in self.by_type]

    def get(self, cls: type) -> BaseDescriptor[Any]:
        """Return the descriptor of a decorated service or component.

        Raises:
            ServiceNotFoundException: ``cls`` is not a registered service or component.
        """
        descriptor = self.by_type.get(cls)
        if descriptor is None:
            raise ServiceNotFoundException(_explain_missing(cls), cls)
        return descriptor


def _same_class(a: type, b: type) -> bool:
    # A module imported twice (reload, `python -m` plus import) redefines the same class.
    return a is b or _qualified(a) == _qualified(b)


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _explain_missing(cls: object) -> str:
    if not isinstance(cls, type):
        return f"{cls!r} is not a class; get_service expects a @service interface"
    meta = vars(cls).get("__servicewire_meta__")
    if meta is not None and meta.get("kind") == "service":
        return f"{_qualified(cls)} is a @service but no @component lists it in services=[...]"
    return (
        f"{_qualified(cls)} is not a service: decorate the interface with @service() and "
        "list it in a @component(services=[...])"
    )


CATALOG = Catalog()
"""The catalog of this process; the decorators write to it."""
