"""``servicewire list``: the registry's components, their instances and each one's health."""

from __future__ import annotations

import time
from typing import Any

import click

from ._common import (
    client_manager,
    config_option,
    credential_options,
    json_option,
    listed_instances,
    timeout_option,
)
from ._exits import Failure
from ._output import print_json, redact_credentials, redacted, status_text, table, waiting


@click.command("list", short_help="the registry's components, instances and their health")
@click.argument("component", required=False)
@config_option
@json_option
@click.option("--watch", is_flag=True, help="Keep listing as instances come and go (Ctrl-C stops).")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between two looks with --watch.",
)
@timeout_option(2.0, "Seconds each instance has to answer its health check.")
@credential_options
def list_command(
    component: str | None,
    config_file: str | None,
    as_json: bool,
    watch: bool,
    interval: float,
    timeout: float,
    token: str | None,
    cert: str | None,
    key: str | None,
    ca: str | None,
) -> int:
    """List the registry's components, their instances and each instance's health.

    Every instance the registry lists is asked for its health (GET /health/<component>, HTTP
    instances only). A table on a terminal; --json prints one JSON document, and with --watch
    one per line each time something changed.

    \b
    Examples:
      servicewire list --config service.yml
      servicewire list --config service.yml --json --watch
    """
    from channels.http import HttpProbe, credential_headers

    from ._config import client_config

    config = client_config(config_file, token, cert, key, ca)
    with client_manager(config) as manager:
        probe = HttpProbe(manager.settings, credential_headers(manager.settings), timeout)
        try:
            if not watch:
                with waiting("asking the registry and the instances", not as_json):
                    document = snapshot(manager, probe, component)
                show(document, as_json)
                return 0
            return _watch(manager, probe, component, as_json, interval)
        finally:
            probe.close()


def snapshot(manager: Any, probe: Any, component: str | None) -> dict[str, Any]:
    """The listing as a JSON-ready document: registry, components, instances with health."""
    instances = listed_instances(manager, component)
    healths = probe.health_of(instances)
    components: dict[str, list[dict[str, Any]]] = {}
    for instance, health in zip(instances, healths, strict=True):
        components.setdefault(instance.component, []).append(
            {
                "url": instance.url,
                "channels": list(instance.channels),
                "health": health.status,
                "detail": health.detail,
                "checks": list(health.checks),
            }
        )
    return {
        "registry": type(manager.component_registry).__name__,
        "components": [{"name": name, "instances": found} for name, found in components.items()],
    }


def show(document: dict[str, Any], as_json: bool) -> None:
    """Print a listing as JSON or as a table."""
    if as_json:
        print_json(redacted(document))
        return
    rows = [
        [
            component["name"],
            instance["url"],
            ", ".join(instance["channels"]),
            status_text(instance["health"]),
            instance["detail"],
        ]
        for component in document["components"]
        for instance in component["instances"]
    ]
    if not rows:
        click.echo(f"no instance is registered ({document['registry']})")
        return
    click.echo(table(["COMPONENT", "INSTANCE", "CHANNELS", "HEALTH", "DETAILS"], rows))


def _watch(manager: Any, probe: Any, component: str | None, as_json: bool, interval: float) -> int:
    """List again every ``interval`` seconds, showing changes only, until SIGINT or SIGTERM (0).

    The signals are handled here rather than left to Python's KeyboardInterrupt: a process
    started from a shell's background job inherits SIGINT ignored, and would never stop.
    """
    from channels.http._signals import StopSignals

    last = None
    with StopSignals() as signals:
        while True:
            started = time.monotonic()
            try:
                document = snapshot(manager, probe, component)
            except Failure as failure:  # the registry may come back: say so and keep watching
                document = {"registry": type(manager.component_registry).__name__, "error": failure.message}
            if document != last:
                if not as_json:
                    click.clear()
                    click.echo(f"servicewire list: every {interval:g} s, Ctrl-C stops\n")
                if "error" in document and not as_json:
                    click.echo(f"servicewire: {redact_credentials(document['error'])}")
                else:
                    show(document, as_json)
                last = document
            if signals.wait_for(interval - (time.monotonic() - started)) is not None:
                return 0
