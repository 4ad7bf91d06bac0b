"""Metadata of services and components: the decorators' annotations, and a runtime's catalog.

The decorators only annotate classes: ``@component`` attaches a :class:`ComponentDescriptor`
to the component class and a :class:`ServiceDescriptor` to each of its service classes,
``@implementation`` marks a class. Questions about classes (which interfaces does this class
implement, which implementations does this interface have) are answered from the annotations
and the class graph; what a container hosts is its runtime's :class:`Catalog`.
"""

from __future__ import annotations

import builtins
import inspect
import itertools
import re
import threading
import typing
from typing import Any, Generic, TypeVar

from ..values._errors import ConfigurationException, ServiceNotFoundException
from ._checks import check_method
from ._component import Component, Service

T = TypeVar("T")

DESCRIPTOR_ATTRIBUTE = "__servicewire_descriptor__"
"""The attribute ``@component`` annotates a component class and its service classes with."""
IMPLEMENTATION_ATTRIBUTE = "__servicewire_implementation__"
"""The attribute ``@implementation`` annotates a class with: its declaration's sequence number."""
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
        return_type: the return type hint (``Any`` when missing); for an ``async def`` method,
            what awaiting it gives.
        idempotent: whether a call that was already sent may be retried.
        is_async: True for an ``async def`` method: its proxy method is a coroutine function
            and its calls are awaited.
    """

    __slots__ = (
        "idempotent",
        "is_async",
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
        check_method(service.type, self.name, function, hints)
        self.idempotent: bool = bool(getattr(function, IDEMPOTENT_ATTRIBUTE, False))
        self.is_async: bool = inspect.iscoroutinefunction(function)

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
        known = implementations_of(self.type)
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
    """

    def __init__(self, component_type: type[T], service_types: list[type]) -> None:
        super().__init__(component_type)
        self.services: list[ServiceDescriptor[Any]] = [ServiceDescriptor(self, t) for t in service_types]

    @property
    def health_endpoint(self) -> str | None:
        """The ``@health`` endpoint of :attr:`implementation`, or None (read from its annotation)."""
        implementation = self.implementation
        return getattr(implementation, "__servicewire_health__", None) if implementation is not None else None

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


def annotated(cls: object) -> BaseDescriptor[Any] | None:
    """Return the descriptor a decorator annotated ``cls`` itself with, or None."""
    if not isinstance(cls, type):
        return None
    found = vars(cls).get(DESCRIPTOR_ATTRIBUTE)
    return found if isinstance(found, BaseDescriptor) else None


def descriptor_for(cls: object) -> BaseDescriptor[Any]:
    """Return the descriptor of a decorated service or component interface.

    Raises:
        ServiceNotFoundException: ``cls`` is not one (the message says what to decorate).
    """
    found = annotated(cls)
    if found is None:
        raise ServiceNotFoundException(_explain_missing(cls), cls)
    return found


def interfaces_of(cls: type) -> list[BaseDescriptor[Any]]:
    """Return the descriptors of the decorated interfaces ``cls`` derives from."""
    found = []
    for base in cls.__mro__[1:]:
        descriptor = annotated(base)
        if descriptor is not None:
            found.append(descriptor)
    return found


def subclasses(cls: type) -> list[type]:
    """Return every live subclass of ``cls``, at any depth (the class graph, not a table)."""
    found: list[type] = []
    seen: set[type] = set()
    pending = [cls]
    while pending:
        subclass: type
        for subclass in pending.pop().__subclasses__():
            if subclass not in seen:
                seen.add(subclass)
                found.append(subclass)
                pending.append(subclass)
    return found


def is_implementation(cls: type) -> bool:
    """Return True when ``cls`` itself is decorated with ``@implementation()``."""
    return isinstance(vars(cls).get(IMPLEMENTATION_ATTRIBUTE), int)


def implementations_of(interface: type) -> list[type]:
    """Return the ``@implementation`` classes of an interface, in the order they were declared.

    Found through the class graph (the subclasses of the interface that carry the
    annotation). Of classes with one qualified name (a module imported twice), the last one
    declared stands for them.
    """
    by_name: dict[str, type] = {}
    for cls in sorted(
        (c for c in subclasses(interface) if is_implementation(c)),
        key=lambda c: int(vars(c)[IMPLEMENTATION_ATTRIBUTE]),
    ):
        by_name.pop(_qualified(cls), None)
        by_name[_qualified(cls)] = cls
    return list(by_name.values())


_declared = itertools.count()
"""Orders ``@implementation`` classes: the sequence number each one is annotated with."""


def declare_component(descriptor: ComponentDescriptor[Any]) -> None:
    """Check a new component declaration and annotate its classes (the ``@component`` work).

    The component class and each of its service classes are annotated with their
    descriptors; nothing is recorded anywhere else.

    Raises:
        ValueError: a name is outside the allowed alphabet; another class uses the component's
            name, or one of its services' names; a service is already listed by another
            component (each message names both classes).
    """
    check_name(descriptor.name, descriptor.type)
    for service in descriptor.services:
        check_name(service.name, service.type)
    for other in _declared_components():
        if other.name == descriptor.name and not _same_class(other.type, descriptor.type):
            raise ValueError(
                f"duplicate component name {descriptor.name!r}: used by "
                f"{_qualified(other.type)} and {_qualified(descriptor.type)}"
            )
    services = _declared_services()
    for service in descriptor.services:
        owner = annotated(service.type)
        if isinstance(owner, ServiceDescriptor) and not _same_class(
            owner.component_descriptor.type, descriptor.type
        ):
            raise ValueError(
                f"service {_qualified(service.type)} is listed by two components: "
                f"{_qualified(owner.component_descriptor.type)} and {_qualified(descriptor.type)}"
            )
        for named in services:
            if named.name == service.name and not _same_class(named.type, service.type):
                raise ValueError(
                    f"duplicate service name {service.name!r}: used by "
                    f"{_qualified(named.type)} and {_qualified(service.type)}"
                )
    setattr(descriptor.type, DESCRIPTOR_ATTRIBUTE, descriptor)
    for service in descriptor.services:
        setattr(service.type, DESCRIPTOR_ATTRIBUTE, service)


def declare_implementation(cls: type) -> list[BaseDescriptor[Any]]:
    """Annotate an ``@implementation`` class; return the descriptors of what it implements."""
    implemented = interfaces_of(cls)
    if implemented:
        setattr(cls, IMPLEMENTATION_ATTRIBUTE, next(_declared))
    return implemented


def declared_components() -> dict[str, ComponentDescriptor[Any]]:
    """Return the components declared by the classes of this process, by name (the class graph)."""
    return {component.name: component for component in _declared_components()}


def _declared_components() -> list[ComponentDescriptor[Any]]:
    found = (annotated(cls) for cls in subclasses(Component))
    return [d for d in found if isinstance(d, ComponentDescriptor)]


def _declared_services() -> list[ServiceDescriptor[Any]]:
    found = (annotated(cls) for cls in subclasses(Service))
    return [d for d in found if isinstance(d, ServiceDescriptor)]


class Catalog:
    """What one runtime's containers declare and host: descriptors by type and by name.

    Each runtime has its own, filled as its containers find what they host (their providers)
    and what they are asked for (``get_service``); the descriptors themselves come from the
    decorators' annotations. Component names and service names are separate namespaces (they
    are separate segments of a call's path).

    Attributes:
        by_type: descriptors by interface.
        components: component descriptors by name.
        services: service descriptors by name.
    """

    def __init__(self) -> None:
        self.by_type: dict[type, BaseDescriptor[Any]] = {}
        self.components: dict[str, ComponentDescriptor[Any]] = {}
        self.services: dict[str, ServiceDescriptor[Any]] = {}
        self._lock = threading.Lock()

    def get(self, cls: object) -> BaseDescriptor[Any]:
        """Return the descriptor of a decorated interface, adding its component when new.

        Raises:
            ServiceNotFoundException: ``cls`` is not a decorated service or component.
            ConfigurationException: another class of this catalog has its component's name.
        """
        found = self.by_type.get(cls) if isinstance(cls, type) else None
        if found is None:
            found = descriptor_for(cls)
            self.add(found.get_component_descriptor())
        return found

    def add(self, descriptor: ComponentDescriptor[Any]) -> None:
        """Add a component and its services.

        Raises:
            ConfigurationException: another class of this catalog uses one of their names.
        """
        with self._lock:
            other = self.components.get(descriptor.name)
            if other is descriptor:
                return
            if other is not None:
                raise ConfigurationException(
                    f"two components named {descriptor.name!r} in one container: "
                    f"{_qualified(other.type)} and {_qualified(descriptor.type)}"
                )
            for service in descriptor.services:
                named = self.services.get(service.name)
                if named is not None and named is not service:
                    raise ConfigurationException(
                        f"two services named {service.name!r} in one container: "
                        f"{_qualified(named.type)} and {_qualified(service.type)}"
                    )
            self.components[descriptor.name] = descriptor
            self.by_type[descriptor.type] = descriptor
            for service in descriptor.services:
                self.services[service.name] = service
                self.by_type[service.type] = service

    def __len__(self) -> int:
        return len(self.components)

    def __repr__(self) -> str:
        return f"<Catalog of {', '.join(sorted(self.components)) or 'nothing'}>"


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


class _DeclaredClasses:
    """The decorated classes of this process, read from their annotations: for older code.

    Releases before the runtime kept a process-wide catalog that the decorators wrote to;
    plugins written then may read ``container.CATALOG``. This view answers the same
    questions from the class graph and the annotations; nothing writes to it.
    """

    @property
    def by_type(self) -> dict[type, BaseDescriptor[Any]]:
        """Descriptors of every declared component and service, by interface."""
        found: dict[type, BaseDescriptor[Any]] = {}
        for component in _declared_components():
            found[component.type] = component
            found.update((service.type, service) for service in component.services)
        return found

    @property
    def components(self) -> dict[str, ComponentDescriptor[Any]]:
        """Component descriptors by name."""
        return {component.name: component for component in _declared_components()}

    @property
    def services(self) -> dict[str, ServiceDescriptor[Any]]:
        """Service descriptors by name."""
        return {service.name: service for service in _declared_services()}

    @property
    def implementations(self) -> dict[type, list[type]]:
        """The ``@implementation`` classes of each declared interface."""
        return {cls: implementations_of(cls) for cls in self.by_type if implementations_of(cls)}

    def interfaces_of(self, cls: type) -> list[BaseDescriptor[Any]]:
        """Return the descriptors of the decorated interfaces ``cls`` derives from."""
        return interfaces_of(cls)

    def get(self, cls: type) -> BaseDescriptor[Any]:
        """Return the descriptor of a decorated service or component."""
        return descriptor_for(cls)


CATALOG = _DeclaredClasses()
"""Older releases' process catalog, now a read-only view of the annotations (see above)."""
