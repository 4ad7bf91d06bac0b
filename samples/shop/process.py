"""What the shop's two server processes share: the command line, the configuration, serving."""

from __future__ import annotations

import argparse
from typing import Any

from channels.http import HttpServer

from . import telemetry


def serve(container: Any, service_name: str, description: str) -> None:
    """Configure ``container`` from the command line and serve it until SIGTERM.

    Command line: ``--registry FILE [--channel NAME] [--trace FILE] [--metrics]``.

    Args:
        container: the process's application container (not yet configured).
        service_name: the name its spans carry (``service.name``).
        description: the command's one-line help.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--registry", required=True, help="file registry path")
    parser.add_argument("--channel", default="", help="channel of calls to other services")
    telemetry.add_arguments(parser)
    arguments = parser.parse_args()
    if arguments.trace:
        telemetry.export_spans(service_name, arguments.trace)
    container.config.from_dict(
        {
            "registry": {"type": "file", "path": arguments.registry, "poll_interval": 0.05},
            **telemetry.observability_config(arguments),
        }
    )
    container.services.service_manager().set_preferred_channel(arguments.channel)
    HttpServer().serve_forever(container)
