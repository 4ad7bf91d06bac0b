"""JWT bearer tokens verified with PyJWT (the optional extra ``servicewire[jwt]``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..call._context import CallContext, Identity
from ..values._errors import ConfigurationException
from ._authenticators import AuthenticationFailed, Authenticator, bearer_token

DEFAULT_ALGORITHMS = ("RS256", "ES256", "EdDSA")
"""Asymmetric algorithms only unless config names others: a shared HMAC secret must be chosen."""


class JwtAuthenticator(Authenticator):
    """Accepts ``authorization: Bearer <JWT>`` signed with the configured key.

    The token must carry ``exp`` and a subject; ``aud`` and ``iss`` are checked when
    configured. Roles come from a claim that is a list of strings or a space-separated string
    (the OAuth ``scope`` form).

    Args:
        key: the verification key: a PEM public key, or the shared secret for HS* algorithms.
        algorithms: the algorithms accepted (never ``none``).
        audience: the required ``aud``, or None.
        issuer: the required ``iss``, or None.
        leeway: seconds of clock skew tolerated on ``exp`` and ``nbf``.
        subject_claim: the claim naming the caller.
        roles_claim: the claim listing the caller's roles.

    Raises:
        ConfigurationException: PyJWT is not installed, or an algorithm is unknown to it.
    """

    scheme = "jwt"

    def __init__(
        self,
        key: str,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        audience: str | None = None,
        issuer: str | None = None,
        leeway: float = 30.0,
        subject_claim: str = "sub",
        roles_claim: str = "roles",
    ) -> None:
        try:
            import jwt
        except ImportError:
            raise ConfigurationException(
                "config key 'auth.jwt' needs PyJWT: pip install 'servicewire[jwt]'"
            ) from None
        known = set(jwt.algorithms.get_default_algorithms())
        unknown = [name for name in algorithms if name not in known or name.lower() == "none"]
        if unknown:
            raise ConfigurationException(
                f"config key 'auth.jwt.algorithms': {unknown} not available; known: {sorted(known)}"
            )
        self._jwt = jwt
        self.key = key
        self.algorithms = list(algorithms)
        self.audience = audience
        self.issuer = issuer
        self.leeway = leeway
        self.subject_claim = subject_claim
        self.roles_claim = roles_claim

    def authenticate(self, context: CallContext) -> Identity | None:
        """Return the identity the call's JWT names (None: no bearer token that looks like a JWT)."""
        token = bearer_token(context)
        if token is None or token.count(".") != 2:
            return None
        jwt = self._jwt
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", self.subject_claim], "verify_aud": self.audience is not None},
            )
        except jwt.InvalidTokenError as exc:
            raise AuthenticationFailed(self._refusal(exc)) from None
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
        """Why PyJWT refused a token, in servicewire's words (chosen by PyJWT's exception types)."""
        jwt = self._jwt
        if isinstance(exc, jwt.ExpiredSignatureError):
            return "the JWT has expired"
        if isinstance(exc, jwt.ImmatureSignatureError):
            return "the JWT is not valid yet (its nbf or iat is in the future)"
        if isinstance(exc, jwt.InvalidAudienceError):
            return f"the JWT is not meant for the audience {self.audience!r}"
        if isinstance(exc, jwt.InvalidIssuerError):
            return f"the JWT's issuer is not {self.issuer!r}"
        if isinstance(exc, jwt.InvalidSignatureError):
            return "the JWT's signature does not verify with the configured key"
        if isinstance(exc, jwt.InvalidAlgorithmError):
            allowed = ", ".join(self.algorithms)
            return f"the JWT is signed with an algorithm that is not allowed (allowed: {allowed})"
        if isinstance(exc, jwt.MissingRequiredClaimError):
            return f"the JWT has no {exc.claim!r} claim"
        if isinstance(exc, jwt.DecodeError):
            return "the JWT is malformed"
        return f"the JWT is not valid ({exc})"
