"""``servicewire describe``: a component's or a service's methods, signatures and types."""

from __future__ import annotations

from typing import Any

import click

from ._call import parse_target
from ._common import (
    client_manager,
    config_option,
    credential_options,
    json_option,
    listed_instances,
    timeout_option,
    wait_for_registration,
)
from ._exits import BAD_INPUT, REMOTE_ERROR, UNREACHABLE, Failure
from ._output import print_json, redacted, waiting


@click.command("describe", short_help="the methods of a component, with signatures and types")
@click.argument("target", metavar="COMPONENT[.SERVICE]")
@config_option
@click.option("--interface", metavar="MODULE:CLASS", help="Describe from this interface (no network).")
@click.option("--url", help="Ask this instance (no registry).")
@json_option
@timeout_option(5.0, "Seconds the instance has to answer.")
@credential_options
def describe_command(
    target: str,
    config_file: str | None,
    interface: str | None,
    url: str | None,
    as_json: bool,
    timeout: float,
    token: str | None,
    cert: str | None,
    key: str | None,
    ca: str | None,
) -> int:
    """Show the methods of a component or service, with their signatures and types.

    From the interface when --interface names one that imports here; otherwise from a running
    instance's GET /describe/<component> (the registry's first HTTP instance, or --url), which
    auth.expose.report admits (authenticated by default: give --token).

    \b
    Examples:
      servicewire describe --config service.yml hello-component.hello-service
      servicewire describe --interface samples.hello.interface:HelloService hello-component --json
    """
    names = parse_target(target, 2) if ("." in target or "/" in target) else [target]
    component = names[0]
    service = names[1] if len(names) == 2 else None
    if interface is not None:
        document = _from_interface(interface, component)
    else:
        document = _from_server(config_file, url, component, timeout, token, cert, key, ca, as_json)
    if service is not None:
        found = [s for s in document["services"] if s["name"] == service]
        if not found:
            known = ", ".join(s["name"] for s in document["services"]) or "none"
            raise Failure(
                f"component {component!r} has no service {service!r}; its services: {known}", BAD_INPUT
            )
        document = {**document, "services": found}
    if as_json:
        print_json(redacted(document))
    else:
        click.echo(render(document))
    return 0


def _from_interface(interface: str, component: str) -> dict[str, Any]:
    from channels.http import describe_component
    from container import ComponentDescriptor, descriptor_of
    from container.plugin import load_object

    descriptor = descriptor_of(load_object(interface, "--interface"))  # main says a mistake in one line
    owner = descriptor.get_component_descriptor()
    if owner.name != component:
        raise Failure(
            f"--interface {interface} belongs to component {owner.name!r}, not {component!r}", BAD_INPUT
        )
    document = describe_component(owner)
    if not isinstance(descriptor, ComponentDescriptor):
        document["services"] = [s for s in document["services"] if s["name"] == descriptor.name]
    return document


def _from_server(
    config_file: str | None,
    url: str | None,
    component: str,
    timeout: float,
    token: str | None,
    cert: str | None,
    key: str | None,
    ca: str | None,
    as_json: bool,
) -> dict[str, Any]:
    import json

    from channels.http import HttpProbe, ProbeFailed, credential_headers, error_message, probe_problem

    from ._config import client_config

    with client_manager(client_config(config_file, token, cert, key, ca)) as manager:
        if url is None:
            urls = wait_for_registration(
                lambda: [i.url for i in listed_instances(manager, component) if probe_problem(i.url) is None],
                timeout,
            )
            if not urls:
                raise Failure(f"no HTTP instance of component {component!r} is registered", UNREACHABLE)
            url = urls[0]
        probe = HttpProbe(manager.settings, credential_headers(manager.settings, token), timeout)
        try:
            with waiting(f"asking {url}", not as_json):
                status, body, _ = probe.get(url, f"/describe/{component}")
        except ProbeFailed as exc:
            raise Failure(f"could not reach: {exc}", UNREACHABLE) from None
        finally:
            probe.close()
    if status != 200:
        raise Failure(
            f"{url}/describe/{component} answered {status}: {error_message(body)}",
            BAD_INPUT if status == 404 else REMOTE_ERROR,
        )
    document: dict[str, Any] = json.loads(body)
    return document


def render(document: dict[str, Any]) -> str:
    """The description as text: services, then each method's signature and first doc line."""
    lines = [f"{document['component']} ({document['interface']})"]
    for service in document["services"]:
        about = f": {service['description']}" if service.get("description") else ""
        lines.append(f"  {service['name']} ({service['interface']}){about}")
        for method in service["methods"]:
            flags = "  [idempotent]" if method.get("idempotent") else ""
            lines.append(f"    {method['signature']}{flags}")
            doc = (method.get("doc") or "").strip().splitlines()
            if doc:
                lines.append(f"        {doc[0]}")
    return "\n".join(lines)
