r"""Run the servicewire WSGI application under any WSGI server (gunicorn for production).

Example with gunicorn (the factory call syntax; the port must match ``--bind``)::

    gunicorn --bind 127.0.0.1:8000 --workers 2 --threads 4 \\
        'channels.http.wsgi:create_app("samples.hello.hosting:MainContainer", port=8000)'

Each worker process boots its own copy of the container and registers its components. When
gunicorn stops a worker gracefully (SIGTERM), the worker deregisters at once, so callers stop
choosing it, while gunicorn lets the calls in flight finish; at exit it drains what is left,
stops its components and closes.
"""

from __future__ import annotations

import atexit
import logging
import signal
import threading
from typing import Any

from container import Server

from ._settings import HttpSettings
from ._wsgi import ServiceApplication

logger = logging.getLogger("servicewire.http")


class WsgiHost(Server):
    """A Server whose listening is done by an external WSGI server.

    Args:
        port: the port the external server listens on (passed to ``get_addresses``).
        host: the interface it listens on.
        debug: append tracebacks to 500 answers.
    """

    def __init__(self, port: int, host: str = "127.0.0.1", debug: bool = False) -> None:
        super().__init__(host, port, debug)

    def start_listening(self) -> None:
        """Nothing to do: the WSGI server listens."""

    def stop_listening(self) -> None:
        """Nothing to do: the WSGI server stops itself."""


def create_app(
    main_container: Any, port: int, host: str = "127.0.0.1", debug: bool = False
) -> ServiceApplication:
    """Boot a main container and return the WSGI application serving its components.

    Args:
        main_container: a container class, a container instance, a function returning a
            container, or ``"module:Name"`` naming one of these.
        port: the port the WSGI server listens on (components advertise it).
        host: the interface the WSGI server listens on.
        debug: include tracebacks in 500 answers.

    Returns:
        The WSGI application. The components are shut down when the process exits.
    """
    host_server = boot_host(main_container, port, host, debug)
    assert host_server.manager is not None and host_server.dispatcher is not None
    metrics = host_server.manager.observability.metrics
    application = ServiceApplication(
        host_server.dispatcher,
        host_server.manager.settings.section("http", HttpSettings).max_body_size,
        report=host_server.manager.report,
        metrics=metrics.exposition if metrics is not None else None,
    )
    atexit.register(host_server.shutdown)
    _withdraw_on_sigterm(host_server)
    return application


def boot_host(main_container: Any, port: int, host: str, debug: bool) -> WsgiHost:
    """Boot ``main_container`` (a container, a class, a factory, or ``"module:Name"``) in a host server."""
    if isinstance(main_container, str):
        from container.plugin import load_object

        main_container = load_object(main_container, "the container to serve")
    if (
        not isinstance(main_container, type)
        and callable(main_container)
        and not hasattr(main_container, "providers")
    ):
        main_container = main_container()
    host_server = WsgiHost(port, host, debug)
    host_server.boot(main_container)
    return host_server


def _withdraw_on_sigterm(host_server: WsgiHost) -> None:
    """Deregister as soon as SIGTERM arrives, then let the WSGI server's own handler go on."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers belong to the main thread; the atexit shutdown still runs
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: Any) -> None:
        try:
            host_server.withdraw()
        except Exception:  # the WSGI server's shutdown must go on
            logger.exception("deregistering on SIGTERM failed")
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
