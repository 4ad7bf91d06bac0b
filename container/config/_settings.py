"""The servicewire configuration as one typed model, validated once.

The configuration mapping (a dict, or any dependency-injector ``Configuration`` source: YAML
with ``${VAR:default}``, INI, environment variables) is converted into :class:`Settings` when a
ServiceContainer's manager is created, before any thread starts. Strings are converted where a
number or a boolean is expected (``"2.5"`` from an environment variable is 2.5), and every
error names the full key path: ``config key 'components.orders.methods.reserve.timeout':
Expected `float` > 0, got `str```. Sections that belong to third-party plugins (any other
top-level key, and ``registry`` apart from ``type``) are passed to their plugins unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

import msgspec

from ..values._errors import ConfigurationException

_T = TypeVar("_T")

Seconds = Annotated[float, msgspec.Meta(gt=0)]
Bytes = Annotated[int, msgspec.Meta(gt=0)]
Count = Annotated[int, msgspec.Meta(gt=0)]

DEFAULT_TIMEOUT = 30.0
"""Seconds: the default deadline of a call."""

DEFAULT_CONNECT_TIMEOUT = 5.0
"""Seconds: the limit of one connection attempt (never past the deadline)."""

DEFAULT_COOLDOWN = 5.0
"""Seconds a URL that failed to connect is skipped while other URLs are left."""


class MethodSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Settings of one method: ``components.<component>.methods.<service>.<method>`` (or ``<method>``).

    Attributes:
        timeout: the method's default deadline, seconds.
        read_timeout: the older name of ``timeout``.
        idempotent: whether a call that was sent may be retried on another instance.
    """

    timeout: Seconds | None = None
    read_timeout: Seconds | None = None
    idempotent: bool | None = None
    allow: list[str] | None = None


class CredentialSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What a client sends to prove who it is: ``auth.credentials`` or ``components.<c>.credentials``.

    Attributes:
        token: a bearer token sent with every call.
        provider: ``package.module:function``; ``function()`` returns the token, called for
            every call (it caches and refreshes).
    """

    token: str | None = None
    provider: str | None = None


class InterceptorSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Interceptors named by import path (``package.module:name``), per side.

    Attributes:
        client: interceptors of outgoing calls, outermost first.
        server: interceptors of incoming calls, outermost first.
    """

    client: list[str] = []
    server: list[str] = []


class ComponentSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Settings of calls to one component: ``components.<component>``.

    Attributes:
        selector: how a URL is chosen: ``first``, ``round-robin``, ``random``,
            ``least-in-flight`` (None: round robin).
        cooldown: seconds a URL that failed to connect is skipped while others are left.
        idempotent: every method may be retried after it was sent.
        timeout: default deadline of the component's calls, seconds.
        read_timeout: the older name of ``timeout``.
        connect_timeout: limit of one connection attempt, seconds.
        methods: per-method settings, by ``<service>.<method>`` or ``<method>``.
        interceptors: interceptors for this component only.
        allow: who may call the component's methods (server side; see docs/security.md).
        credentials: what calls to this component send (client side), instead of
            ``auth.credentials``.
    """

    selector: str | None = None
    cooldown: Annotated[float, msgspec.Meta(ge=0)] = DEFAULT_COOLDOWN
    idempotent: bool = False
    timeout: Seconds | None = None
    read_timeout: Seconds | None = None
    connect_timeout: Seconds | None = None
    methods: dict[str, MethodSettings] = {}
    interceptors: InterceptorSettings = msgspec.field(default_factory=InterceptorSettings)
    allow: list[str] | None = None
    credentials: CredentialSettings | None = None


class CallSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Defaults of every call on every channel: ``calls``.

    Attributes:
        timeout: the default deadline, seconds.
        connect_timeout: the limit of one connection attempt, seconds.
    """

    timeout: Seconds | None = None
    connect_timeout: Seconds | None = None


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


class HttpSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Settings of the HTTP channels and the HTTP server: ``http``.

    Attributes:
        connect_timeout: older spelling of ``calls.connect_timeout``.
        timeout: older spelling of ``calls.timeout``.
        read_timeout: older spelling of ``calls.timeout``.
        trust_env: honour proxy and netrc settings from the environment (client).
        pool_size: idle keep-alive connections the client keeps per instance URL.
        max_response_size: the largest answer the client accepts, bytes.
        max_body_size: the largest request body the server accepts, bytes (413).
        session_customizers: functions ``f(session, component)`` that adjust the
            ``requests.Session`` of each component, by import path.
        workers: threads of the embedded server answering requests.
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
    trust_env: bool = False
    pool_size: Count = 10
    max_response_size: Bytes = 64 * 1024 * 1024
    max_body_size: Bytes = 8 * 1024 * 1024
    session_customizers: list[str] = []
    workers: Count = 8
    max_connections: Count = 1024
    max_connections_per_peer: Count = 256
    header_timeout: Seconds = 10.0
    idle_timeout: Seconds = 60.0
    write_timeout: Seconds = 30.0
    max_header_size: Bytes = 64 * 1024
    max_header_count: Count = 100
    tls: TlsSettings = msgspec.field(default_factory=TlsSettings)


class TokenSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The caller a bearer token stands for: ``auth.bearer.tokens.<token>``.

    Attributes:
        subject: the caller's name.
        roles: the caller's roles.
    """

    subject: str
    roles: list[str] = []


class BearerSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Bearer tokens the server accepts: ``auth.bearer``.

    Attributes:
        tokens: token (or ``sha256:<hex>`` of it) -> the caller it stands for.
        lookup: ``package.module:function``; ``function(token)`` returns an Identity or None,
            for tokens not listed.
    """

    tokens: dict[str, TokenSettings] = {}
    lookup: str | None = None


class JwtSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """JWT verification: ``auth.jwt`` (needs ``servicewire[jwt]``).

    Attributes:
        key: the verification key (PEM public key, or the HMAC secret).
        key_file: a file holding the key, instead of ``key``.
        algorithms: the algorithms accepted.
        audience: the required ``aud`` claim.
        issuer: the required ``iss`` claim.
        leeway: seconds of clock skew tolerated.
        subject_claim: the claim naming the caller.
        roles_claim: the claim listing the caller's roles.
    """

    key: str | None = None
    key_file: str | None = None
    algorithms: list[str] = msgspec.field(default_factory=lambda: ["RS256", "ES256", "EdDSA"])
    audience: str | None = None
    issuer: str | None = None
    leeway: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    subject_claim: str = "sub"
    roles_claim: str = "roles"

    def __post_init__(self) -> None:
        if bool(self.key) == bool(self.key_file):
            raise ValueError("give exactly one of key and key_file")


class MtlsSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Identity from TLS client certificates: ``auth.mtls``.

    Attributes:
        enabled: take the caller's identity from its verified client certificate.
        roles: certificate subject -> roles.
    """

    enabled: bool = False
    roles: dict[str, list[str]] = {}


EXPOSURES = ("open", "authenticated", "off")


class ExposeSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Who may read the server's own endpoints: ``auth.expose``; each ``open``, ``authenticated`` or ``off``.

    Attributes:
        health: ``/health/<component>`` and ``@health`` endpoints.
        report: ``/report`` (what is hosted, with method signatures).
        metrics: ``/metrics`` (Prometheus).
    """

    health: str = "open"
    report: str = "authenticated"
    metrics: str = "authenticated"

    def __post_init__(self) -> None:
        for name in ("health", "report", "metrics"):
            if getattr(self, name) not in EXPOSURES:
                raise ValueError(f"{name} is {getattr(self, name)!r}; use one of {', '.join(EXPOSURES)}")


class AuthSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Authentication and authorization: ``auth`` (see docs/security.md).

    Attributes:
        bearer: bearer tokens the server accepts.
        jwt: JWT verification, or None.
        mtls: identity from client certificates.
        authenticators: further authenticators by import path (classes made with no arguments).
        allow: the rule of every hosted method without its own (None: ``["authenticated"]``
            when an authenticator is configured, else ``["anyone"]``).
        credentials: what this process sends when it calls (client side).
        expose: who may read health, report and metrics.
    """

    bearer: BearerSettings = msgspec.field(default_factory=BearerSettings)
    jwt: JwtSettings | None = None
    mtls: MtlsSettings = msgspec.field(default_factory=MtlsSettings)
    authenticators: list[str] = []
    allow: list[str] | None = None
    credentials: CredentialSettings | None = None
    expose: ExposeSettings = msgspec.field(default_factory=ExposeSettings)


LOG_LEVELS = ("off", "debug", "info", "warning")


class CallLogSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One log line per call (logger ``servicewire.calls``): ``observability.call_log``.

    Attributes:
        server: the level of the server's line per call served, or ``off``.
        client: the level of the client's line per call made (``off`` by default).
        sample: the fraction of successful calls logged (failed calls always are).
    """

    server: str = "info"
    client: str = "off"
    sample: Annotated[float, msgspec.Meta(gt=0, le=1)] = 1.0

    def __post_init__(self) -> None:
        for side in ("server", "client"):
            if getattr(self, side) not in LOG_LEVELS:
                raise ValueError(f"{side} is {getattr(self, side)!r}; use one of {', '.join(LOG_LEVELS)}")


class ObservabilitySettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Traces, metrics and call logs: ``observability`` (see docs/observability.md).

    Attributes:
        tracing: a client and a server span per call, W3C trace context in the metadata
            (needs ``servicewire[otel]``; spans go to the process's TracerProvider).
        metrics: Prometheus metrics of calls, failovers and registry changes (needs
            ``servicewire[prometheus]``); the HTTP server serves them on ``/metrics``.
        metrics_port: also serve them with prometheus-client's own HTTP server on this port
            (for a process without an HTTP server); None: not.
        metrics_host: the interface of that server.
        call_log: one log line per call.
    """

    tracing: bool = False
    metrics: bool = False
    metrics_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] | None = None
    metrics_host: str = "127.0.0.1"
    call_log: CallLogSettings = msgspec.field(default_factory=CallLogSettings)


def convert(value: Any, type_: type[_T], where: str) -> _T:
    """Convert a config section into ``type_``, converting strings; errors name the key path.

    Raises:
        ConfigurationException: the value does not fit; the message names ``where`` and the key.
    """
    if value is None:
        value = {}
    try:
        return msgspec.convert(value, type_, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigurationException(_located(str(exc), where, type_)) from None


def _located(message: str, where: str, type_: type) -> str:
    text, _, location = message.partition(" - at `$")
    key = where + location.rstrip("`")
    unknown = _UNKNOWN.match(text)
    if unknown and not location:
        known = ", ".join(getattr(type_, "__struct_fields__", ()))
        return f"config key '{key}.{unknown.group(1)}' is unknown; known keys there: {known}"
    return f"config key {key!r}: {text}"


_UNKNOWN = re.compile(r"Object contains unknown field `([^`]*)`")


def _section(raw: Mapping[str, Any], key: str) -> Any:
    value = raw.get(key)
    if value is not None and not isinstance(value, Mapping):
        raise ConfigurationException(
            f"config key {key!r} must be a mapping, got {type(value).__name__}: {value!r:.80}"
        )
    return value


class Settings:
    """The validated servicewire configuration.

    Args:
        raw: the whole configuration mapping.
        extensions: objects given in code for plugins, by the key each plugin documents (for
            example ``"http.session_customizers"``).

    Raises:
        ConfigurationException: a known key holds a value of the wrong kind (the message
            names the full key path), or a section that must be a mapping is not one.

    Attributes:
        raw: the mapping as given (plugins read their own sections from it).
        calls: defaults of every call.
        http: the HTTP channels' and server's settings.
        components: per-component settings, by component name.
        interceptors: container-wide interceptors by import path.
        auth: authentication, authorization and exposure of the server's endpoints.
        observability: traces, metrics and call logs.
        registry: the ``registry`` section, for the registry plugin (``type`` included).
        extensions: objects given in code for plugins, by key.
    """

    def __init__(
        self, raw: Mapping[str, Any] | None = None, extensions: Mapping[str, Any] | None = None
    ) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigurationException(f"config must be a mapping, got {type(raw).__name__}: {raw!r:.80}")
        self.raw: Mapping[str, Any] = raw
        self.extensions: Mapping[str, Any] = dict(extensions or {})
        registry = _section(raw, "registry")
        self.registry: Mapping[str, Any] = {"type": "static"} if registry is None else registry
        self.calls = convert(_section(raw, "calls"), CallSettings, "calls")
        self.http = convert(_section(raw, "http"), HttpSettings, "http")
        self.interceptors = convert(_section(raw, "interceptors"), InterceptorSettings, "interceptors")
        self.auth = convert(_section(raw, "auth"), AuthSettings, "auth")
        self.observability = convert(_section(raw, "observability"), ObservabilitySettings, "observability")
        self.components: dict[str, ComponentSettings] = {}
        for name, section in (_section(raw, "components") or {}).items():
            where = f"components.{name}"
            if section is not None and not isinstance(section, Mapping):
                raise ConfigurationException(f"config key {where!r} must be a mapping, got {section!r:.80}")
            methods = (section or {}).get("methods")
            if methods is not None and not isinstance(methods, Mapping):
                raise ConfigurationException(
                    f"config key '{where}.methods' must be a mapping, got {methods!r:.80}"
                )
            plain = {k: v for k, v in (section or {}).items() if k != "methods"}
            settings = convert(plain, ComponentSettings, where)
            settings.methods = {
                str(key): convert(value, MethodSettings, f"{where}.methods.{key}")
                for key, value in (methods or {}).items()
            }
            self.components[str(name)] = settings
        self._default_timeout = (
            self.calls.timeout or self.http.timeout or self.http.read_timeout or DEFAULT_TIMEOUT
        )
        self._default_connect = (
            self.calls.connect_timeout or self.http.connect_timeout or DEFAULT_CONNECT_TIMEOUT
        )

    def component(self, name: str) -> ComponentSettings:
        """Return the settings of a component (defaults when it has no section)."""
        found = self.components.get(name)
        if found is None:
            found = self.components[name] = ComponentSettings()
        return found

    def method(self, component: str, service: str, method: str) -> MethodSettings | None:
        """Return the settings of one method (``<service>.<method>`` wins over ``<method>``), or None."""
        methods = self.component(component).methods
        if not methods:
            return None
        return methods.get(f"{service}.{method}") or methods.get(method)

    def timeout(self, component: str, service: str, method: str) -> float:
        """Return a method's default deadline in seconds: method, component, ``calls``, ``http``."""
        specific = self.method(component, service, method)
        if specific is not None and (specific.timeout or specific.read_timeout):
            return float(specific.timeout or specific.read_timeout)  # type: ignore[arg-type]
        settings = self.component(component)
        return float(settings.timeout or settings.read_timeout or self._default_timeout)

    def connect_timeout(self, component: str) -> float:
        """Return the limit of one connection attempt to a component's instances, in seconds."""
        return float(self.component(component).connect_timeout or self._default_connect)

    def idempotent(self, component: str, service: str, method: str) -> bool:
        """Return whether config marks a method idempotent (``@idempotent`` is checked elsewhere)."""
        specific = self.method(component, service, method)
        if specific is not None and specific.idempotent is not None:
            return specific.idempotent
        return self.component(component).idempotent

    def section(self, key: str) -> Mapping[str, Any]:
        """Return a top-level section as given (for plugins), empty when absent.

        Raises:
            ConfigurationException: the section is not a mapping.
        """
        return _section(self.raw, key) or {}
