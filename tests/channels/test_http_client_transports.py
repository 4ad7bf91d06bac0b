"""The client transports of the HTTP channels: chosen in config, configured alike, failing alike.

The pool is the default and has no session: header fields come from ``http.headers``,
credentials from ``auth.credentials``. requests is chosen explicitly (``http.client: requests``,
or per component) for auth objects, hooks, adapters and proxies. Both return the answer's
header fields as its metadata and turn every failure and every status into the same exception;
so does the pool's asyncio side, which carries the calls of ``async def`` methods (``[asyncio]``).
Servers are real, on 127.0.0.1: the embedded server, a WSGI server behind HTTP digest
authentication, and canned servers that answer with exactly the bytes a case needs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests
from dependency_injector import containers, providers
from requests.auth import AuthBase, HTTPDigestAuth

from channels.http import DispatchJsonChannel, HttpServer, ServiceApplication
from container import (
    CallInterruptedException,
    ConfigurationException,
    InvalidResponseException,
    RemoteServiceException,
    ServiceContainer,
    ServiceManager,
    ServiceTimeoutException,
    ServiceUnavailableException,
    UnauthenticatedException,
    call_options,
)
from container.plugin import Request
from container.testing import ConformanceService, ConformanceServiceImpl

from .async_services import AsyncWireService, AsyncWireServiceImpl, Awaited
from .conftest import TRANSPORTS, ServerContainer, client_manager, wire, with_transport
from .services import WireService

CONFORMANCE = "sw-conformance-component"


class ConformanceContainer(containers.DeclarativeContainer):
    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    conformance = providers.Singleton(ConformanceServiceImpl)
    async_wire = providers.Singleton(AsyncWireServiceImpl)


def boot(container: containers.DeclarativeContainer, config: dict[str, Any]) -> HttpServer:
    server = HttpServer(host="127.0.0.1", port=0)
    container.config.from_dict({"registry": {"type": "static"}, **config})  # type: ignore[attr-defined]
    server.boot(container)
    return server


@pytest.fixture(scope="module")
def conformance_url() -> Iterator[str]:
    """The conformance service behind bearer tokens t1 and t2."""
    server = boot(
        ConformanceContainer(),
        {"auth": {"bearer": {"tokens": {"t1": {"subject": "one"}, "t2": {"subject": "two"}}}}},
    )
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()


def conformance_client(url: str, transport: str, **extra: Any) -> ServiceManager:
    components = {name: {"dispatch-json": [url]} for name in (CONFORMANCE, "async-wire-component")}
    config = {
        "registry": {"type": "static", "components": components},
        "auth": {"credentials": {"token": "t1"}},
        **extra,
    }
    return ServiceContainer(config=providers.Object(with_transport(config, transport))).service_manager()


# Header fields and credentials: typed settings, the same on every client.


def context_of(manager: ServiceManager, transport: str) -> Callable[[], dict[str, str]]:
    """The metadata a call arrives with, as the server sees it (awaited for ``[asyncio]``)."""
    if transport == "asyncio":
        return Awaited(manager.get_service(AsyncWireService, "dispatch-json")).context  # type: ignore[no-any-return]
    return manager.get_service(ConformanceService, "dispatch-json").context


def test_configured_header_fields_reach_the_server(conformance_url, transport):
    """http.headers and a component's own headers are sent with every call; the component's win."""
    manager = conformance_client(
        conformance_url,
        transport,
        http={
            "headers": {"X-Tenant": "acme", "X-Team": "core"},
            "components": {
                name: {"headers": {"X-Tenant": "acme-eu"}} for name in (CONFORMANCE, "async-wire-component")
            },
        },
    )
    try:
        seen = context_of(manager, transport)()
    finally:
        manager.close()
    assert seen["x-tenant"] == "acme-eu" and seen["x-team"] == "core"
    assert seen["authorization"] == "Bearer t1"


def test_a_calls_metadata_wins_over_a_configured_header_field(conformance_url, transport):
    """A metadata key and a configured field of the same name: the call's value is sent, once."""
    manager = conformance_client(conformance_url, transport, http={"headers": {"X-Tenant": "configured"}})
    try:
        context = context_of(manager, transport)
        with call_options(metadata={"x-tenant": "this-call"}):
            assert context()["x-tenant"] == "this-call"
        assert context()["x-tenant"] == "configured"
    finally:
        manager.close()


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            {"Authorization": "Bearer x"},
            r"http\.headers: 'Authorization' is a credential: give it as auth\.credentials",
        ),
        ({"Content-Length": "3"}, r"http\.headers: 'Content-Length' is written by the transport"),
        ({"sw-timeout-ms": "3"}, r"http\.headers: 'sw-timeout-ms' is written by the transport"),
        ({"Bad Name": "x"}, r"http\.headers: 'Bad Name' is not a header field name"),
        ({"X-Split": "a\r\nX-Forged: b"}, r"http\.headers: the value of 'X-Split' holds control characters"),
    ],
)
def test_header_fields_that_cannot_be_sent_are_refused_when_the_manager_is_made(headers, message):
    """A credential, a framing field, a bad name or a line break in http.headers: ConfigurationException."""
    with pytest.raises(ConfigurationException, match=message):
        client_manager("http://127.0.0.1:9", http={"headers": headers})
    with pytest.raises(
        ConfigurationException, match=message.replace(r"http\.headers", r"http\.components\.c\.headers")
    ):
        client_manager("http://127.0.0.1:9", http={"components": {"c": {"headers": headers}}})


TOKENS = ["t1", "t2", "expired"]
ISSUED: list[str] = []


def rotating_token() -> str:
    """A credential provider: a new token for every call (the third one is no longer valid)."""
    token = TOKENS[len(ISSUED) % len(TOKENS)]
    ISSUED.append(token)
    return token


def test_a_token_that_changes_goes_through_auth_credentials_on_both_transports(conformance_url, transport):
    """auth.credentials.provider is asked on every call: what session.auth did, without a session."""
    ISSUED.clear()
    manager = conformance_client(
        conformance_url, transport, auth={"credentials": {"provider": f"{__name__}:rotating_token"}}
    )
    try:
        context = context_of(manager, transport)
        assert context()["authorization"] == "Bearer t1"
        assert context()["authorization"] == "Bearer t2"
        with pytest.raises(UnauthenticatedException):
            context()
    finally:
        manager.close()
    assert ISSUED == ["t1", "t2", "expired"]


class FreshBearer(AuthBase):
    """A requests auth object that sets a bearer token on each request (the finding's session.auth)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self.calls += 1
        request.headers["Authorization"] = "Bearer t2"
        return request


FRESH = FreshBearer()


def fresh_bearer(session: requests.Session, component: str) -> None:
    session.auth = FRESH


def test_session_auth_works_on_the_requests_transport(conformance_url):
    """session.auth on requests: one Content-Length, the auth object runs per call (was a 400 on the pool)."""
    before = FRESH.calls
    manager = conformance_client(
        conformance_url,
        "requests",
        auth={},
        http={"session_customizers": [f"{__name__}:fresh_bearer"]},
    )
    try:
        proxy = manager.get_service(ConformanceService, "dispatch-json")
        for _ in range(3):
            assert proxy.context()["authorization"] == "Bearer t2"
    finally:
        manager.close()
    assert FRESH.calls - before == 3


def test_session_auth_with_the_pool_is_refused_at_boot(conformance_url):
    """The pool never sees a session: asking it to use one fails before anything is sent."""
    with pytest.raises(ConfigurationException, match="every component uses the pool client"):
        conformance_client(
            conformance_url, "pool", http={"session_customizers": [f"{__name__}:fresh_bearer"]}
        )


# HTTP digest authentication: only requests' auth object can answer the challenge.


class DigestGate:
    """WSGI middleware: answers 401 with a digest challenge until the request proves the password."""

    realm = "services"
    user, password = "alice", "wonderland"

    def __init__(self, application: Callable[..., Any]) -> None:
        self.application = application
        self.nonce = os.urandom(8).hex()
        self.challenges = 0
        self.admitted = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self._proven(environ.get("HTTP_AUTHORIZATION", ""), environ["REQUEST_METHOD"], environ):
            self.admitted += 1
            return self.application(environ, start_response)
        self.challenges += 1
        body = json.dumps({"error": {"type": "Unauthenticated", "message": "digest credentials needed"}})
        start_response(
            "401 Unauthorized",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("WWW-Authenticate", f'Digest realm="{self.realm}", nonce="{self.nonce}", qop="auth"'),
            ],
        )
        return [body.encode()]

    def _proven(self, header: str, method: str, environ: dict[str, Any]) -> bool:
        if not header.startswith("Digest "):
            return False
        fields = dict(
            (key.strip(), value.strip().strip('"'))
            for key, _, value in (part.partition("=") for part in header[len("Digest ") :].split(","))
        )
        uri = environ.get("PATH_INFO", "")

        def md5(text: str) -> str:
            return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

        ha1 = md5(f"{self.user}:{self.realm}:{self.password}")
        ha2 = md5(f"{method}:{fields.get('uri', uri)}")
        expected = md5(f"{ha1}:{self.nonce}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}")
        return fields.get("username") == self.user and fields.get("response") == expected


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def digest_server() -> Iterator[tuple[str, DigestGate]]:
    """The wire-test component served by wsgiref on 127.0.0.1 behind digest authentication."""
    container = ServerContainer()
    container.config.from_dict({"registry": {"type": "static"}})
    manager = container.services.service_manager()
    gate = DigestGate(ServiceApplication(manager))
    httpd: WSGIServer = make_server("127.0.0.1", 0, gate, handler_class=QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", gate
    httpd.shutdown()
    httpd.server_close()
    manager.close()


def digest(session: requests.Session, component: str) -> None:
    session.auth = HTTPDigestAuth(DigestGate.user, DigestGate.password)


def test_http_digest_auth_works_on_the_requests_transport(digest_server):
    """HTTPDigestAuth's 401 hook answers the challenge and the call goes through (it was dropped before)."""
    url, gate = digest_server
    challenges, admitted = gate.challenges, gate.admitted
    manager = client_manager(url, "requests", http={"session_customizers": [f"{__name__}:digest"]})
    try:
        proxy = manager.get_service(WireService, "dispatch-json")
        assert proxy.hello("behind digest") == "behind digest"
        assert proxy.hello("again") == "again"
    finally:
        manager.close()
    assert gate.challenges - challenges >= 1, "the server challenged"
    assert gate.admitted - admitted == 2


def test_the_pool_never_answers_a_digest_challenge(digest_server):
    """Without requests there is no auth object: the challenge is the caller's 401, nothing ran."""
    url, gate = digest_server
    admitted = gate.admitted
    manager = client_manager(url, "pool")
    try:
        with pytest.raises(UnauthenticatedException) as info:
            manager.get_service(WireService, "dispatch-json").hello("no digest")
    finally:
        manager.close()
    assert info.value.status == 401 and gate.admitted == admitted
    with pytest.raises(ConfigurationException, match="set http.client: requests"):
        client_manager(url, "pool", http={"session_customizers": [f"{__name__}:digest"]})


# Choosing per component.

HOOKED: list[str] = []


def record_calls(session: requests.Session, component: str) -> None:
    session.hooks["response"].append(lambda response, **_: HOOKED.append(component))


def test_one_component_on_requests_the_others_on_the_pool(base_url, conformance_url):
    """http.components.<name>.client chooses per component; customizers run for requests' components only."""
    HOOKED.clear()
    config = {
        "registry": {
            "type": "static",
            "components": {
                "wire-component": {"dispatch-json": [base_url]},
                CONFORMANCE: {"dispatch-json": [conformance_url]},
            },
        },
        "auth": {"credentials": {"token": "t1"}},
        "http": {
            "components": {"wire-component": {"client": "requests"}},
            "session_customizers": [f"{__name__}:record_calls"],
        },
    }
    manager = ServiceContainer(config=providers.Object(config)).service_manager()
    try:
        assert manager.get_service(WireService, "dispatch-json").hello("via requests") == "via requests"
        assert "authorization" in manager.get_service(ConformanceService, "dispatch-json").context()
    finally:
        manager.close()
    assert HOOKED == ["wire-component"]


# Answers: the metadata, every status, the early 413.


class CannedServer:
    """Reads each request on 127.0.0.1 (head and body) and answers with ``answer(request)``, then closes.

    ``answer`` returns the bytes to send, or None to close without answering.
    """

    def __init__(self, answer: Callable[[bytes], bytes | None], backlog: int = 16) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=backlog)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(sock,), daemon=True).start()

    def _one(self, sock: socket.socket) -> None:
        with sock:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.lower().split(b"\r\n")
                    if line.startswith(b"content-length:")
                ),
                0,
            )
            while len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                body += chunk
            self.requests.append(head)
            answer = self.answer(head)
            if answer is not None:
                sock.sendall(answer)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def canned() -> Iterator[Callable[..., CannedServer]]:
    servers: list[CannedServer] = []

    def start(answer: Callable[[bytes], bytes | None], backlog: int = 16) -> CannedServer:
        servers.append(CannedServer(answer, backlog))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def http_answer(status: int, body: bytes, *headers: str) -> bytes:
    head = f"HTTP/1.1 {status} Status\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    return (head + "".join(f"{h}\r\n" for h in headers) + "\r\n").encode() + body


def send_directly(manager: ServiceManager, url: str, transport: str = "pool") -> Any:
    """Send one call through the dispatch-json channel's transport, as the pipeline (and the CLI) does."""
    channel = manager.transport_for(DispatchJsonChannel)
    body = b'{"args": ["x"], "kwargs": {}}'
    request = Request(
        "wire-component/wire-test/hello", body, "application/json", {}, time.monotonic() + 5, 2.0, 5.0
    )
    if transport == "asyncio":
        return asyncio.run(channel.send_async(url, request))  # type: ignore[union-attr]
    return channel.send(url, request)  # type: ignore[union-attr]


def test_both_transports_return_the_answers_header_fields_as_its_metadata(canned, transport):
    """Lowercase names, a field given twice joined; HTTP's own fields (framing, Date, caching) left out."""
    server = canned(
        lambda _: http_answer(
            200,
            b'{"result": "x"}',
            "Content-Type: application/json",
            "Date: Mon, 30 Nov 2026 10:00:00 GMT",
            "Server: canned",
            "Cache-Control: no-store",
            "Set-Cookie: session=1",
            "SW-Served-By: instance-1",
            "X-Trace-Id: 4bf92f35",
            "X-Hop: a",
            "X-Hop: b",
        )
    )
    manager = client_manager(server.url, transport)
    try:
        response = send_directly(manager, server.url, transport)
    finally:
        manager.close()
    assert response.status == 200 and response.body == b'{"result": "x"}'
    assert response.content_type == "application/json"
    assert dict(response.metadata) == {
        "sw-served-by": "instance-1",
        "x-trace-id": "4bf92f35",
        "x-hop": "a, b",
    }


ENVELOPE = json.dumps({"error": {"type": "Refused", "message": "refused here"}}).encode()


def outcome(manager: ServiceManager, transport: str = "pool") -> tuple[str, Any, Any, str]:
    """What a caller sees: the exception's type, status, sent flag and message (paths as wire-test's)."""
    try:
        wire(manager, transport, "dispatch-json").hello("x")
    except Exception as exc:  # the outcome under test
        message = str(exc).replace("async-wire-component/async-wire/", "wire-component/wire-test/")
        return type(exc).__name__, getattr(exc, "status", None), getattr(exc, "sent", None), message
    return "returned", None, None, ""


STATUSES = [400, 401, 403, 404, 408, 413, 415, 429, 431, 500, 502, 503, 504]


@pytest.mark.parametrize("body", [ENVELOPE, b""], ids=["envelope", "empty"])
def test_every_status_is_the_same_exception_on_every_client(canned, body):
    """Each status, with the error envelope or an empty body, raises the same on every client."""
    server = canned(
        lambda head: http_answer(
            int(head.split(b"x-status: ")[1].split(b"\r\n")[0]), body, "Content-Type: application/json"
        )
    )
    seen: dict[str, dict[int, tuple[str, Any, Any, str]]] = {}
    for transport in TRANSPORTS:
        manager = client_manager(server.url, transport, calls={"timeout": 5})
        try:
            for status in STATUSES:
                with call_options(metadata={"x-status": str(status)}):
                    seen.setdefault(transport, {})[status] = outcome(manager, transport)
        finally:
            manager.close()
    assert seen["pool"] == seen["requests"] == seen["asyncio"]
    pool = seen["pool"]
    for status in (408, 413, 431, 500):
        assert pool[status][:2] == ("RemoteServiceException", status), pool[status]
    if body:
        assert pool[401][:2] == ("UnauthenticatedException", 401)
    assert pool[503][0] == "ServiceUnavailableException" and pool[503][2] is False
    assert pool[504][0] == "ServiceTimeoutException" and pool[504][2] is False


def refuse_early(sock: socket.socket) -> None:
    """Answer 413 after the head, then close with a reset (the body unread)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    sock.sendall(http_answer(413, ENVELOPE, "Content-Type: application/json"))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_a_413_sent_before_the_upload_ended_is_read_by_both_transports(transport):
    """The server answers 413 and resets while a 9 MiB argument is still being sent: the caller gets it."""
    listener = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=lambda: refuse_early(listener.accept()[0]), daemon=True)
    thread.start()
    manager = client_manager(f"http://127.0.0.1:{listener.getsockname()[1]}", transport, calls={"timeout": 5})
    try:
        with pytest.raises(RemoteServiceException) as caught:
            wire(manager, transport, "dispatch-json").hello("x" * 9 * 1024 * 1024)
    finally:
        manager.close()
        listener.close()
        thread.join(5)
    assert caught.value.status == 413 and "refused here" in str(caught.value)


@pytest.fixture(scope="module")
def strict_server() -> Iterator[HttpServer]:
    """The embedded server with small limits: 1 MiB bodies, 2 KiB heads."""
    server = boot(ServerContainer(), {"http": {"max_body_size": 1024 * 1024, "max_header_size": 2048}})
    yield server
    server.shutdown()


def test_the_embedded_servers_413_and_431_are_the_documented_errors_on_both_transports(
    strict_server, transport
):
    """A body over max_body_size is 413, a head over max_header_size 431; the connection then serves on."""
    manager = client_manager(f"http://127.0.0.1:{strict_server.port}", transport, calls={"timeout": 5})
    try:
        proxy = wire(manager, transport)
        with pytest.raises(RemoteServiceException) as too_large:
            proxy.hello("x" * 2 * 1024 * 1024)
        with (
            pytest.raises(RemoteServiceException) as head_too_large,
            call_options(metadata={"x-big": "y" * 4000}),
        ):
            proxy.hello("x")
        assert proxy.hello("after") == "after"
    finally:
        manager.close()
    assert too_large.value.status == 413 and head_too_large.value.status == 431


# Failures of the exchange: the transport contract table, the same on both.


@pytest.fixture
def full_backlog() -> Iterator[str]:
    """The URL of a listener whose backlog is full: it never completes a handshake."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))  # fills the backlog of one
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        filler.close()
        listener.close()


def test_a_connection_attempt_that_runs_out_is_a_connect_timeout_on_both_transports(full_backlog):
    """A listener whose backlog is full never completes the handshake: a connect timeout, nothing sent."""
    for transport in TRANSPORTS:
        manager = client_manager(full_backlog, transport, calls={"connect_timeout": 0.3, "timeout": 5})
        try:
            with pytest.raises(ServiceTimeoutException) as info:
                wire(manager, transport, "dispatch-json").hello("x")
        finally:
            manager.close()
        assert info.value.limit == "connect" and info.value.sent is False, transport


def test_a_connection_attempt_cut_short_by_the_deadline_is_the_deadlines_timeout(full_backlog):
    """The same full backlog, a deadline shorter than the connect limit: the deadline ran out.

    The attempt was bounded by the time the deadline left, so the error names the deadline
    (nothing sent), not a connect timeout of a fraction of a second that blames the instance.
    """
    for transport in TRANSPORTS:
        manager = client_manager(full_backlog, transport, calls={"connect_timeout": 5, "timeout": 0.3})
        started = time.monotonic()
        try:
            with pytest.raises(ServiceTimeoutException) as info:
                wire(manager, transport, "dispatch-json").hello("x")
        finally:
            manager.close()
        assert time.monotonic() - started < 3, transport
        assert (info.value.limit, info.value.seconds) == ("deadline", 0.3), transport
        assert str(info.value).startswith(f"deadline of 0.3s expired calling {full_backlog}"), transport
        if transport != "asyncio":  # an await cut at the deadline cannot tell what left: "may have"
            assert info.value.sent is False, transport


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (lambda _: None, CallInterruptedException),  # the request was read, the connection closed
        (lambda _: b"NOT HTTP AT ALL\r\n\r\n", CallInterruptedException),
        (
            lambda _: http_answer(200, b"x" * 2000, "Content-Type: application/json"),
            InvalidResponseException,  # over max_response_size (1000 here)
        ),
    ],
    ids=["closed-after-the-request", "not-http", "too-large"],
)
def test_a_failure_after_sending_is_classified_alike(canned, answer, expected):
    """The transports agree on the exception and on 'sent' (the call may have run)."""
    server = canned(answer)
    seen = {}
    for transport in TRANSPORTS:
        manager = client_manager(
            server.url, transport, http={"max_response_size": 1000}, calls={"timeout": 5}
        )
        try:
            with pytest.raises(expected) as info:
                wire(manager, transport, "dispatch-json").hello("x")
        finally:
            manager.close()
        seen[transport] = (type(info.value), info.value.sent)
    assert seen["pool"] == seen["requests"] == seen["asyncio"] and seen["pool"][1] is True


def test_an_unavailable_instance_is_not_sent_on_both_transports():
    """Nothing listens: ServiceUnavailableException with sent False, so failover may go elsewhere."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for transport in TRANSPORTS:
        manager = client_manager(f"http://127.0.0.1:{port}", transport)
        try:
            with pytest.raises(ServiceUnavailableException) as info:
                wire(manager, transport, "dispatch-json").hello("x")
        finally:
            manager.close()
        assert info.value.sent is False and f"cannot reach http://127.0.0.1:{port}" in str(info.value)
        # servicewire's words, the same on every transport, and the system's reason
        assert str(info.value).endswith(": the connection failed (Connection refused)"), transport


def test_the_operator_probe_sends_the_configured_header_fields(canned):
    """servicewire health/list/describe and the dashboard GET with http.headers, as calls send them."""
    from channels.http import HttpProbe
    from container.plugin import Settings

    server = canned(lambda _: http_answer(200, b'{"status": "OK"}', "Content-Type: application/json"))
    probe = HttpProbe(Settings({"http": {"headers": {"X-Tenant": "acme"}}}), {"authorization": "Bearer t1"})
    try:
        assert probe.get(server.url, "/health/wire-component")[0] == 200
    finally:
        probe.close()
    head = server.requests[0].decode("latin-1").lower()
    assert "\r\nx-tenant: acme" in head and "\r\nauthorization: bearer t1" in head


THREADS: list[str] = []


def record_thread(session: requests.Session, component: str) -> None:
    session.hooks["response"].append(lambda response, **_: THREADS.append(threading.current_thread().name))


def test_an_awaited_call_to_a_component_on_requests_runs_in_the_runtimes_thread_pool(base_url):
    """requests has no asyncio side: an async method's call is sent by requests in a worker thread."""
    THREADS.clear()
    manager = client_manager(
        base_url,
        http={
            "components": {"async-wire-component": {"client": "requests"}},
            "session_customizers": [f"{__name__}:record_thread"],
        },
    )
    try:
        assert asyncio.run(manager.get_service(AsyncWireService, "dispatch-json").hello("via requests")) == (
            "via requests"
        )
    finally:
        manager.close()
    assert len(THREADS) == 1 and THREADS[0].startswith("servicewire-pool")
