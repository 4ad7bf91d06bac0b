"""The runtime: plugins, managers, hosting, the ServiceContainer, servers and clients."""
