"""What travels with every call besides its arguments: metadata, the deadline, the caller.

A :class:`CallContext` goes with each call from the proxy to the implementation: str->str
metadata (HTTP headers on the HTTP channels, a frame field elsewhere) and the deadline, carried
as the time that remains. Contexts are frozen: a change is a new context
(:meth:`CallContext.replace`), so no two interceptors can race on one.

Inside an implementation, :func:`call_context` returns the context of the call being served; a
call the implementation makes inherits its deadline (never a later one), through a context
variable, so nested calls of any depth share the caller's time budget. The implementation (or
a server interceptor) answers with metadata of its own through :func:`set_response_metadata`;
the caller reads it with :func:`last_response`.

:func:`call_options` sets a deadline and metadata for the calls made inside a ``with`` block,
since a proxy method has exactly the interface's signature and cannot take extra arguments.
:func:`new_client_context` is the one place where the deadline of an outgoing call is decided.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NoReturn

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

RESERVED_RESPONSE_METADATA = RESERVED_METADATA | frozenset(
    {
        "accept-ranges",
        "age",
        "allow",
        "alt-svc",
        "cache-control",
        "content-range",
        "date",
        "etag",
        "expires",
        "last-modified",
        "location",
        "retry-after",
        "server",
        "set-cookie",
        "vary",
        "via",
        "www-authenticate",
    }
)
"""Keys an answer's metadata may not use: the transport's, and the headers HTTP servers and
proxies add to answers of their own accord (a client reads every other answer header as
metadata)."""

TIMEOUT_KEY = "sw-timeout-ms"
"""The metadata key that carries the time remaining until the deadline, in milliseconds."""

_TIMEOUT_VALUE = re.compile(r"[0-9]{1,10}")
"""What an ``sw-timeout-ms`` value may be: 1 to 10 ASCII digits (milliseconds; no sign, no
``_``, no other digits than 0-9, no spaces, no exponent). Anything else is refused (400),
never read as "no deadline"."""


def timeout_milliseconds(value: str) -> int | None:
    """Return the milliseconds an ``sw-timeout-ms`` value announces, or None when it is malformed."""
    return int(value) if _TIMEOUT_VALUE.fullmatch(value) else None


class FrozenCallError(AttributeError):
    """Raised when code assigns to a call or its context: they are frozen; pass a new one on."""


class Metadata(dict[str, str]):
    """Read-only str->str pairs: the metadata of a call or of its answer.

    A ``dict`` (so reading it costs what reading a dict costs, and codecs take it as one) whose
    changing methods raise :class:`TypeError` saying what to do instead. Make a changed copy with
    ``{**metadata, "key": "value"}`` and pass it on with ``call.replace(metadata=...)`` or
    ``call.with_metadata(...)``.
    """

    __slots__ = ()

    def _frozen(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(
            "call metadata is read-only: pass call_next(call.with_metadata({...})) or "
            "call.replace(metadata={...}) on instead of changing it in place (docs/calls.md)"
        )

    __setitem__ = __delitem__ = __ior__ = _frozen  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _frozen  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Metadata({dict.__repr__(self)})"

    def __reduce__(self) -> Any:
        return (Metadata, (dict(self),))


NO_METADATA = Metadata()
"""The metadata of a call that has none (one shared, read-only instance)."""


def frozen_metadata(
    pairs: Mapping[str, str] | Iterable[tuple[str, str]], where: str = "metadata"
) -> Metadata:
    """Return checked, read-only metadata holding ``pairs`` (``pairs`` itself when already so).

    Raises:
        ConfigurationException: a key or value is not allowed (see :func:`check_metadata`).
    """
    if type(pairs) is Metadata:
        return pairs
    found = Metadata(pairs)
    check_metadata(found, where)
    return found


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
    """The metadata, deadline and caller of one call; frozen.

    On the client side ``metadata`` is what is sent; on the server side it is what was received.
    ``deadline`` is a :func:`time.monotonic` value, or None for no deadline. A context never
    changes: :meth:`replace` returns a changed copy, and assigning an attribute raises
    :class:`AttributeError` saying so. (A msgspec Struct: one is made for every call, and
    Structs are made in a third of the time of a slotted class. Untracked by the garbage
    collector, which is safe because nothing a context holds can refer back to it: str->str
    metadata, a float, an :class:`Identity`, a certificate's fields.)

    Attributes:
        metadata: read-only str->str pairs; keys are lowercase letters, digits and ``-``.
        deadline: when the call must be over (monotonic clock), or None.
        identity: the authenticated caller (server side), or None.
        peer: the remote address as the listener saw it (server side), "" when unknown.
        peer_certificate: the caller's TLS client certificate as
            :meth:`ssl.SSLSocket.getpeercert` returns it (server side, mTLS), or None.
        budget: the seconds the call had when its deadline was set (for messages: "deadline
            of 0.5s expired"), or None without a deadline.
    """

    metadata: Mapping[str, str] = NO_METADATA
    deadline: float | None = None
    identity: Identity | None = None
    peer: str = ""
    peer_certificate: dict[str, Any] | None = None
    budget: float | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenCallError(
            f"a CallContext is frozen: use context.replace({name}=...) and pass the new call on "
            "(call.replace(...)) instead of assigning"
        )

    def replace(self, **changes: Any) -> CallContext:
        """Return a copy with ``changes`` applied (``metadata`` as a mapping of its own).

        Raises:
            ConfigurationException: the new metadata is not allowed (see :func:`check_metadata`).
        """
        if "metadata" in changes:
            changes["metadata"] = frozen_metadata(changes["metadata"])
        return msgspec.structs.replace(self, **changes)

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
        return f"<CallContext deadline in {left} metadata={dict(self.metadata)!r}>"


def check_metadata(
    metadata: Mapping[str, str], where: str = "metadata", reserved: frozenset[str] = RESERVED_METADATA
) -> None:
    """Refuse metadata that could not travel as HTTP headers or would forge the transport's own.

    Args:
        metadata: the pairs to check.
        where: what they are, for the message (``"call_options metadata"``, ...).
        reserved: the keys that are not allowed (:data:`RESERVED_METADATA` for calls,
            :data:`RESERVED_RESPONSE_METADATA` for answers).

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
        if key in reserved or key == TIMEOUT_KEY:
            raise ConfigurationException(f"{where} key {key!r} is reserved for the transport")
        if not isinstance(value, str) or not _METADATA_VALUE.match(value):
            raise ConfigurationException(
                f"{where} value of {key!r} must be a printable ASCII string of at most 8192 "
                f"characters, got {value!r:.80}"
            )


# The call being served ---------------------------------------------------------------------


class Serving(msgspec.Struct, gc=False):
    """The call this thread (or task) is serving: its context and the answer's metadata so far.

    The dispatcher makes one per call and makes it current while the server interceptors and
    the implementation run; :func:`call_context` and :func:`set_response_metadata` use it, and
    nested calls take their deadline from it. (The one mutable record of a call: what the
    answer will carry is built while the call runs. A Struct, made without a Python frame.)

    Attributes:
        context: the context of the call as the implementation sees it (with the caller's
            identity once an authenticator established it).
        answer: the metadata the answer will carry (empty until something sets some).
    """

    context: CallContext
    answer: Metadata = NO_METADATA


@attrs.frozen
class _Options:
    deadline: float | None
    metadata: Metadata


_serving: contextvars.ContextVar[Serving | None] = contextvars.ContextVar("servicewire_serving", default=None)
_options: contextvars.ContextVar[_Options | None] = contextvars.ContextVar(
    "servicewire_options", default=None
)

serving_variable = _serving
"""The context variable holding the call being served (the dispatcher sets it around each call)."""

_serving_get = _serving.get
_options_get = _options.get
_monotonic = time.monotonic


def call_context() -> CallContext | None:
    """Return the context of the call being served by this thread, or None outside a call.

    Inside an implementation it holds the caller's metadata, the deadline and, when an
    authenticator runs, the caller's :class:`Identity`. An implementation called directly (the
    local shortcut of ``get_service``, a unit test) is not serving a call: it gets None.
    """
    serving = _serving.get()
    return None if serving is None else serving.context


def set_response_metadata(metadata: Mapping[str, str]) -> None:
    """Send ``metadata`` back to the caller with the answer of the call being served.

    Call it from an implementation or a server interceptor; the pairs add to what was set
    before for the same call (a key set twice keeps its last value). The answer carries them
    whether the call returns or raises, on every channel (HTTP headers, a frame field, directly
    in process), and the caller reads them with :func:`last_response`. Example::

        def reserve(self, sku: str, quantity: int) -> int:
            set_response_metadata({"stock-checked-at": self.clock.now().isoformat()})
            ...

    Outside a served call it checks the pairs and does nothing else: an implementation called
    directly (the local shortcut of ``get_service``, a unit test) has no answer to carry them
    and no caller waiting for them, and must work there as it works when served.

    Raises:
        ConfigurationException: a key or value is not allowed (the rules of
            :func:`check_metadata`, and none of :data:`RESERVED_RESPONSE_METADATA`).
    """
    pairs = dict(metadata)
    check_metadata(pairs, "response metadata", RESERVED_RESPONSE_METADATA)
    serving = _serving.get()
    if serving is not None:
        serving.answer = Metadata({**serving.answer, **pairs})


# Options of the calls a block makes ---------------------------------------------------------


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
    merged = outer.metadata if outer is not None else NO_METADATA
    if metadata:
        check_metadata(metadata, "call_options metadata")
        merged = Metadata({**merged, **metadata})
    token = _options.set(_Options(deadline, merged))
    try:
        yield
    finally:
        _options.reset(token)


def new_client_context(default_timeout: float | None) -> CallContext:
    """Return the context of a new outgoing call: the one place its deadline is decided.

    The deadline is the earliest of: the method's default (``default_timeout`` from now), the
    deadline of the call being served (a nested call never outlives its caller), and the
    deadline of an enclosing :func:`call_options` block. The metadata is the block's.
    """
    now = _monotonic()
    deadline = None if default_timeout is None else now + default_timeout
    serving = _serving_get()
    if serving is not None:
        inherited = serving.context.deadline
        if inherited is not None and (deadline is None or inherited < deadline):
            deadline = inherited
    options = _options_get()
    if options is None:
        metadata: Metadata = NO_METADATA
    else:
        metadata = options.metadata
        if options.deadline is not None and (deadline is None or options.deadline < deadline):
            deadline = options.deadline
    if deadline is None:
        return CallContext(metadata)
    return CallContext(metadata, deadline, None, "", None, deadline - now)


# What the caller reads of the answers -------------------------------------------------------


class LastResponse:
    """What the caller learns of the answer to the last call made in a :func:`last_response` block.

    Attributes:
        metadata: the metadata the answer carried (empty before any call answered, and for an
            answer without any).
        url: the URL of the instance that answered ("" before any call answered; also for an
            in-process call that raised).
        calls: how many calls of the block were answered (with a result or an error).
    """

    __slots__ = ("_outer", "_serving", "calls", "metadata", "url")

    def __init__(self, outer: LastResponse | None, serving: Serving | None) -> None:
        self._outer = outer
        self._serving = serving
        self.metadata: Mapping[str, str] = NO_METADATA
        self.url = ""
        self.calls = 0

    def __repr__(self) -> str:
        return f"<LastResponse url={self.url!r} metadata={dict(self.metadata)!r}>"


_responses: contextvars.ContextVar[LastResponse | None] = contextvars.ContextVar(
    "servicewire_responses", default=None
)
responses_get = _responses.get
"""Return the innermost :func:`last_response` block's record, or None (the pipeline asks per call)."""


@contextlib.contextmanager
def last_response() -> Iterator[LastResponse]:
    """Read the answer's metadata (and URL) of the calls made inside the block.

    After each call the block's :class:`LastResponse` holds what the answer carried: the
    metadata the implementation or a server interceptor set (:func:`set_response_metadata`),
    whether the call returned or raised, on every channel. Example::

        with last_response() as response:
            order = orders.place("pen", 2)
        quota = response.metadata.get("quota-left")

    Blocks nest (each one sees the calls made inside it), and a client interceptor may open
    one around ``call_next`` to read the answer of the call it wraps. Calls made by an
    implementation that serves a call inside the block (an in-process call's nested calls) are
    not the block's own and leave it unchanged.
    """
    record = LastResponse(_responses.get(), _serving.get())
    token = _responses.set(record)
    try:
        yield record
    finally:
        _responses.reset(token)


def record_response(record: LastResponse, url: str, metadata: Mapping[str, str]) -> None:
    """Tell ``record`` and the blocks around it (of the same served call) what an answer carried."""
    serving = _serving.get()
    while record is not None and record._serving is serving:
        record.url = url
        record.metadata = metadata
        record.calls += 1
        record = record._outer  # type: ignore[assignment]


# Answer metadata of in-process calls ----------------------------------------------------------

_local_answers: contextvars.ContextVar[tuple[object, Metadata] | None] = contextvars.ContextVar(
    "servicewire_local_answers", default=None
)


def hand_back(invocation: object, metadata: Metadata) -> None:
    """Hand the answer metadata of an in-process call back to its caller (the dispatcher does).

    An in-process call runs on the caller's thread, so the caller finds it here right after
    the call returns or raises (:func:`take_local_answer`); nothing else is shared. Only a
    caller inside a :func:`last_response` block reads it, so nothing is handed back otherwise.
    """
    if _responses.get() is not None:
        _local_answers.set((invocation, metadata))


def take_local_answer(invocation: object) -> Metadata:
    """Return (and forget) the answer metadata handed back for ``invocation``; empty when none."""
    found = _local_answers.get()
    if found is None:
        return NO_METADATA
    _local_answers.set(None)
    return found[1] if found[0] is invocation else NO_METADATA


# The deadline on the wire --------------------------------------------------------------------


def timeout_metadata(deadline: float | None) -> str | None:
    """Return the ``sw-timeout-ms`` value for a deadline (at least 1), or None without one."""
    if deadline is None:
        return None
    return str(max(1, int((deadline - time.monotonic()) * 1000)))


def deadline_from_metadata(value: str | None) -> float | None:
    """Return the deadline that an ``sw-timeout-ms`` value announces, or None (absent or malformed).

    A value is 1 to 10 ASCII digits, in milliseconds. A listener need not call this: the
    dispatcher reads ``sw-timeout-ms`` from the metadata it is handed, and answers a
    malformed value with 400.
    """
    if not value:
        return None
    milliseconds = timeout_milliseconds(value)
    return None if milliseconds is None else time.monotonic() + milliseconds / 1000
