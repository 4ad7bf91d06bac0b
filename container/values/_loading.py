"""Objects that config names by import path: ``package.module:name``."""

from __future__ import annotations

import importlib
from typing import Any

from ._errors import ConfigurationException


def load_object(spec: str, where: str) -> Any:
    """Import ``package.module:name`` (``name`` may be dotted) and return the object.

    Args:
        spec: the import path.
        where: what holds it, for the error message: ``"config key 'http.x[0]'"``.

    Raises:
        ConfigurationException: the spec is malformed or cannot be imported (``where`` named).
    """
    if not isinstance(spec, str):
        raise ConfigurationException(f"{where}: expected 'package.module:name', got {spec!r}")
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigurationException(f"{where}: expected 'package.module:name', got {spec!r}")
    try:
        value: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationException(f"{where}: cannot import {spec!r}: {exc}") from exc
    return value
