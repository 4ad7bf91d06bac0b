"""The client side of the HTTP channels: ``dispatch-json`` and ``dispatch-msgpack``.

:class:`HttpTransport` POSTs a call's bytes to ``{base}/invoke/{component}/{service}/{method}``
with the call's metadata as headers (and ``sw-timeout-ms``), and returns the answer's bytes,
with its metadata: every answer header that is not the transport's own.

A ``requests.Session`` per component is the customisation point (headers, ``auth``,
``verify``, ``cert``, proxies, adapters, hooks). When it asks for nothing beyond headers, auth
and TLS settings, calls go through a shared, bounded pool of keep-alive ``http.client``
connections whose reads are bounded by the deadline; otherwise through ``Session.send`` on a
session of the calling thread, so adapters, proxies and hooks apply.
"""

from __future__ import annotations

import re
import ssl
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from container import (
    CallInterruptedException,
    Channel,
    ConfigurationException,
    InvalidResponseException,
    ServiceTimeoutException,
    ServiceUnavailableException,
)
from container.plugin import (
    JSON_CODEC,
    MSGPACK_CODEC,
    RESERVED_RESPONSE_METADATA,
    Request,
    Response,
    Settings,
    Transport,
    URLShape,
    load_object,
)

from ._connections import (
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    ExchangeError,
    Pool,
    ResponseTooLarge,
    tls_failure,
)
from ._settings import HttpSettings
from ._tls import client_context

SessionCustomizer = Callable[[requests.Session, str], None]
"""A function that adjusts a new session; it receives the session and the component name."""

_customizers: list[SessionCustomizer] = []


def customize_session(customizer: SessionCustomizer) -> SessionCustomizer:
    """Register a session customizer for every container of the process (deprecated).

    Give customizers per container instead: in config, ``http.session_customizers:
    ["package.module:function"]``; in code, ``ServiceContainer(extensions=providers.Dict(
    {"http.session_customizers": [function]}))``. A customizer registered here still runs,
    after the container's own.

    Args:
        customizer: the function; returned unchanged, so this works as a decorator.

    Returns:
        ``customizer``.
    """
    warnings.warn(
        "customize_session registers for every container of the process: give session customizers "
        "per container with http.session_customizers in config, or "
        'ServiceContainer(extensions={"http.session_customizers": [...]}) in code',
        DeprecationWarning,
        stacklevel=2,
    )
    _customizers.append(customizer)
    return customizer


def remove_session_customizer(customizer: SessionCustomizer) -> None:
    """Unregister a customizer (sessions already created keep their settings)."""
    if customizer in _customizers:
        _customizers.remove(customizer)


def needs_requests(session: requests.Session) -> bool:
    """Return True when the session uses something only ``Session.send`` provides.

    That is: proxies (or proxies from the environment with ``trust_env``), response hooks,
    cookies, or a transport adapter other than a plain, non-retrying ``HTTPAdapter``.
    """
    if session.proxies or session.trust_env or session.cookies:
        return True
    if any(session.hooks.values()):
        return True
    for adapter in session.adapters.values():
        if type(adapter) is not HTTPAdapter or adapter.max_retries.total not in (0, None):
            return True
    return False


tls_context = client_context
"""The TLS context the HTTP transport uses for a session's ``verify`` and ``cert``."""


class _Route:
    """How calls to one component are sent: the session and what was read from it once."""

    def __init__(self, session: requests.Session, plain: bool, pool: Pool | None) -> None:
        self.session = session
        self.plain = plain
        self.pool = pool
        headers = _str_headers(session)
        for name in ("Connection", "Host", "Content-Length", "Transfer-Encoding"):
            headers.pop(name, None)
        headers["Accept-Encoding"] = "identity"  # answers are never decompressed: no gzip bomb
        for name, value in headers.items():
            if not _TOKEN.match(name) or "\r" in value or "\n" in value:
                raise ConfigurationException(f"the session header {name!r} cannot be sent: {value!r:.60}")
        self.headers = headers
        self.auth = session.auth
        self._lines: dict[str, str] = {}

    def lines(self, content_type: str) -> str:
        """The session's header field lines and the codec's, ready to send."""
        found = self._lines.get(content_type)
        if found is None:
            fields = {**self.headers, "Content-Type": content_type, "Accept": content_type}
            found = self._lines[content_type] = "".join(
                f"{name}: {value}\r\n" for name, value in fields.items()
            )
        return found


_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class _ThreadSessions(threading.local):
    sessions: dict[str, requests.Session] | None = None


class HttpTransport(Transport):
    """POSTs calls over HTTP/1.1 with keep-alive; one per ServiceManager and channel.

    Override :meth:`create_session` in a subclass for full control over the sessions (and set
    ``transport = YourTransport`` on a channel subclass); for small adjustments register a
    :func:`customize_session` function.

    Args:
        settings: the servicewire settings (``http`` section: ``trust_env``, ``pool_size``,
            ``max_response_size``).
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.http = settings.section("http", HttpSettings)
        self._customizers: list[SessionCustomizer] = [
            load_object(spec, f"config key 'http.session_customizers[{index}]'")
            for index, spec in enumerate(self.http.session_customizers)
        ]
        self._customizers.extend(settings.extensions.get("http.session_customizers", ()))
        self._routes: dict[str, _Route] = {}
        self._pools: dict[tuple[Any, Any], Pool] = {}
        self._thread = _ThreadSessions()
        self._made: list[requests.Session] = []
        self._lock = threading.Lock()

    def create_session(self, component: str) -> requests.Session:
        """Return a new session for calls to ``component``, adjusted by the session customizers.

        The container's customizers run first (``http.session_customizers`` in config, then
        the ``"http.session_customizers"`` extension given in code), then any registered with
        the deprecated :func:`customize_session`.
        """
        session = requests.Session()
        session.trust_env = self.http.trust_env
        tls = self.http.tls
        session.verify = tls.verify
        if tls.cert:
            session.cert = (tls.cert, tls.key) if tls.key else tls.cert
        for customizer in [*self._customizers, *_customizers]:
            customizer(session, component)
        return session

    def _route(self, component: str) -> _Route:
        route = self._routes.get(component)
        if route is None:
            with self._lock:
                route = self._routes.get(component)
                if route is None:
                    session = self.create_session(component)
                    self._made.append(session)
                    plain = not needs_requests(session)
                    route = _Route(session, plain, self._pool(session) if plain else None)
                    self._routes[component] = route
        return route

    def _pool(self, session: requests.Session) -> Pool:
        """Return the pool for a session's TLS settings (the caller holds the lock)."""
        key = (session.verify if isinstance(session.verify, (bool, str)) else True, _cert_key(session.cert))
        pool = self._pools.get(key)
        if pool is None:
            try:
                context = tls_context(session.verify, session.cert)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationException(f"cannot load the TLS settings of the session: {exc}") from exc
            pool = self._pools[key] = Pool(self.http.pool_size, context)
        return pool

    def send(self, url: str, request: Request) -> Response:
        """POST the call to ``url`` and return the answer (see the module docstring)."""
        component = request.path.partition("/")[0]
        route = self._routes.get(component) or self._route(component)
        full_url = f"{url}/invoke/{request.path}"
        metadata = request.wire_metadata()
        if route.auth is not None:
            fields = {**route.headers, "Content-Type": request.content_type, "Accept": request.content_type}
            metadata = _with_auth(route.auth, full_url, {**fields, **metadata})
            for name in fields:
                if metadata.get(name) == fields[name]:
                    del metadata[name]
        if route.pool is not None:
            lines = route.lines(request.content_type) + "".join(f"{k}: {v}\r\n" for k, v in metadata.items())
            return self._send_plain(route.pool, url, full_url, request, lines)
        headers = {**route.headers, "Content-Type": request.content_type, "Accept": request.content_type}
        return self._send_requests(component, full_url, request, {**headers, **metadata})

    def _send_plain(self, pool: Pool, base: str, full_url: str, request: Request, headers: str) -> Response:
        connect = request.connect_time(full_url)
        try:
            status, body, content_type, metadata = pool.post(
                base,
                "/invoke/" + request.path,
                request.body,
                headers,
                connect,
                request.deadline,
                self.http.max_response_size,
            )
        except _EXCHANGE_FAILURES as exc:
            raise _call_error(exc, full_url, request, connect) from exc
        except ConfigurationException as exc:
            raise ServiceUnavailableException(f"cannot call {full_url}: {exc}", full_url) from exc
        return Response(status, body, content_type, metadata)

    def _send_requests(
        self, component: str, full_url: str, request: Request, headers: dict[str, str]
    ) -> Response:
        session = self._thread_session(component)
        prepared = requests.PreparedRequest()
        prepared.method = "POST"
        prepared.url = full_url
        prepared.headers = requests.structures.CaseInsensitiveDict({**_str_headers(session), **headers})
        prepared.headers["Content-Length"] = str(len(request.body))
        prepared.body = request.body
        prepared.hooks = {"response": list(session.hooks.get("response", []))}
        prepared._cookies = None  # type: ignore[attr-defined]
        connect = request.connect_time(full_url)
        left = request.time_left(full_url)
        try:
            response = session.send(
                prepared,
                timeout=(connect, left),
                allow_redirects=False,
                proxies=session.proxies,
                verify=session.verify,
                cert=session.cert,
                stream=True,
            )
            body = _read_limited(response, self.http.max_response_size, request.deadline)
        except requests.ConnectTimeout as exc:
            raise ServiceTimeoutException(full_url, "connect", connect) from exc
        except requests.ReadTimeout as exc:
            raise ServiceTimeoutException(full_url, "deadline", request.timeout) from exc
        except requests.exceptions.SSLError as exc:
            # A refused handshake (or, with TLS 1.3, the server's alert about our certificate
            # on the first read): the request never reached the application.
            message = f"cannot reach {full_url}: {tls_failure(exc)}"
            raise ServiceUnavailableException(message, full_url) from exc
        except requests.ConnectionError as exc:
            if _nothing_sent(exc):
                raise ServiceUnavailableException(
                    f"cannot reach {full_url}: {_reason(exc)}", full_url
                ) from exc
            raise CallInterruptedException(
                f"connection to {full_url} broke during the call: {_reason(exc)}", full_url
            ) from exc
        except requests.RequestException as exc:
            raise CallInterruptedException(f"call to {full_url} failed: {exc}", full_url) from exc
        except _EXCHANGE_FAILURES as exc:
            raise _call_error(exc, full_url, request, connect) from exc
        if request.deadline is not None and time.monotonic() > request.deadline:
            # requests bounds each read, not the exchange: an answer that came too late is
            # reported as the timeout it is, never returned after the deadline.
            raise ServiceTimeoutException(full_url, "deadline", request.timeout)
        metadata = {
            name.lower(): value
            for name, value in response.headers.items()
            if name.lower() not in RESERVED_RESPONSE_METADATA
        }
        return Response(response.status_code, body, response.headers.get("Content-Type", ""), metadata)

    def _thread_session(self, component: str) -> requests.Session:
        sessions = self._thread.sessions
        if sessions is None:
            sessions = self._thread.sessions = {}
        session = sessions.get(component)
        if session is None:
            session = sessions[component] = self.create_session(component)
            with self._lock:
                self._made.append(session)
        return session

    def close(self) -> None:
        """Close every pooled connection and every session."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
            made, self._made = self._made, []
            self._routes.clear()
        for pool in pools:
            pool.close()
        for session in made:
            session.close()
        self._thread = _ThreadSessions()


_EXCHANGE_FAILURES = (ConnectTimeout, ConnectError, DeadlineExceeded, ExchangeError, ResponseTooLarge)


def _call_error(exc: Exception, full_url: str, request: Request, connect: float) -> Exception:
    """The documented exception for a failure of the exchange (see docs/calls.md)."""
    if isinstance(exc, ConnectTimeout):
        return ServiceTimeoutException(full_url, "connect", connect)
    if isinstance(exc, ConnectError):
        return ServiceUnavailableException(f"cannot reach {full_url}: {exc}", full_url)
    if isinstance(exc, DeadlineExceeded):
        return ServiceTimeoutException(full_url, "deadline", request.timeout)
    if isinstance(exc, ResponseTooLarge):
        return InvalidResponseException(f"answer from {full_url} refused: {exc}", full_url)
    return CallInterruptedException(f"connection to {full_url} broke during the call: {exc}", full_url)


def _read_limited(response: requests.Response, limit: int, deadline: float | None) -> bytes:
    """Read an answer's body, decoded, refusing it once it passes ``limit`` bytes or the deadline.

    A declared length over the limit is refused before reading; a compressed answer is counted
    as it is decompressed, so a gzip bomb stops at the limit instead of filling the memory.
    """
    try:
        declared = int(response.headers.get("Content-Length", "0"))
    except ValueError:
        declared = 0
    if declared > limit:
        response.close()
        raise ResponseTooLarge(f"it declares {declared} bytes, more than http.max_response_size ({limit})")
    parts: list[bytes] = []
    size = 0
    try:
        for part in response.raw.stream(65536, decode_content=True):
            size += len(part)
            if size > limit:
                raise ResponseTooLarge(f"it passed http.max_response_size ({limit} bytes)")
            if deadline is not None and time.monotonic() > deadline:
                raise DeadlineExceeded("the deadline passed while the answer was read")
            parts.append(part)
    except (ResponseTooLarge, DeadlineExceeded):
        response.close()
        raise
    except urllib3.exceptions.ReadTimeoutError as exc:
        response.close()
        raise DeadlineExceeded("the deadline passed while the answer was read") from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        response.close()
        raise ExchangeError(f"reading the answer failed: {exc}") from exc
    return b"".join(parts)


def _str_headers(session: requests.Session) -> dict[str, str]:
    return {k: v.decode("latin-1") if isinstance(v, bytes) else v for k, v in session.headers.items()}


def _cert_key(cert: Any) -> Any:
    return tuple(cert) if isinstance(cert, (list, tuple)) else cert


def _with_auth(auth: Any, url: str, headers: dict[str, str]) -> dict[str, str]:
    prepared = requests.PreparedRequest()
    prepared.url = url
    prepared.headers = requests.structures.CaseInsensitiveDict(headers)
    prepared.prepare_auth(auth, url)
    return dict(prepared.headers)


def _nothing_sent(exc: requests.ConnectionError) -> bool:
    # urllib3 wraps a failed connect in MaxRetryError(reason=NewConnectionError).
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _reason(exc: BaseException) -> str:
    # urllib3 nests the useful reason ("Connection refused") a few causes deep.
    seen = exc
    while seen.__context__ is not None and seen.__context__ is not seen:
        seen = seen.__context__
    return str(seen) if seen is not exc else str(exc)


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
