"""The public surface of `container` is pinned: adding or removing a name is deliberate."""

import container

EXPECTED = {
    "CATALOG",
    "CHANNELS",
    "CHANNEL_GROUP",
    "REGISTRIES",
    "REGISTRY_GROUP",
    "SELECTORS",
    "AbstractComponent",
    "BaseDescriptor",
    "CallInterruptedException",
    "Channel",
    "ChannelAddress",
    "ChannelInstances",
    "ChannelManager",
    "Component",
    "ComponentDescriptor",
    "ComponentRegistry",
    "ComponentStatus",
    "ConfigurationException",
    "FirstURLSelector",
    "Health",
    "HealthCheckManager",
    "HealthResult",
    "HealthStatus",
    "Invocation",
    "LeastInFlightURLSelector",
    "LocalServiceException",
    "MethodDescriptor",
    "NoAddressException",
    "PluginException",
    "PluginGroup",
    "RandomURLSelector",
    "RemoteServiceException",
    "RoundRobinURLSelector",
    "Server",
    "Service",
    "ServiceCommunicationException",
    "ServiceClient",
    "ServiceContainer",
    "ServiceDescriptor",
    "ServiceException",
    "ServiceInstanceProvider",
    "ServiceManager",
    "ServiceNotFoundException",
    "ServiceTimeoutException",
    "ServiceUnavailableException",
    "URLSelector",
    "UnknownChannelException",
    "UnknownRegistryException",
    "WatchList",
    "channel",
    "component",
    "connect",
    "create_registry",
    "descriptor_of",
    "find_service_manager_provider",
    "health",
    "health_check",
    "health_checks",
    "idempotent",
    "implementation",
    "selector_by_name",
    "service",
}


def test_all_is_pinned():
    """__all__ lists exactly the documented names."""
    assert set(container.__all__) == EXPECTED


def test_every_exported_name_exists_and_is_documented():
    """Every exported class and function is importable and has a docstring."""
    for name in container.__all__:
        value = getattr(container, name)
        if callable(value):
            assert value.__doc__, f"{name} has no docstring"


def test_selectors_reachable_from_channel():
    """The selectors are reachable as Channel.FirstURLSelector etc., as in the seed."""
    assert container.Channel.FirstURLSelector is container.FirstURLSelector
    assert container.Channel.RoundRobinURLSelector is container.RoundRobinURLSelector


def test_exception_tree():
    """The three branches derive from ServiceException; precise errors from their branch."""
    assert issubclass(container.LocalServiceException, container.ServiceException)
    assert issubclass(container.RemoteServiceException, container.ServiceException)
    assert issubclass(container.ServiceCommunicationException, container.ServiceException)
    assert issubclass(container.ServiceTimeoutException, container.ServiceCommunicationException)
    assert issubclass(container.UnknownChannelException, LookupError)
    assert issubclass(container.ServiceNotFoundException, LookupError)
