"""The plan of one method on one channel: compiled once, run for every call.

A channel compiles a :class:`MethodPlan` per method when it is set up, holding every decision
known then: the method's codec, its default timeout, the connect timeout, whether it is
idempotent, the client interceptors composed around the terminal, and the channel's attempts
(:class:`~container.policies._attempts.Attempts`). A call is then::

    new_client_context(timeout) -> Invocation -> chain(invocation) -> terminal:
        encode -> attempts (choose a URL, send, fail over) -> decode, or raise the error

with one terminal per kind of transport (bytes, in process) and one loop over the attempts,
shared by both.

The direct route: a plan of a ``def`` method without client interceptors, on an in-process
transport that offers runners (``InProcessTransport.direct_runner``), decides once per choice
of URLs whether its calls may skip the Invocation and the chain. While the channel has one URL
with nothing cooling down, a call not watched by a ``last_response`` block goes::

    new_client_context(timeout) -> the transport's runner(context, args, kwargs)

which is what the chain would do with it, minus the objects nobody reads. Anything else (an
interceptor, a block that reads the answer, several URLs, a cool-down) takes the whole path.

An ``async def`` method runs the same plan asynchronously: the same context builder, the same
Invocation, the same attempt decisions (:mod:`~container.policies._attempts`) and codec; its
chain is composed of the interceptors' async sides around async terminals, which await the
transport's ``send_async`` (or the in-process transport's ``call_async``) under a
:class:`~container.call._aio.Deadline` per attempt, and the loop over the attempts is the
sync loop's mirror. Only the waiting differs.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..call._aio import Deadline, in_thread
from ..call._calls import InterceptorLike, Invocation, compose
from ..call._context import (
    new_client_context,
    record_response,
    responses_get,
    take_local_answer,
)
from ..call._messages import Request, Response
from ..call._transport import InProcessTransport, Transport
from ..config._runtime import workers_of
from ..policies._attempts import Attempts, Choice
from ..values._errors import PluginException, ServiceCommunicationException, ServiceTimeoutException
from ..values._status import Status
from ..wire._codec import Codec, CodecError, MethodCodec, bad_answer, codec_for, error_for_status

if TYPE_CHECKING:
    from ..config._settings import Settings
    from ..declarations._descriptors import MethodDescriptor

# Plain ints on the call path: comparing with an int is a little cheaper than with an IntEnum.
OK = int(Status.OK)
UNAVAILABLE = int(Status.UNAVAILABLE)
DEADLINE_EXCEEDED = int(Status.DEADLINE_EXCEEDED)

_JSON = codec_for("application/json")


class MethodPlan:
    """Everything a channel decided at setup about the calls of one method.

    Args:
        method: the method.
        settings: the validated configuration (timeouts, idempotency).
        attempts: the channel's URLs, selector and cool-downs.
        interceptors: the client interceptors of the method's component, outermost first.
        transport: the channel's transport (bytes or in process), None for a channel that
            sends by itself (the first plugin contract: ``terminal`` is its ``invoke``).
        codec: the channel's codec (bytes transports).
        terminal: the end of the chain for a channel that sends by itself.
        owner: the channel, for messages.

    Attributes:
        method: the method.
        path: ``component/service/method``.
        timeout: seconds a call may take unless something shortens it.
        connect_timeout: seconds one connection attempt may take.
        idempotent: whether a call that may have run may be sent again elsewhere.
        is_async: True for an ``async def`` method: :attr:`chain` and :attr:`terminal` return
            awaitables, and :meth:`call_async` runs a call.
        terminal: the end of the chain: encode, attempts, decode (or the channel's own invoke).
        chain: the client interceptors composed around the terminal; takes an Invocation.
        policy: the method's resilience policy (retries, hedging, breakers): None for now,
            the place where the next release's policies plug in (both runners will consult
            it where they consult :attr:`attempts`).
    """

    __slots__ = (
        "_codec",
        "_content_type",
        "_direct",
        "_direct_runner",
        "_send",
        "_send_async",
        "_transport_send",
        "_transport_send_async",
        "attempts",
        "chain",
        "connect_timeout",
        "idempotent",
        "is_async",
        "method",
        "path",
        "policy",
        "terminal",
        "timeout",
    )

    def __init__(
        self,
        method: MethodDescriptor,
        settings: Settings,
        attempts: Attempts,
        interceptors: Sequence[InterceptorLike],
        transport: Transport | InProcessTransport | None,
        codec: Codec | None,
        terminal: Callable[[Invocation], Any] | None = None,
        owner: str = "the channel",
    ) -> None:
        component, service = method.service.component_descriptor.name, method.service.name
        self.method = method
        self.path = method.path
        self.timeout = settings.timeout(component, service, method.name)
        self.connect_timeout = settings.connect_timeout(component)
        self.idempotent = method.idempotent or settings.idempotent(component, service, method.name)
        self.attempts = attempts
        self.policy: Any = None
        self.is_async = method.is_async
        self._codec = MethodCodec(method, codec) if codec is not None else None
        self._content_type = codec.content_type if codec is not None else ""
        self._transport_send: Callable[[str, Request], Response] | None = None
        self._transport_send_async: Callable[[str, Request], Awaitable[Response]] | None = None
        self._send: Callable[[str, Any], Any]
        self._send_async: Callable[[str, Any], Awaitable[Any]]
        workers = workers_of(settings.runtime)
        self._direct = _NO_DIRECT
        # The transport's direct runners, for the calls of a `def` method without client
        # interceptors on an in-process transport that offers them (see _direct_route).
        self._direct_runner: Callable[[str, MethodDescriptor], Any] | None = None
        if (
            terminal is None
            and not interceptors
            and not self.is_async
            and isinstance(transport, InProcessTransport)
            and type(transport).direct_runner is not InProcessTransport.direct_runner
        ):
            self._direct_runner = transport.direct_runner
        terminal_async: Callable[[Invocation], Awaitable[Any]]
        if terminal is not None:  # the channel's own invoke (first contract): from a thread
            terminal_async = functools.partial(in_thread, workers.pool, terminal)
        elif isinstance(transport, InProcessTransport):
            self._send, self._send_async = transport.call, transport.call_async
            terminal, terminal_async = self._in_process, self._in_process_async
        elif isinstance(transport, Transport):
            self._transport_send, self._transport_send_async = transport.send, transport.send_async
            self._send, self._send_async = self._send_bytes, self._send_bytes_async
            terminal, terminal_async = self._bytes, self._bytes_async
        else:
            refusal = _NoTransport(owner)
            terminal, terminal_async = refusal.refuse, refusal.refuse_async
        if self.is_async:
            terminal = terminal_async
        self.terminal: Callable[[Invocation], Any] = terminal
        hops = workers.hops if self.is_async else None
        self.chain: Callable[[Invocation], Any] = compose(interceptors, terminal, hops, self.path)

    # the runners

    def call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run one call of the method with these arguments: context, Invocation, chain.

        The direct route: while the channel's URLs leave one choice and the in-process
        transport gave a runner for it (:meth:`_direct_route`), a call that no
        :func:`~container.last_response` block watches goes straight to that runner with its
        context, as the chain would take it there (the plan has no interceptors, and there is
        no URL to choose): no Invocation is made. A failure to reach the runner is handled by
        the loop over the attempts (:meth:`fail_over`), as any failure to send.
        """
        if self._direct_runner is not None:  # decided when the plan was compiled
            direct = self._direct
            if direct.choice is not self.attempts.choice:  # a new address, a cool-down, a selector
                direct = self._direct_route()
            run = direct.run
            if run is not None and responses_get() is None:
                context = new_client_context(self.timeout)
                budget = context.budget
                if budget is None or budget > 0.0:  # else the chain says that the deadline passed
                    try:
                        return run(context, args, kwargs)
                    except ServiceCommunicationException as exc:
                        invocation = Invocation(self.method, args, kwargs, context)
                        return self._direct_failed(direct, exc, invocation)
        return self.chain(Invocation(self.method, args, kwargs, new_client_context(self.timeout)))

    def _direct_route(self) -> _Direct:
        """Decide, for the channel's current choice of URLs, whether calls may go direct.

        They may when the choice is one URL with nothing to decide (no selector that counts
        calls, nothing cooling down) and the transport has a runner for it. Decided once per
        choice: the choice is replaced whenever the URLs, the selector or a cool-down change.
        """
        choice = self.attempts.settled()
        url = choice.only
        run = None
        if url and self._direct_runner is not None:
            run = self._direct_runner(url, self.method)
        direct = self._direct = _Direct(choice, url, run)
        return direct

    def _direct_failed(
        self, direct: _Direct, exc: ServiceCommunicationException, invocation: Invocation
    ) -> Any:
        """Go on with a direct call that failed to reach its runner, as the attempts loop does."""
        assert direct.choice is not None  # a runner is only found for a choice
        context = invocation.context
        return self.fail_over(
            direct.choice, direct.url, exc, self._send, invocation, context.deadline, context.budget
        )[1]

    async def call_async(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run one call of an ``async def`` method: the same context, Invocation and chain, awaited."""
        return await self.chain(Invocation(self.method, args, kwargs, new_client_context(self.timeout)))

    def attempt(
        self, send: Callable[[str, Any], Any], payload: Any, deadline: float | None, budget: float | None
    ) -> tuple[str, Any]:
        """Send ``payload`` to the chosen URL, failing over while that is safe; return (URL, answer).

        The one loop over the attempts of a call (see
        :mod:`~container.policies._attempts` for the decisions it follows).
        """
        choice = self.attempts.choice
        url = choice.only or choice.pick()
        tracks = choice.tracks
        if tracks:
            choice.selector.started(url)
        try:
            answer = send(url, payload)
        except ServiceCommunicationException as exc:
            if tracks:
                choice.selector.finished(url)
            return self.fail_over(choice, url, exc, send, payload, deadline, budget)
        if tracks:
            choice.selector.finished(url)
        if choice.cooling:
            self.attempts.succeeded(url)
        return url, answer

    def fail_over(
        self,
        choice: Choice,
        url: str,
        exc: ServiceCommunicationException,
        send: Callable[[str, Any], Any],
        payload: Any,
        deadline: float | None,
        budget: float | None,
    ) -> tuple[str, Any]:
        """Go on with a call whose first attempt, on ``url``, failed with ``exc``; return (URL, answer).

        The rest of :meth:`attempt`'s loop: the next URL while moving on is safe, until one
        answers.

        Raises:
            ServiceCommunicationException: the call may not go elsewhere, or every URL failed.
        """
        attempts = self.attempts
        tracks = choice.tracks
        failover = attempts.failover(choice, url, self.idempotent, deadline, budget)
        while True:
            url = failover.next_url(url, exc)  # raises when the call may not go elsewhere
            if tracks:
                choice.selector.started(url)
            try:
                answer = send(url, payload)
            except ServiceCommunicationException as failure:
                if tracks:
                    choice.selector.finished(url)
                exc = failure
                continue
            if tracks:
                choice.selector.finished(url)
            if choice.cooling:
                attempts.succeeded(url)
            return url, answer

    async def attempt_async(
        self,
        send: Callable[[str, Any], Awaitable[Any]],
        payload: Any,
        deadline: float | None,
        budget: float | None,
    ) -> tuple[str, Any]:
        """:meth:`attempt` awaiting ``send``: each attempt is cancelled when the deadline passes.

        The mirror of the sync loop, over the same decisions; a cancelled call (its caller's
        task was cancelled) is not an attempt that failed: it goes nowhere else.
        """
        attempts = self.attempts
        choice = attempts.choice
        url = choice.only or choice.pick()
        tracks = choice.tracks
        failover = None
        while True:
            if tracks:
                choice.selector.started(url)
            try:
                if deadline is None:
                    answer = await send(url, payload)
                else:
                    with Deadline(deadline, ServiceTimeoutException, url, "deadline", budget or 0.0):
                        answer = await send(url, payload)
            except ServiceCommunicationException as exc:
                if tracks:
                    choice.selector.finished(url)
                if failover is None:
                    failover = attempts.failover(choice, url, self.idempotent, deadline, budget)
                url = failover.next_url(url, exc)  # raises when the call may not go elsewhere
                continue
            except BaseException:
                if tracks:
                    choice.selector.finished(url)
                raise
            if tracks:
                choice.selector.finished(url)
            if choice.cooling:
                attempts.succeeded(url)
            return url, answer

    # terminals: the end of the chain, one per kind of transport and way

    def _bytes(self, invocation: Invocation) -> Any:
        """Encode, send with failover, and decode the answer or raise the error it carries.

        The steps of :meth:`_request` and :meth:`_result`, written out: the sync hot path saves
        two calls (5 % of the pipeline's overhead, bench/README.md); the async terminal calls them.
        """
        context = invocation.context
        deadline = context.deadline
        codec = self._codec
        assert codec is not None
        request = Request(
            self.path,
            codec.encode_call(invocation.args, invocation.kwargs),
            self._content_type,
            context.metadata,
            deadline,
            self.connect_timeout,
            context.budget or 0.0,
        )
        url, response = self.attempt(self._send, request, deadline, context.budget)
        record = responses_get()
        if record is not None:
            record_response(record, url, response.metadata)
        if response.status == OK:
            try:
                return codec.decode_result(response.body)
            except CodecError as exc:
                raise bad_answer(url, exc) from exc
        raise error_for_status(self._codec_of(response), response.status, response.body, url, self.path)

    async def _bytes_async(self, invocation: Invocation) -> Any:
        """:meth:`_bytes`, awaiting the transport."""
        request = self._request(invocation)
        context = invocation.context
        url, response = await self.attempt_async(self._send_async, request, request.deadline, context.budget)
        return self._result(url, response)

    def _request(self, invocation: Invocation) -> Request:
        """The bytes of a call and what travels with them."""
        context = invocation.context
        codec = self._codec
        assert codec is not None
        return Request(
            self.path,
            codec.encode_call(invocation.args, invocation.kwargs),
            self._content_type,
            context.metadata,
            context.deadline,
            self.connect_timeout,
            context.budget or 0.0,
        )

    def _result(self, url: str, response: Response) -> Any:
        """The decoded result of an answer, or the error it carries raised; its metadata recorded."""
        record = responses_get()
        if record is not None:
            record_response(record, url, response.metadata)
        if response.status == OK:
            try:
                return self._codec.decode_result(response.body)  # type: ignore[union-attr]
            except CodecError as exc:
                raise bad_answer(url, exc) from exc
        raise error_for_status(self._codec_of(response), response.status, response.body, url, self.path)

    def _send_bytes(self, url: str, request: Request) -> Response:
        """Send through the transport; an answer saying the call did not run is a failure to send."""
        response = self._transport_send(url, request)  # type: ignore[misc]
        status = response.status
        if status == UNAVAILABLE or status == DEADLINE_EXCEEDED:
            self._refuse_unrun(url, response)
        return response

    async def _send_bytes_async(self, url: str, request: Request) -> Response:
        """:meth:`_send_bytes`, awaiting the transport's ``send_async``."""
        response = await self._transport_send_async(url, request)  # type: ignore[misc]
        status = response.status
        if status == UNAVAILABLE or status == DEADLINE_EXCEEDED:
            self._refuse_unrun(url, response)
        return response

    def _refuse_unrun(self, url: str, response: Response) -> None:
        """Raise the failure to send that an answer saying the call did not run stands for."""
        error = error_for_status(self._codec_of(response), response.status, response.body, url, self.path)
        if isinstance(error, ServiceCommunicationException):  # not a relayed dependency failure
            raise error

    def _in_process(self, invocation: Invocation) -> Any:
        """Hand the Invocation to the dispatcher at the chosen URL, with failover."""
        try:
            context = invocation.context
            url, result = self.attempt(self._send, invocation, context.deadline, context.budget)
        except BaseException:
            _record_local(invocation, "")
            raise
        record = responses_get()  # inline, not _record_local: the local channel's hot path
        if record is not None:
            record_response(record, url, take_local_answer(invocation.context))
        return result

    async def _in_process_async(self, invocation: Invocation) -> Any:
        """:meth:`_in_process`, awaiting the in-process transport's ``call_async``."""
        try:
            context = invocation.context
            url, result = await self.attempt_async(
                self._send_async, invocation, context.deadline, context.budget
            )
        except BaseException:
            _record_local(invocation, "")
            raise
        _record_local(invocation, url)
        return result

    def _codec_of(self, response: Response) -> Codec:
        found = codec_for(response.content_type)
        if found is not None:
            return found
        return self._codec.codec if self._codec is not None else _JSON  # type: ignore[return-value]


def _record_local(invocation: Invocation, url: str) -> None:
    """Tell the caller's :func:`~container.last_response` block what an in-process answer carried."""
    record = responses_get()
    if record is not None:
        record_response(record, url, take_local_answer(invocation.context))


class _Direct:
    """A plan's decision for one choice of URLs: the URL and the transport's runner, or no runner."""

    __slots__ = ("choice", "run", "url")

    def __init__(self, choice: Choice | None, url: str, run: Callable[..., Any] | None) -> None:
        self.choice = choice
        self.url = url
        self.run = run


_NO_DIRECT = _Direct(None, "", None)
"""Before the first call: no choice decided yet."""


class _NoTransport:
    """The end of the chain of a channel class that declares no transport: it says what to do."""

    def __init__(self, owner: str) -> None:
        self.owner = owner

    def refuse(self, invocation: Invocation) -> Any:
        raise PluginException(
            f"{self.owner} declares no transport, so it cannot call {invocation.method.path}: set "
            "`transport = YourTransport` on the class (see docs/writing-a-channel-plugin.md)"
        )

    async def refuse_async(self, invocation: Invocation) -> Any:
        self.refuse(invocation)
