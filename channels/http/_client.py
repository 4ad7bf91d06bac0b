"""The client side of the HTTP channels: ``dispatch-json`` and ``dispatch-msgpack``.

:class:`HttpTransport` POSTs a call's bytes to ``{base}/invoke/{component}/{service}/{method}``
with the call's metadata as headers (and ``sw-timeout-ms``), and returns the answer's bytes and
its metadata. Each component's calls go through the client transport that config chooses for it:

- ``pool`` (the default): :class:`PoolTransport`, servicewire's keep-alive pool on httptools,
  configured by the typed ``http`` settings only;
- ``requests``: :class:`RequestsTransport`, a ``requests.Session`` per component, for
  adapters, proxies, hooks and auth objects; the session customizers apply there.

The choice is read from config (``http.client``, ``http.components.<name>.client``), never from
a session; customizing sessions while no component uses requests is refused at boot.
"""

from __future__ import annotations

from typing import NoReturn

import requests

from container import Channel, ConfigurationException
from container.codec import JSON_CODEC, MSGPACK_CODEC
from container.plugin import Request, Response, Settings, Transport, URLShape

from ._pool_transport import AsyncSender, PoolTransport, Sender
from ._requests_transport import RequestsTransport, SessionCustomizer
from ._settings import HttpSettings, requests_not_chosen

_REMOVED = (
    "customize_session was removed in servicewire 0.3: it customized the requests sessions of every "
    "container of the process, and calls now go through the pool unless config chooses requests. "
    "Give header fields as http.headers; credentials as auth.credentials; for adapters, proxies, "
    "hooks or auth objects set http.client: requests and give the function as "
    'http.session_customizers ["package.module:function"] in config, or in code as '
    'ServiceContainer(extensions={"http.session_customizers": [function]})'
)


def customize_session(customizer: SessionCustomizer) -> NoReturn:
    """Removed in 0.3: raises, saying what to use instead (see the message).

    Raises:
        ConfigurationException: always.
    """
    raise ConfigurationException(_REMOVED)


def remove_session_customizer(customizer: SessionCustomizer) -> NoReturn:
    """Removed in 0.3 with :func:`customize_session`: raises, saying what to use instead.

    Raises:
        ConfigurationException: always.
    """
    raise ConfigurationException(_REMOVED)


class HttpTransport(Transport):
    """The HTTP channels' transport: each component's calls go through the pool or requests.

    One per ServiceManager and channel. ``http.client`` chooses the client transport of every
    component (``"pool"`` by default), ``http.components.<name>.client`` that of one component.
    Override :meth:`create_session` in a subclass to make the sessions of the requests client
    yourself (and set ``transport = YourTransport`` on a channel subclass).

    Args:
        settings: the servicewire settings (the ``http`` section).

    Raises:
        ConfigurationException: sessions are customized (session customizers given in code, or
            :meth:`create_session` overridden) while no component uses the requests client; the
            TLS files of ``http.tls`` cannot be read; a customizer does not import.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.http = http = settings.section("http", HttpSettings)
        if not http.uses_requests():
            if settings.extensions.get("http.session_customizers"):
                raise ConfigurationException(requests_not_chosen('the extension "http.session_customizers"'))
            if type(self).create_session is not HttpTransport.create_session:
                raise ConfigurationException(
                    requests_not_chosen(f"{type(self).__qualname__}.create_session (overridden)")
                )
        default_is_pool = http.client == "pool"
        uses_pool = default_is_pool or any(c.client == "pool" for c in http.components.values())
        self.pool = PoolTransport(settings) if uses_pool else None
        self.requests = RequestsTransport(settings, self.create_session) if http.uses_requests() else None
        self._senders: dict[str, Sender] = {}
        self._async_senders: dict[str, AsyncSender] = {}

    def create_session(self, component: str) -> requests.Session:
        """Return a new session for calls to ``component`` on the requests client.

        The default is :meth:`RequestsTransport.create_session`: the typed settings, then the
        session customizers (``http.session_customizers`` in config, then the
        ``"http.session_customizers"`` extension given in code).
        """
        assert self.requests is not None, "sessions are made only for the requests client"
        return RequestsTransport.create_session(self.requests, component)

    def sender(self, component: str) -> Sender:
        """Return the function that sends calls to ``component``, by the client config chose for it."""
        found = self._senders.get(component)
        if found is None:
            transport = self.pool if self.http.client_of(component) == "pool" else self.requests
            assert transport is not None
            found = self._senders[component] = transport.sender(component)
        return found

    def send(self, url: str, request: Request) -> Response:
        """POST the call to ``url`` and return the answer (see the module docstring)."""
        component = request.path.partition("/")[0]
        return (self._senders.get(component) or self.sender(component))(url, request)

    def async_sender(self, component: str) -> AsyncSender:
        """Return the coroutine function that sends calls to ``component`` from an event loop.

        The pool's asyncio client; for a component on the requests client, its sync ``send``
        run in the runtime's thread pool (requests has no asyncio side).
        """
        found = self._async_senders.get(component)
        if found is None:
            if self.http.client_of(component) == "pool":
                assert self.pool is not None
                found = self.pool.async_sender(component)
            else:
                found = self._send_in_thread
            self._async_senders[component] = found
        return found

    async def _send_in_thread(self, url: str, request: Request) -> Response:
        return await super().send_async(url, request)

    async def send_async(self, url: str, request: Request) -> Response:
        """POST the call to ``url`` from the running event loop and return the answer."""
        component = request.path.partition("/")[0]
        return await (self._async_senders.get(component) or self.async_sender(component))(url, request)

    def close(self) -> None:
        """Close every pooled connection and every session."""
        self._senders.clear()
        self._async_senders.clear()
        for transport in (self.pool, self.requests):
            if transport is not None:
                transport.close()

    async def aclose(self) -> None:
        """Close every pooled connection (the calling loop's at once) and every session."""
        self.close()


class HttpChannel(Channel):
    """Base of the HTTP channels; subclasses choose the codec.

    The server side is the :class:`~channels.http.HttpServer` itself (or the WSGI application
    under any WSGI server), so the channel has no listener of its own.
    """

    codec = JSON_CODEC
    schemes = ("http", "https")
    url_shapes = (URLShape.HOST_PORT,)  # a host, no credentials, no query: see docs/security.md
    transport = HttpTransport


class DispatchJsonChannel(HttpChannel):
    """HTTP channel with JSON bodies (``application/json``)."""

    name = "dispatch-json"
    codec = JSON_CODEC


class DispatchMsgpackChannel(HttpChannel):
    """HTTP channel with MessagePack bodies (``application/msgpack``)."""

    name = "dispatch-msgpack"
    codec = MSGPACK_CODEC
