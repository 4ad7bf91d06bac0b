"""ServiceManager.get_service: local shortcut, registry look-up, channels, caches, errors."""

import pytest

from container import (
    ChannelAddress,
    ComponentStatus,
    ConfigurationException,
    NoAddressException,
    ServiceNotFoundException,
    ServiceUnavailableException,
    call_options,
    channel_of,
    descriptor_of,
)

from .conftest import AppContainer
from .services import (
    CalculatorComponent,
    CalculatorComponentImpl,
    CalculatorError,
    CalculatorService,
    CalculatorServiceImpl,
    GreeterService,
    Tree,
)


def test_local_shortcut_returns_the_implementation_itself(manager):
    """A hosted service asked for without a channel is the implementation object itself."""
    calculator = manager.get_service(CalculatorService)
    assert type(calculator) is CalculatorServiceImpl
    assert manager.get_service(CalculatorService, "local") is calculator
    assert calculator.add(2, 3) == 5


def test_second_call_is_cached(manager):
    """A second get_service returns the very same object."""
    assert manager.get_service(CalculatorService) is manager.get_service(CalculatorService)


def test_implementation_created_through_application_container(app, manager):
    """The implementation comes from the app container's provider, dependencies injected."""
    app.clock.override(app.clock.cls(offset=100))
    calculator = manager.get_service(CalculatorService)
    assert calculator.add(1, 1) == 102
    assert calculator is app.calculator_impl()


def test_local_channel_proxy_calls_the_implementation(manager):
    """A proxy through the 'local' channel reaches the hosted implementation."""
    proxy = manager.proxy(CalculatorService, "local")
    assert not isinstance(proxy, CalculatorServiceImpl)
    assert isinstance(proxy, CalculatorService)
    assert proxy.add(40, b=2) == 42
    assert proxy.count(Tree("root", [Tree("a"), Tree("b", [Tree("c")])])) == 4
    with pytest.raises(CalculatorError, match="by zero"):
        proxy.divide(1, 0)


def test_remote_service_goes_through_registry_channel(manager):
    """A service not hosted here resolves to a proxy of the channel the registry offers."""
    greeter = manager.get_service(GreeterService)
    assert isinstance(greeter, GreeterService)
    assert type(greeter).__name__ == "GreeterServiceProxy"
    assert manager.get_service(GreeterService) is greeter
    # Nothing of this container's runtime listens at the URL the registry gave.
    with pytest.raises(
        ServiceUnavailableException, match="nothing in this runtime listens at inproc://nowhere"
    ):
        greeter.greet("x")


def test_set_preferred_channel(manager):
    """set_preferred_channel chooses the channel when get_service names none."""
    manager.set_preferred_channel("dispatch-nothing")
    greeter = manager.get_service(GreeterService)
    with pytest.raises(NoAddressException, match="not offered on channel 'dispatch-nothing'"):
        with call_options(timeout=0.2):
            greeter.greet("x")
    manager.set_preferred_channel("")
    assert channel_of(manager.get_service(GreeterService)).name == "local"


def test_undecorated_class_is_a_clear_error(manager):
    """get_service of a class that is no service names it and says what to do."""

    class NotAService:
        pass

    with pytest.raises(ServiceNotFoundException, match="NotAService is not a service"):
        manager.get_service(NotAService)
    with pytest.raises(ServiceNotFoundException, match="is not a class"):
        manager.get_service("calculator-service")


def test_component_type_is_refused(manager):
    """Components are not services to call; the error lists the component's services."""
    with pytest.raises(ServiceNotFoundException, match="ask for one of its services"):
        manager.get_service(CalculatorComponent)


def test_unknown_channel_in_the_registry_config_is_refused_when_the_manager_is_made():
    """A channel name without a plugin in the static registry's config is refused at once, naming the key."""
    app = AppContainer()
    app.config.from_dict(
        {
            "registry": {
                "type": "static",
                "components": {"ct-greeter-component": {"carrier-pigeon": ["coo://loft"]}},
            }
        }
    )
    with pytest.raises(ConfigurationException) as info:
        app.services.service_manager()
    message = str(info.value)
    assert "config key 'registry.components.ct-greeter-component.carrier-pigeon'" in message
    assert "'carrier-pigeon', which no plugin provides" in message
    assert "local" in message.partition("known channels: ")[2]


def test_lifecycle_virgin_running_stopped(manager):
    """Components go VIRGIN -> RUNNING -> STOPPED through startup and shutdown."""
    component = manager.get_instance(CalculatorComponentImpl)
    assert component.get_status() is ComponentStatus.VIRGIN
    manager.startup()
    assert component.get_status() is ComponentStatus.RUNNING
    assert "ct-calculator" in manager.report()
    manager.shutdown()
    assert component.get_status() is ComponentStatus.STOPPED


def test_registered_addresses_reach_watching_channels(manager):
    """Registering a component tells the channels that watch it its new URLs."""
    greeter = manager.get_service(GreeterService)
    channel = channel_of(greeter)
    assert channel.address.urls == ["inproc://nowhere"]
    greeter_component = descriptor_of(GreeterService).component_descriptor
    manager.component_registry.register(greeter_component, [ChannelAddress("local", "inproc://second")])
    assert channel.address.urls == ["inproc://nowhere", "inproc://second"]
    manager.component_registry.deregister(greeter_component)
    assert channel.address.urls == ["inproc://nowhere"]
