"""``servicewire dashboard``: serve the live dashboard of a registry on a port of its own."""

from __future__ import annotations

import logging

import click

from ._common import config_option, credential_options

logger = logging.getLogger("servicewire.cli")


@click.command("dashboard", short_help="a live page of the registry's instances and calls")
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=8089, show_default=True, help="Port to listen on (0: a free one).")
@credential_options
def dashboard_command(
    config_file: str | None,
    host: str,
    port: int,
    token: str | None,
    cert: str | None,
    key: str | None,
    ca: str | None,
) -> int:
    """Serve a live page of the registry's components, instances and health.

    The page (http://HOST:PORT/dashboard) refreshes every second: each instance's health, the
    failovers and cool-downs, and, when the instances serve metrics, calls per second, error
    rate and latency percentiles per method. Anyone who reaches the port sees it: keep the
    default 127.0.0.1, or put it behind a proxy that authenticates. SIGTERM or SIGINT stops it.

    \b
    Example:
      servicewire dashboard --config service.yml --port 8089
    """
    from dependency_injector import containers, providers

    from channels.http import HttpServer
    from channels.http._signals import StopSignals
    from container import ServiceContainer

    from ._config import client_config
    from ._serve import configure_logging

    configure_logging()
    config = client_config(config_file, token, cert, key, ca)
    config["auth"] = {
        **config.get("auth", {}),
        "expose": {"dashboard": "open", "health": "off", "report": "off", "metrics": "off"},
    }

    class DashboardContainer(containers.DeclarativeContainer):
        """Hosts nothing: its manager lists the registry and reads the instances."""

        services = providers.Container(ServiceContainer, config=providers.Object(config))

    server = HttpServer(host, port)
    with StopSignals() as signals:
        try:
            server.boot(DashboardContainer)
            logger.info("dashboard serving on %s://%s:%d/dashboard", server.scheme, host, server.port)
            signals.wait()
        finally:
            server.shutdown()
    logger.info("dashboard stopped")
    return 0
