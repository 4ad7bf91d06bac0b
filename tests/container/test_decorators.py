"""Decorators build descriptors and the process catalog, and refuse bad declarations."""

from abc import abstractmethod

import pytest

from container import (
    Component,
    ComponentDescriptor,
    Service,
    ServiceDescriptor,
    ServiceNotFoundException,
    component,
    descriptor_of,
    implementation,
    service,
)
from container._descriptors import CATALOG

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


def test_catalog_by_type_and_by_name():
    """Descriptors are recorded by type and by name and know their component."""
    descriptor = CATALOG.by_name["calculator-service"]
    assert isinstance(descriptor, ServiceDescriptor)
    assert CATALOG.by_type[CalculatorService] is descriptor
    component_descriptor = descriptor.get_component_descriptor()
    assert isinstance(component_descriptor, ComponentDescriptor)
    assert component_descriptor.type is CalculatorComponent
    assert component_descriptor.services == [descriptor]
    assert descriptor.description == "adds numbers"


def test_implementation_is_recorded():
    """@implementation records the class on the descriptor of what it implements."""
    assert descriptor_of(CalculatorService).implementation is CalculatorServiceImpl
    assert descriptor_of(CalculatorComponent).implementation is CalculatorComponentImpl
    assert descriptor_of(GreeterService).implementation is None


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

        @component(name="ct-dup", services=[Second])
        class Clash(Component):
            pass

    assert "First" in str(info.value) and "Clash" in str(info.value)
    assert "'ct-dup'" in str(info.value)


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
