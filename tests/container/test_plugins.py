"""Plugins are found through real entry points of installed distributions."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from container import (
    ChannelManager,
    PluginException,
    UnknownChannelException,
    UnknownRegistryException,
)
from container.plugin import CHANNEL_GROUP, PluginGroup, create_registry
from container.runtime._plugins import _channel_base


def _install_distribution(root: Path, dist: str, module: str, source: str, entry_points: str) -> None:
    """Lay out an installed distribution: a module plus a real .dist-info folder."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    (info / "RECORD").write_text("")


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("sw_test_plugin")]:
        del sys.modules[name]


CHANNEL_SOURCE = """
    from container import Channel

    class EchoChannel(Channel):
        def invoke(self, invocation):
            return (invocation.method.name, invocation.args)
"""


def test_channel_from_entry_point_of_installed_distribution(site):
    """A channel declared by an installed distribution's entry point is found by name."""
    _install_distribution(
        site,
        "sw_test_plugin_dist",
        "sw_test_plugin_echo",
        CHANNEL_SOURCE,
        f"[{CHANNEL_GROUP}]\necho-test = sw_test_plugin_echo:EchoChannel\n",
    )
    group = PluginGroup(CHANNEL_GROUP, "channel", _channel_base, UnknownChannelException)
    assert "echo-test" in group.names()
    assert "sw_test_plugin_echo" not in sys.modules, "entry points load lazily"
    cls = group.get("echo-test")
    assert cls.__name__ == "EchoChannel"
    assert group.distribution_of("echo-test") == "sw_test_plugin_dist"
    assert ChannelManager(group).get_class("echo-test") is cls


def test_entry_point_that_is_not_a_channel(site):
    """An entry point naming something else is refused, naming entry and distribution."""
    _install_distribution(
        site,
        "sw_test_plugin_bad",
        "sw_test_plugin_bad",
        "class NotAChannel:\n    pass\n",
        f"[{CHANNEL_GROUP}]\nbad-test = sw_test_plugin_bad:NotAChannel\n",
    )
    group = PluginGroup(CHANNEL_GROUP, "channel", _channel_base, UnknownChannelException)
    with pytest.raises(PluginException) as info:
        group.get("bad-test")
    message = str(info.value)
    assert "bad-test" in message and "sw_test_plugin_bad" in message
    assert "not a subclass of container.Channel" in message


def test_entry_point_that_fails_to_import(site):
    """An entry point whose module cannot be imported is a PluginException naming it."""
    _install_distribution(
        site,
        "sw_test_plugin_broken",
        "sw_test_plugin_broken",
        "raise RuntimeError('boom')\n",
        f"[{CHANNEL_GROUP}]\nbroken-test = sw_test_plugin_broken:X\n",
    )
    group = PluginGroup(CHANNEL_GROUP, "channel", _channel_base, UnknownChannelException)
    with pytest.raises(PluginException, match="cannot load channel plugin.*broken-test.*boom"):
        group.get("broken-test")


def test_two_distributions_claiming_one_name(site):
    """Two distributions declaring the same name are refused, both named."""
    for dist in ("sw_test_plugin_one", "sw_test_plugin_two"):
        _install_distribution(
            site,
            dist,
            dist,
            CHANNEL_SOURCE,
            f"[{CHANNEL_GROUP}]\ntwin-test = {dist}:EchoChannel\n",
        )
    group = PluginGroup(CHANNEL_GROUP, "channel", _channel_base, UnknownChannelException)
    with pytest.raises(PluginException, match="several distributions.*sw_test_plugin_one.*two"):
        group.get("twin-test")


def test_unknown_channel_lists_known():
    """An unknown channel name lists the names that are known."""
    with pytest.raises(UnknownChannelException, match=r"unknown channel 'nope'; known channels:.*local"):
        ChannelManager().get_class("nope")


def test_unknown_registry_type_lists_known():
    """An unknown registry type lists the known types."""
    with pytest.raises(UnknownRegistryException, match=r"'etcetera'.*known registry types:.*static"):
        create_registry({"registry": {"type": "etcetera"}})


def test_a_channel_without_a_transport_says_what_to_set():
    """A current-contract channel class that names no transport fails its calls with what to do."""
    from container import Channel, ChannelInstances, descriptor_of
    from container.plugin import URLShape

    from .services import CalculatorService

    class Mute(Channel):
        name = "mute"
        schemes = ("mute",)
        url_shapes = (URLShape.OPAQUE,)

    mute = Mute()
    component = descriptor_of(CalculatorService).component_descriptor
    mute.setup(component, ChannelInstances("c", "mute", ["mute://x"]))
    add = descriptor_of(CalculatorService).methods["add"]
    with pytest.raises(PluginException, match=r"channel .mute. \(.*Mute\) declares no transport"):
        mute.plan_of(add).call((1, 2), {})
