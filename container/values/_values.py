"""Value types exchanged between the core, channels and registries."""

from __future__ import annotations

from collections.abc import Iterable

import attrs


def _to_list(urls: Iterable[str]) -> list[str]:
    return list(urls)


@attrs.frozen
class ChannelAddress:
    """Where one channel of a hosted component can be reached.

    Attributes:
        channel: the channel name, for example ``"dispatch-json"``.
        uri: the base URL the channel's client sends to, for example ``"http://10.0.0.5:8000"``.
    """

    channel: str
    uri: str

    def __str__(self) -> str:
        return f"{self.channel}({self.uri})"


@attrs.frozen
class ChannelInstances:
    """The URLs under which a component is reachable on one channel.

    Attributes:
        component: the component name.
        channel: the channel name.
        urls: every known base URL, one per running instance.
    """

    component: str
    channel: str
    urls: list[str] = attrs.field(factory=list, converter=_to_list)
