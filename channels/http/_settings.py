"""The ``http`` config section, declared by the HTTP channels; timeouts of the first release.

:class:`HttpSettings` is the typed ``http`` section (with :class:`TlsSettings` under
``http.tls``). It is declared in the ``servicewire.settings`` entry-point group, so the core
validates it with the rest of the configuration, and the HTTP transport and server read it with
``settings.section("http", HttpSettings)``.

:class:`Timeouts` is kept for code written against the first release: the call's deadline now
bounds the whole exchange; it is configured as ``timeout`` (or its older name ``read_timeout``)
under ``calls``, ``components.<name>`` or ``components.<name>.methods.<method>``, and the
connect limit as ``connect_timeout`` (see ``container.plugin.Settings``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import attrs
import msgspec

from container.plugin import Settings

from ._headers import check_header_fields

Seconds = Annotated[float, msgspec.Meta(gt=0)]
Bytes = Annotated[int, msgspec.Meta(gt=0)]
Count = Annotated[int, msgspec.Meta(gt=0)]
ClientName = Literal["pool", "requests"]
ServerName = Literal["auto", "threads", "asyncio"]


class TlsSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """TLS of the HTTP channels: ``http.tls``. The server uses the first four keys, clients the rest.

    Attributes:
        certfile: the server's certificate chain (PEM); setting it turns TLS on for the server.
        keyfile: the server's private key (PEM; None when ``certfile`` holds it).
        password: the password of the private key, if it has one.
        client_ca: CA certificates (a PEM file or a folder) that client certificates must be
            signed by; with it, clients are asked for a certificate (mTLS).
        client_certificates: ``"required"`` (the default when ``client_ca`` is set: a client
            without a valid certificate is refused at the handshake), ``"optional"`` or
            ``"none"``.
        verify: how clients verify servers: True (certifi's CA bundle, as requests does),
            False (no verification: for tests only), or a CA file or folder.
        cert: the certificate a client presents (PEM; may hold the key too).
        key: the client's private key, when ``cert`` does not hold it.
    """

    certfile: str | None = None
    keyfile: str | None = None
    password: str | None = None
    client_ca: str | None = None
    client_certificates: str | None = None
    verify: bool | str = True
    cert: str | None = None
    key: str | None = None

    def __post_init__(self) -> None:
        if self.client_certificates not in (None, "none", "optional", "required"):
            raise ValueError(
                f"client_certificates is {self.client_certificates!r}; use 'none', 'optional' or 'required'"
            )
        if self.client_certificates in ("optional", "required") and not self.client_ca:
            raise ValueError("client_certificates needs client_ca, the CA that signs client certificates")


class HttpComponentSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """How the HTTP channels call one component: ``http.components.<name>``.

    Attributes:
        client: the client transport for this component (None: ``http.client``).
        headers: header fields sent with every call to this component, besides (and over)
            ``http.headers``.
    """

    client: ClientName | None = None
    headers: dict[str, str] = {}


class HttpSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Settings of the HTTP channels and the HTTP server: ``http``.

    Attributes:
        connect_timeout: older spelling of ``calls.connect_timeout``.
        timeout: older spelling of ``calls.timeout``.
        read_timeout: older spelling of ``calls.timeout``.
        client: the client transport: ``"pool"`` (the default: servicewire's keep-alive pool)
            or ``"requests"`` (a ``requests.Session`` per component, for adapters, proxies,
            hooks and auth objects; see docs/http.md).
        headers: header fields sent with every call (client; not ``Authorization``: credentials
            go through ``auth.credentials``).
        components: per-component client settings (``client``, ``headers``), by component name.
        trust_env: honour proxy and netrc settings from the environment (the requests client).
        pool_size: idle keep-alive connections the client keeps per instance URL (the asyncio
            client: per instance URL and event loop).
        connections_per_url: the most connections the asyncio client (``async def`` methods)
            holds open to one instance URL from one event loop, busy and idle together; a
            call beyond it waits for a free one, within its deadline. (The sync client opens
            one per calling thread.)
        max_response_size: the largest answer the client accepts, bytes.
        max_body_size: the largest request body the server accepts, bytes (413).
        session_customizers: functions ``f(session, component)`` that adjust the
            ``requests.Session`` of each component on the requests client, by import path.
        server: how the embedded server runs: ``"threads"`` (one I/O loop thread, worker
            threads computing the answers), ``"asyncio"`` (one asyncio event loop doing the I/O
            and running ``async def`` implementations itself), or ``"auto"`` (the default:
            asyncio when every hosted service method is ``async def``, else threads). See
            docs/http.md, "The server's event loop".
        workers: threads of the embedded server answering requests (with asyncio: running
            ``def`` implementations and the routes that may block).
        max_connections: open connections the server keeps at most: at the cap it closes the
            oldest idle one, or refuses the new one (503) when none is idle.
        max_connections_per_peer: open connections from one client address at most (the same
            answer as the global cap, for that address's connections).
        header_timeout: seconds a client has to send a whole request once it started (and to
            finish the TLS handshake); then the connection is closed.
        idle_timeout: seconds the server keeps an idle keep-alive connection.
        write_timeout: seconds the server waits for a client to take an answer.
        max_header_size: the largest request line and header fields together, bytes (431).
        max_header_count: the most header fields in a request (431).
        tls: TLS for the server and the clients.
    """

    connect_timeout: Seconds | None = None
    timeout: Seconds | None = None
    read_timeout: Seconds | None = None
    client: ClientName = "pool"
    headers: dict[str, str] = {}
    components: dict[str, HttpComponentSettings] = {}
    trust_env: bool = False
    pool_size: Count = 10
    connections_per_url: Count = 100
    max_response_size: Bytes = 64 * 1024 * 1024
    max_body_size: Bytes = 8 * 1024 * 1024
    session_customizers: list[str] = []
    server: ServerName = "auto"
    workers: Count = 8
    max_connections: Count = 1024
    max_connections_per_peer: Count = 256
    header_timeout: Seconds = 10.0
    idle_timeout: Seconds = 60.0
    write_timeout: Seconds = 30.0
    max_header_size: Bytes = 64 * 1024
    max_header_count: Count = 100
    tls: TlsSettings = msgspec.field(default_factory=TlsSettings)

    def __post_init__(self) -> None:
        # Checked here, not in the component's Struct, so that the message names the component.
        check_header_fields(self.headers, "http.headers")
        for name, component in self.components.items():
            check_header_fields(component.headers, f"http.components.{name}.headers")
        if not self.uses_requests():
            if self.session_customizers:
                raise ValueError(requests_not_chosen("http.session_customizers", "adjusts requests sessions"))
            if self.trust_env:
                raise ValueError(
                    requests_not_chosen(
                        "http.trust_env", "takes proxies and netrc from the environment as requests does"
                    )
                )

    def client_of(self, component: str) -> ClientName:
        """Return the client transport that calls to ``component`` go through."""
        specific = self.components.get(component)
        if specific is not None and specific.client is not None:
            return specific.client
        return self.client

    def uses_requests(self) -> bool:
        """Return True when the requests client is chosen, for every component or for some."""
        return self.client == "requests" or any(c.client == "requests" for c in self.components.values())

    def headers_of(self, component: str) -> dict[str, str]:
        """Return the header fields sent with calls to ``component`` (its own over ``http.headers``)."""
        specific = self.components.get(component)
        if specific is None or not specific.headers:
            return dict(self.headers)
        own = {name.lower() for name in specific.headers}
        merged = {name: value for name, value in self.headers.items() if name.lower() not in own}
        merged.update(specific.headers)
        return merged


def requests_not_chosen(what: str, does: str = "adjusts requests sessions") -> str:
    """The message for a requests-only customization given while every component uses the pool."""
    return (
        f"{what} {does}, but every component uses the pool client (http.client is 'pool'), which has "
        "no session: set http.client: requests, or http.components.<name>.client: requests for the "
        "components that need it (docs/http.md, 'Choosing the client transport')"
    )


@attrs.frozen
class Timeouts:
    """The connect limit and the deadline of a call, in seconds.

    Attributes:
        connect: seconds to wait for a connection.
        read: the call's deadline (the whole exchange), seconds.
    """

    connect: float
    read: float

    def as_requests(self) -> tuple[float, float]:
        """Return the ``timeout=(connect, read)`` tuple that requests takes."""
        return (self.connect, self.read)


def timeouts_for(config: Mapping[str, Any] | Settings, component: str, service: str, method: str) -> Timeouts:
    """Return the limits of one method, applying ``calls``, component and method settings."""
    settings = config if isinstance(config, Settings) else Settings(config)
    return Timeouts(settings.connect_timeout(component), settings.timeout(component, service, method))
