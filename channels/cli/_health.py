"""``servicewire health``: exit 0, 1 or 2 for OK, WARNING or ERROR (a Kubernetes exec probe)."""

from __future__ import annotations

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
from ._exits import BAD_INPUT, ERROR, OK, WARNING, Failure
from ._output import print_json, redacted, status_text, table, waiting

STATUS_EXIT = {"OK": OK, "WARNING": WARNING, "ERROR": ERROR, "UNREACHABLE": ERROR}
"""Exit status by an instance's health; the worst instance decides."""


@click.command("health", short_help="exit 0, 1 or 2 for OK, WARNING or ERROR (a probe)")
@click.argument("component", required=False)
@config_option
@click.option("--url", help="Ask this one instance (no registry; COMPONENT is then required).")
@json_option
@timeout_option(2.0, "Seconds each instance has to answer.")
@credential_options
def health_command(
    component: str | None,
    config_file: str | None,
    url: str | None,
    as_json: bool,
    timeout: float,
    token: str | None,
    cert: str | None,
    key: str | None,
    ca: str | None,
) -> int:
    """Check the health of a component's instances (or of every component's).

    Asks each instance for GET /health/<component> and exits with the worst status: 0 OK,
    1 WARNING, 2 ERROR (an instance that does not answer counts as ERROR; so does a component
    with no instance). Instances that are not HTTP (local, third-party channels) are listed as
    UNKNOWN and do not count.

    \b
    As a Kubernetes exec probe of the instance in the same pod:
      servicewire health --url http://127.0.0.1:8000 orders-component
    Every instance of one component, or of all, from the registry:
      servicewire health --config service.yml orders-component
    """
    from channels.http import HttpProbe, Instance, credential_headers

    from ._config import client_config

    if url is not None and component is None:
        raise Failure("health --url needs the COMPONENT to ask about", BAD_INPUT)
    config = client_config(config_file, token, cert, key, ca)
    with client_manager(config) as manager:
        probe = HttpProbe(manager.settings, credential_headers(manager.settings), timeout)
        try:
            with waiting("asking the instances for their health", not as_json):
                if url is not None:
                    assert component is not None
                    instances = [Instance(component, url.rstrip("/"), ())]
                else:
                    instances = listed_instances(manager, component)
                healths = probe.health_of(instances)
        finally:
            probe.close()
    rows = [{"component": i.component, **h.to_dict()} for i, h in zip(instances, healths, strict=True)]
    counted = [row["status"] for row in rows if row["status"] in STATUS_EXIT]
    if not rows:
        worst, reason = "ERROR", f"no instance of {component or 'any component'} is registered"
    elif not counted:
        worst, reason = "ERROR", "no instance could be asked over HTTP"
    else:
        worst, reason = max(counted, key=lambda status: (STATUS_EXIT[status], status == "UNREACHABLE")), ""
        worst = "ERROR" if worst == "UNREACHABLE" else worst
    if as_json:
        document: dict[str, Any] = {"status": worst, "instances": rows}
        if reason:
            document["detail"] = reason
        print_json(redacted(document))
    else:
        if rows:
            click.echo(
                table(
                    ["COMPONENT", "INSTANCE", "HEALTH", "DETAILS"],
                    [[r["component"], r["url"], status_text(r["status"]), r["detail"]] for r in rows],
                )
            )
        click.echo(f"{status_text(worst)}{': ' + reason if reason else ''}")
    return STATUS_EXIT[worst]
