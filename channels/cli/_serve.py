"""``servicewire serve``: boot a container's components and serve them over HTTP.

``servicewire serve package.module:MainContainer [--host H] [--port P] [--config FILE]``
boots the container with :class:`~channels.http.HttpServer`, logs one line saying what it
hosts and where, and serves until SIGINT or SIGTERM; then it shuts down gracefully (stop
accepting, deregister, let the calls in flight finish, stop the components), logs one line more
and exits 0. The shutdown is bounded: calls in flight get ``--drain-timeout`` seconds (10), the
whole shutdown twice that and 5 s more, after which the command logs what still runs and exits 1.
``--setup package.module:function`` (or the config key ``serve.setup``) runs before the container
is created: set up the OpenTelemetry SDK, logging or metrics there. ``--log-format json`` writes
one JSON object per log line.

A mistake in the configuration or the declarations stops the command before it serves: one
line on stderr saying what is wrong and where, exit status 2, no traceback. The steps are small
functions (:func:`boot_failure`, :func:`start_line`, ...) that another front end can reuse.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from ._exits import CONFIG_ERROR, START_FAILED, Failure, one_line
from ._output import redact_credentials

if TYPE_CHECKING:
    from channels.http import HttpServer
    from container import ChannelAddress

logger = logging.getLogger("servicewire.cli")

LOG_FORMATS = ("text", "json")

DRAIN_TIMEOUT = 10.0
"""Seconds the calls in flight get to finish once a stop signal came (``--drain-timeout``)."""


def shutdown_bound(drain_timeout: float) -> float:
    """Seconds the whole shutdown may take before the command exits anyway: twice the drain, and 5 s."""
    return 2 * drain_timeout + 5.0


@click.command("serve", short_help="host a container's components over HTTP")
@click.argument("container", metavar="PACKAGE.MODULE:CONTAINER")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=0, show_default=True, help="Port to listen on (0: a free one).")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Worker threads, at least 1 [default: http.workers, 8].",
)
@click.option(
    "--drain-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DRAIN_TIMEOUT,
    show_default=True,
    help="Seconds the calls in flight get to finish after SIGTERM; the whole shutdown gets twice "
    "that and 5 s more.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(),
    envvar="SERVICEWIRE_CONFIG",
    help="YAML or JSON file loaded into the container's config (${VAR} from the environment).",
)
@click.option(
    "--setup",
    metavar="MODULE:FUNCTION",
    help="Called before the container is created (OpenTelemetry SDK, logging); "
    "also the config key serve.setup.",
)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    help="Log lines as text, or one JSON object per line.",
)
@click.option("--debug", is_flag=True, help="Put exception messages and tracebacks in error answers.")
def serve_command(
    container: str,
    host: str,
    port: int,
    threads: int | None,
    drain_timeout: float,
    config_file: str | None,
    setup: str | None,
    log_format: str,
    debug: bool,
) -> int:
    """Serve a container's components over HTTP until SIGTERM or SIGINT.

    Boots the container, registers what it hosts and logs one line saying what and where; on
    SIGTERM or SIGINT it stops accepting, deregisters, lets the calls in flight finish (up to
    --drain-timeout) and exits 0. A configuration error is one line on stderr and exit status 2.

    \b
    Example:
      servicewire serve myapp.containers:MainContainer --port 8000 --config service.yml
    """
    configure_logging(log_format)
    return run_serve(container, host, port, threads, config_file, setup, debug, drain_timeout)


def run_serve(
    spec: str,
    host: str,
    port: int,
    threads: int | None,
    config_file: str | None,
    setup: str | None,
    debug: bool,
    drain_timeout: float = DRAIN_TIMEOUT,
) -> int:
    """The ``serve`` command; returns the exit status (the group put the working directory on the path)."""
    try:
        from container import ConfigurationException, plugin

        from ._config import load_config, read_config

        file_config = read_config(config_file) if config_file else {}
        run_setup(setup or _setup_key(file_config), file_config)
        container_class = plugin.load_object(spec, "the container to serve")
        container = container_class()
        if config_file:
            config_provider = getattr(container, "config", None)
            if config_provider is None:
                raise ConfigurationException(f"{spec} has no config provider for --config")
            load_config(config_provider, config_file)
        server = _recording_server(host, port, threads, debug)
        how = serve(server, container, drain_timeout)
    except Failure as failure:
        print(f"servicewire: {failure.message}", file=sys.stderr, flush=True)
        return failure.status
    except Exception as exc:
        found = boot_failure(exc)
        if found is None:
            raise
        message, status = found
        print(message, file=sys.stderr, flush=True)
        return status
    from channels.http._signals import busy_threads

    abandoned = server.dispatcher.in_flight if server.dispatcher is not None else 0
    if not abandoned:
        logger.info("stopped gracefully on %s", how)
    else:
        logger.warning(
            "stopped on %s; %d calls still running after %g s were abandoned", how, abandoned, drain_timeout
        )
    if abandoned or busy_threads():
        # Calls that outlived the drain run in threads the interpreter would wait for at exit:
        # non-daemon ones, and an executor's (concurrent.futures joins its threads at exit,
        # daemon or not, as the asyncio engine's are).
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def _setup_key(config: Mapping[str, Any]) -> str | None:
    from ._settings import serve_settings

    return serve_settings(config).setup


def run_setup(spec: str | None, config: Mapping[str, Any]) -> None:
    """Call the set-up function ``spec`` (``package.module:function``) before anything boots.

    The function takes no argument, or one: the configuration as a mapping.

    Raises:
        ConfigurationException: ``spec`` does not import.
        Failure: the function raised (exit status 1, its exception in one line).
    """
    if not spec:
        return
    from container import plugin

    function = plugin.load_object(spec, "--setup")
    try:
        takes_config = bool(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        takes_config = False
    try:
        function(config) if takes_config else function()
    except Exception as exc:
        raise Failure(
            f"the set-up function {spec} failed: {type(exc).__name__}: {exc}", START_FAILED
        ) from exc


def boot_failure(exc: BaseException) -> tuple[str, int] | None:
    """Turn what stopped the command before it served into (one-line message, exit status).

    Returns:
        ``(message, 2)`` for a mistake in the configuration or the declarations (any
        :class:`~container.LocalServiceException`, a configuration file that is wrong);
        ``(message, 1)`` for another servicewire failure or an OS error (a port in use);
        None for anything else, which is a bug whose traceback should be seen.
    """
    from container import LocalServiceException, ServiceException

    if isinstance(exc, LocalServiceException):
        return f"servicewire: {one_line(str(exc))}", CONFIG_ERROR
    if isinstance(exc, (ServiceException, OSError)):
        return f"servicewire: cannot start: {one_line(str(exc))}", START_FAILED
    return None


def _recording_server(host: str, port: int, threads: int | None, debug: bool) -> HttpServer:
    """An HttpServer that remembers each address it listens on (what it registers)."""
    from channels.http import HttpServer

    class RecordingServer(HttpServer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.registered: dict[str, list[ChannelAddress]] = {}

        def listen_on(self, component: Any, address: ChannelAddress) -> ChannelAddress:
            listened = super().listen_on(component, address)
            self.registered.setdefault(component.name, []).append(listened)
            return listened

    return RecordingServer(host, port, threads, debug)


def start_line(server: HttpServer, registered: Mapping[str, list[ChannelAddress]]) -> str:
    """The line logged once the server serves: where, and what it hosts.

    It names the server's URL, and each hosted component with its services and the addresses
    it registered. Example: ``serving on http://127.0.0.1:8000 (pid 4242): hello-component
    [hello-service] at dispatch-json http://127.0.0.1:8000, dispatch-msgpack http://127.0.0.1:8000``.
    """
    assert server.manager is not None
    parts = []
    for component in server.manager.hosted_components():
        services = ", ".join(service.name for service in component.services)
        addresses = registered.get(component.name, [])
        where = ", ".join(f"{a.channel} {a.uri}" for a in addresses) or "no address (not registered)"
        parts.append(f"{component.name} [{services}] at {where}")
    hosted = redact_credentials("; ".join(parts) or "no component")
    return f"serving on {server.scheme}://{server.host}:{server.port} (pid {os.getpid()}): {hosted}"


def serve(server: HttpServer, container: Any, drain_timeout: float = DRAIN_TIMEOUT) -> str:
    """Boot, log the start line, serve until SIGINT or SIGTERM, shut down gracefully.

    The calls in flight get ``drain_timeout`` seconds; a shutdown still going after
    :func:`shutdown_bound` seconds ends the process (status 1), with the threads still busy logged.

    Returns:
        The name of the signal that stopped the server (``"SIGTERM"``).
    """
    from channels.http._signals import StopSignals, exit_bound

    with StopSignals() as signals:
        try:
            server.boot(container)
            logger.info("%s", start_line(server, getattr(server, "registered", {})))
            how = signals.wait()
        except BaseException:
            server.shutdown(drain_timeout)  # a failed boot undoes what it started
            raise
        logger.info(
            "stopping on %s: deregistering, then up to %g s for the calls in flight", how, drain_timeout
        )
        bound = exit_bound(shutdown_bound(drain_timeout))
        try:
            server.shutdown(drain_timeout)
        finally:
            bound.cancel()
    return how


class JsonFormatter(logging.Formatter):
    """One JSON object per log record: time, level, logger, message (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON."""
        document: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)


def configure_logging(log_format: str = "text") -> None:
    """INFO to stderr, as text or JSON lines, without the core's own boot lines."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # A filter on a logger sees only the records logged on that very logger, not its children's:
    # this hides the core's per-component INFO lines at boot and keeps every warning, the call
    # log (servicewire.calls) and the plugins' lines.
    logging.getLogger("servicewire").addFilter(lambda record: record.levelno >= logging.WARNING)
