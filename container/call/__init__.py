"""The call: context, calls and interceptors, transports and listeners, the dispatcher, proxies."""
