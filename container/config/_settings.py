"""The servicewire configuration as one typed model, validated once.

The configuration mapping (a dict, or any dependency-injector ``Configuration`` source: YAML
with ``${VAR:default}``, INI, environment variables) is converted into :class:`Settings` when a
ServiceContainer's manager is created, before any thread starts. Strings are converted where a
number or a boolean is expected (``"2.5"`` from an environment variable is 2.5), and every
error names the full key path in servicewire's words: ``config key
'components.orders.methods.reserve.timeout' has an invalid value (Expected `float` > 0, got
`str`)``, ``config key 'calls.timout' is unknown; known keys there: ...`` (the parenthesised
detail is msgspec's).

Every other top-level section belongs to a plugin. A plugin declares its section's type (a
msgspec Struct or an attrs class) in the ``servicewire.settings`` entry-point group, under the
section's key, and the section is validated here with the core's, with the same errors;
:meth:`Settings.section` hands the plugin the typed object. A section nobody declares is passed
on as it was given.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, NoReturn, TypeVar, overload

import attrs
import msgspec

from ..values._errors import ConfigurationException, PluginException
from ._plugins import SETTINGS_GROUP, PluginGroup
from ._runtime import DetachedRuntime, PluginRuntime

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


class _HttpTimeouts(msgspec.Struct, kw_only=True):
    """The older spellings of ``calls.timeout`` and ``calls.connect_timeout`` under ``http``.

    The rest of the ``http`` section belongs to the HTTP channels, which declare and validate
    it (``channels.http.HttpSettings``); unknown keys are theirs, so they are ignored here.
    """

    connect_timeout: Seconds | None = None
    timeout: Seconds | None = None
    read_timeout: Seconds | None = None


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
    """JWT verification: ``auth.jwt`` (needs servicewire's ``jwt`` extra).

    Attributes:
        key: the verification key (PEM public key, or the HMAC secret).
        key_file: a file holding the key, instead of ``key``.
        algorithms: the algorithms accepted.
        audience: the ``aud`` claim tokens must name (one of several, given a list); required
            unless ``verify_audience`` is False.
        verify_audience: False accepts tokens minted for any audience (then give no
            ``audience``).
        issuer: the required ``iss`` claim.
        leeway: seconds of clock skew tolerated.
        subject_claim: the claim naming the caller.
        roles_claim: the claim listing the caller's roles.
    """

    key: str | None = None
    key_file: str | None = None
    algorithms: list[str] = msgspec.field(default_factory=lambda: ["RS256", "ES256", "EdDSA"])
    audience: str | list[str] | None = None
    verify_audience: bool = True
    issuer: str | None = None
    leeway: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    subject_claim: str = "sub"
    roles_claim: str = "roles"

    def __post_init__(self) -> None:
        if bool(self.key) == bool(self.key_file):
            raise ValueError("give exactly one of key and key_file")


def audience_problem(audience: str | Sequence[str] | None, verify_audience: bool) -> str | None:
    """Return why an ``auth.jwt`` section's audience settings cannot be used, or None."""
    if verify_audience and not audience:
        return (
            "config key 'auth.jwt.audience' is required: the 'aud' your issuer puts in tokens "
            "meant for this server (a list when several), so that a token minted for another "
            "service is refused; set auth.jwt.verify_audience: false only to accept tokens for "
            "any audience"
        )
    if not verify_audience and audience:
        return (
            "config keys 'auth.jwt.audience' and 'auth.jwt.verify_audience: false' contradict "
            "each other: give one"
        )
    return None


class MtlsSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Identity from TLS client certificates: ``auth.mtls``.

    Attributes:
        enabled: take the caller's identity from its verified client certificate.
        roles: certificate subject -> roles.
    """

    enabled: bool = False
    roles: dict[str, list[str]] = {}


EXPOSURES = ("open", "authenticated", "off")
"""Who may read one of the server's own endpoints (YAML's boolean ``off`` is read as ``"off"``)."""

EXPOSED = ("health", "health_details", "report", "metrics", "dashboard")
"""The endpoints of ``auth.expose``."""


class ExposeSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Who may read the server's own endpoints: ``auth.expose``; each ``open``, ``authenticated`` or ``off``.

    Attributes:
        health: ``/health/<component>`` and ``@health`` endpoints (their overall status).
        health_details: who reads a health document's details (each check, its details, the
            component's lifecycle status); the others read the overall status only. Without
            an authenticator, ``authenticated`` admits nobody: the details are in the log.
        report: ``/report`` and ``/describe/<component>`` (what is hosted, with method
            signatures and types).
        metrics: ``/metrics`` (Prometheus).
        dashboard: ``/dashboard`` (the live page of the registry's components; off by default).
    """

    health: str = "open"
    health_details: str = "authenticated"
    report: str = "authenticated"
    metrics: str = "authenticated"
    dashboard: str = "off"

    def __post_init__(self) -> None:
        for name in EXPOSED:
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
            (needs servicewire's ``otel`` extra; spans go to the process's TracerProvider).
        metrics: Prometheus metrics of calls, failovers and registry changes (needs
            servicewire's ``prometheus`` extra); the HTTP server serves them on ``/metrics``.
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
        raise ConfigurationException(_located(str(exc), value, where, type_)) from None


def _located(message: str, value: Any, where: str, type_: Any) -> str:
    """Say in servicewire's words what is wrong with a section, naming the key.

    An unknown key is found by comparing the section with the model's fields (the model
    decides, not msgspec's wording); for any other error the key path is taken from msgspec's
    message (best effort: the section's key when it cannot be read) and its text follows as a
    detail.
    """
    unknown = _unknown_key(value, type_, where)
    if unknown is not None:
        key, known = unknown
        return f"config key {key!r} is unknown; known keys there: {', '.join(known)}"
    detail, _, location = message.partition(" - at `$")
    location = location.rstrip("`")
    key = where + location
    if isinstance(_at(value, location), bool):
        return (
            f"config key {key!r} has an invalid value ({detail.strip()}): YAML reads on, off, yes, "
            "no, true and false as booleans: quote a word meant as text"
        )
    return f"config key {key!r} has an invalid value ({detail.strip()})"


_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _at(value: Any, location: str) -> Any:
    """The value at a location such as ``.expose.dashboard`` or ``.client[0]`` (None: not found)."""
    position = 0
    while position < len(location):
        step = _STEP.match(location, position)
        if step is None:
            return None
        name, index = step.groups()
        if name is not None and isinstance(value, Mapping):
            value = value.get(name)
        elif index is not None and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return None
        position = step.end()
    return value


def _words_for_booleans(
    section: Any, key: str, fields: Sequence[str], where: str, words: Sequence[str]
) -> Any:
    """Return ``section`` with YAML's ``off`` (False) read as ``"off"`` in ``section[key][field]``.

    YAML reads ``off`` and ``no`` as False, so ``dashboard: off`` arrives as a boolean; for a
    field whose words include ``off`` that is unambiguous. True (``on``, ``yes``) is not: which
    word it means is for the author to say.

    Raises:
        ConfigurationException: one of ``fields`` is True (the key, and the words to use).
    """
    inner = section.get(key) if isinstance(section, Mapping) else None
    if not isinstance(inner, Mapping):
        return section
    changed: dict[str, str] = {}
    for field in fields:
        value = inner.get(field)
        if value is False:
            changed[field] = "off"
        elif value is True:
            raise ConfigurationException(
                f"config key '{where}.{key}.{field}' is true (YAML reads on, yes and true as a "
                f"boolean), which could mean several of its words: write one of {', '.join(words)}, "
                "quoted if YAML would read it as a boolean"
            )
    if not changed:
        return section
    return {**section, key: {**inner, **changed}}


def _unknown_key(value: Any, type_: Any, where: str) -> tuple[str, tuple[str, ...]] | None:
    """The first key of ``value`` that the Struct ``type_`` (or a Struct inside it) does not know."""
    fields: tuple[str, ...] = getattr(type_, "__struct_encode_fields__", ())
    if not fields or not isinstance(value, Mapping):
        return None
    if type_.__struct_config__.forbid_unknown_fields:
        for key in value:
            if key not in fields:
                return f"{where}.{key}", fields
    hints = typing.get_type_hints(type_)
    for name, field in zip(type_.__struct_fields__, fields, strict=True):
        found = _unknown_in(value.get(field), hints.get(name), f"{where}.{field}")
        if found is not None:
            return found
    return None


def _unknown_in(value: Any, hint: Any, where: str) -> tuple[str, tuple[str, ...]] | None:
    """Look for an unknown key in a field typed ``S``, ``S | None`` or ``dict[str, S]``."""
    if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
        return _unknown_key(value, hint, where)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for member in args:
            found = _unknown_in(value, member, where)
            if found is not None:
                return found
    elif origin is dict and len(args) == 2 and isinstance(value, Mapping):
        for key, item in value.items():
            found = _unknown_in(item, args[1], f"{where}.{key}")
            if found is not None:
                return found
    return None


def _section(raw: Mapping[str, Any], key: str) -> Any:
    value = raw.get(key)
    if value is not None and not isinstance(value, Mapping):
        raise ConfigurationException(
            f"config key {key!r} must be a mapping, got {type(value).__name__}: {value!r:.80}"
        )
    return value


class _SectionTypes(PluginGroup):
    """The typed config sections plugins declare: msgspec Structs or attrs classes, by key."""

    def _check(self, name: str, cls: Any, origin: str) -> None:
        if not (isinstance(cls, type) and (issubclass(cls, msgspec.Struct) or attrs.has(cls))):
            raise PluginException(
                f"settings section {name!r} from {origin} is {cls!r}, not a msgspec.Struct or an "
                "attrs class"
            )


def _no_section(name: str, known: list[str]) -> PluginException:
    return PluginException(
        f"no plugin declares the settings section {name!r}; declared: {', '.join(known) or '(none)'}"
    )


SECTIONS: PluginGroup = _SectionTypes(SETTINGS_GROUP, "settings section", lambda: msgspec.Struct, _no_section)
"""The typed config sections of this process's plugins, by top-level key.

Distributions declare theirs in the ``servicewire.settings`` entry-point group
(``pigeon = "pigeon_channel:PigeonSettings"``); tests and application code may
``SECTIONS.register("pigeon", PigeonSettings)``.
"""

CORE_SECTIONS = frozenset({"registry", "calls", "interceptors", "auth", "observability", "components"})
"""The top-level keys the core validates itself; every other one belongs to a plugin."""


class Settings:
    """The validated servicewire configuration.

    Args:
        raw: the whole configuration mapping.
        extensions: objects given in code for plugins, by the key each plugin documents (for
            example ``"http.session_customizers"``).
        sections: returns the type a plugin declared for a top-level key, or None (default:
            the runtime's sections: the ``servicewire.settings`` entry points, :data:`SECTIONS`
            registrations and those of the runtime).
        runtime: the runtime of the container these settings belong to (None: settings made
            on their own get a :class:`DetachedRuntime`).

    Raises:
        ConfigurationException: a key holds a value of the wrong kind, in the core's sections
            or in a section a plugin declared (the message names the full key path), or a
            section that must be a mapping is not one.
        PluginException: the entry point declaring a present section cannot be loaded.

    Attributes:
        raw: the mapping as given.
        calls: defaults of every call.
        components: per-component settings, by component name.
        interceptors: container-wide interceptors by import path.
        auth: authentication, authorization and exposure of the server's endpoints.
        observability: traces, metrics and call logs.
        registry: the ``registry`` section, for the registry plugin (``type`` included).
        extensions: objects given in code for plugins, by key.
        runtime: the runtime of the container these settings belong to: what the core hands
            plugins of it (``settings.runtime.addresses``, the in-process address space; see
            docs/writing-a-channel-plugin.md).
    """

    def __init__(
        self,
        raw: Mapping[str, Any] | None = None,
        extensions: Mapping[str, Any] | None = None,
        sections: Callable[[str], type | None] | None = None,
        runtime: PluginRuntime | None = None,
    ) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigurationException(f"config must be a mapping, got {type(raw).__name__}: {raw!r:.80}")
        self.raw: Mapping[str, Any] = raw
        self.extensions: Mapping[str, Any] = dict(extensions or {})
        self.runtime: PluginRuntime = runtime if runtime is not None else DetachedRuntime(SECTIONS)
        self._typed: dict[tuple[str, type], Any] = {}
        registry = _section(raw, "registry")
        self.registry: Mapping[str, Any] = {"type": "static"} if registry is None else registry
        self.calls = convert(_section(raw, "calls"), CallSettings, "calls")
        legacy = convert(_section(raw, "http"), _HttpTimeouts, "http")
        self.interceptors = convert(_section(raw, "interceptors"), InterceptorSettings, "interceptors")
        auth = _words_for_booleans(_section(raw, "auth"), "expose", EXPOSED, "auth", EXPOSURES)
        self.auth = convert(auth, AuthSettings, "auth")
        for token in self.auth.bearer.tokens:
            if not token.strip() or token.strip() == "sha256:":
                raise ConfigurationException(
                    f"config key 'auth.bearer.tokens' holds the empty token {token!r}, which no caller "
                    "can send (an empty bearer credential is no credential): remove it, or give the "
                    "token (or its sha256:<hex> digest)"
                )
        jwt = self.auth.jwt
        problem = None if jwt is None else audience_problem(jwt.audience, jwt.verify_audience)
        if problem is not None:
            raise ConfigurationException(problem)
        observability = _words_for_booleans(
            _section(raw, "observability"), "call_log", ("server", "client"), "observability", LOG_LEVELS
        )
        self.observability = convert(observability, ObservabilitySettings, "observability")
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
        calls = self.calls
        self._default_timeout = calls.timeout or legacy.timeout or legacy.read_timeout or DEFAULT_TIMEOUT
        self._default_connect = calls.connect_timeout or legacy.connect_timeout or DEFAULT_CONNECT_TIMEOUT
        declared_type = sections if sections is not None else self.runtime.sections.find
        for key in raw:
            if key in CORE_SECTIONS or not isinstance(key, str):
                continue
            declared = declared_type(key)
            if declared is not None:
                self._typed[(key, declared)] = convert(_section(raw, key), declared, key)

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

    @overload
    def section(self, key: str) -> Mapping[str, Any]: ...

    @overload
    def section(self, key: str, type_: type[_T]) -> _T: ...

    def section(self, key: str, type_: type[_T] | None = None) -> Any:
        """Return a plugin's top-level section: typed when ``type_`` is given, else as given.

        With ``type_`` (a msgspec Struct or an attrs class), the section converted into it: the
        object validated with the configuration when the plugin declared the section, else
        converted now (the same object on every call). Without, the mapping as given (empty
        when absent), as for sections nobody declares.

        Raises:
            ConfigurationException: the section is not a mapping, or does not fit ``type_``
                (the message names the full key path).
        """
        if type_ is None:
            return _section(self.raw, key) or {}
        found = self._typed.get((key, type_))
        if found is None:
            found = self._typed[(key, type_)] = convert(_section(self.raw, key), type_, key)
        return found

    @property
    def http(self) -> NoReturn:
        """Gone from the core: the ``http`` section belongs to the HTTP channels (see the error)."""
        raise AttributeError(
            "Settings has no attribute 'http': the http section belongs to the HTTP channels; "
            "read it with settings.section('http', channels.http.HttpSettings)"
        )
