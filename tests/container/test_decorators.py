"""Decorators annotate classes with descriptors, record nothing else, and refuse bad declarations."""

import gc
from abc import abstractmethod

import pytest
from dependency_injector import providers

from container import (
    Component,
    ComponentDescriptor,
    Service,
    ServiceContainer,
    ServiceDescriptor,
    ServiceNotFoundException,
    component,
    descriptor_of,
    implementation,
    service,
)
from container.declarations._descriptors import CATALOG

from .services import (
    CalculatorComponent,
    CalculatorComponentImpl,
    CalculatorService,
    CalculatorServiceImpl,
    GreeterService,
)


def test_default_names_are_kebab_case():
    """An empty name becomes the class name in kebab case, as in the seed."""
    assert descriptor_of(CalculatorService).name == "calculator-service"
    assert descriptor_of(GreeterService).name == "ct-greeter"


def test_descriptors_annotate_the_classes_and_a_runtime_catalogs_them_by_name():
    """A descriptor is on its class, knows its component, and a container's catalog finds it by name."""
    descriptor = descriptor_of(CalculatorService)
    assert isinstance(descriptor, ServiceDescriptor)
    assert vars(CalculatorService)["__servicewire_descriptor__"] is descriptor
    manager = ServiceContainer(config=providers.Object({})).service_manager()
    try:
        assert manager.runtime.catalog.get(CalculatorService) is descriptor
        assert manager.runtime.catalog.services["calculator-service"] is descriptor
    finally:
        manager.close()
    component_descriptor = descriptor.get_component_descriptor()
    assert isinstance(component_descriptor, ComponentDescriptor)
    assert component_descriptor.type is CalculatorComponent
    assert component_descriptor.services == [descriptor]
    assert descriptor.description == "adds numbers"


def test_implementation_is_recorded_as_metadata():
    """@implementation records which class implements what; it hosts nothing by itself."""
    assert descriptor_of(CalculatorService).implementation is CalculatorServiceImpl
    assert descriptor_of(CalculatorComponent).implementation is CalculatorComponentImpl
    assert descriptor_of(GreeterService).implementation is None
    assert CATALOG.implementations[CalculatorService] == [CalculatorServiceImpl], "the older read-only view"


def test_decorators_keep_no_table_a_class_that_is_gone_is_forgotten():
    """Nothing at module level holds a declared class: once unreachable, no view of the process lists it."""

    def declare() -> None:
        @service(name="ct-ephemeral")
        class Ephemeral(Service):
            @abstractmethod
            def a(self) -> int: ...

        @component(name="ct-ephemeral-component", services=[Ephemeral])
        class EphemeralComponent(Component):
            pass

        @implementation()
        class EphemeralImpl(Ephemeral):
            def a(self) -> int:
                return 1

        assert CATALOG.components["ct-ephemeral-component"].type is EphemeralComponent

    declare()
    gc.collect()
    assert "ct-ephemeral-component" not in CATALOG.components
    assert "ct-ephemeral" not in CATALOG.services


def test_methods_are_the_interface_public_methods():
    """Only methods declared by the interface are public, with resolved type hints."""
    methods = descriptor_of(CalculatorService).methods
    assert sorted(methods) == ["add", "count", "divide"]
    assert methods["add"].parameter_types == {"a": int, "b": int}
    assert methods["add"].return_type is int
    assert methods["count"].idempotent and not methods["add"].idempotent


def test_duplicate_name_names_both_classes():
    """Two classes claiming one name is an error naming both."""

    @service(name="ct-dup")
    class First(Service):
        @abstractmethod
        def a(self) -> None: ...

    @service(name="ct-dup-2")
    class Second(Service):
        @abstractmethod
        def a(self) -> None: ...

    @component(name="ct-dup-component", services=[First])
    class FirstComponent(Component):
        pass

    with pytest.raises(ValueError) as info:

        @component(name="ct-dup-component", services=[Second])
        class Clash(Component):
            pass

    assert "FirstComponent" in str(info.value) and "Clash" in str(info.value)
    assert "'ct-dup-component'" in str(info.value)


def test_a_component_and_a_service_may_share_a_name():
    """Component and service names are separate namespaces, as on the wire."""

    @service(name="ct-shared-name")
    class Shared(Service):
        @abstractmethod
        def a(self) -> None: ...

    @component(name="ct-shared-name", services=[Shared])
    class SharedComponent(Component):
        pass

    assert descriptor_of(SharedComponent).name == descriptor_of(Shared).name == "ct-shared-name"
    assert CATALOG.components["ct-shared-name"].type is SharedComponent
    assert CATALOG.services["ct-shared-name"].type is Shared


def test_a_service_listed_by_two_components_is_refused():
    """A service belongs to one component: listing it again names both components."""

    @service(name="ct-owned")
    class Owned(Service):
        @abstractmethod
        def a(self) -> None: ...

    @component(name="ct-owner", services=[Owned])
    class Owner(Component):
        pass

    with pytest.raises(ValueError, match=r"ct-owned|Owned.*listed by two components.*Owner.*Thief"):

        @component(name="ct-thief", services=[Owned])
        class Thief(Component):
            pass

    assert descriptor_of(Owned).component_descriptor.type is Owner


@pytest.mark.parametrize("name", ["a/b", "../etc", "with space", "%2f", "-leading", "x" * 129, "ünï"])
def test_names_outside_the_alphabet_are_refused(name):
    """Names become URL path segments and registry keys: only letters, digits, '-', '_', '.'."""

    @service(name="ct-alphabet-ok")
    class Fine(Service):
        @abstractmethod
        def a(self) -> None: ...

    with pytest.raises(ValueError, match="is not allowed: use letters, digits"):

        @component(name=name, services=[Fine])
        class Bad(Component):
            pass


def test_component_without_services_is_refused():
    """A component must list at least one service."""
    with pytest.raises(ValueError, match="EmptyComponent declares no services"):

        @component(name="ct-empty")
        class EmptyComponent(Component):
            pass


def test_component_listing_undecorated_class_is_refused():
    """Every entry of services=[...] must be a @service."""

    class Plain(Service):
        pass

    with pytest.raises(TypeError, match="Plain.*not decorated with @service"):

        @component(name="ct-plain", services=[Plain])
        class PlainComponent(Component):
            pass


def test_service_must_derive_from_service():
    """@service on a class that is not a Service says so."""
    with pytest.raises(TypeError, match="subclass of container.Service"):
        service()(int)


def test_implementation_of_nothing_is_refused():
    """@implementation on a class that implements no decorated interface is an error."""
    with pytest.raises(ServiceNotFoundException, match="Orphan implements no @service"):

        @implementation()
        class Orphan:
            pass
