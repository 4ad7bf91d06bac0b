"""The default client transport of the HTTP channels: servicewire's keep-alive pool.

:class:`PoolTransport` writes each call in one buffer (request line, the configured header
fields, the codec's, the call's metadata, the body) on a pooled keep-alive connection
(:mod:`._connections`) and parses the answer with httptools, every step bounded by the call's
deadline. It is configured by the typed ``http`` section only (``headers``, ``tls``,
``pool_size``, ``max_response_size``, per component ``http.components.<name>.headers``); it has
no session, so credentials go through the credentials interceptor (``auth.credentials``).
"""

from __future__ import annotations

import ssl
from asyncio import get_running_loop
from collections.abc import Awaitable, Callable
from typing import Any

from container import (
    CallInterruptedException,
    ConfigurationException,
    InvalidResponseException,
    ServiceTimeoutException,
    ServiceUnavailableException,
)
from container.plugin import Request, Response, Settings, Transport

from ._aio_pool import AsyncPool
from ._connections import (
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    ExchangeError,
    Pool,
    ResponseTooLarge,
)
from ._settings import HttpSettings
from ._tls import client_context

Sender = Callable[[str, Request], Response]
"""Sends one call to a base URL: what a client transport gives for one component."""

AsyncSender = Callable[[str, Request], Awaitable[Response]]
"""Sends one call to a base URL from an event loop (a coroutine function)."""


class PoolTransport(Transport):
    """POSTs calls on a bounded pool of keep-alive connections shared by every calling thread.

    Args:
        settings: the servicewire settings (the ``http`` section: ``headers``, ``components``,
            ``tls``, ``pool_size``, ``max_response_size``).

    Raises:
        ConfigurationException: the TLS files of ``http.tls`` cannot be loaded.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.http = http = settings.section("http", HttpSettings)
        tls = http.tls
        context: Callable[[], ssl.SSLContext]
        if tls.verify is True and not tls.cert:
            # The default context (certifi's bundle) is loaded at the first https connection.
            context = _default_context
        else:
            # Files named in config are read now, so a wrong path fails at boot.
            configured = configured_context(http)
            context = lambda: configured  # noqa: E731
        self.pool = Pool(http.pool_size, context)
        self.async_pool = AsyncPool(http.connections_per_url, http.pool_size, context)
        self._senders: dict[str, Sender] = {}
        self._async_senders: dict[str, AsyncSender] = {}

    def _route(self, component: str) -> _Route:
        route = _Route(self, self.http.headers_of(component))
        self._senders[component] = route.send
        self._async_senders[component] = route.send_async
        return route

    def sender(self, component: str) -> Sender:
        """Return the function that sends calls to ``component`` (its header fields prepared once)."""
        return self._senders.get(component) or self._route(component).send

    def async_sender(self, component: str) -> AsyncSender:
        """Return the coroutine function that sends calls to ``component`` from an event loop."""
        return self._async_senders.get(component) or self._route(component).send_async

    def send(self, url: str, request: Request) -> Response:
        """POST the call to ``url`` and return the answer, its metadata included."""
        component = request.path.partition("/")[0]
        return (self._senders.get(component) or self.sender(component))(url, request)

    async def send_async(self, url: str, request: Request) -> Response:
        """POST the call to ``url`` from the running event loop, on that loop's connections."""
        component = request.path.partition("/")[0]
        return await (self._async_senders.get(component) or self.async_sender(component))(url, request)

    def close(self) -> None:
        """Close every pooled connection (those in use are closed when their call ends).

        The connections of an event loop running in another thread are closed on that loop.
        """
        self.pool.close()
        self.async_pool.close()

    async def aclose(self) -> None:
        """Close every pooled connection, those of the calling event loop at once."""
        self.close()


def _default_context() -> ssl.SSLContext:
    return client_context(True, None)


def configured_context(http: HttpSettings) -> ssl.SSLContext:
    """Return the client TLS context of ``http.tls`` (``verify``, ``cert``, ``key``).

    Raises:
        ConfigurationException: a file cannot be read, or the key does not match.
    """
    tls = http.tls
    cert = (tls.cert, tls.key) if tls.cert and tls.key else tls.cert
    try:
        return client_context(tls.verify, cert)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationException(
            f"config key 'http.tls': cannot load the client's TLS files: {exc}"
        ) from exc


class _Route:
    """How calls to one component are written: its header field lines, prepared once per content type."""

    __slots__ = ("_lines", "async_pool", "headers", "lower", "pool", "transport")

    def __init__(self, transport: PoolTransport, headers: dict[str, str]) -> None:
        self.transport = transport
        self.pool = transport.pool
        self.async_pool = transport.async_pool
        self.headers = {**headers, "Accept-Encoding": "identity"}  # never a compressed answer (gzip bombs)
        self.lower = frozenset(name.lower() for name in headers)
        self._lines: dict[str, str] = {}

    def lines(self, content_type: str, skip: frozenset[str] = frozenset()) -> str:
        """The configured and the codec's header field lines (without those in ``skip``)."""
        found = self._lines.get(content_type) if not skip else None
        if found is None:
            fields = {**self.headers, "Content-Type": content_type, "Accept": content_type}
            found = "".join(
                f"{name}: {value}\r\n" for name, value in fields.items() if name.lower() not in skip
            )
            if not skip:
                self._lines[content_type] = found
        return found

    def head(self, request: Request) -> str:
        """The header field lines of one call: the configured, the codec's, then the call's metadata."""
        metadata = request.wire_metadata()
        if self.lower and not self.lower.isdisjoint(metadata):
            # A call's metadata wins over a configured field of the same name: never both.
            head = self.lines(request.content_type, self.lower.intersection(metadata))
        else:
            head = self._lines.get(request.content_type) or self.lines(request.content_type)
        return head + "".join(f"{k}: {v}\r\n" for k, v in metadata.items())

    def exchange(self, url: str, request: Request) -> tuple[str, float, tuple[Any, ...]]:
        """What one call sends, for both pools: (the full URL, the connect time, the post's arguments)."""
        full_url = f"{url}/invoke/{request.path}"
        connect = request.connect_time(full_url)
        post = (
            url,
            "/invoke/" + request.path,
            request.body,
            self.head(request),
            connect,
            request.deadline,
            self.transport.http.max_response_size,
        )
        return full_url, connect, post

    def send(self, url: str, request: Request) -> Response:
        full_url, connect, post = self.exchange(url, request)
        try:
            answer = self.pool.post(*post)
        except _EXCHANGE_FAILURES as exc:
            raise _call_error(exc, full_url, request, connect) from exc
        return Response(*answer)

    async def send_async(self, url: str, request: Request) -> Response:
        full_url, connect, post = self.exchange(url, request)
        try:
            answer = await self.async_pool.for_loop(get_running_loop()).post(*post)
        except _EXCHANGE_FAILURES as exc:
            raise _call_error(exc, full_url, request, connect) from exc
        return Response(*answer)


_EXCHANGE_FAILURES = (
    ConnectTimeout,
    ConnectError,
    DeadlineExceeded,
    ExchangeError,
    ResponseTooLarge,
    ConfigurationException,
)


def _call_error(exc: Exception, full_url: str, request: Request, connect: float) -> Exception:
    """The documented exception for a failure of the exchange (container.plugin.Transport)."""
    if isinstance(exc, ConnectTimeout):
        return ServiceTimeoutException(full_url, "connect", connect)
    if isinstance(exc, ConnectError):
        return ServiceUnavailableException(f"cannot reach {full_url}: {exc}", full_url)
    if isinstance(exc, DeadlineExceeded):
        return ServiceTimeoutException(full_url, "deadline", request.timeout)
    if isinstance(exc, ResponseTooLarge):
        return InvalidResponseException(f"answer from {full_url} refused: {exc}", full_url)
    if isinstance(exc, ConfigurationException):  # the URL or the TLS settings: nothing was sent
        return ServiceUnavailableException(f"cannot call {full_url}: {exc}", full_url)
    return CallInterruptedException(f"connection to {full_url} broke during the call: {exc}", full_url)
