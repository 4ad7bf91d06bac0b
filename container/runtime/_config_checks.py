"""Configuration checked against what a container knows: its top-level sections and components.

The typed settings refuse what is wrong inside a section. What a section *names* is checked
here, once the container knows what it hosts: a ``components.<component>.methods.<key>`` that
names no method of the component is refused (its rule, timeout or idempotence would silently
apply to nothing), for every component the container knows of when it is created (those it
hosts, and those declared by the classes of the process) and for the others when they are
first asked for. Two mistakes are only logged, at WARNING, because their key may be right:

- a top-level section that neither the core nor any installed plugin declares: the plugin
  contract lets a plugin read a section it does not declare (``settings.section("pigeon")``),
  and applications often give servicewire the configuration that holds their own sections;
- a ``components.<component>`` that no class of the process declares, in a container that
  hosts components: a client may call such a component without its interface
  (``servicewire call``), so a name unknown here is not proof of a typo.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from ..config._settings import CORE_SECTIONS, ComponentSettings
from ..declarations._descriptors import ComponentDescriptor
from ..values._errors import ConfigurationException

logger = logging.getLogger("servicewire")


def check_method_keys(component: ComponentDescriptor[Any], settings: ComponentSettings) -> None:
    """Refuse a per-method key of a component's config that names none of its methods.

    A key is ``<service>.<method>`` or ``<method>`` (a method of any of its services).

    Raises:
        ConfigurationException: naming the key, and listing the component's methods.
    """
    qualified = [f"{service.name}.{name}" for service in component.services for name in service.methods]
    plain = {name for service in component.services for name in service.methods}
    for key in settings.methods:
        if key in plain or key in qualified:
            continue
        service, _, _ = key.rpartition(".")
        why = (
            f"component {component.name!r} has no service {service!r}"
            if service and component.service(service) is None
            else f"it names no method of component {component.name!r}"
        )
        raise ConfigurationException(
            f"config key 'components.{component.name}.methods.{key}' is unknown: {why}, so its "
            f"settings would apply to no call; its methods: {', '.join(qualified)}"
        )


def warn_unknown_sections(raw: Mapping[Any, Any], declared: Iterable[str]) -> list[str]:
    """Log, at WARNING, each top-level key no section declaration owns; return them.

    Args:
        raw: the configuration as given.
        declared: the keys plugins declare (the ``servicewire.settings`` group and registrations).
    """
    known = sorted(CORE_SECTIONS | set(declared))
    unknown = [str(key) for key in raw if key not in known]
    for key in unknown:
        logger.warning(
            "config key %r is not a section of servicewire or of any installed plugin (declared: "
            "%s): nothing checks it, and it is ignored unless a plugin reads it without declaring "
            "it; check its spelling",
            key,
            ", ".join(known),
        )
    return unknown


def warn_unknown_component(name: str, declared: Iterable[str]) -> None:
    """Log, at WARNING, a ``components.<name>`` section that no class of the process declares."""
    logger.warning(
        "config key %r names a component that no class of this process declares (declared: %s); "
        "its settings apply only to calls of a component of that name; check its spelling",
        f"components.{name}",
        ", ".join(sorted(declared)) or "(none)",
    )
