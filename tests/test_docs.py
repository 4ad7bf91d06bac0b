"""The complete example of docs/writing-a-channel-plugin.md runs, and passes the conformance kit."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

from container import ChannelAddress
from container.plugin import CHANNELS
from container.testing import ChannelConformance

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "writing-a-channel-plugin.md"


def load_example(name: str) -> object:
    """Import the code block that follows ``<!-- example: name -->`` in the guide, as a module."""
    text = GUIDE.read_text()
    found = re.search(rf"<!-- example: {re.escape(name)} -->\n```python\n(.*?)```", text, re.S)
    assert found, f"the guide has no example {name}"
    module_name = "docs_example_" + name.removesuffix(".py")
    spec = importlib.util.spec_from_loader(module_name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    exec(compile(found.group(1), f"{GUIDE}:{name}", "exec"), module.__dict__)
    return module


loopback = load_example("loopback_channel.py")
CHANNELS.register("loopback-json", loopback.LoopbackChannel)  # type: ignore[attr-defined]


class TestTheGuidesLoopbackChannel(ChannelConformance):
    """The guide's example is a complete channel: every check of the kit passes."""

    channel = "loopback-json"

    def address(self, port: int) -> ChannelAddress:
        return ChannelAddress("loopback-json", "loopback://")
