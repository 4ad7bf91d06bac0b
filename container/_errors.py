"""The exception hierarchy of servicewire.

Every error servicewire raises is a :class:`ServiceException`::

    ServiceException
    ├── LocalServiceException             detected here, before anything was sent
    │   ├── ConfigurationException        a config key is missing or has a bad value
    │   ├── ServiceNotFoundException      a type that is no @service / @component (also LookupError)
    │   ├── UnknownChannelException       no channel plugin of that name (also LookupError)
    │   ├── UnknownRegistryException      no registry plugin of that name (also LookupError)
    │   └── PluginException               a plugin could not be loaded or is not the right kind
    ├── RemoteServiceException            the remote side answered with an error
    │                                     (remote_type, message and HTTP-like status kept)
    └── ServiceCommunicationException     the call could not be carried
        ├── NoAddressException            no URL is known for the component and channel
        ├── ServiceUnavailableException   no connection could be made (nothing was sent)
        ├── CallInterruptedException      the connection broke after the call was sent
        └── ServiceTimeoutException       a connect or read time limit ran out (url, limit)

Subclass these for finer cases; application code should never need to catch bare Exception.
"""

from __future__ import annotations


class ServiceException(Exception):
    """Root of every error raised by servicewire and of errors meant to cross the wire.

    A subclass of this class that both sides of a remote call know (same module and name) is
    raised again as itself on the caller's side.
    """


class LocalServiceException(ServiceException):
    """An error detected in this process before any call left it."""


class ConfigurationException(LocalServiceException):
    """A configuration key is missing or holds a value of the wrong kind."""


class ServiceNotFoundException(LocalServiceException, LookupError):
    """A type was used as a service or component but is not decorated as one.

    Attributes:
        service_type: the type that was asked for.
    """

    def __init__(self, message: str, service_type: object = None) -> None:
        super().__init__(message)
        self.service_type = service_type


class UnknownChannelException(LocalServiceException, LookupError):
    """No channel plugin is known under the requested name.

    Attributes:
        name: the requested channel name.
        known: the names that are known.
    """

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown channel {name!r}; known channels: {', '.join(sorted(known)) or '(none)'}")
        self.name = name
        self.known = sorted(known)


class UnknownRegistryException(LocalServiceException, LookupError):
    """No registry plugin is known under the configured ``registry.type``.

    Attributes:
        name: the requested registry type.
        known: the names that are known.
    """

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"unknown registry type {name!r}; known registry types: {', '.join(sorted(known)) or '(none)'}"
        )
        self.name = name
        self.known = sorted(known)


class PluginException(LocalServiceException):
    """A plugin entry point could not be loaded or does not provide the right kind of class."""


class RemoteServiceException(ServiceException):
    """The remote side answered the call with an error.

    Attributes:
        remote_type: the qualified name of the exception type raised remotely
            (or a protocol error name such as ``BadRequest``).
        remote_message: the message of the remote exception.
        status: the status the server answered with (HTTP-like: 400, 404, 413, 415, 500).
    """

    def __init__(self, remote_type: str, remote_message: str, status: int = 500) -> None:
        super().__init__(f"{remote_type}: {remote_message}")
        self.remote_type = remote_type
        self.remote_message = remote_message
        self.status = status


class ServiceCommunicationException(ServiceException):
    """The call could not be carried to or back from the remote side."""


class NoAddressException(ServiceCommunicationException):
    """No URL is known for a component on a channel."""


class ServiceUnavailableException(ServiceCommunicationException):
    """No connection could be made to any URL of the component.

    Attributes:
        url: the last URL tried.
    """

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class CallInterruptedException(ServiceCommunicationException):
    """The connection broke after the call was sent: it may or may not have run.

    Attributes:
        url: the URL that was called.
    """

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class ServiceTimeoutException(ServiceCommunicationException):
    """A time limit ran out while connecting or waiting for the answer.

    Attributes:
        url: the URL that was called.
        limit: which limit ran out, ``"connect"`` or ``"read"``.
        seconds: the limit in seconds.
    """

    def __init__(self, url: str, limit: str, seconds: float) -> None:
        super().__init__(f"{limit} timeout of {seconds:g}s expired calling {url}")
        self.url = url
        self.limit = limit
        self.seconds = seconds
