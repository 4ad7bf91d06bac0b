"""The client side of the HTTP channels: ``dispatch-json`` and ``dispatch-msgpack``.

One ``requests.Session`` per thread and channel keeps connections alive; a session is never
shared between threads, because requests does not promise that sessions are thread-safe.

Calls do not go through ``Session.request``: that merges environment settings, cookies and
defaults on every call, which a channel does not need. The channel prepares the request itself
from the session's headers and auth and hands it to ``Session.send``, so the session stays the
customisation point (headers, auth, certificates, proxies, adapters, response hooks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar

import requests
import urllib3
from requests.structures import CaseInsensitiveDict

from container import (
    CallInterruptedException,
    Channel,
    ChannelInstances,
    ComponentDescriptor,
    Invocation,
    MethodDescriptor,
    ServiceCommunicationException,
    ServiceManager,
    ServiceTimeoutException,
    ServiceUnavailableException,
)
from container.codec import JSON_CODEC, MSGPACK_CODEC, Codec, CodecError, MethodCodec, codec_for, decode_error

from ._connections import (
    ConnectError,
    Connections,
    ConnectTimeout,
    ExchangeError,
    ReadTimeout,
    needs_requests,
)
from ._settings import Timeouts, timeouts_for, trust_env

SessionCustomizer = Callable[[requests.Session, str], None]
"""A function that adjusts a new session; it receives the session and the component name."""

_customizers: list[SessionCustomizer] = []


def customize_session(customizer: SessionCustomizer) -> SessionCustomizer:
    """Register a function that adjusts every new HTTP channel session.

    It runs once per session (one per thread and component), with the session and the
    component name, before the session's first call. Use it for headers, ``session.auth``
    (an auth object runs on every call, so it can refresh tokens), certificates
    (``session.verify``, ``session.cert``), proxies, mounted adapters or response hooks.

    Example::

        @customize_session
        def bearer_token(session: requests.Session, component: str) -> None:
            session.headers["Authorization"] = f"Bearer {os.environ['API_TOKEN']}"

    Args:
        customizer: the function; returned unchanged, so this works as a decorator.

    Returns:
        ``customizer``.
    """
    _customizers.append(customizer)
    return customizer


def remove_session_customizer(customizer: SessionCustomizer) -> None:
    """Unregister a customizer (sessions already created keep their settings)."""
    if customizer in _customizers:
        _customizers.remove(customizer)


class _MethodPlan:
    """What a channel precomputes per method: codec, path and limits."""

    __slots__ = ("codec", "path", "request_timeout", "timeouts")

    def __init__(self, codec: MethodCodec, path: str, timeouts: Timeouts) -> None:
        self.codec = codec
        self.path = path
        self.timeouts = timeouts
        self.request_timeout = timeouts.as_requests()


class _ThreadSession(threading.local):
    session: requests.Session | None = None
    headers: CaseInsensitiveDict[str] | None = None
    plain_headers: dict[str, str] | None = None
    connections: Connections | None = None


class HttpChannel(Channel):
    """Base of the HTTP channels; subclasses choose the codec.

    Override :meth:`create_session` for full control over the session; for small adjustments
    register a :func:`customize_session` function.
    """

    codec: ClassVar[Codec] = JSON_CODEC

    def __init__(self) -> None:
        super().__init__()
        self._plans: dict[MethodDescriptor, _MethodPlan] = {}
        self._local = _ThreadSession()
        self._sessions: list[tuple[requests.Session, Connections | None]] = []
        self._sessions_lock = threading.Lock()
        self._config: Any = {}

    def setup(
        self,
        component_descriptor: ComponentDescriptor[Any],
        address: ChannelInstances,
        manager: ServiceManager | None = None,
    ) -> None:
        """Bind to the component and read the channel's settings from the manager's config."""
        super().setup(component_descriptor, address, manager)
        self._config = manager.config if manager is not None else {}
        for service in component_descriptor.services:
            for method in service.methods.values():
                self._plan(method)  # validates timeout settings now, not at the first call

    # sessions

    def create_session(self) -> requests.Session:
        """Return a new session for one thread; runs the registered customizers."""
        session = requests.Session()
        session.trust_env = trust_env(self._config)
        component = self.component_descriptor.name if self.component_descriptor else ""
        for customizer in list(_customizers):
            customizer(session, component)
        return session

    def _thread_state(self) -> _ThreadSession:
        local = self._local
        if local.session is None:
            session = self.create_session()
            headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(session.headers)  # type: ignore[arg-type]
            headers["Content-Type"] = self.codec.content_type
            headers["Accept"] = self.codec.content_type
            local.session, local.headers = session, headers
            if not needs_requests(session):
                # http.client does not decompress: ask for the body as it is.
                local.plain_headers = {**headers, "Accept-Encoding": "identity"}
                local.plain_headers.pop("Connection", None)
                local.connections = Connections(session)
            with self._sessions_lock:
                self._sessions.append((session, local.connections))
        return local

    def close(self) -> None:
        """Close every thread's session and its connections."""
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session, connections in sessions:
            if connections is not None:
                connections.close()
            session.close()
        self._local = _ThreadSession()

    # calls

    def _plan(self, method: MethodDescriptor) -> _MethodPlan:
        plan = self._plans.get(method)
        if plan is None:
            component = method.service.component_descriptor.name
            timeouts = timeouts_for(self._config, component, method.service.name, method.name)
            plan = _MethodPlan(MethodCodec(method, self.codec), "/invoke/" + method.path, timeouts)
            self._plans[method] = plan
        return plan

    def invoke(self, invocation: Invocation) -> Any:
        """Send the call to the next URL and decode the answer.

        Raises:
            ServiceTimeoutException: the connect or read limit ran out (says which, and the URL).
            ServiceUnavailableException: no connection could be made.
            ServiceCommunicationException: the answer could not be read or decoded.
            RemoteServiceException: the server answered with an error; a ServiceException
                subclass known here is raised as itself instead.
        """
        plan = self._plans.get(invocation.method) or self._plan(invocation.method)
        body = plan.codec.encode_call(invocation.args, invocation.kwargs)
        status, content, content_type, url = self.call_with_failover(
            invocation.method, lambda base: self._post(base, base + plan.path, body, plan)
        )
        if status == 200:
            try:
                return plan.codec.decode_result(content)
            except CodecError as exc:
                raise ServiceCommunicationException(f"bad answer from {url}: {exc}") from exc
        codec = codec_for(content_type) or self.codec
        raise decode_error(codec, content, status)

    def _post(self, base: str, url: str, body: bytes, plan: _MethodPlan) -> tuple[int, bytes, str, str]:
        state = self._thread_state()
        session = state.session
        assert session is not None and state.headers is not None
        connections = state.connections
        if connections is not None and session.auth is None:
            assert state.plain_headers is not None
            return self._post_plain(connections, base, url, body, state.plain_headers, plan)
        request = requests.PreparedRequest()
        request.method = "POST"
        request.url = url
        request.headers = state.headers.copy()
        request.headers["Content-Length"] = str(len(body))
        request.body = body
        request.hooks = {"response": list(session.hooks.get("response", []))}
        request._cookies = None  # type: ignore[attr-defined]
        if session.auth is not None:
            request.prepare_auth(session.auth, url)
            if connections is not None and not request.hooks["response"]:
                headers = {**request.headers, "Accept-Encoding": "identity"}
                headers.pop("Connection", None)
                return self._post_plain(connections, base, url, body, headers, plan)
        try:
            response = session.send(
                request,
                timeout=plan.request_timeout,
                allow_redirects=False,
                proxies=session.proxies,
                verify=session.verify,
                cert=session.cert,
                stream=False,
            )
        except requests.ConnectTimeout as exc:
            raise ServiceTimeoutException(url, "connect", plan.timeouts.connect) from exc
        except requests.ReadTimeout as exc:
            raise ServiceTimeoutException(url, "read", plan.timeouts.read) from exc
        except requests.ConnectionError as exc:
            if _nothing_sent(exc):
                raise ServiceUnavailableException(f"cannot reach {url}: {_reason(exc)}", url) from exc
            raise CallInterruptedException(
                f"connection to {url} broke during the call: {_reason(exc)}", url
            ) from exc
        except requests.RequestException as exc:
            raise ServiceCommunicationException(f"call to {url} failed: {exc}") from exc
        return response.status_code, response.content, response.headers.get("Content-Type", ""), url

    def _post_plain(
        self,
        connections: Connections,
        base: str,
        url: str,
        body: bytes,
        headers: dict[str, str],
        plan: _MethodPlan,
    ) -> tuple[int, bytes, str, str]:
        try:
            status, content, content_type = connections.post(
                base, plan.path, body, headers, plan.timeouts.connect, plan.timeouts.read
            )
        except ConnectTimeout as exc:
            raise ServiceTimeoutException(url, "connect", plan.timeouts.connect) from exc
        except ReadTimeout as exc:
            raise ServiceTimeoutException(url, "read", plan.timeouts.read) from exc
        except ConnectError as exc:
            raise ServiceUnavailableException(f"cannot reach {url}: {exc}", url) from exc
        except ExchangeError as exc:
            raise CallInterruptedException(f"connection to {url} broke during the call: {exc}", url) from exc
        return status, content, content_type, url


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


class DispatchJsonChannel(HttpChannel):
    """HTTP channel with JSON bodies (``application/json``)."""

    name = "dispatch-json"
    codec = JSON_CODEC


class DispatchMsgpackChannel(HttpChannel):
    """HTTP channel with MessagePack bodies (``application/msgpack``)."""

    name = "dispatch-msgpack"
    codec = MSGPACK_CODEC
