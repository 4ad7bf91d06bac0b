"""OpenTelemetry spans for calls: a client span and a server span each, W3C context in the metadata."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..call._calls import AsyncCallNext, Call, CallNext, Interceptor
from ..call._context import call_context, last_response
from ..values._version import __version__
from ._calllog import error_type

RPC_SYSTEM = "servicewire"


class Tracing(Interceptor):
    """Interceptor for both sides: one span per call, following the RPC semantic conventions.

    Client side: a ``CLIENT`` span named ``<service>/<method>``; the call is passed on with the
    span's context in its metadata (``traceparent``, ``tracestate``, injected by the process's
    propagator, W3C by default). Server side: the context is extracted from the metadata and a ``SERVER`` span
    started as its child, current while the implementation runs, so the calls it makes are
    its children. Attributes: ``rpc.system`` = ``servicewire``, ``rpc.service``
    (``<component>.<service>``), ``rpc.method``, ``server.address``/``server.port`` (client),
    ``client.address`` (server), ``enduser.id`` (the authenticated caller), and on failure
    ``error.type`` with an ERROR status.

    Args:
        tracer_provider: where spans go (None: the process's global provider).
    """

    def __init__(self, tracer_provider: Any = None) -> None:
        self._tracer = trace.get_tracer("servicewire", __version__, tracer_provider=tracer_provider)
        self._names: dict[Any, tuple[str, dict[str, str]]] = {}
        self._servers: dict[str, dict[str, Any]] = {}

    def _describe(self, method: Any) -> tuple[str, dict[str, str]]:
        found = self._names.get(method)
        if found is None:
            service = method.service
            found = self._names[method] = (
                f"{service.name}/{method.name}",
                {
                    "rpc.system": RPC_SYSTEM,
                    "rpc.service": f"{service.component_descriptor.name}.{service.name}",
                    "rpc.method": method.name,
                },
            )
        return found

    def intercept(self, call: Call, call_next: CallNext) -> Any:
        """Run the call inside a span of its side."""
        if call.side == "server":
            return self._serve(call, call_next)
        return self._call(call, call_next)

    async def intercept_async(self, call: Call, call_next: AsyncCallNext) -> Any:
        """Run a call of an ``async def`` method inside a span of its side."""
        if call.side == "server":
            span, token = self._server_span(call)
            try:
                return await call_next(call)
            except BaseException as exc:
                _failed(span, exc)
                raise
            finally:
                self._end_server_span(span, token)
        span, sent = self._client_span(call)
        answered = None
        try:
            with last_response() as answered:
                return await call_next(sent)
        except BaseException as exc:
            _failed(span, exc)
            raise
        finally:
            self._end_client_span(span, answered)

    def _call(self, call: Any, call_next: CallNext) -> Any:
        span, sent = self._client_span(call)
        answered = None
        try:
            with last_response() as answered:
                return call_next(sent)
        except BaseException as exc:
            _failed(span, exc)
            raise
        finally:
            self._end_client_span(span, answered)

    def _client_span(self, call: Any) -> tuple[Any, Any]:
        """Start the client span; return it and the call to send, carrying its context."""
        name, attributes = self._describe(call.method)
        span = self._tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        # The span is not made current: nothing on this thread runs inside it but the sending,
        # and injecting from an explicit context saves an attach and a detach per call.
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        return span, call.with_metadata(carrier) if carrier else call

    def _end_client_span(self, span: Any, answered: Any) -> None:
        if answered is not None and answered.url:
            span.set_attributes(self._server_of(answered.url))
        span.end()

    def _serve(self, call: Any, call_next: CallNext) -> Any:
        span, token = self._server_span(call)
        try:
            return call_next(call)
        except BaseException as exc:
            _failed(span, exc)
            raise
        finally:
            self._end_server_span(span, token)

    def _server_span(self, call: Any) -> tuple[Any, object]:
        """Start the server span, child of the caller's, and make it current; return it and the token."""
        name, attributes = self._describe(call.method)
        context = call.context
        parent = propagate.extract(context.metadata)
        if context.peer:
            attributes = {**attributes, "client.address": context.peer.rpartition(":")[0] or context.peer}
        span = self._tracer.start_span(name, context=parent, kind=SpanKind.SERVER, attributes=attributes)
        return span, otel_context.attach(trace.set_span_in_context(span, parent))

    def _end_server_span(self, span: Any, token: Any) -> None:
        served = call_context()  # as the implementation saw it: with the caller's identity
        identity = served.identity if served is not None else None
        if identity is not None:
            span.set_attribute("enduser.id", identity.subject)
        span.end()
        otel_context.detach(token)

    def _server_of(self, url: str) -> dict[str, Any]:
        found = self._servers.get(url)
        if found is None:
            parts = urlsplit(url)
            found = {"server.address": parts.hostname or url}
            try:
                if parts.port is not None:
                    found["server.port"] = parts.port
            except ValueError:
                pass
            if len(self._servers) < 10_000:
                self._servers[url] = found
        return found


def _failed(span: Any, exc: BaseException) -> None:
    kind = error_type(exc)
    span.set_attribute("error.type", kind)
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        span.set_attribute("rpc.servicewire.status", status)
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, kind))

