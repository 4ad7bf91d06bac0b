"""HttpServer: the concrete Server, serving the WSGI application with waitress."""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

from container import Server

from ._wsgi import ServiceApplication

logger = logging.getLogger("servicewire.http")

FLUSH_TIMEOUT = 5.0
"""Seconds a stopping server keeps sending answers that are already produced."""


def _busy(channel: Any) -> bool:
    # waitress HTTPChannel: a request being served, or bytes not yet sent.
    return bool(getattr(channel, "requests", None) or getattr(channel, "total_outbufs_len", 0))


class HttpServer(Server):
    """Serves the HTTP channels of a main container's components with waitress.

    Usage::

        server = HttpServer(host="127.0.0.1", port=0)
        app = server.boot(MainContainer)      # returns the container; server.port is bound
        ...
        server.shutdown()                     # deregister, drain, stop

    Args:
        host: the interface to listen on.
        port: the port; 0 picks a free one.
        threads: waitress worker threads (calls executed at once).
        debug: include tracebacks in 500 answers.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, threads: int = 8, debug: bool = False) -> None:
        super().__init__(host, port, debug)
        self.threads = threads
        self.application: ServiceApplication | None = None
        self._waitress: Any = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._stopped = threading.Event()

    def start_listening(self) -> None:
        """Bind the port and serve the WSGI application in a background thread."""
        assert self.manager is not None and self.dispatcher is not None
        self.application = ServiceApplication(
            self.dispatcher, self.manager.settings.http.max_body_size, report=self.manager.report
        )
        self._waitress = create_server(
            self.application,
            host=self.host,
            port=self.port,
            threads=self.threads,
            ident="servicewire",
            clear_untrusted_proxy_headers=True,
            # Answer callers promptly; the default 5 s poll only matters for idle sockets.
            asyncore_loop_timeout=1,
        )
        self.port = int(self._waitress.effective_port)
        self._stopping.clear()
        self._stopped.clear()
        self._thread = threading.Thread(target=self._serve, name=f"servicewire-http-{self.port}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        server = self._waitress
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=1, map=server._map, use_poll=True, count=1)
            # Calls that finished during the drain may still have answers in waitress's
            # buffers: keep the loop turning until they are sent (bounded).
            deadline = time.monotonic() + FLUSH_TIMEOUT
            while time.monotonic() < deadline and any(_busy(c) for c in list(server._map.values())):
                wasyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)
        finally:
            # Close the listener and every connection from the loop's own thread.
            for channel in list(server._map.values()):
                try:
                    channel.close()
                except OSError:
                    pass
            server.task_dispatcher.shutdown(timeout=5)
            self._stopped.set()

    def stop_listening(self) -> None:
        """Stop serving, close every connection and release the port."""
        if self._thread is None:
            return
        self._stopping.set()
        try:
            self._waitress.pull_trigger()
        except OSError:
            pass
        self._thread.join(timeout=10)
        self._thread = None

    def serve_forever(self, main_container: Any, **overriding_providers: Any) -> None:
        """Boot, serve until SIGINT or SIGTERM, then shut down gracefully (for scripts)."""
        done = threading.Event()

        def stop(signum: int, frame: Any) -> None:
            done.set()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.boot(main_container, **overriding_providers)
            print(f"servicewire: serving on http://{self.host}:{self.port}", flush=True)
            done.wait()
        finally:
            self.shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
