"""Calls as interceptors see them, and the interceptor contract shared by both sides.

An :class:`Interceptor` wraps a continuation, as gRPC's interceptors and Dubbo's filters do: it
gets the call and ``call_next``, and may read the call, time it, short-circuit it by returning
or raising without calling ``call_next``, or change what ``call_next`` returns. Calls are
frozen, as gRPC's call details are: an interceptor that adds metadata or sets the caller's
identity passes a new call on, ``call_next(call.replace(...))`` or
``call_next(call.with_metadata({...}))``, so no two interceptors can race on shared state.

The same contract serves the client side (the call is an :class:`Invocation`, before URL
selection and encoding) and the server side (a :class:`ServerCall`, after routing and the
deadline check, before the arguments are decoded and the implementation runs). A chain is
composed once per method (:func:`compose`), when a channel compiles its plan or a dispatcher
its routes; an empty chain is the terminal itself and costs nothing.

Calls of ``async def`` methods run an async chain: an interceptor's ``intercept_async(call,
call_next)`` (or an ``async def f(call, call_next)``) awaits ``call_next(call)``. A sync-only
interceptor wraps an async method from a thread of its own (:func:`~._aio.hop`: its
``call_next`` blocks that thread while the rest of the call goes on on the event loop); an
async-only interceptor cannot wrap a sync method, and the chain is refused when it is
compiled, naming both.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from ..values._errors import ConfigurationException
from ..values._loading import load_object
from ._aio import hop
from ._context import CallContext, FrozenCallError

if TYPE_CHECKING:
    from ..declarations._descriptors import MethodDescriptor, ServiceDescriptor

CallNext = Callable[["Call"], Any]
"""The continuation an interceptor calls to go on with the call."""

AsyncCallNext = Callable[["Call"], Awaitable[Any]]
"""The continuation an async interceptor awaits to go on with the call (``await call_next(call)``)."""

_CONTEXT_FIELDS = frozenset({"metadata", "deadline", "identity", "peer", "peer_certificate"})


class Call(msgspec.Struct):
    """One call of a service method, as an interceptor sees it; frozen.

    (Calls are msgspec Structs because one is made for every call: a Struct is made in a
    third of the time of a slotted class.)

    Attributes:
        side: ``"client"`` or ``"server"``.
        method: the called method's descriptor (``.name``, ``.service.name``,
            ``.service.component_descriptor.name``, ``.path``, types).
        context: the call's metadata, deadline and (server side) caller identity.
    """

    side: ClassVar[str] = ""

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenCallError(
            f"a {type(self).__name__} is frozen: pass call_next(call.replace({name}=...)) on "
            "instead of assigning (docs/calls.md)"
        )

    @property
    def service(self) -> ServiceDescriptor[Any]:
        """The descriptor of the called service."""
        return self.method.service  # type: ignore[attr-defined, no-any-return]

    @property
    def name(self) -> str:
        """The called method's name."""
        return self.method.name  # type: ignore[attr-defined, no-any-return]

    @property
    def component(self) -> str:
        """The name of the component that hosts the service."""
        return self.method.service.component_descriptor.name  # type: ignore[attr-defined, no-any-return]

    @property
    def metadata(self) -> Mapping[str, str]:
        """The call's metadata (read-only): ``call.context.metadata``."""
        return self.context.metadata  # type: ignore[attr-defined, no-any-return]

    @property
    def args(self) -> Sequence[Any]:
        """The positional arguments."""
        raise NotImplementedError

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments."""
        raise NotImplementedError

    def replace(self, **changes: Any) -> Any:
        """Return a copy of the call with ``changes``: pass it to ``call_next``.

        Besides the call's own fields (``args``, ``kwargs``, ``context``), the context's are
        accepted directly: ``metadata`` (a mapping, replacing the metadata; checked like
        :func:`~container.call_options`' metadata), ``deadline``, ``identity``, ``peer``.

        Raises:
            ConfigurationException: new metadata is not allowed.
            TypeError: a name that is neither the call's nor its context's.
        """
        context_changes = {name: changes.pop(name) for name in list(changes) if name in _CONTEXT_FIELDS}
        if context_changes:
            context: CallContext = changes["context"] if "context" in changes else self.context  # type: ignore[attr-defined]
            changes["context"] = context.replace(**context_changes)
        return msgspec.structs.replace(self, **self._fields(changes))

    def with_metadata(self, metadata: Mapping[str, str]) -> Any:
        """Return a copy of the call whose metadata also holds ``metadata`` (its pairs win).

        Raises:
            ConfigurationException: a key or value is not allowed.
        """
        return self.replace(metadata={**self.context.metadata, **metadata})  # type: ignore[attr-defined]

    def _fields(self, changes: dict[str, Any]) -> dict[str, Any]:
        return changes


class Invocation(Call):
    """A call on the client side: made through a proxy, not yet sent.

    It is made with its context (the deadline and metadata decided for this call); where the
    call went and what its answer carried are facts of the attempt, read with
    :func:`~container.last_response`.
    """

    side = "client"
    method: MethodDescriptor
    _args: tuple[Any, ...]
    _kwargs: dict[str, Any]
    context: CallContext

    @property
    def args(self) -> tuple[Any, ...]:
        """The positional arguments the caller passed."""
        return self._args

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments the caller passed."""
        return self._kwargs

    def _fields(self, changes: dict[str, Any]) -> dict[str, Any]:
        if "args" in changes:
            changes["_args"] = tuple(changes.pop("args"))
        if "kwargs" in changes:
            changes["_kwargs"] = dict(changes.pop("kwargs"))
        return changes

    def __repr__(self) -> str:
        return f"<Invocation {self.method.path} args={self._args!r} kwargs={self._kwargs!r}>"


class Arguments:
    """A server call's arguments, decoded when first read (once, whoever reads them).

    Args:
        decode: returns ``(args, kwargs)`` from the body; None when they are known already.
        args: the positional arguments, when known.
        kwargs: the keyword arguments, when known.
    """

    __slots__ = ("_args", "_decode", "_kwargs")

    def __init__(
        self,
        decode: Callable[[], tuple[Sequence[Any], dict[str, Any]]] | None = None,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        self._decode = decode
        self._args = args
        self._kwargs = kwargs if kwargs is not None else {}

    def get(self) -> tuple[Sequence[Any], dict[str, Any]]:
        """Return ``(args, kwargs)``, decoding the body on the first call.

        Raises:
            CallRejected: the body does not decode (a 400 answer).
        """
        decode = self._decode
        if decode is not None:
            self._args, self._kwargs = decode()
            self._decode = None
        return self._args, self._kwargs


class ServerCall(Call):
    """A call on the server side: routed, within its deadline, arguments decoded on first use.

    Reading :attr:`args` or :attr:`kwargs` decodes the body; a body that does not decode
    raises the error that becomes a 400 answer. Interceptors that never read the arguments
    (authentication, tracing, metrics) run before any decoding work.

    Attributes:
        content_type: the request's content type ("" for in-process calls).
    """

    side = "server"
    method: MethodDescriptor
    context: CallContext
    arguments: Arguments
    content_type: str = ""

    @property
    def args(self) -> Sequence[Any]:
        """The positional arguments, decoded by the parameter types."""
        return self.arguments.get()[0]

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments, decoded by the parameter types."""
        return self.arguments.get()[1]

    def _fields(self, changes: dict[str, Any]) -> dict[str, Any]:
        if "args" in changes or "kwargs" in changes:
            args = changes.pop("args", None)
            kwargs = changes.pop("kwargs", None)
            changes["arguments"] = Arguments(
                None,
                tuple(self.args if args is None else args),
                dict(self.kwargs if kwargs is None else kwargs),
            )
        return changes

    def __repr__(self) -> str:
        return f"<ServerCall {self.method.path}>"


class Interceptor:
    """Wraps calls on the client side, the server side, or both.

    Subclass it and override :meth:`intercept` (calls of ``def`` methods) and
    :meth:`intercept_async` (calls of ``async def`` methods); a plain function
    ``f(call, call_next)`` works as an interceptor too, and ``async def f(call, call_next)`` as
    an async one. Put it in a ServiceContainer's ``client_interceptors`` or
    ``server_interceptors`` (or name it in config, ``interceptors.client``/``.server``); the
    same object may serve both sides (``call.side`` tells which). Example::

        class Tenant(Interceptor):
            def intercept(self, call, call_next):
                return call_next(call.with_metadata({"tenant": current_tenant()}))

            async def intercept_async(self, call, call_next):
                return await call_next(call.with_metadata({"tenant": current_tenant()}))

    An interceptor that overrides only :meth:`intercept` also wraps async methods: it runs in
    a thread of its own for each such call (docs/async.md says what that costs); one that
    overrides only :meth:`intercept_async` cannot wrap ``def`` methods, and a chain that would
    need it to is refused when it is compiled.

    Attributes:
        components: the names of the components whose calls the interceptor wraps; None (the
            default) for every component.
    """

    components: frozenset[str] | None = None

    def intercept(self, call: Call, call_next: CallNext) -> Any:
        """Run the call: do something around ``call_next(call)`` and return its result.

        Args:
            call: the :class:`Invocation` (client side) or :class:`ServerCall` (server side);
                frozen: pass ``call.replace(...)`` on to change it.
            call_next: the rest of the chain; call it at most once.

        Returns:
            The call's result (what the caller receives, or what the server encodes).
        """
        return call_next(call)

    async def intercept_async(self, call: Call, call_next: AsyncCallNext) -> Any:
        """Run a call of an ``async def`` method: do something around ``await call_next(call)``.

        Args:
            call: as for :meth:`intercept`.
            call_next: the rest of the chain; await it at most once.

        Returns:
            The call's result.
        """
        return await call_next(call)


InterceptorLike = Interceptor | Callable[[Call, CallNext], Any]
"""An :class:`Interceptor`, or a function ``f(call, call_next)`` (``async def`` for async methods)."""


def applies_to(interceptor: InterceptorLike, component: str) -> bool:
    """Return True when an interceptor wraps the calls of ``component``."""
    components = getattr(interceptor, "components", None)
    return components is None or component in components


def compose(
    interceptors: Sequence[InterceptorLike],
    terminal: Callable[[Any], Any],
    hops: Executor | None = None,
    method: str = "",
) -> CallNext:
    """Return ``terminal`` wrapped by the interceptors, the first one outermost.

    An empty sequence returns ``terminal`` itself, so an empty chain costs nothing.

    Args:
        interceptors: outermost first.
        terminal: the end of the chain; for an async chain, a function returning an awaitable.
        hops: None for a sync chain; for an async chain (an ``async def`` method), the thread
            pool where sync-only interceptors run (see the module docstring).
        method: the method the chain runs, for messages.

    Raises:
        ConfigurationException: a sync chain would need an async-only interceptor.
    """
    handler = terminal
    for interceptor in reversed(interceptors):
        if hops is None:
            intercept = sync_intercept_of(interceptor)
            if intercept is None:
                raise ConfigurationException(
                    f"the interceptor {_named(interceptor)} is async only, so it cannot wrap "
                    f"{method or 'a `def` method'}, a `def` method: give it a sync "
                    "intercept(call, call_next) too (docs/async.md)"
                )
        else:
            intercept = async_intercept_of(interceptor) or hop(sync_intercept_of(interceptor), hops)  # type: ignore[arg-type]
        handler = _link(intercept, handler)
    return handler


def _link(intercept: Callable[[Call, Any], Any], call_next: CallNext) -> CallNext:
    # The same link serves both ways: an async intercept returns the awaitable its caller awaits.
    def handler(call: Call) -> Any:
        return intercept(call, call_next)

    return handler


def _is_async(function: object) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None)  # noqa: B004 - a callable object's own __call__
    )


def _overrides(interceptor: Interceptor, name: str) -> bool:
    return getattr(type(interceptor), name) is not getattr(Interceptor, name)


def sync_intercept_of(interceptor: InterceptorLike) -> Callable[[Call, CallNext], Any] | None:
    """Return what runs an interceptor around a ``def`` method's call; None for an async-only one."""
    if isinstance(interceptor, Interceptor):
        if not _overrides(interceptor, "intercept") and _overrides(interceptor, "intercept_async"):
            return None
        return interceptor.intercept
    return None if _is_async(interceptor) else interceptor


def async_intercept_of(
    interceptor: InterceptorLike,
) -> Callable[[Call, AsyncCallNext], Awaitable[Any]] | None:
    """Return what runs an interceptor natively around an ``async def`` method's call.

    None for a sync-only interceptor (it needs a thread: see :func:`~._aio.hop`).
    """
    if isinstance(interceptor, Interceptor):
        if _overrides(interceptor, "intercept") and not _overrides(interceptor, "intercept_async"):
            return None
        return interceptor.intercept_async
    return interceptor if _is_async(interceptor) else None  # type: ignore[return-value]


def _named(interceptor: InterceptorLike) -> str:
    target = interceptor if not isinstance(interceptor, Interceptor) else type(interceptor)
    return getattr(target, "__qualname__", None) or repr(interceptor)


def load_interceptor(spec: str, where: str) -> InterceptorLike:
    """Return the interceptor that config names as ``package.module:name``.

    A class is instantiated with no arguments; an :class:`Interceptor` object or a function
    ``f(call, call_next)`` (``def`` or ``async def``) is used as it is.

    Raises:
        ConfigurationException: the spec is malformed, cannot be imported, or names something
            that is no interceptor (the message names the config key ``where``).
    """
    value = load_object(spec, f"config key {where!r}")
    if isinstance(value, type):
        try:
            value = value()
        except Exception as exc:
            raise ConfigurationException(f"config key {where!r}: cannot create {spec!r}: {exc!r}") from exc
    if not (isinstance(value, Interceptor) or callable(value)):
        raise ConfigurationException(
            f"config key {where!r}: {spec!r} is {value!r}, not an Interceptor or f(call, call_next)"
        )
    return value  # type: ignore[no-any-return]
