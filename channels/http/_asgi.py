"""The server side of the HTTP channels as an ASGI application, for uvicorn, granian and any ASGI server.

It answers exactly as the embedded server and the WSGI application do (the same
:class:`~._frontend.HttpFrontend`): the routes of :mod:`._routes`, calls handed to the
dispatcher with the request headers as metadata, every error in the dispatcher's envelope. A
call goes to :meth:`Dispatcher.handle_async <container.plugin.Dispatcher.handle_async>` on the
server's event loop: an ``async def`` implementation runs on that loop, a ``def`` one in the
dispatcher's worker pool; the other routes (health, report, describe, metrics, the dashboard)
are answered in a thread, since they may block. When the client disconnects while its call runs
(``http.disconnect``), the call is cancelled. The body is read up to the limit (413 beyond it,
from ``Content-Length`` before reading). Routing uses the raw path (``raw_path``), so an encoded
``/`` is refused rather than decoded into a route.

The ``lifespan`` protocol is answered: at shutdown, ``on_shutdown`` runs (the host server's
graceful shutdown, for :func:`channels.http.asgi.create_app`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from container import ServiceManager
from container.plugin import Dispatcher

from ._dashboard import dashboard_for
from ._frontend import HttpFrontend
from ._protocol import HttpAnswer, HttpRequest
from ._wsgi import DEFAULT_MAX_BODY_SIZE, describe_hosted

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class AsgiApplication:
    """ASGI application serving every component a dispatcher hosts (HTTP/1.1 and HTTP/2 scopes).

    Args:
        dispatcher: the dispatcher of the hosted components (a started ServiceManager is
            accepted too: a dispatcher of its hosted components is made from it).
        max_body_size: the largest request body accepted, in bytes (413 above it).
        debug: with a ServiceManager, append tracebacks to 500 answers.
        report: returns the plain-text report served on ``/report`` (None: the dispatcher's).
        metrics: returns the body and content type served on ``/metrics`` (None: 404; with a
            ServiceManager, its metrics when ``observability.metrics`` is on).
        on_shutdown: called (in a thread) when the ASGI server says ``lifespan.shutdown``.

    With a ServiceManager, ``/describe/<component>`` and (when ``auth.expose.dashboard`` allows
    it) the dashboard are served too; with a bare dispatcher, ``/describe`` only.
    """

    def __init__(
        self,
        dispatcher: Dispatcher | ServiceManager,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        debug: bool = False,
        report: Callable[[], str] | None = None,
        metrics: Callable[[], tuple[bytes, str]] | None = None,
        on_shutdown: Callable[[], Any] | None = None,
    ) -> None:
        dashboard = None
        if isinstance(dispatcher, ServiceManager):
            report = report or dispatcher.report
            observed = dispatcher.observability.metrics
            metrics = metrics or (observed.exposition if observed is not None else None)
            dashboard = dashboard_for(dispatcher)
            dispatcher = dispatcher.create_dispatcher(debug=debug)
        self.dispatcher = dispatcher
        self.max_body_size = max_body_size
        self.on_shutdown = on_shutdown
        hosted = dispatcher
        self.frontend = HttpFrontend(
            dispatcher, report or (lambda: describe_hosted(hosted)), metrics, dashboard
        )

    @property
    def in_flight(self) -> int:
        """The number of calls being executed now."""
        return self.dispatcher.in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope (``http`` or ``lifespan``)."""
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        # websocket and other scopes: not served (the server closes them)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        method = scope["method"]
        body = await self._body(headers, receive)
        if body is None:
            answer = self.frontend.refuse(
                413, f"the body is larger than the limit of {self.max_body_size} bytes"
            )
        else:
            client = scope.get("client")
            version = scope.get("http_version", "1.1")
            request = HttpRequest(
                method,
                _target(scope),
                headers,
                body,
                peer=f"{client[0]}:{client[1]}" if client else "",
                version="1.0" if version == "1.0" else "1.1",
            )
            reply = await self._answer(request, receive)
            if reply is None:
                return  # the client went away: nobody to answer
            answer = reply
        fields = [(b"content-length", str(len(answer.body)).encode())]
        if answer.content_type:
            fields.append((b"content-type", answer.content_type.encode("latin-1")))
        fields += [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": fields})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else answer.body})

    async def _answer(self, request: HttpRequest, receive: Receive) -> HttpAnswer | None:
        """The answer, or None when the client disconnected first (its call is cancelled)."""
        answering = asyncio.ensure_future(self.frontend.answer_async(request, _in_thread))
        watching = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait((answering, watching), return_when=asyncio.FIRST_COMPLETED)
        finally:
            watching.cancel()
        if not answering.done():
            answering.cancel()  # http.disconnect: the caller went away
            try:
                await answering
            except asyncio.CancelledError:
                pass
            return None
        return answering.result()

    async def _body(self, headers: dict[str, str], receive: Receive) -> bytes | None:
        """The request body, or None when it is over the limit (declared or received)."""
        limit = self.max_body_size
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # http.disconnect: what arrived is all there is
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif kind == "lifespan.shutdown":
                if self.on_shutdown is not None:
                    try:
                        await _in_thread(self.on_shutdown)
                    except Exception as exc:
                        await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                        return
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _disconnected(receive: Receive) -> None:
    """Return once the client disconnects (messages other than ``http.disconnect`` are dropped)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _in_thread(function: Callable[..., Any], *args: Any) -> Awaitable[Any]:
    return asyncio.get_running_loop().run_in_executor(None, function, *args)


def _headers(scope: Scope) -> dict[str, str]:
    """A request's header fields by lowercase name (a repeated field joined with ``, ``)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        found = headers.get(name)
        headers[name] = value if found is None else f"{found}, {value}"
    if "host" not in headers and scope.get("http_version") == "2":
        server = scope.get("server")
        if server:  # HTTP/2 names the host in :authority, which ASGI servers may not copy
            headers["host"] = f"{server[0]}:{server[1]}"
    return headers


def _target(scope: Scope) -> str:
    """The request target as sent: the raw path (never decoded) and the query."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else scope.get("root_path", "") + scope["path"]
    query = scope.get("query_string")
    return f"{path}?{query.decode('latin-1')}" if query else path
