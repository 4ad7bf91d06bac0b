"""The exception hierarchy of servicewire.

Every error servicewire raises is a :class:`ServiceException`::

    ServiceException
    ├── LocalServiceException             detected here, before anything was sent
    │   ├── ConfigurationException        a config key is missing or has a bad value
    │   ├── ServiceNotFoundException      a type that is no @service / @component (also LookupError)
    │   ├── UnknownChannelException       no channel plugin of that name (also LookupError)
    │   ├── UnknownRegistryException      no registry plugin of that name (also LookupError)
    │   ├── PluginException               a plugin could not be loaded or is not the right kind
    │   ├── ListingNotSupportedException  the registry plugin cannot list its components
    │   ├── SerializationException        an argument cannot be encoded (also TypeError)
    │   └── BlockingCallException         sync code would wait on a thread that runs an
    │                                     event loop (also RuntimeError)
    ├── RemoteServiceException            the server answered with an error; whatever the
    │                                     server raised that is not an application exception
    │                                     (remote_type, remote_message, status, chain kept)
    └── ServiceCommunicationException     this caller could not complete the exchange (.sent)
        ├── NoAddressException            no URL is known for the component and channel
        ├── ServiceUnavailableException   no connection could be made (nothing was sent)
        ├── CallInterruptedException      the connection broke after the call was sent
        ├── ServiceTimeoutException       the deadline (or a connect limit) ran out
        └── InvalidResponseException      an answer arrived but could not be read

An application exception is a subclass of :class:`ServiceException` outside these three
branches (``class OutOfStock(ServiceException)``): it crosses the wire as itself, with its
attributes. servicewire's own exceptions never do: a server's failure reaches its caller as
:class:`RemoteServiceException`, so a :class:`ServiceCommunicationException` at a caller always
means that this caller could not complete the exchange.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._redact import redact_credentials
from ._status import Status


class ServiceException(Exception):
    """Root of every error raised by servicewire and of application errors meant to cross the wire.

    Subclass it (outside the three branches below) for errors that are part of a service
    interface: such an exception, raised by an implementation, is raised again as itself on
    the caller's side when the caller has imported its class, with the same attribute values
    and ``str()``.
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


class ListingNotSupportedException(LocalServiceException):
    """The registry plugin cannot list its components (it lacks the optional ``list_addresses``).

    Attributes:
        registry: the registry's class name.
    """

    def __init__(self, registry: str) -> None:
        super().__init__(
            f"the {registry} registry cannot list its components: it does not implement the optional "
            "ComponentRegistry.list_addresses() (docs/writing-a-registry-plugin.md); name the "
            "component, or use a registry that lists (static, file, etcd)"
        )
        self.registry = registry


class SerializationException(LocalServiceException, TypeError):
    """An argument of a call cannot be encoded by the channel's codec (nothing was sent)."""


class BlockingCallException(LocalServiceException, RuntimeError):
    """Sync code would wait, on a thread that runs an event loop, for a call (nothing was sent).

    The loop would stop until the call is over, or forever when the call needs that loop:
    await the async method there, or call a ``def`` method with
    :func:`~container.call_in_thread`.
    """


@attrs.frozen
class RemoteError:
    """One hop of a remote failure: what a server further down the call graph raised.

    Attributes:
        type: the public name of the exception type raised there.
        message: its message.
        path: the call that failed there, as ``component/service/method`` ("" if unknown).
    """

    type: str
    message: str
    path: str = ""

    def __str__(self) -> str:
        where = f" (in {self.path})" if self.path else ""
        return f"{self.type}: {self.message}{where}"


class RemoteServiceException(ServiceException):
    """The remote side answered the call with an error.

    Attributes:
        remote_type: the public name of the exception type raised remotely (for example
            ``builtins.KeyError``, ``container.ServiceUnavailableException``), or a protocol
            error name such as ``BadRequest``.
        remote_message: the message of the remote exception.
        status: the status the server answered with (HTTP-like: 400, 404, 413, 415, 500).
        chain: when the remote failure came from a further hop, what was raised there: the
            next hop first, the root cause last.
        error_id: the id under which the server logged the failure ("" when none).
        path: the call that failed, as ``component/service/method`` ("" if unknown).
        kind: the machine-readable reason the server gave with a refusal ("" when none): on
            a 400, the :class:`~container.codec.CodecErrorKind` value (``"wrong-type"``,
            ``"malformed"``, ...).
    """

    def __init__(
        self,
        remote_type: str,
        remote_message: str,
        status: int = 500,
        chain: tuple[RemoteError, ...] = (),
        error_id: str = "",
        path: str = "",
        *,
        kind: str = "",
    ) -> None:
        super().__init__(f"{remote_type}: {remote_message}")
        self.remote_type = remote_type
        self.remote_message = remote_message
        self.status = status
        self.chain = tuple(chain)
        self.error_id = error_id
        self.path = path
        self.kind = kind

    @property
    def root_cause(self) -> RemoteError:
        """The failure furthest down the call graph (this one when there is no chain)."""
        if self.chain:
            return self.chain[-1]
        return RemoteError(self.remote_type, self.remote_message, self.path)


class UnauthenticatedException(RemoteServiceException):
    """The server refused the call because it could not tell who is calling (HTTP 401).

    No credential was sent where the method needs one, or the credential is not valid
    (unknown, expired, badly signed). Nothing ran. ``remote_message`` says which.
    """


class PermissionDeniedException(RemoteServiceException):
    """The server knows who is calling and its rules do not let that caller call the method (HTTP 403).

    Nothing ran. ``remote_message`` names the caller and the method.
    """


class ServiceCommunicationException(ServiceException):
    """This caller could not complete the exchange with the remote side.

    The message and the URL never hold a URL's credentials (``user:password@`` is redacted
    to ``***@``): they end up in logs and on terminals.

    Attributes:
        url: the URL involved ("" when none was).
        sent: False when the request certainly did not reach a server, so the call may be
            tried elsewhere; True when it may have been received (at most once applies).
    """

    sent_by_default = True

    def __init__(self, message: str, url: str = "", sent: bool | None = None) -> None:
        super().__init__(redact_credentials(message))
        self.url = redact_credentials(url)
        self.sent = self.sent_by_default if sent is None else sent


class NoAddressException(ServiceCommunicationException):
    """No URL is known for a component on a channel (nothing was sent)."""

    sent_by_default = False


class ServiceUnavailableException(ServiceCommunicationException):
    """No connection could be made, or the server refused the call without running it.

    Nothing was sent to an implementation, so the call may be tried on another instance.
    """

    sent_by_default = False


class CallInterruptedException(ServiceCommunicationException):
    """The connection broke after the call was sent: it may or may not have run."""


class InvalidResponseException(ServiceCommunicationException):
    """An answer arrived but could not be read (malformed, of the wrong type, or too large)."""


class ServiceTimeoutException(ServiceCommunicationException):
    """The call's deadline, or the limit of one connection attempt, ran out.

    Attributes:
        limit: which limit ran out: ``"deadline"`` (the whole call) or ``"connect"`` (one
            connection attempt; nothing was sent).
        seconds: the limit in seconds.
    """

    def __init__(self, url: str, limit: str, seconds: float, sent: bool | None = None) -> None:
        what = "deadline" if limit == "deadline" else f"{limit} timeout"
        super().__init__(
            f"{what} of {round(seconds, 3):g}s expired calling {url or '(no URL)'}",
            url,
            limit != "connect" if sent is None else sent,
        )
        self.limit = limit
        self.seconds = round(seconds, 3)


FRAMEWORK_BRANCHES: tuple[type[ServiceException], ...] = (
    LocalServiceException,
    RemoteServiceException,
    ServiceCommunicationException,
)
"""Exceptions of these branches are servicewire's own: they are never revived from the wire."""


def is_application_exception(cls: type[BaseException]) -> bool:
    """Return True for exception classes that cross the wire as themselves.

    That is a proper subclass of :class:`ServiceException` outside servicewire's own branches.
    """
    return (
        issubclass(cls, ServiceException)
        and cls is not ServiceException
        and not issubclass(cls, FRAMEWORK_BRANCHES)
    )


def public_type_name(cls: type[BaseException]) -> str:
    """Return the name that identifies an exception type on the wire.

    That is its module and qualified name (``builtins.KeyError``, ``orders.errors.OutOfStock``);
    servicewire's own exceptions name their public module (``container.X``), because every
    public name's ``__module__`` is the module it is imported from.
    """
    return f"{cls.__module__}.{cls.__qualname__}"


def exception_fields(exc: BaseException) -> dict[str, Any]:
    """Return the public attributes an exception carries (its ``__dict__`` without ``_`` names)."""
    return {name: value for name, value in vars(exc).items() if not name.startswith("_")}


# statuses and exceptions

REMOTE_EXCEPTIONS: dict[int, type[RemoteServiceException]] = {
    Status.UNAUTHENTICATED: UnauthenticatedException,
    Status.PERMISSION_DENIED: PermissionDeniedException,
}
"""The RemoteServiceException subclass a caller raises for an error answer of a status (the
others raise :class:`RemoteServiceException` itself, with the status)."""


DEPENDENCY_FAILED = "dependency"
"""The envelope's ``kind`` (and :attr:`RemoteServiceException.kind`) of a relayed failure: the
implementation ran, and a call it made failed (see :func:`relayed_status`)."""


def remote_exception(
    status: int,
    remote_type: str,
    message: str,
    chain: tuple[RemoteError, ...] = (),
    error_id: str = "",
    path: str = "",
    *,
    kind: str = "",
) -> RemoteServiceException:
    """Return the exception for an error the server answered with: by its status.

    401 is an :class:`UnauthenticatedException`, 403 a :class:`PermissionDeniedException`, any
    other status a :class:`RemoteServiceException` carrying it (and the refusal's ``kind``). A
    relayed failure (``kind`` :data:`DEPENDENCY_FAILED`: the server's own call to a dependency
    was refused) is a plain :class:`RemoteServiceException` whatever its status: the caller's
    own credentials were not what failed.
    """
    cls = (
        RemoteServiceException
        if kind == DEPENDENCY_FAILED
        else REMOTE_EXCEPTIONS.get(status, RemoteServiceException)
    )
    return cls(remote_type, message, status, chain, error_id, path, kind=kind)


def relayed_status(exc: BaseException) -> int | None:
    """Return the status that relays a dependency's failure, or None for any other exception.

    A servicewire exception that an implementation's own call raised is a dependency's
    failure, not a secret: the server answers it with its status and its message (the
    dispatcher logs it once at WARNING). Its deadline passed: 504. No instance could be
    reached, none was known, or the connection broke: 503. The dependency refused the call
    (401, 403) or relayed one of these statuses itself: that status. Any other error answer
    of the dependency, or an answer that could not be read: 500. Everything else (a bug, a
    configuration error, an argument that cannot be encoded) returns None: the dispatcher
    hides it behind an error id and logs it at ERROR with its traceback.
    """
    if isinstance(exc, ServiceTimeoutException):
        return int(Status.DEADLINE_EXCEEDED)
    if isinstance(exc, InvalidResponseException):
        return int(Status.INTERNAL_ERROR)
    if isinstance(exc, ServiceCommunicationException):
        return int(Status.UNAVAILABLE)
    if isinstance(exc, RemoteServiceException):
        if exc.status in _RELAYED_STATUSES:
            return int(exc.status)
        return int(Status.INTERNAL_ERROR)
    return None


_RELAYED_STATUSES = frozenset(
    {Status.UNAUTHENTICATED, Status.PERMISSION_DENIED, Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED}
)


def not_run_exception(status: int, message: str, url: str) -> ServiceCommunicationException | None:
    """Return the exception for an answer saying the call did not run, or None for other statuses.

    503 (the server did not run it) is a :class:`ServiceUnavailableException` and 504 (its
    deadline passed before it ran) a :class:`ServiceTimeoutException`, both with ``sent`` False:
    nothing ran, so the call may go to another instance. (A 503 or 504 that relays a
    dependency's failure is not such an answer: the call ran; see :func:`relayed_status`.)
    """
    if status == Status.UNAVAILABLE:
        return ServiceUnavailableException(f"{url} did not run the call: {message}", url, sent=False)
    if status == Status.DEADLINE_EXCEEDED:
        return ServiceTimeoutException(url, "deadline", 0.0, sent=False)
    return None
