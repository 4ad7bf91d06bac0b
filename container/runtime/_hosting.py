"""What an application container hosts: the components whose implementations it provides.

Hosting is declared the dependency-injector way. A container that provides an
``@implementation`` class (``inventory = providers.Singleton(InventoryServiceImpl)``, a
``Factory`` or a ``Callable`` of it, in the container or in a container it includes) hosts that
class's component, and the implementation object comes from that provider, its dependencies
injected. Importing a module hosts nothing, and two containers in one process can host
different components.

The other pieces of a hosted component (its component implementation, usually just
``get_addresses``, and services whose implementations the container does not provide) come
from the ``@implementation`` class known for their interface, created with no arguments; when
none is known, or several are, the error says what to provide.
"""

from __future__ import annotations

import threading
from typing import Any

from dependency_injector import providers

from ..declarations._checks import mismatched_methods, unimplemented_methods
from ..declarations._descriptors import (
    BaseDescriptor,
    Catalog,
    ComponentDescriptor,
    implementations_of,
    interfaces_of,
    is_implementation,
)
from ..declarations._health import HealthCheckManager, Runner, check_classes_for
from ..values._errors import ConfigurationException

_PROVIDER_KINDS = (providers.BaseSingleton, providers.Factory, providers.Callable)


def provided_implementations(application: Any) -> dict[type, Any]:
    """Return the ``@implementation`` classes an application container provides, with their providers.

    In declaration order: components start in the order their implementations are declared.
    """
    found: dict[type, Any] = {}
    for provider in _declared_providers(application):
        provides = getattr(provider, "provides", None)
        if isinstance(provides, type) and is_implementation(provides) and interfaces_of(provides):
            found.setdefault(provides, provider)
    return found


def _declared_providers(application: Any) -> list[Any]:
    """Every class provider of a container and the containers it includes, in declaration order.

    ``traverse()`` finds them all, nested ones included, but in no particular order; the
    container's own ``providers`` mapping keeps the order they were declared in.
    """
    if application is None or not hasattr(application, "traverse"):
        return []
    everything = list(application.traverse(types=list(_PROVIDER_KINDS)))
    ordered: list[Any] = []
    seen: set[int] = set()

    def visit(container: Any) -> None:
        for provider in getattr(container, "providers", {}).values():
            if isinstance(provider, providers.Container):
                visit(provider.container)
            elif isinstance(provider, _PROVIDER_KINDS) and id(provider) not in seen:
                seen.add(id(provider))
                ordered.append(provider)

    visit(application)
    return ordered + [p for p in everything if id(p) not in seen]


class Hosting:
    """The components one application container hosts, and the objects made for them.

    Args:
        application: the application container (None: nothing is hosted).
        catalog: the runtime's catalog, where the hosted components are added.
        runner: runs async health checks asked for from sync code (the runtime's background
            loop).

    Raises:
        ConfigurationException: two hosted components (or services) have one name.
    """

    def __init__(
        self, application: Any, catalog: Catalog | None = None, runner: Runner | None = None
    ) -> None:
        self.application = application
        self._runner = runner
        self._provided = provided_implementations(application)
        self.components: list[ComponentDescriptor[Any]] = []
        for cls in self._provided:
            for descriptor in interfaces_of(cls):
                component = descriptor.get_component_descriptor()
                if component not in self.components:
                    self.components.append(component)
        if catalog is not None:
            for component in self.components:
                catalog.add(component)
        self._instances: dict[type, Any] = {}
        self._classes: dict[type, type] = {}
        self._health: dict[str, HealthCheckManager] = {}
        self._lock = threading.RLock()

    def hosts(self, descriptor: BaseDescriptor[Any]) -> bool:
        """Return True when this container hosts the component of ``descriptor``."""
        return descriptor.get_component_descriptor() in self.components

    def implementation_class(self, descriptor: BaseDescriptor[Any]) -> type:
        """Return the class that implements ``descriptor`` here: provided, else the one known.

        Raises:
            ConfigurationException: none is provided and none (or more than one) is known.
        """
        found = self._classes.get(descriptor.type)
        if found is None:
            found = self._classes[descriptor.type] = self._implementation_class(descriptor)
        return found

    def _implementation_class(self, descriptor: BaseDescriptor[Any]) -> type:
        for cls in self._provided:
            if issubclass(cls, descriptor.type):
                return cls
        known = implementations_of(descriptor.type)
        if len(known) == 1:
            return known[0]
        kind = "component" if isinstance(descriptor, ComponentDescriptor) else "service"
        if not known:
            raise ConfigurationException(
                f"{kind} {descriptor.name!r} ({descriptor.type.__qualname__}) is hosted by this container "
                "but has no implementation: decorate a class with @implementation() and provide it, "
                f"for example `impl = providers.Singleton(My{descriptor.type.__name__}Impl)`"
            )
        names = ", ".join(k.__qualname__ for k in known)
        raise ConfigurationException(
            f"{kind} {descriptor.name!r} has several @implementation classes ({names}): provide the one "
            "this container uses, for example `impl = providers.Singleton(...)`"
        )

    def instance(self, cls: type) -> Any:
        """Return this container's object of an implementation class, made once.

        It comes from the container's provider of the class (so its dependencies are injected),
        else from the class's no-argument constructor.
        """
        found = self._instances.get(cls)
        if found is None:
            with self._lock:
                found = self._instances.get(cls)
                if found is None:
                    provider = self._provided.get(cls)
                    found = provider() if provider is not None else cls()
                    self._instances[cls] = found
        return found

    def instance_of(self, descriptor: BaseDescriptor[Any]) -> Any:
        """Return the object implementing ``descriptor`` (a hosted service or component)."""
        return self.instance(self.implementation_class(descriptor))

    def check(self) -> None:
        """Make sure every hosted component and service has a complete implementation.

        Raises:
            ConfigurationException: one has none, or several are known and none is provided,
                or its implementation leaves methods of the interface unimplemented, or
                implements an ``async def`` method with ``def`` or the reverse (named).
        """
        for component in self.components:
            for descriptor in (component, *component.services):
                cls = self.implementation_class(descriptor)
                missing = unimplemented_methods(descriptor.type, cls)
                if missing:
                    raise ConfigurationException(
                        f"{cls.__qualname__}, the implementation of {descriptor.name!r} hosted by this "
                        f"container, does not implement {', '.join(missing)}: the interface's "
                        "declaration would run instead and answer None; implement "
                        f"{'it' if len(missing) == 1 else 'them'} in {cls.__qualname__}"
                    )
                other_way = mismatched_methods(descriptor.type, cls)
                if other_way:
                    raise ConfigurationException(
                        f"{'; '.join(other_way)}: an implementation keeps the way its interface "
                        "declares each method (callers given the implementation itself await it, "
                        "or not, as the interface says); make them alike (docs/async.md)"
                    )

    def health_checks(self, component: ComponentDescriptor[Any]) -> HealthCheckManager:
        """Return the health checks of a hosted component, made through the container."""
        manager = self._health.get(component.name)
        if manager is None:
            with self._lock:
                manager = self._health.get(component.name)
                if manager is None:
                    component_class = self.implementation_class(component)
                    manager = HealthCheckManager.build(
                        check_classes_for(component_class, self._provides),
                        self._check_instance,
                        self._runner,
                    )
                    self._health[component.name] = manager
        return manager

    def _provides(self, cls: type) -> bool:
        return bool(_providers_of(self.application, cls))

    def _check_instance(self, cls: type) -> Any:
        for provider in _providers_of(self.application, cls):
            return provider()
        return cls()

    def health_endpoint(self, component: ComponentDescriptor[Any]) -> str | None:
        """Return the extra health path a hosted component's implementation declares, or None."""
        return getattr(self.implementation_class(component), "__servicewire_health__", None) or None


def _providers_of(application: Any, cls: type) -> list[Any]:
    return [
        provider
        for provider in _declared_providers(application)
        if getattr(provider, "provides", None) is cls
    ]
