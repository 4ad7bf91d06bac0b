"""What travels with every call besides its arguments: metadata, the deadline, the caller.

A :class:`CallContext` goes with each call from the proxy to the implementation: str->str
metadata (HTTP headers on the HTTP channels, a frame field elsewhere) and the deadline, carried
as the time that remains. Inside an implementation, :func:`call_context` returns the context of
the call being served; a call the implementation makes inherits its deadline (never a later
one), through a context variable, so nested calls of any depth share the caller's time budget.

:func:`call_options` sets a deadline and metadata for the calls made inside a ``with`` block,
since a proxy method has exactly the interface's signature and cannot take extra arguments.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import msgspec

from ..values._errors import ConfigurationException

_METADATA_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_METADATA_VALUE = re.compile(r"^[\x20-\x7e\t]{0,8192}$")

RESERVED_METADATA = frozenset(
    {
        "accept",
        "accept-encoding",
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "expect",
        "host",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
    }
)
"""Metadata keys that belong to the transport (HTTP framing headers); never carried as metadata."""

TIMEOUT_KEY = "sw-timeout-ms"
"""The metadata key that carries the time remaining until the deadline, in milliseconds."""


@attrs.frozen
class Identity:
    """Who is calling, as established by an authenticator on the server side.

    Attributes:
        subject: the caller's name (token subject, certificate common name, ...).
        scheme: how it was established, for example ``"bearer"``, ``"jwt"``, ``"mtls"``.
        roles: what the caller may do, as the authorization rules name it.
        claims: further facts from the credential (JWT claims, certificate fields).
    """

    subject: str
    scheme: str = ""
    roles: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = attrs.field(factory=dict)


class CallContext(msgspec.Struct, gc=False):
    """The metadata and deadline of one call.

    On the client side ``metadata`` is what is sent (interceptors may add to it); on the server
    side it is what was received. ``deadline`` is a :func:`time.monotonic` value, or None for
    no deadline. (A msgspec Struct: one is made for every call, and Structs are made in a
    third of the time of a slotted class. Untracked by the garbage collector, which is safe
    because nothing a context holds can refer back to it: str->str metadata, a float, an
    :class:`Identity`, a certificate's fields.)

    Attributes:
        metadata: str->str pairs; keys are lowercase letters, digits and ``-``.
        deadline: when the call must be over (monotonic clock), or None.
        identity: the authenticated caller (server side), or None.
        peer: the remote address as the listener saw it (server side), "" when unknown.
        peer_certificate: the caller's TLS client certificate as
            :meth:`ssl.SSLSocket.getpeercert` returns it (server side, mTLS), or None.
    """

    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    deadline: float | None = None
    identity: Identity | None = None
    peer: str = ""
    peer_certificate: dict[str, Any] | None = None

    def time_remaining(self) -> float | None:
        """Return the seconds left until the deadline (negative once passed), or None."""
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()

    def expired(self) -> bool:
        """Return True when the deadline has passed."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def __repr__(self) -> str:
        remaining = self.time_remaining()
        left = "none" if remaining is None else f"{remaining:.3f}s"
        return f"<CallContext deadline in {left} metadata={self.metadata!r}>"


def check_metadata(metadata: Mapping[str, str], where: str = "metadata") -> None:
    """Refuse metadata that could not travel as HTTP headers or would forge the transport's own.

    Raises:
        ConfigurationException: a key is not lowercase token characters, is reserved, or a
            value holds control characters or is longer than 8 KiB.
    """
    for key, value in metadata.items():
        if not isinstance(key, str) or not _METADATA_KEY.match(key):
            raise ConfigurationException(
                f"{where} key {key!r} is not allowed: use lowercase letters, digits and '-', "
                "at most 64 characters"
            )
        if key in RESERVED_METADATA or key == TIMEOUT_KEY:
            raise ConfigurationException(f"{where} key {key!r} is reserved for the transport")
        if not isinstance(value, str) or not _METADATA_VALUE.match(value):
            raise ConfigurationException(
                f"{where} value of {key!r} must be a printable ASCII string of at most 8192 "
                f"characters, got {value!r:.80}"
            )


@attrs.frozen
class _Options:
    deadline: float | None
    metadata: Mapping[str, str]


_serving: contextvars.ContextVar[CallContext | None] = contextvars.ContextVar(
    "servicewire_serving", default=None
)
_options: contextvars.ContextVar[_Options | None] = contextvars.ContextVar(
    "servicewire_options", default=None
)

serving_variable = _serving
options_variable = _options
_serving_get = _serving.get
_options_get = _options.get
_monotonic = time.monotonic
"""The context variable holding the call being served (the dispatcher sets it around each call)."""


def call_context() -> CallContext | None:
    """Return the context of the call being served by this thread, or None outside a call.

    Inside an implementation it holds the caller's metadata, the deadline and, when an
    authenticator runs, the caller's :class:`Identity`.
    """
    return _serving.get()


@contextlib.contextmanager
def call_options(timeout: float | None = None, metadata: Mapping[str, str] | None = None) -> Iterator[None]:
    """Give the calls made inside the block a deadline and extra metadata.

    Blocks nest: an inner block can shorten the deadline, never extend it, and adds to the
    metadata. Example::

        with call_options(timeout=0.5, metadata={"tenant": "acme"}):
            stock = inventory.reserve(sku, 2)     # fails after 0.5 s at most

    Args:
        timeout: seconds from now within which each call in the block must be over.
        metadata: str->str pairs sent with each call in the block.

    Raises:
        ConfigurationException: ``timeout`` is not a positive number, or the metadata is not
            allowed (see :func:`check_metadata`).
    """
    outer = _options.get()
    deadline = outer.deadline if outer is not None else None
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigurationException(f"call_options timeout must be positive seconds, got {timeout!r}")
        mine = time.monotonic() + timeout
        deadline = mine if deadline is None else min(deadline, mine)
    merged: dict[str, str] = dict(outer.metadata) if outer is not None else {}
    if metadata:
        check_metadata(metadata, "call_options metadata")
        merged.update(metadata)
    token = _options.set(_Options(deadline, merged))
    try:
        yield
    finally:
        _options.reset(token)


def new_client_context(default_timeout: float | None) -> CallContext:
    """Return the context of a new outgoing call: options, inherited deadline, default timeout.

    The deadline is the earliest of: the method's default (``default_timeout`` from now), the
    deadline of the call being served (a nested call never outlives its caller), and the
    deadline of an enclosing :func:`call_options` block.
    """
    deadline = None if default_timeout is None else _monotonic() + default_timeout
    serving = _serving_get()
    if serving is not None:
        inherited = serving.deadline
        if inherited is not None and (deadline is None or inherited < deadline):
            deadline = inherited
    options = _options_get()
    if options is None:
        return CallContext({}, deadline)
    if options.deadline is not None and (deadline is None or options.deadline < deadline):
        deadline = options.deadline
    return CallContext(dict(options.metadata), deadline)


def timeout_metadata(deadline: float | None) -> str | None:
    """Return the ``sw-timeout-ms`` value for a deadline (at least 1), or None without one."""
    if deadline is None:
        return None
    return str(max(1, int((deadline - time.monotonic()) * 1000)))


def deadline_from_metadata(value: str | None) -> float | None:
    """Return the deadline that an ``sw-timeout-ms`` value announces, or None (absent or malformed)."""
    if not value:
        return None
    try:
        milliseconds = int(value)
    except ValueError:
        return None
    if milliseconds < 0 or milliseconds > 10**10:
        return None
    return time.monotonic() + milliseconds / 1000
