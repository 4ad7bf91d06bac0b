"""Configuration files for every command: ``--config FILE`` (YAML or JSON) with ``${VAR}``.

The file is loaded as dependency-injector loads it (``from_yaml`` / ``from_json``), so
``${VAR}`` and ``${VAR:default}`` are taken from the environment; a ``${VAR}`` whose variable
is not set and that has no default is refused, naming the variable and the key. The client
commands (``list``, ``call``, ``health``, ``describe``, ``dashboard``) keep only what a client
needs from a service's configuration (:func:`client_view`), and add the credentials and TLS
files given on the command line.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from container import ConfigurationException

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


def read_config(path: str | None) -> dict[str, Any]:
    """Return a config file as a mapping, environment filled in (empty without a file).

    Raises:
        ConfigurationException: see :func:`load_config`; also when the file is not a mapping.
    """
    if not path:
        return {}
    from dependency_injector import providers

    provider = providers.Configuration()
    load_config(provider, path)
    loaded = provider()
    if not isinstance(loaded, dict):
        raise ConfigurationException(f"config file {path} does not hold a mapping")
    return loaded


CLIENT_SECTIONS = ("registry", "calls", "components", "http")
"""The top-level sections a client command keeps (plus ``auth.credentials``)."""


def client_view(config: Mapping[str, Any]) -> dict[str, Any]:
    """Return what a client needs of a service's configuration.

    Kept: ``registry``, ``calls``, ``components`` (without their server-side ``interceptors``
    and ``allow``), ``http`` and ``auth.credentials``. Dropped: ``observability`` (a client
    command must not bind the service's metrics port), interceptors, authenticators and rules
    (server side, and their import paths may not import where the command runs).
    """
    view: dict[str, Any] = {key: config[key] for key in CLIENT_SECTIONS if key in config}
    components = view.get("components")
    if isinstance(components, Mapping):
        view["components"] = {
            name: {k: v for k, v in section.items() if k not in ("interceptors", "allow")}
            if isinstance(section, Mapping)
            else section
            for name, section in components.items()
        }
    auth = config.get("auth")
    if isinstance(auth, Mapping) and auth.get("credentials") is not None:
        view["auth"] = {"credentials": auth["credentials"]}
    return view


def client_config(
    path: str | None,
    token: str | None = None,
    cert: str | None = None,
    key: str | None = None,
    ca: str | None = None,
) -> dict[str, Any]:
    """Return a client command's configuration: the file's client view plus the command line.

    Args:
        path: the config file (None: none).
        token: a bearer token or a JWT, sent as ``authorization: Bearer``; wins over the file's.
        cert: a client certificate (PEM, may hold the key) for mTLS (``http.tls.cert``).
        key: its key (``http.tls.key``).
        ca: the CA file or folder that verifies servers (``http.tls.verify``).
    """
    config = client_view(read_config(path))
    if token:
        config["auth"] = {"credentials": {"token": token}}
        components = config.get("components")
        if isinstance(components, Mapping):  # the command line wins over per-component credentials
            config["components"] = {
                name: {k: v for k, v in section.items() if k != "credentials"}
                if isinstance(section, Mapping)
                else section
                for name, section in components.items()
            }
    tls = {name: value for name, value in (("cert", cert), ("key", key), ("verify", ca)) if value}
    if tls:
        http = dict(config.get("http") or {})
        http["tls"] = {**dict(http.get("tls") or {}), **tls}
        config["http"] = http
    return config
