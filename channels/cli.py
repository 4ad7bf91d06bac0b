"""The ``servicewire`` command.

``servicewire serve package.module:MainContainer [--host H] [--port P] [--config FILE]``
boots the container with :class:`~channels.http.HttpServer` and serves until SIGINT or SIGTERM,
then shuts down gracefully. ``--config`` loads a YAML or JSON file into the container's
``config`` provider with dependency-injector's ``from_yaml`` / ``from_json``, so
``${VAR}`` and ``${VAR:default}`` are taken from the environment.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from container import ConfigurationException, plugin

from .http import HttpServer


def load_object(spec: str) -> Any:
    """Import ``package.module:Name`` and return the named object.

    Raises:
        SystemExit: the spec is malformed or names nothing (with a message saying which).
    """
    try:
        return plugin.load_object(spec, "the container to serve")
    except ConfigurationException as exc:
        raise SystemExit(f"servicewire: {exc}") from exc


def load_config(config_provider: Any, path: str) -> None:
    """Load a YAML (``.yml``, ``.yaml``) or JSON file into a ``Configuration`` provider.

    Environment variables are interpolated (``${VAR}``, ``${VAR:default}``), as
    dependency-injector does.

    Raises:
        SystemExit: the file is missing, malformed, or not a mapping (saying which).
    """
    if not Path(path).is_file():
        raise SystemExit(f"servicewire: config file {path} does not exist")
    try:
        if path.endswith((".yml", ".yaml")):
            config_provider.from_yaml(path, required=True)
        else:
            config_provider.from_json(path, required=True)
    except Exception as exc:  # YAML/JSON syntax, a missing optional parser: say which file
        raise SystemExit(f"servicewire: cannot load config file {path}: {exc}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``servicewire`` command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="servicewire", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a container's components over HTTP")
    serve.add_argument("container", help="the main container, as package.module:Name")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    serve.add_argument("--threads", type=int, default=8, help="worker threads (8)")
    serve.add_argument("--config", help="YAML or JSON file loaded into the container's config")
    serve.add_argument("--debug", action="store_true", help="tracebacks in error answers")
    arguments = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    sys.path.insert(0, str(Path.cwd()))
    container_class = load_object(arguments.container)
    container = container_class()
    if arguments.config:
        config_provider = getattr(container, "config", None)
        if config_provider is None:
            raise SystemExit(f"servicewire: {arguments.container} has no config provider for --config")
        load_config(config_provider, arguments.config)
    server = HttpServer(arguments.host, arguments.port, arguments.threads, arguments.debug)
    server.serve_forever(container)
    return 0


if __name__ == "__main__":
    sys.exit(main())
