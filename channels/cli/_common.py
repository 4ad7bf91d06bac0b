"""What the client commands share: their options, and a ServiceManager made from them."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from container import ServiceManager

F = TypeVar("F", bound=Callable[..., Any])
_T = TypeVar("_T")


def user_code_importable() -> None:
    """Put the working directory last on ``sys.path``, once.

    Every command may import user code by ``package.module:name``: the container to serve,
    ``--interface``, ``--setup``, and the import paths of the configuration (a credentials
    provider, a session customizer). The ``servicewire`` script, unlike ``python -m``, does not
    put the working directory on the path; this does, for every command alike. Last, not
    first: a file in the working directory (``yaml.py`` in a shared ``/tmp``) must never
    shadow a library that the command imports later.
    """
    here = os.getcwd()
    if "" not in sys.path and here not in sys.path:
        sys.path.append(here)


def config_option(function: F) -> F:
    """``--config FILE`` (also ``$SERVICEWIRE_CONFIG``)."""
    return click.option(
        "--config",
        "config_file",
        type=click.Path(),
        envvar="SERVICEWIRE_CONFIG",
        help="The YAML or JSON config naming the registry (as the services use it). "
        "[env: SERVICEWIRE_CONFIG]",
    )(function)


def credential_options(function: F) -> F:
    """``--token``, ``--cert``, ``--key``, ``--ca``: credentials and TLS, as for any client."""
    for option in reversed(
        [
            click.option(
                "--token",
                envvar="SERVICEWIRE_TOKEN",
                help="Bearer token or JWT to send (wins over auth.credentials). [env: SERVICEWIRE_TOKEN]",
            ),
            click.option(
                "--cert",
                type=click.Path(exists=True, dir_okay=False),
                help="Client certificate (PEM) for mTLS (http.tls.cert).",
            ),
            click.option(
                "--key", type=click.Path(exists=True, dir_okay=False), help="Its private key (http.tls.key)."
            ),
            click.option(
                "--ca",
                type=click.Path(exists=True),
                help="CA file or folder that verifies the servers (http.tls.verify).",
            ),
        ]
    ):
        function = option(function)
    return function


def json_option(function: F) -> F:
    """``--json``: print JSON instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (one document) instead of text.")(
        function
    )


@contextmanager
def client_manager(config: dict[str, Any]) -> Iterator[ServiceManager]:
    """A ServiceManager of a client configuration, closed afterwards.

    Raises:
        ConfigurationException: the configuration does not validate (the key is named).
    """
    from container import ServiceClient

    with ServiceClient(config) as client:
        yield client.manager


def listed_instances(manager: ServiceManager, component: str | None = None) -> list[Any]:
    """Return the registry's instances (``channels.http.Instance``), of one component if named.

    Raises:
        Failure: the registry cannot list its components (bad input), or did not answer (could
            not reach); ``list --watch`` says so and keeps watching.
    """
    from channels.http import instances_of

    from ._exits import failure_of

    try:
        found = instances_of(manager.component_registry.list_addresses())
    except Exception as exc:
        failure = failure_of(exc)
        if failure is None:
            raise
        raise failure from exc
    return [i for i in found if component is None or i.component == component]


def wait_for_registration(find: Callable[[], _T | None], seconds: float) -> _T | None:
    """Call ``find`` until it finds something or ``seconds`` passed; return what it found last.

    A service started a moment ago (``servicewire serve ... &``) registers once it listens; a
    command run right after it waits for it up to its timeout, as a proxy waits for an address,
    instead of failing at once.
    """
    deadline = time.monotonic() + seconds
    while True:
        found = find()
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.1)


def timeout_option(default: float | None, text: str) -> Callable[[F], F]:
    """``--timeout SECONDS``."""

    def decorate(function: F) -> F:
        return click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=default,
            show_default=default is not None,
            help=text,
        )(function)

    return decorate
