"""Authenticators: who is calling, from what a call carries (a bearer token, a client certificate).

An :class:`Authenticator` reads a call's context and returns the caller's
:class:`~container.Identity`, None when the call carries no credential of its kind, or raises
:class:`AuthenticationFailed` when it carries one that is not valid. The guard
(:mod:`container.security._auth`) asks them in turn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..call._context import CallContext, Identity

AUTHORIZATION = "authorization"
"""The metadata key (HTTP header) that carries credentials."""

class AuthenticationFailed(Exception):
    """Raised by an authenticator when the call carries a credential that is not valid (401).

    Args:
        message: why, in words for the caller (it reaches the caller as the 401's message).
        recognised: False when the credential is merely not one this authenticator knows
            (an unknown bearer token may be another authenticator's): the guard then answers
            with this reason only when no authenticator says more, so a JWT refused by the
            JWT authenticator keeps its reason ("the JWT has expired") beside bearer tokens.
            True (the default): the credential is of this authenticator's kind and is not
            valid.

    Attributes:
        recognised: as given.
    """

    def __init__(self, message: str = "", *, recognised: bool = True) -> None:
        super().__init__(message)
        self.recognised = recognised


class Authenticator:
    """Establishes who is calling from what a call carries.

    The guard asks every configured authenticator in turn: the first identity wins; when none
    gives one, the most specific refusal is the answer (see :class:`AuthenticationFailed`).

    Subclass it and override :meth:`authenticate`; name the class in config
    (``auth.authenticators: ["package.module:Class"]``, made with no arguments) or give an
    object in code (``ServiceContainer(extensions={"auth.authenticators": [obj]})``).
    """

    scheme = ""
    """A short name of the kind of credential (``bearer``, ``jwt``, ``mtls``)."""

    def authenticate(self, context: CallContext) -> Identity | None:
        """Return the caller's identity, or None when the call carries no credential of this kind.

        Args:
            context: the call's context: ``metadata`` (the ``authorization`` key holds HTTP's
                Authorization header), ``peer_certificate`` (mTLS), ``peer``.

        Raises:
            AuthenticationFailed: the call carries a credential of this kind that is not valid
                (expired, unknown, malformed); the message goes to the caller.
        """
        raise NotImplementedError


def bearer_token(context: CallContext) -> str | None:
    """Return the token of an ``authorization: Bearer <token>`` metadata entry, or None."""
    value = context.metadata.get(AUTHORIZATION)
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def token_digest(token: str) -> str:
    """Return ``sha256:<hex>`` of a token: what config may hold instead of the token itself."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


class BearerTokens(Authenticator):
    """Accepts the bearer tokens it knows, or those a lookup function vouches for.

    Tokens are compared by their SHA-256 digest, so config may name a token by
    ``sha256:<hex>`` (see :func:`token_digest`) and no comparison time depends on the secret.

    Args:
        tokens: token (or its ``sha256:`` digest) -> the identity it stands for.
        lookup: ``f(token) -> Identity | None`` for tokens not in ``tokens`` (a database, an
            introspection endpoint); None from it means "not valid".
    """

    scheme = "bearer"

    def __init__(
        self,
        tokens: Mapping[str, Identity] | None = None,
        lookup: Callable[[str], Identity | None] | None = None,
    ) -> None:
        self._by_digest = {
            (token if token.startswith("sha256:") else token_digest(token)): identity
            for token, identity in (tokens or {}).items()
        }
        self._lookup = lookup

    def authenticate(self, context: CallContext) -> Identity | None:
        """Return the identity of the call's bearer token (None: no bearer token)."""
        token = bearer_token(context)
        if token is None:
            return None
        identity = self._by_digest.get(token_digest(token))
        if identity is None and self._lookup is not None:
            identity = self._lookup(token)
        if identity is None:
            # Not one of ours; a JWT authenticator configured beside us may know it.
            raise AuthenticationFailed("the bearer token is not valid", recognised=False)
        return identity


class ClientCertificates(Authenticator):
    """The identity of an mTLS caller: its certificate's subject (the TLS layer verified it).

    The subject is the certificate's common name, else its first subject alternative name.

    Args:
        roles: subject -> roles given to callers presenting a certificate with that subject.
    """

    scheme = "mtls"

    def __init__(self, roles: Mapping[str, Iterable[str]] | None = None) -> None:
        self._roles = {subject: frozenset(granted) for subject, granted in (roles or {}).items()}

    def authenticate(self, context: CallContext) -> Identity | None:
        """Return the identity of the call's client certificate (None: no certificate)."""
        certificate = context.peer_certificate
        if not certificate:
            return None
        subject = certificate_subject(certificate)
        if not subject:
            raise AuthenticationFailed("the client certificate names no subject")
        claims = {"certificate": certificate}
        return Identity(subject, self.scheme, self._roles.get(subject, frozenset()), claims)


def certificate_subject(certificate: Mapping[str, Any]) -> str:
    """Return the common name of a certificate (as ``getpeercert()`` gives it), else its first SAN."""
    for rdn in certificate.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    for _kind, value in certificate.get("subjectAltName", ()):
        return str(value)
    return ""
