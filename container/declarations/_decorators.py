"""The decorators that declare services, components, implementations and channels.

They only annotate the classes they decorate (and a component's service classes with their
component) and refuse at once what cannot work; nothing is recorded at module level. What a
process hosts is decided by its application containers, each with its own runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..values._errors import PluginException, ServiceNotFoundException
from ._checks import check_service
from ._component import Component, Service
from ._descriptors import (
    IDEMPOTENT_ATTRIBUTE,
    ComponentDescriptor,
    ServiceDescriptor,
    declare_component,
    declare_implementation,
    descriptor_for,
    public_methods,
)
from ._health import CHECKS_ATTRIBUTE, EVERY_COMPONENT_ATTRIBUTE

_C = TypeVar("_C", bound=type)
_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])


def service(name: str = "", description: str = "") -> Callable[[_C], _C]:
    """Declare a service interface.

    Args:
        name: the service name on the wire; ``HelloService`` becomes ``hello-service`` when
            empty.
        description: free text shown in reports.

    Returns:
        The class decorator.

    Raises:
        TypeError: the class is no Service, or a method has a shape servicewire does not
            support (a parameter or result without an annotation, a generator, an iterator
            or an awaitable anywhere in a declared type, a type the codec cannot carry); the
            message names the method and the parameter, and says what is supported.
    """

    def decorate(cls: _C) -> _C:
        if not (isinstance(cls, type) and issubclass(cls, Service)):
            raise TypeError(f"@service expects a subclass of container.Service, got {cls!r}")
        check_service(cls, public_methods(cls))
        cls.__servicewire_meta__ = {  # type: ignore[attr-defined]
            "kind": "service",
            "name": name,
            "description": description,
            "decorator": service,
        }
        return cls

    return decorate


def component(
    name: str = "", description: str = "", services: list[type] | None = None
) -> Callable[[_C], _C]:
    """Declare a component interface and the services it hosts.

    Args:
        name: the component name on the wire and in registries; the class name in kebab case
            when empty.
        description: free text shown in reports.
        services: the ``@service`` interfaces this component hosts (at least one).

    Returns:
        The class decorator.

    Raises:
        TypeError: the class is no Component, or an entry of ``services`` is no ``@service``.
        ValueError: ``services`` is empty, or a name is already used by another class.
    """
    service_types = list(services or [])

    def decorate(cls: _C) -> _C:
        if not (isinstance(cls, type) and issubclass(cls, Component)):
            raise TypeError(f"@component expects a subclass of container.Component, got {cls!r}")
        if not service_types:
            raise ValueError(
                f"component {cls.__qualname__} declares no services: "
                "pass @component(services=[SomeService, ...])"
            )
        for service_type in service_types:
            meta = vars(service_type).get("__servicewire_meta__") if isinstance(service_type, type) else None
            if not meta or meta.get("kind") != "service":
                raise TypeError(
                    f"component {cls.__qualname__} lists {service_type!r}, "
                    "which is not decorated with @service()"
                )
        cls.__servicewire_meta__ = {  # type: ignore[attr-defined]
            "kind": "component",
            "name": name,
            "description": description,
            "decorator": component,
        }
        declare_component(ComponentDescriptor(cls, service_types))
        return cls

    return decorate


def implementation() -> Callable[[_C], _C]:
    """Declare a class as the implementation of a service or component interface.

    This records metadata only: importing a module of ``@implementation`` classes hosts
    nothing. A process hosts a component when its application container provides an
    implementation class of it (``inventory = providers.Singleton(InventoryServiceImpl)``);
    the instance then comes from that provider, dependencies injected.

    Returns:
        The class decorator.

    Raises:
        ServiceNotFoundException: the class implements no decorated service or component.
    """

    def decorate(cls: _C) -> _C:
        if not declare_implementation(cls):
            raise ServiceNotFoundException(
                f"@implementation {cls.__qualname__} implements no @service listed by a "
                "@component, and no @component",
                cls,
            )
        return cls

    return decorate


def health(endpoint: str = "") -> Callable[[_C], _C]:
    """Declare the health endpoint of a component implementation.

    The HTTP server always serves ``/health/{component}``; a non-empty ``endpoint`` path is
    served as well.

    Args:
        endpoint: an extra path for the component's health document, for example ``"/health"``.

    Returns:
        The class decorator (above or below ``@implementation()``).
    """

    def decorate(cls: _C) -> _C:
        cls.__servicewire_health__ = endpoint  # type: ignore[attr-defined]
        return cls

    return decorate


def health_checks(component: type | None = None) -> Callable[[type[_T]], type[_T]]:
    """Declare a class whose ``@health_check`` methods contribute to component health.

    The class is created by each hosting container: through its provider when the container
    provides the class (``db_checks = providers.Singleton(DbChecks, pool=pool)``), otherwise
    with no arguments. A class that cannot be created reports ERROR in the health document.

    This annotates the component class named: the checks apply wherever that class or a
    subclass of it is hosted. Without a component they apply to every component of the
    containers that provide the class (``checks = providers.Singleton(DiskChecks)``), and to
    none of the others: any module of the process may declare such a class, and one
    application's checks must not make another's containers unhealthy.

    Args:
        component: the component interface or implementation whose health these checks
            affect; when None, every component of a container that provides the class.

    Returns:
        The class decorator.
    """
    target = Component if component is None else component
    attribute = EVERY_COMPONENT_ATTRIBUTE if component is None else CHECKS_ATTRIBUTE

    def decorate(cls: type[_T]) -> type[_T]:
        declared = vars(target).get(attribute, ())
        if cls not in declared:
            setattr(target, attribute, (*declared, cls))
        return cls

    return decorate


def channel(name: str) -> Callable[[_C], _C]:
    """Declare a :class:`~container.Channel` subclass as the channel called ``name``.

    Entry points in the ``servicewire.channels`` group are the way for distributions; this
    decorator is for channels defined in application code and tests. It only marks the class:
    the channel plugins find marked classes when the name is asked for (a marked class wins
    over an entry point of the same name).

    Args:
        name: the channel name, for example ``"dispatch-json"``.

    Returns:
        The class decorator.

    Raises:
        PluginException: the class is not a Channel subclass.
    """

    def decorate(cls: _C) -> _C:
        # Channel carries this marker; naming the class would import a higher layer.
        if not (isinstance(cls, type) and getattr(cls, CHANNEL_MARKER, False)):
            raise PluginException(
                f"channel {name!r} from @channel is {cls!r}, not a subclass of container.Channel"
            )
        cls.name = name  # type: ignore[attr-defined]
        setattr(cls, CHANNEL_NAME_ATTRIBUTE, name)
        return cls

    return decorate


CHANNEL_MARKER = "__servicewire_channel_class__"
"""The attribute that ``Channel`` sets to True, so that ``@channel`` can check its argument."""

CHANNEL_NAME_ATTRIBUTE = "__servicewire_channel__"
"""The attribute ``@channel(name)`` sets on the class it marks (in the class's own namespace)."""


def idempotent(function: _F) -> _F:
    """Mark a service method as idempotent: a call already sent may be retried elsewhere.

    Args:
        function: the interface method.

    Returns:
        The same function, marked.
    """
    setattr(function, IDEMPOTENT_ATTRIBUTE, True)
    return function


def descriptor_of(cls: type) -> ServiceDescriptor[Any] | ComponentDescriptor[Any]:
    """Return the descriptor of a decorated service or component interface.

    Raises:
        ServiceNotFoundException: ``cls`` is not one.
    """
    return descriptor_for(cls)  # type: ignore[return-value]
