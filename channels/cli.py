"""The ``servicewire`` command.

``servicewire serve package.module:MainContainer [--host H] [--port P] [--config FILE]``
boots the container with :class:`~channels.http.HttpServer` and serves until SIGINT or SIGTERM,
then shuts down gracefully. ``--config`` loads a YAML or JSON file into the container's
``config`` provider.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .http import HttpServer


def load_object(spec: str) -> Any:
    """Import ``package.module:Name`` and return the named object.

    Raises:
        SystemExit: the spec is malformed or names nothing (with a message saying which).
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise SystemExit(f"servicewire: expected module:Container, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SystemExit(f"servicewire: cannot import {module_name!r}: {exc}") from exc
    try:
        value = module
        for part in attribute.split("."):
            value = getattr(value, part)
    except AttributeError as exc:
        raise SystemExit(f"servicewire: {module_name!r} has no {attribute!r}") from exc
    return value


def _load_config(path: str) -> dict[str, Any]:
    text = Path(path).read_text()
    if path.endswith((".yml", ".yaml")):
        import yaml  # optional: only needed for YAML config files

        loaded = yaml.safe_load(text)
    else:
        loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise SystemExit(f"servicewire: {path} must hold a mapping, got {type(loaded).__name__}")
    return loaded


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
        config_provider.from_dict(_load_config(arguments.config))
    server = HttpServer(arguments.host, arguments.port, arguments.threads, arguments.debug)
    server.serve_forever(container)
    return 0


if __name__ == "__main__":
    sys.exit(main())
