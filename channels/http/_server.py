"""HttpServer: the concrete Server, serving the HTTP channels with the embedded engine."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import attrs

from container import ChannelAddress, Server
from container.plugin import Dispatcher

from ._aio_engine import AsyncioEngine
from ._dashboard import dashboard_for
from ._engine import HttpEngine
from ._frontend import HttpFrontend
from ._protocol import Limits
from ._settings import HttpSettings
from ._tls import server_context

logger = logging.getLogger("servicewire.http")


class HttpServer(Server):
    """Serves the HTTP channels of a main container's components.

    The embedded server is an HTTP/1.1 server on httptools' parser (see docs/http.md): one
    event-loop thread does every socket operation, worker threads compute the answers, and the
    limits of ``http:`` (connections, per client address too, time to send a request, idle
    time, sizes) hold under hostile clients. TLS and client certificates come from ``http.tls`` or ``tls=``.

    Usage::

        server = HttpServer(host="127.0.0.1", port=0)
        app = server.boot(MainContainer)      # returns the container; server.port is bound
        ...
        server.shutdown()                     # stop accepting, deregister, drain, stop

    Args:
        host: the interface to listen on.
        port: the port; 0 picks a free one.
        threads: worker threads answering requests (None: ``http.workers``, 8).
        debug: include tracebacks in 500 answers.
        tls: TLS settings for this server (the keys of ``http.tls``), instead of config's.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int | None = None,
        debug: bool = False,
        tls: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(host, port, debug)
        self.threads = threads
        self.tls = tls
        self.engine: HttpEngine | AsyncioEngine | None = None
        self.frontend: HttpFrontend | None = None

    @property
    def scheme(self) -> str:
        """``https`` when the server speaks TLS, else ``http`` (known once listening)."""
        return "https" if self.engine is not None and self.engine.tls is not None else "http"

    def start_listening(self) -> None:
        """Bind the port and start the server's threads."""
        assert self.manager is not None and self.dispatcher is not None
        settings = self.manager.settings
        http = settings.section("http", HttpSettings)
        limits = Limits(
            max_connections=http.max_connections,
            max_connections_per_peer=http.max_connections_per_peer,
            header_timeout=http.header_timeout,
            idle_timeout=http.idle_timeout,
            write_timeout=http.write_timeout,
            max_body_size=http.max_body_size,
            max_header_size=http.max_header_size,
            max_header_count=http.max_header_count,
        )
        metrics = self.manager.observability.metrics
        frontend = self.frontend = HttpFrontend(
            self.dispatcher,
            self.manager.report,
            metrics.exposition if metrics is not None else None,
            dashboard_for(self.manager),
        )

        engine: HttpEngine | AsyncioEngine
        kind = engine_for(http.server, self.dispatcher)
        if kind == "asyncio":
            engine = AsyncioEngine(
                frontend.answer_async,
                limits,
                self.threads or http.workers,
                server_context(settings, self.tls),
                frontend.refuse,
                frontend.precheck,
            )
        else:
            engine = HttpEngine(
                frontend.answer,
                limits,
                self.threads or http.workers,
                server_context(settings, self.tls),
                frontend.refuse,
                frontend.precheck,
            )
        self.port = engine.bind(self.host, self.port)
        engine.start()
        self.engine = engine
        logger.debug("HTTP server on port %d runs on %s", self.port, kind)

    def own_address(self, address: ChannelAddress) -> ChannelAddress:
        """Register ``https://`` for an ``http://`` address when this server speaks TLS.

        A component's ``get_addresses`` need not know whether TLS is on: the server does.
        """
        if self.scheme == "https" and address.uri.startswith("http://"):
            return attrs.evolve(address, uri="https://" + address.uri[len("http://") :])
        return address

    def stop_accepting(self) -> None:
        """Close the listening socket and the idle connections."""
        if self.engine is not None:
            self.engine.stop_accepting()

    def drain(self, timeout: float) -> bool:
        """Wait until every request received is answered (at most ``timeout`` seconds)."""
        return self.engine.drain(timeout) if self.engine is not None else True

    def stop_listening(self) -> None:
        """Stop the threads, close every connection, release the port."""
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        if self.frontend is not None and self.frontend.dashboard is not None:
            self.frontend.dashboard.close()

    def serve_forever(self, main_container: Any, **overriding_providers: Any) -> None:
        """Boot, serve until SIGINT or SIGTERM, then shut down gracefully (for scripts)."""
        done = threading.Event()

        def stop(signum: int, frame: Any) -> None:
            done.set()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.boot(main_container, **overriding_providers)
            print(f"servicewire: serving on {self.scheme}://{self.host}:{self.port}", flush=True)
            done.wait()
        finally:
            self.shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def engine_for(setting: str, dispatcher: Dispatcher) -> str:
    """Return the engine that ``http.server`` chooses: ``"threads"`` or ``"asyncio"``.

    ``"auto"`` chooses asyncio when every hosted service method is ``async def`` (each call
    then runs on the loop that read it, with no thread switch), else threads.
    """
    if setting != "auto":
        return setting
    paths = [
        f"{component.name}/{service.name}/{method.name}"
        for component in dispatcher.components
        for service in component.services
        for method in service.methods.values()
    ]
    return "asyncio" if paths and all(dispatcher.is_async(path) for path in paths) else "threads"
