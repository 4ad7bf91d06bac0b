"""Authentication and authorization of calls, as interceptors of the call pipeline.

On the server side a :class:`Guard` is the outermost server interceptor of every hosted
component when authentication is configured: it asks each :class:`Authenticator` in turn who
the caller is (a bearer token, a JWT, the client certificate of an mTLS connection), checks
the method's rule, and passes on a call whose context holds the :class:`~container.Identity`
(calls are frozen: ``call.replace(identity=...)``). A credential that is present but wrong
answers 401, a caller the rule does not admit 403; the caller gets
:class:`~container.UnauthenticatedException` or :class:`~container.PermissionDeniedException`
on every channel, ``local`` included.

Rules are lists of grants, any of which admits the caller: ``"anyone"``, ``"authenticated"``,
``"role:<role>"``, ``"subject:<subject>"``; an empty list admits nobody. The most specific rule
wins: a method's in config, then the method's :func:`allow` decorator, then the component's in
config, then the implementation class's decorator, then ``auth.allow``.

On the client side a :class:`BearerCredentials` interceptor passes on every call with
``authorization: Bearer ...`` added to its metadata, from a fixed token or a function called
per call (so it can refresh).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..call._calls import AsyncCallNext, Call, CallNext, Interceptor
from ..call._context import CallContext, Identity
from ..call._dispatcher import CallRejected
from ..values._errors import ConfigurationException
from ..values._loading import load_object
from ..values._status import Status
from ._authenticators import (
    AUTHORIZATION,
    AuthenticationFailed,
    Authenticator,
    BearerTokens,
    ClientCertificates,
)
from ._jwt import JwtAuthenticator

if TYPE_CHECKING:
    from ..config._settings import Settings
    from ..declarations._descriptors import ComponentDescriptor

UNAUTHENTICATED = Status.UNAUTHENTICATED
PERMISSION_DENIED = Status.PERMISSION_DENIED

_F = TypeVar("_F", bound=Callable[..., Any])

_GRANT = re.compile(r"^(anyone|authenticated|role:[^\s]+|subject:[^\s]+)$")


def parse_rule(grants: Sequence[str], where: str) -> frozenset[str]:
    """Check a rule's grants and return them as a set.

    Raises:
        ConfigurationException: a grant is not ``anyone``, ``authenticated``,
            ``role:<role>`` or ``subject:<subject>`` (the message names ``where``).
    """
    if isinstance(grants, str):
        raise ConfigurationException(f"{where} must be a list of grants, got the string {grants!r}")
    for grant in grants:
        if not isinstance(grant, str) or not _GRANT.match(grant):
            raise ConfigurationException(
                f"{where}: {grant!r} is not a grant; use 'anyone', 'authenticated', "
                "'role:<role>' or 'subject:<subject>'"
            )
    return frozenset(grants)


def admits(rule: frozenset[str], identity: Identity | None) -> bool:
    """Return True when a rule admits a caller (None: an anonymous caller)."""
    if "anyone" in rule:
        return True
    if identity is None:
        return False
    if "authenticated" in rule or f"subject:{identity.subject}" in rule:
        return True
    return any(f"role:{role}" in rule for role in identity.roles)


def allow(*grants: str) -> Callable[[_F], _F]:
    """Declare who may call an implementation's methods (on the class) or one method.

    Example::

        @implementation()
        @allow("role:clerk")
        class OrderServiceImpl(OrderService):
            def place(self, sku: str, quantity: int) -> Order: ...

            @allow("role:admin")
            def cancel(self, order_id: str) -> None: ...

    Config wins over the decorator at the same level (``components.<c>.methods.<m>.allow``
    over a method's decorator, ``components.<c>.allow`` over the class's).

    Raises:
        ConfigurationException: a grant is malformed.
    """
    rule = parse_rule(list(grants), f"@allow{grants!r}")

    def mark(target: _F) -> _F:
        target.__servicewire_allow__ = rule  # type: ignore[attr-defined]
        return target

    return mark


def declared_rule(target: Any) -> frozenset[str] | None:
    """Return the rule an :func:`allow` decorator put on a class or function, or None."""
    rule = getattr(target, "__servicewire_allow__", None)
    return rule if isinstance(rule, frozenset) else None


class Guard(Interceptor):
    """The server interceptor that authenticates the caller and checks the method's rule.

    Args:
        authenticators: asked in turn; the first that returns an identity wins.
        rules: method path (``component/service/method``) -> its rule.
        default: the rule of methods not in ``rules``.
    """

    def __init__(
        self,
        authenticators: Sequence[Authenticator],
        rules: Mapping[str, frozenset[str]],
        default: frozenset[str],
    ) -> None:
        self.authenticators = list(authenticators)
        self.rules = dict(rules)
        self.default = default

    def identify(self, context: CallContext) -> Identity | None:
        """Authenticate the caller of ``context``; None when anonymous.

        Raises:
            AuthenticationFailed: a credential was presented and no authenticator accepts it:
                the first refusal of an authenticator that recognised it as its kind, else the
                first refusal.
        """
        identity = context.identity
        if identity is not None:
            return identity
        failure: AuthenticationFailed | None = None
        for authenticator in self.authenticators:
            try:
                identity = authenticator.authenticate(context)
            except AuthenticationFailed as exc:
                # Another authenticator may know this credential (a JWT is a bearer token too);
                # if none does, the first that recognised it as its kind says why.
                if failure is None or (_recognised(exc) and not _recognised(failure)):
                    failure = exc
                continue
            if identity is not None:
                return identity
        if failure is not None:
            raise failure
        return None

    def caller(self, context: CallContext) -> Identity | None:
        """Authenticate the caller of ``context`` (the dispatcher asks, for its own endpoints).

        Raises:
            CallRejected: a credential was presented and is not valid (401).
        """
        try:
            return self.identify(context)
        except AuthenticationFailed as exc:
            raise CallRejected(UNAUTHENTICATED, str(exc) or "the credential is not valid") from None

    def intercept(self, call: Call, call_next: CallNext) -> Any:
        """Refuse the call with 401 or 403, or pass it on with the caller's identity in its context."""
        return call_next(self._admitted(call))

    async def intercept_async(self, call: Call, call_next: AsyncCallNext) -> Any:
        """:meth:`intercept` of a call of an ``async def`` method."""
        return await call_next(self._admitted(call))

    def _admitted(self, call: Call) -> Call:
        """The call with the caller's identity, or CallRejected (401, 403)."""
        context: CallContext = call.context  # type: ignore[attr-defined]
        try:
            identity = self.identify(context)
        except AuthenticationFailed as exc:
            raise CallRejected(UNAUTHENTICATED, str(exc) or "the credential is not valid") from None
        path = call.method.path  # type: ignore[attr-defined]
        rule = self.rules.get(path, self.default)
        if not admits(rule, identity):
            if identity is None:
                raise CallRejected(UNAUTHENTICATED, f"{path} needs an authenticated caller")
            raise CallRejected(PERMISSION_DENIED, f"{identity.subject} may not call {path}")
        if identity is not None and identity is not context.identity:
            call = call.replace(identity=identity)
        return call


def method_rules(
    components: Iterable[ComponentDescriptor[Any]],
    implementation: Callable[[Any], Any],
    configured: Callable[[str, str, str], Sequence[str] | None],
    component_configured: Callable[[str], Sequence[str] | None],
) -> dict[str, frozenset[str]]:
    """Resolve the rule of every hosted method (see the module docstring for the order).

    Args:
        components: the hosted components.
        implementation: returns the implementation object of a service descriptor.
        configured: ``(component, service, method)`` -> the method's rule in config, or None.
        component_configured: component -> the component's rule in config, or None.
    """
    rules: dict[str, frozenset[str]] = {}
    for component in components:
        component_rule = component_configured(component.name)
        for service in component.services:
            instance = implementation(service)
            if instance is None:
                continue
            class_rule = declared_rule(type(instance))
            for method in service.methods.values():
                where = f"config key 'components.{component.name}.methods.{service.name}.{method.name}.allow'"
                in_config = configured(component.name, service.name, method.name)
                if in_config is not None:
                    rules[method.path] = parse_rule(in_config, where)
                    continue
                decorated = declared_rule(getattr(type(instance), method.name, None))
                if decorated is not None:
                    rules[method.path] = decorated
                elif component_rule is not None:
                    rules[method.path] = parse_rule(
                        component_rule, f"config key 'components.{component.name}.allow'"
                    )
                elif class_rule is not None:
                    rules[method.path] = class_rule
    return rules


class BearerCredentials(Interceptor):
    """Client interceptor: send ``authorization: Bearer <token>`` with every call.

    Args:
        token: the token, or a function returning it, called for every call (cache and
            refresh inside it; it runs on the calling thread).
    """

    def __init__(self, token: str | Callable[[], str]) -> None:
        self._token = token

    def intercept(self, call: Call, call_next: CallNext) -> Any:
        """Add the credential to the call's metadata and go on."""
        return call_next(self._credited(call))

    async def intercept_async(self, call: Call, call_next: AsyncCallNext) -> Any:
        """:meth:`intercept` of a call of an ``async def`` method."""
        return await call_next(self._credited(call))

    def _credited(self, call: Call) -> Call:
        token = self._token() if callable(self._token) else self._token
        if not isinstance(token, str) or not token or any(c in token for c in "\r\n"):
            if not isinstance(token, str):
                what = f"a {type(token).__name__}"
            else:
                what = "a token with a line break" if token else "an empty string"
            raise ConfigurationException(  # never the token itself: it is a secret even when broken
                f"the credential provider for {call.component} gave {what}; it must return a "
                "non-empty token string without line breaks"
            )
        return call.with_metadata({AUTHORIZATION: f"Bearer {token}"})  # type: ignore[no-any-return]


def identity_of(subject: str, roles: Iterable[str] = (), scheme: str = "bearer") -> Identity:
    """Return an :class:`~container.Identity` (a shorthand for config-made identities)."""
    return Identity(subject, scheme, frozenset(roles))


def authenticators_from(settings: Settings) -> list[Authenticator]:
    """Build the authenticators that config (``auth``) and code (extensions) ask for.

    Order: bearer tokens, JWT, client certificates, those named in ``auth.authenticators``,
    then the ``"auth.authenticators"`` extension's objects.

    Raises:
        ConfigurationException: a key file cannot be read, an import path cannot be loaded,
            PyJWT is missing, or an object is no Authenticator.
    """
    auth = settings.auth
    found: list[Authenticator] = []
    bearer = auth.bearer
    if bearer.tokens or bearer.lookup:
        tokens = {token: identity_of(t.subject, t.roles) for token, t in bearer.tokens.items()}
        lookup = load_object(bearer.lookup, "config key 'auth.bearer.lookup'") if bearer.lookup else None
        found.append(BearerTokens(tokens, lookup))
    if auth.jwt is not None:
        key = auth.jwt.key
        if auth.jwt.key_file:
            try:
                with open(auth.jwt.key_file, encoding="utf-8") as file:
                    key = file.read()
            except OSError as exc:
                raise ConfigurationException(
                    f"config key 'auth.jwt.key_file': cannot read it: {exc}"
                ) from exc
        assert key is not None
        found.append(
            JwtAuthenticator(
                key,
                auth.jwt.algorithms,
                auth.jwt.audience,
                auth.jwt.issuer,
                auth.jwt.leeway,
                auth.jwt.subject_claim,
                auth.jwt.roles_claim,
                verify_audience=auth.jwt.verify_audience,
                key_source=f"config key 'auth.jwt.{'key_file' if auth.jwt.key_file else 'key'}'",
            )
        )
    if auth.mtls.enabled:
        found.append(ClientCertificates(auth.mtls.roles))
    for index, spec in enumerate(auth.authenticators):
        where = f"config key 'auth.authenticators[{index}]'"
        value = load_object(spec, where)
        if isinstance(value, type):
            value = value()
        found.append(_checked_authenticator(value, where))
    for value in settings.extensions.get("auth.authenticators", ()):
        found.append(_checked_authenticator(value, "the extension 'auth.authenticators'"))
    return found


def _recognised(failure: AuthenticationFailed) -> bool:
    # A subclass written before ``recognised`` existed may not set it: it meant "recognised".
    return getattr(failure, "recognised", True) is not False


def _checked_authenticator(value: Any, where: str) -> Authenticator:
    if not isinstance(value, Authenticator):
        raise ConfigurationException(f"{where}: {value!r} is not an Authenticator")
    return value


def credentials_from(settings: Settings, component: str | None) -> BearerCredentials | None:
    """Return the client interceptor sending the credentials for calls to ``component``, or None.

    ``component`` None: the credentials of components without their own.

    ``components.<c>.credentials`` wins over ``auth.credentials``, which wins over the
    ``"auth.credentials"`` extension (a token string or a function returning one).

    Raises:
        ConfigurationException: a provider cannot be loaded, or both token and provider are set.
    """
    configured = settings.components[component].credentials if component in settings.components else None
    where = f"components.{component}.credentials"
    if configured is None:
        configured, where = settings.auth.credentials, "auth.credentials"
    if configured is not None:
        if bool(configured.token) == bool(configured.provider):
            raise ConfigurationException(f"config key {where!r}: give exactly one of token and provider")
        if configured.token:
            return BearerCredentials(configured.token)
        assert configured.provider is not None
        provider = load_object(configured.provider, f"config key '{where}.provider'")
        if not callable(provider):
            raise ConfigurationException(f"config key '{where}.provider': {provider!r} is not callable")
        return BearerCredentials(provider)
    given = settings.extensions.get("auth.credentials")
    if given is None:
        return None
    if not (isinstance(given, str) or callable(given)):
        raise ConfigurationException(
            f"the extension 'auth.credentials' must be a token or a function: {given!r}"
        )
    return BearerCredentials(given)
