"""The ``servicewire`` command.

``servicewire serve package.module:MainContainer [--host H] [--port P] [--config FILE]``
boots the container with :class:`~channels.http.HttpServer`, logs one line saying what it
hosts and where, and serves until SIGINT or SIGTERM; then it shuts down gracefully and logs
one line more. ``--config`` loads a YAML or JSON file into the container's ``config`` provider
with dependency-injector's ``from_yaml`` / ``from_json``, so ``${VAR}`` and ``${VAR:default}``
are taken from the environment; a ``${VAR}`` whose variable is not set and that has no default
is refused, naming the variable and the key.

A mistake in the configuration or the declarations stops the command before it serves: one
line on stderr saying what is wrong and where, exit status 2, no traceback. The steps are small
functions (:func:`boot_failure`, :func:`load_config`, :func:`start_line`, ...) that another
front end of the command can reuse.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from container import (
    ChannelAddress,
    ConfigurationException,
    LocalServiceException,
    ServiceException,
    plugin,
)

from .http import HttpServer

logger = logging.getLogger("servicewire.cli")

CONFIG_ERROR = 2
"""Exit status when the configuration or the declarations are wrong (nothing was served)."""

START_FAILED = 1
"""Exit status when the server could not start for another reason (a port in use, a registry
that does not answer)."""


def load_object(spec: str) -> Any:
    """Import ``package.module:Name`` and return the named object.

    Raises:
        ConfigurationException: the spec is malformed or names nothing (saying which).
    """
    return plugin.load_object(spec, "the container to serve")


# --config


# dependency-injector's own syntax for environment markers (providers.pyx,
# config_env_marker_pattern): ${NAME}, ${NAME:default}, ${NAME:} (empty default).
_MARKER = re.compile(r"\$\{(?P<name>[^}^{:]+)(?P<separator>:?)(?P<default>.*?)\}")


def unset_variables(text: str, environ: Mapping[str, str]) -> list[tuple[str, int]]:
    """Return the ``${VAR}`` markers of ``text`` that have no default and whose variable is not set.

    Returns:
        (variable, line number) of each such marker, in file order, each variable once.
    """
    found: dict[str, int] = {}
    for match in _MARKER.finditer(text):
        name = match.group("name")
        if match.group("separator") or name in environ or name in found:
            continue
        found[name] = text.count("\n", 0, match.start()) + 1
    return list(found.items())


def key_of_marker(document: Any, name: str) -> str | None:
    """Return the key path (``calls.timeout``) whose value holds ``${name}``, or None.

    ``document`` is the config file parsed as it is written, before the environment is
    filled in; a key that is itself a marker is named by its parent's path.
    """
    marker = "${" + name + "}"
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop(0)
        if isinstance(value, str) and marker in value:
            return path or None
        if isinstance(value, Mapping):
            for key, child in value.items():
                if isinstance(key, str) and marker in key:
                    return path or None
                stack.append((f"{path}.{key}" if path else str(key), child))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", child) for index, child in enumerate(value))
    return None


def check_environment(path: str, text: str, environ: Mapping[str, str]) -> None:
    """Refuse a config file that uses a ``${VAR}`` without a default whose variable is not set.

    Raises:
        ConfigurationException: naming the variable, the key that uses it (when the file
            parses as written) and the line.
    """
    missing = unset_variables(text, environ)
    if not missing:
        return
    document = _parse_as_written(path, text)
    name, line = missing[0]
    key = key_of_marker(document, name) if document is not None else None
    where = f"config key {key!r}" if key else f"line {line}"
    others = ", ".join(other for other, _ in missing[1:])
    also = f" (also not set: {others})" if others else ""
    raise ConfigurationException(
        f"config file {path}: {where} uses ${{{name}}}, but {name} is not set and the marker has "
        f"no default; set {name}, or write ${{{name}:default}}{also}"
    )


def _parse_as_written(path: str, text: str) -> Any:
    """The file parsed without filling in the environment (None when it does not parse so)."""
    try:
        if path.endswith((".yml", ".yaml")):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except Exception:  # markers may make the raw text invalid: the line number says where then
        return None


def load_config(config_provider: Any, path: str, environ: Mapping[str, str] | None = None) -> None:
    """Load a YAML (``.yml``, ``.yaml``) or JSON file into a ``Configuration`` provider.

    Environment variables are interpolated (``${VAR}``, ``${VAR:default}``), as
    dependency-injector does; a ``${VAR}`` whose variable is not set and that has no default is
    refused (see :func:`check_environment`).

    Raises:
        ConfigurationException: the file is missing, unreadable, malformed, not a mapping, or
            uses an unset variable (saying which file, and which key or line).
    """
    file = Path(path)
    if not file.is_file():
        raise ConfigurationException(f"config file {path} does not exist")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise ConfigurationException(f"config file {path} cannot be read ({exc})") from exc
    check_environment(path, text, os.environ if environ is None else environ)
    try:
        if path.endswith((".yml", ".yaml")):
            config_provider.from_yaml(path, required=True)
        else:
            config_provider.from_json(path, required=True)
    except Exception as exc:  # YAML/JSON syntax, a missing optional parser: say which file
        raise ConfigurationException(f"config file {path} cannot be loaded ({exc})") from exc


# boot and serve


def boot_failure(exc: BaseException) -> tuple[str, int] | None:
    """Turn what stopped the command before it served into (one-line message, exit status).

    Returns:
        ``(message, 2)`` for a mistake in the configuration or the declarations (any
        :class:`~container.LocalServiceException`, a configuration file that is wrong);
        ``(message, 1)`` for another servicewire failure or an OS error (a port in use);
        None for anything else, which is a bug whose traceback should be seen.
    """
    if isinstance(exc, LocalServiceException):
        return f"servicewire: {_one_line(str(exc))}", CONFIG_ERROR
    if isinstance(exc, ServiceException):
        return f"servicewire: cannot start: {_one_line(str(exc))}", START_FAILED
    if isinstance(exc, OSError):
        return f"servicewire: cannot start: {_one_line(str(exc))}", START_FAILED
    return None


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip()) or "(no message)"


class _RecordingServer(HttpServer):
    """The HTTP server, remembering each address it listens on (what is registered)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.registered: dict[str, list[ChannelAddress]] = {}

    def listen_on(self, component: Any, address: ChannelAddress) -> ChannelAddress:
        listened = super().listen_on(component, address)
        self.registered.setdefault(component.name, []).append(listened)
        return listened


def start_line(server: HttpServer, registered: Mapping[str, list[ChannelAddress]]) -> str:
    """The line logged once the server serves: where, and what it hosts.

    It names the server's URL, and each hosted component with its services and the addresses
    it registered. Example: ``serving on http://127.0.0.1:8000 (pid 4242): hello-component [hello-service]
    at dispatch-json http://127.0.0.1:8000, dispatch-msgpack http://127.0.0.1:8000``.
    """
    assert server.manager is not None
    parts = []
    for component in server.manager.hosted_components():
        services = ", ".join(service.name for service in component.services)
        addresses = registered.get(component.name, [])
        where = ", ".join(f"{a.channel} {a.uri}" for a in addresses) or "no address (not registered)"
        parts.append(f"{component.name} [{services}] at {where}")
    hosted = "; ".join(parts) or "no component"
    return f"serving on {server.scheme}://{server.host}:{server.port} (pid {os.getpid()}): {hosted}"


def serve(server: _RecordingServer, container: Any) -> str:
    """Boot, log the start line, serve until SIGINT or SIGTERM, shut down gracefully.

    Returns:
        The name of the signal that stopped the server (``"SIGTERM"``).
    """
    stopped = threading.Event()
    received: list[int] = []

    def stop(signum: int, frame: Any) -> None:
        received.append(signum)
        stopped.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.boot(container)
        logger.info("%s", start_line(server, server.registered))
        stopped.wait()
    finally:
        server.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return signal.Signals(received[0]).name


def configure_logging() -> None:
    """INFO to stderr, without the core's own boot lines (the start line says it all)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # A filter on a logger sees only the records logged on that very logger, not its children's:
    # this hides the core's per-component INFO lines at boot and keeps every warning, the call
    # log (servicewire.calls) and the plugins' lines.
    logging.getLogger("servicewire").addFilter(lambda record: record.levelno >= logging.WARNING)


def run_serve(arguments: argparse.Namespace) -> int:
    """The ``serve`` command; returns the exit status."""
    sys.path.insert(0, str(Path.cwd()))
    try:
        container_class = load_object(arguments.container)
        container = container_class()
        if arguments.config:
            config_provider = getattr(container, "config", None)
            if config_provider is None:
                raise ConfigurationException(f"{arguments.container} has no config provider for --config")
            load_config(config_provider, arguments.config)
        server = _RecordingServer(arguments.host, arguments.port, arguments.threads, arguments.debug)
        how = serve(server, container)
    except Exception as exc:
        failure = boot_failure(exc)
        if failure is None:
            raise
        message, status = failure
        print(message, file=sys.stderr, flush=True)
        return status
    logger.info("stopped gracefully on %s", how)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``servicewire`` command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="servicewire", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve_command = commands.add_parser("serve", help="serve a container's components over HTTP")
    serve_command.add_argument("container", help="the main container, as package.module:Name")
    serve_command.add_argument("--host", default="127.0.0.1", help="interface to listen on (127.0.0.1)")
    serve_command.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    serve_command.add_argument("--threads", type=int, default=8, help="worker threads (8)")
    serve_command.add_argument("--config", help="YAML or JSON file loaded into the container's config")
    serve_command.add_argument("--debug", action="store_true", help="tracebacks in error answers")
    arguments = parser.parse_args(argv)
    configure_logging()
    return run_serve(arguments)


if __name__ == "__main__":
    sys.exit(main())
