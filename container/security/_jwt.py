"""JWT bearer tokens verified with PyJWT (servicewire's optional ``jwt`` extra).

Every refusal is an :class:`AuthenticationFailed` with servicewire's reason, whatever the token
holds and whatever PyJWT's version says: a token signed with an algorithm the configured key
cannot verify (ES256 against an RSA key, HS256 "signed" with an RSA public key's PEM), a header
that is not JSON, an algorithm that is not allowed, a claim that does not hold. Nothing a caller
sends makes the authenticator raise anything else, so a caller never gets a 500 for a token
and the server never logs a traceback for one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..call._context import CallContext, Identity
from ..config._settings import audience_problem
from ..values._errors import ConfigurationException
from ._authenticators import AuthenticationFailed, Authenticator, bearer_token

DEFAULT_ALGORITHMS = ("RS256", "ES256", "EdDSA")
"""Asymmetric algorithms only unless config names others: a shared HMAC secret must be chosen."""

NEEDS_PYJWT = (
    "config key 'auth.jwt' needs PyJWT: install servicewire's jwt extra from your checkout "
    "(pip install '.[jwt]'; README: Installing) or PyJWT[crypto] itself"
)

_KEY_KINDS = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "EdDSA", "HS": "HMAC"}
"""Algorithm name prefix -> the kind of key it verifies with."""


class JwtAuthenticator(Authenticator):
    """Accepts ``authorization: Bearer <JWT>`` signed with the configured key.

    The token must carry ``exp``, a subject and, unless ``verify_audience`` is False, an
    ``aud`` naming ``audience``; ``iss`` is checked when configured. Roles come from a claim
    that is a list of strings or a space-separated string (the OAuth ``scope`` form).

    Args:
        key: the verification key: a PEM public (or private) key, or the shared secret for HS*
            algorithms.
        algorithms: the algorithms accepted (never ``none``); those the key cannot verify are
            refused per token, with the reason.
        audience: the ``aud`` the tokens must name (one of several, given a list).
        issuer: the required ``iss``, or None.
        leeway: seconds of clock skew tolerated on ``exp`` and ``nbf``.
        subject_claim: the claim naming the caller.
        roles_claim: the claim listing the caller's roles.
        verify_audience: False accepts tokens minted for any audience (then ``audience`` must
            be None): only where this server is the sole user of its issuer's tokens.
        key_source: where the key came from, for the error when no algorithm can use it.

    Raises:
        ConfigurationException: PyJWT is not installed, an algorithm is unknown to it, no
            audience is given while ``verify_audience`` is True (or one is given while it is
            False), or no configured algorithm can use the key.
    """

    scheme = "jwt"

    def __init__(
        self,
        key: str,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        audience: str | Sequence[str] | None = None,
        issuer: str | None = None,
        leeway: float = 30.0,
        subject_claim: str = "sub",
        roles_claim: str = "roles",
        *,
        verify_audience: bool = True,
        key_source: str = "config key 'auth.jwt.key'",
    ) -> None:
        try:
            import jwt
        except ImportError:
            raise ConfigurationException(NEEDS_PYJWT) from None
        known = jwt.algorithms.get_default_algorithms()
        unknown = [name for name in algorithms if name not in known or name.lower() == "none"]
        if unknown:
            raise ConfigurationException(
                f"config key 'auth.jwt.algorithms': {unknown} not available; known: {sorted(known)}"
            )
        problem = audience_problem(audience, verify_audience)
        if problem is not None:
            raise ConfigurationException(problem)
        self._jwt = jwt
        self.algorithms = list(algorithms)
        # The key as each algorithm verifies with it, prepared once; an algorithm missing here
        # cannot use this key, and a token signed with it is refused saying so.
        self._keys: dict[str, Any] = {}
        for name in algorithms:
            prepared = _prepared(known[name], name, key)
            if prepared is not None:
                self._keys[name] = prepared
        if not self._keys:
            raise ConfigurationException(
                f"{key_source}: none of the algorithms {self.algorithms} can verify with "
                "this key (an RSA or EC PEM key needs RS*/PS* or ES*, an Ed25519 key EdDSA, a "
                "shared secret HS*)"
            )
        self.key_kind = _described(_kind_of(next(iter(self._keys.values()))))
        self.audience = ([audience] if isinstance(audience, str) else list(audience)) if audience else None
        self.issuer = issuer
        self.leeway = leeway
        self.subject_claim = subject_claim
        self.roles_claim = roles_claim
        required = ["exp", subject_claim, *(["aud"] if self.audience else [])]
        self._options = {"require": required, "verify_aud": self.audience is not None}

    def authenticate(self, context: CallContext) -> Identity | None:
        """Return the identity the call's JWT names (None: no bearer token that looks like a JWT).

        Raises:
            AuthenticationFailed: the token is a JWT that is not valid (with the reason), or it
                has a JWT's shape but no JWT header (then ``recognised`` is False: another
                authenticator may know it).
        """
        token = bearer_token(context)
        if token is None or token.count(".") != 2:
            return None
        jwt = self._jwt
        try:
            header = jwt.get_unverified_header(token)
        except Exception:
            raise AuthenticationFailed("the JWT is malformed", recognised=False) from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str):
            raise AuthenticationFailed("the JWT is malformed")
        if algorithm not in self.algorithms:
            allowed = ", ".join(self.algorithms)
            raise AuthenticationFailed(
                f"the JWT is signed with an algorithm that is not allowed (allowed: {allowed})"
            )
        key = self._keys.get(algorithm)
        if key is None:
            raise AuthenticationFailed(
                f"the JWT is signed with {algorithm}, "
                f"which the configured key ({self.key_kind}) cannot verify"
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options=self._options,
            )
        except Exception as exc:
            raise AuthenticationFailed(self._refusal(exc)) from None
        if not isinstance(claims, dict):
            raise AuthenticationFailed("the JWT is malformed")
        subject = claims.get(self.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise AuthenticationFailed(f"the JWT's {self.subject_claim!r} claim is not a name")
        roles = claims.get(self.roles_claim, ())
        if isinstance(roles, str):
            roles = roles.split()
        if not isinstance(roles, (list, tuple)) or not all(isinstance(role, str) for role in roles):
            raise AuthenticationFailed(f"the JWT's {self.roles_claim!r} claim is not a list of names")
        return Identity(subject, self.scheme, frozenset(roles), claims)

    def _refusal(self, exc: Exception) -> str:
        """Why a token was refused, in servicewire's words (chosen by PyJWT's exception types)."""
        jwt = self._jwt
        if isinstance(exc, jwt.ExpiredSignatureError):
            return "the JWT has expired"
        if isinstance(exc, jwt.ImmatureSignatureError):
            return "the JWT is not valid yet (its nbf or iat is in the future)"
        if isinstance(exc, jwt.InvalidAudienceError):
            return "the JWT is not meant for the audience " + " or ".join(map(repr, self.audience or ()))
        if isinstance(exc, jwt.InvalidIssuerError):
            return f"the JWT's issuer is not {self.issuer!r}"
        if isinstance(exc, jwt.InvalidSignatureError):
            return "the JWT's signature does not verify with the configured key"
        if isinstance(exc, jwt.MissingRequiredClaimError):
            return f"the JWT has no {exc.claim!r} claim"
        if isinstance(exc, jwt.InvalidAlgorithmError):
            allowed = ", ".join(self.algorithms)
            return f"the JWT is signed with an algorithm that is not allowed (allowed: {allowed})"
        if isinstance(exc, jwt.DecodeError):
            return "the JWT is malformed"
        claim = _badly_typed_claim(jwt, exc)
        if claim is not None:
            return f"the JWT's {claim!r} claim is {_CLAIM_KINDS[claim]}"
        if isinstance(exc, jwt.InvalidTokenError):
            return "the JWT is not valid"
        # Not a refusal PyJWT names (a key or a value its crypto backend chokes on): still the token's.
        return "the JWT cannot be verified with the configured key"


_CLAIM_KINDS = {"sub": "not a name", "jti": "not a string", "iat": "not a time"}
"""Registered claims PyJWT checks the type of, and what is wrong when it refuses one."""

_CLAIM_ERRORS = {"sub": "InvalidSubjectError", "jti": "InvalidJTIError", "iat": "InvalidIssuedAtError"}
"""PyJWT's exception for each (looked up by name: older versions lack some)."""


def _badly_typed_claim(jwt: Any, exc: Exception) -> str | None:
    """The registered claim whose type PyJWT refused, or None."""
    for claim, name in _CLAIM_ERRORS.items():
        error = getattr(jwt.exceptions, name, None)
        if isinstance(error, type) and isinstance(exc, error):
            return claim
    return None


def _prepared(algorithm: Any, name: str, key: str) -> Any:
    """The key as ``algorithm`` verifies with it (a public key object, or the HMAC secret), or None."""
    try:
        prepared = algorithm.prepare_key(key)
    except Exception:
        return None
    public = getattr(prepared, "public_key", None)
    if callable(public):  # a private key was configured: verify with its public half
        prepared = public()
    # Older PyJWT versions return whatever the PEM holds (an EC key for RS256): check the kind.
    return prepared if _kind_of(prepared) == _KEY_KINDS.get(name[:2]) else None


def _kind_of(prepared: Any) -> str:
    """The kind of a prepared key: ``RSA``, ``EC``, ``EdDSA``, ``HMAC`` (or its type's name)."""
    if isinstance(prepared, bytes):
        return "HMAC"
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    if isinstance(prepared, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(prepared, ec.EllipticCurvePublicKey):
        return "EC"
    if isinstance(prepared, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return "EdDSA"
    return type(prepared).__name__


def _described(kind: str) -> str:
    return {"HMAC": "an HMAC secret", "RSA": "an RSA key", "EC": "an EC key", "EdDSA": "an EdDSA key"}.get(
        kind, f"a {kind}"
    )
