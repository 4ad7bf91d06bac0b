"""The ``serve`` config section: the command's own keys, typed like every plugin's section.

Declared in the ``servicewire.settings`` entry-point group (``serve =
channels.cli:ServeSettings``), so a container given a configuration with a ``serve`` section
validates it with the rest (a misspelt key is refused, named), and ``servicewire serve``
reads it the same way before it runs the set-up function.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec


class ServeSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What ``servicewire serve`` reads from the configuration: ``serve``.

    Attributes:
        setup: ``package.module:function`` called before the container is created (the
            ``--setup`` option wins over it).
    """

    setup: str | None = None


def serve_settings(config: Mapping[str, Any]) -> ServeSettings:
    """Return the ``serve`` section of a configuration, validated (defaults when absent).

    Raises:
        ConfigurationException: the section is not a mapping or does not fit
            :class:`ServeSettings` (the message names the key).
    """
    from container.plugin import Settings

    section = {"serve": config["serve"]} if "serve" in config else {}
    settings = Settings(section, sections=lambda key: ServeSettings if key == "serve" else None)
    return settings.section("serve", ServeSettings)
