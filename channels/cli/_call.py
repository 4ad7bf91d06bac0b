"""``servicewire call``: call one method by hand and print its result as JSON.

With ``--interface package.module:Class`` the arguments are checked against the interface's
signature and types before anything is sent (as the server would check them), the call goes
through a real proxy (any channel, interceptors, credentials, failover) and the result is
encoded by its declared type. Without it, the call is sent untyped through the HTTP dispatch
protocol (``POST /invoke/<component>/<service>/<method>``) and the server checks the arguments.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from typing import Any

import click

from ._common import client_manager, config_option, credential_options, timeout_option, wait_for_registration
from ._exits import BAD_INPUT, Failure
from ._output import print_json, redact_credentials, waiting

DISPATCH_CHANNELS = ("dispatch-json", "dispatch-msgpack")


def parse_target(text: str, parts: int) -> list[str]:
    """Split ``component.service.method`` (or ``component/service/method``) into its names.

    Raises:
        Failure: not that many names (bad input).
    """
    names = text.split("/") if "/" in text else text.split(".")
    what = ("component", "service", "method")[:parts]
    if len(names) != parts or not all(names):
        joined, slashed = ".".join(what), "/".join(what)
        raise Failure(f"{text!r} is not {joined} (a name that holds a '.' is written {slashed})", BAD_INPUT)
    return names


def parse_arguments(text: str) -> tuple[list[Any], dict[str, Any]]:
    """Read the JSON arguments: a list (positional), an object (by name), ``-`` for stdin.

    Raises:
        Failure: not JSON, or neither a list nor an object (bad input).
    """
    if text == "-":
        text = sys.stdin.read()
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise Failure(f"the arguments are not JSON ({exc}); give a list or an object", BAD_INPUT) from None
    if isinstance(value, list):
        return value, {}
    if isinstance(value, dict):
        return [], value
    raise Failure(
        f"the arguments must be a JSON list (positional) or object (by name), got {type(value).__name__}",
        BAD_INPUT,
    )


def parse_metadata(pairs: tuple[str, ...]) -> dict[str, str]:
    """Turn ``k=v`` pairs into call metadata (checked as every call's is).

    Raises:
        Failure: a pair without ``=``, or a key or value that metadata cannot hold (bad input).
    """
    from container import ConfigurationException
    from container.plugin import check_metadata

    metadata = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals:
            raise Failure(f"--metadata {pair!r} is not key=value", BAD_INPUT)
        metadata[key.strip().lower()] = value
    try:
        check_metadata(metadata, "--metadata")
    except ConfigurationException as exc:
        raise Failure(str(exc), BAD_INPUT) from None
    return metadata


@click.command("call", short_help="call one method; the result as JSON")
@click.argument("target", metavar="COMPONENT.SERVICE.METHOD")
@click.argument("arguments", metavar="[ARGS]", default="[]")
@config_option
@click.option(
    "--interface",
    metavar="MODULE:CLASS",
    help="The service interface: arguments are checked and typed, any channel works.",
)
@click.option(
    "--channel",
    default="",
    help="The channel to call through [default: untyped: dispatch-json, else dispatch-msgpack, "
    "whichever the component is registered on; typed: the registry's first].",
)
@click.option("--url", help="Call this instance (no registry).")
@timeout_option(None, "Seconds the call may take [default: the method's timeout from config, 30].")
@click.option("--metadata", "-m", multiple=True, metavar="KEY=VALUE", help="Metadata to send (repeatable).")
@credential_options
def call_command(
    target: str,
    arguments: str,
    config_file: str | None,
    interface: str | None,
    channel: str,
    url: str | None,
    timeout: float | None,
    metadata: tuple[str, ...],
    token: str | None,
    cert: str | None,
    key: str | None,
    ca: str | None,
) -> int:
    """Call one method and print its result as JSON.

    ARGS is JSON: a list of positional arguments or an object of named ones ('-' reads it
    from stdin). Exit status: 0 done, 1 the server answered with an error, 2 bad input (not
    JSON, arguments that do not fit, an unknown name), 3 could not reach the service.

    \b
    Examples:
      servicewire call --config service.yml hello-component.hello-service.hello '["world"]'
      servicewire call --url http://127.0.0.1:8000 hello-component.hello-service.hello '{"name": "ann"}'
      servicewire call --config service.yml --interface myapp.orders:OrderService \\
          orders-component.order-service.place '["pen", 2]' -m tenant=acme
    """
    from ._config import client_config

    component, service, method = parse_target(target, 3)
    args, kwargs = parse_arguments(arguments)
    sent_metadata = parse_metadata(metadata)
    config = client_config(config_file, token, cert, key, ca)
    if url is not None:
        channels = [channel] if channel else list(DISPATCH_CHANNELS)
        config["registry"] = {"type": "static", "components": {component: {c: [url] for c in channels}}}
    with client_manager(config) as manager, waiting(f"calling {component}/{service}/{method}"):
        if interface is not None:
            result = typed_call(
                manager,
                interface,
                (component, service, method),
                args,
                kwargs,
                channel,
                timeout,
                sent_metadata,
            )
        else:
            result = untyped_call(
                manager,
                (component, service, method),
                args,
                kwargs,
                channel,
                timeout,
                sent_metadata,
                token,
            )
    print_json(result)
    return 0


def typed_call(
    manager: Any,
    interface: str,
    names: tuple[str, str, str],
    args: list[Any],
    kwargs: dict[str, Any],
    channel: str,
    timeout: float | None,
    metadata: Mapping[str, str],
) -> Any:
    """Check the arguments against the interface, call through a proxy, return the result as JSON values."""
    from container import ServiceDescriptor, call_blocking, call_options, descriptor_of
    from container.codec import JSON_CODEC, CodecError, MethodCodec
    from container.plugin import load_object

    service_type = load_object(interface, "--interface")
    descriptor = descriptor_of(service_type)
    component, service, name = names
    if not isinstance(descriptor, ServiceDescriptor):
        raise Failure(f"--interface {interface} is a component; give one of its services", BAD_INPUT)
    declared = (descriptor.component_descriptor.name, descriptor.name)
    if declared != (component, service):
        raise Failure(
            f"--interface {interface} is service {declared[1]!r} of component {declared[0]!r}, "
            f"not {service!r} of {component!r}",
            BAD_INPUT,
        )
    method = descriptor.methods.get(name)
    if method is None:
        known = ", ".join(descriptor.methods) or "none"
        raise Failure(f"{interface} has no method {name!r}; its methods: {known}", BAD_INPUT)
    codec = MethodCodec(method, JSON_CODEC)
    try:
        typed_args, typed_kwargs = codec.decode_call(JSON_CODEC.encode({"args": args, "kwargs": kwargs}))
    except CodecError as exc:
        raise Failure(
            f"the arguments do not fit {method.name}{_signature(method)}: {exc}", BAD_INPUT
        ) from None
    proxy = manager.get_service(service_type, channel)
    with call_options(timeout=timeout, metadata=dict(metadata)):
        result = call_blocking(getattr(proxy, name), *typed_args, **typed_kwargs)  # awaited if async
    return json.loads(codec.encode_result(result))["result"]


def untyped_call(
    manager: Any,
    names: tuple[str, str, str],
    args: list[Any],
    kwargs: dict[str, Any],
    channel: str,
    timeout: float | None,
    metadata: Mapping[str, str],
    token: str | None,
) -> Any:
    """Send the call through the dispatch protocol to the first instance that takes it.

    Without ``channel`` (empty), through dispatch-json if the component has instances there, else
    dispatch-msgpack; waits up to the call's timeout for an instance to register.
    """
    from container import NoAddressException, ServiceUnavailableException
    from container.codec import error_for_status
    from container.plugin import Request

    if channel and channel not in DISPATCH_CHANNELS:
        raise Failure(
            f"an untyped call goes through the dispatch protocol: use --channel dispatch-json or "
            f"dispatch-msgpack, or give --interface to call through {channel!r}",
            BAD_INPUT,
        )
    component, service, name = names
    settings = manager.settings
    seconds = timeout or settings.timeout(component, service, name)
    wanted = (channel,) if channel else DISPATCH_CHANNELS
    registered: dict[str, list[str]] = {}

    def find() -> tuple[str, list[str]] | None:
        registered.clear()
        for address in manager.component_registry.list_addresses():
            if address.component == component:
                registered.setdefault(address.channel, []).extend(address.urls)
        return next(((c, registered[c]) for c in wanted if registered.get(c)), None)

    found = wait_for_registration(find, seconds)
    if found is None:
        where = type(manager.component_registry).__name__
        on = " or ".join(repr(c) for c in wanted)
        others = ", ".join(c for c, urls in registered.items() if urls)
        if others:
            raise Failure(
                f"component {component!r} has no instance on {on} ({where}), only on {others}: "
                "an untyped call goes through dispatch-json or dispatch-msgpack; give --interface "
                "to call through another channel",
                BAD_INPUT,
            )
        raise NoAddressException(f"no instance of component {component!r} is registered on {on} ({where})")
    chosen, urls = found
    channel_class = manager.channel_manager.get_class(chosen)
    codec = channel_class.codec
    assert codec is not None  # the dispatch channels carry bytes
    for url in urls:
        problem = channel_class.check_url(url)
        if problem is not None:
            shown = redact_credentials(repr(url))
            raise Failure(f"the registry's {chosen} URL {shown} is refused: {problem}", BAD_INPUT)
    path = f"{component}/{service}/{name}"
    sent = {**_credentials(settings, component, token), **metadata}
    body = codec.encode({"args": args, "kwargs": kwargs})
    request = Request(
        path,
        body,
        codec.content_type,
        sent,
        time.monotonic() + seconds,
        settings.connect_timeout(component),
        seconds,
    )
    transport = manager.transport_for(channel_class)
    last: Exception | None = None
    for url in urls:  # what was not sent may go to the next instance; what was sent, never
        try:
            response = transport.send(url, request)
        except ServiceUnavailableException as exc:
            if exc.sent:
                raise
            last = exc
            continue
        if response.status == 200:
            return codec.decoder(dict[str, Any]).decode(response.body).get("result")
        error = error_for_status(codec, response.status, response.body, url, path)
        if isinstance(error, ServiceUnavailableException) and not error.sent:
            last = error
            continue
        raise error
    assert last is not None
    raise last


def _credentials(settings: Any, component: str, token: str | None) -> dict[str, str]:
    from channels.http import credential_headers

    if token is None:
        credentials = settings.component(component).credentials
        if credentials is not None and credentials.token:
            token = credentials.token
    return credential_headers(settings, token)


def _signature(method: Any) -> str:
    import inspect

    parameters = [p.replace(annotation=method.parameter_types[p.name]) for p in method.parameters]
    return str(inspect.Signature(parameters))
