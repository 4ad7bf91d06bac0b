"""Plugins declare typed config sections, validated with the container's configuration."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import attrs
import msgspec
import pytest
from dependency_injector import providers

from channels.http import HttpSettings
from container import ComponentRegistry, ConfigurationException, PluginException, ServiceContainer
from container.plugin import REGISTRIES, SECTIONS, SETTINGS_GROUP, Settings, create_registry


class PigeonSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The settings of a channel plugin: ``pigeon``."""

    loft: str = "main"
    birds: Annotated[int, msgspec.Meta(ge=1)] = 3
    speed: Annotated[float, msgspec.Meta(gt=0)] = 80.0


@attrs.frozen
class OwlSettings:
    """The same, as an attrs class."""

    birds: int = attrs.field(default=2, validator=attrs.validators.ge(1))


@pytest.fixture
def pigeon() -> Iterator[None]:
    SECTIONS.register("pigeon", PigeonSettings)
    yield
    SECTIONS.unregister("pigeon")


def make_manager(config: dict[str, Any]) -> Any:
    return ServiceContainer(config=providers.Object(config)).service_manager()


def test_a_declared_section_is_validated_when_the_container_is_created(pigeon):
    """A wrong value in a plugin's section fails the container's creation, naming the full key."""
    with pytest.raises(ConfigurationException, match=r"config key 'pigeon\.birds'"):
        make_manager({"pigeon": {"birds": 0}})
    with pytest.raises(ConfigurationException, match=r"config key 'pigeon\.wings' is unknown; known keys"):
        make_manager({"pigeon": {"wings": 2}})


def test_the_plugin_reads_the_typed_object_validated_with_the_configuration(pigeon):
    """settings.section(key, Type) hands back the object made at validation, strings converted."""
    manager = make_manager({"pigeon": {"loft": "north", "birds": "5"}})
    try:
        section = manager.settings.section("pigeon", PigeonSettings)
        assert section == PigeonSettings(loft="north", birds=5)
        assert manager.settings.section("pigeon", PigeonSettings) is section
        assert manager.settings.section("pigeon") == {"loft": "north", "birds": "5"}, "as given"
    finally:
        manager.close()


def test_an_absent_section_gives_the_defaults(pigeon):
    """Without the section, the plugin reads its defaults."""
    assert Settings({}).section("pigeon", PigeonSettings) == PigeonSettings()


def test_an_undeclared_section_is_passed_on_and_typed_when_asked():
    """A section nobody declares is not checked up front; asking for it typed converts it then."""
    settings = Settings({"owl": {"birds": "4"}, "raw": {"anything": [1]}})
    assert settings.section("raw") == {"anything": [1]}
    assert settings.section("owl", OwlSettings) == OwlSettings(4)
    with pytest.raises(ConfigurationException, match=r"config key 'owl'"):
        Settings({"owl": {"birds": 0}}).section("owl", OwlSettings)


def test_an_attrs_class_can_be_declared(pigeon):
    """attrs classes work as section types, validators included."""
    SECTIONS.register("owl", OwlSettings)
    try:
        with pytest.raises(ConfigurationException, match="config key 'owl'"):
            Settings({"owl": {"birds": 0}})
    finally:
        SECTIONS.unregister("owl")


def test_a_section_type_must_be_a_struct_or_an_attrs_class():
    """Declaring something else is refused at once, naming the section."""
    with pytest.raises(PluginException, match="'nest'.*not a msgspec.Struct or an attrs class"):
        SECTIONS.register("nest", dict)


def test_the_http_section_belongs_to_the_http_channels():
    """The http section is declared by channels.http through the settings entry points."""
    assert SETTINGS_GROUP == "servicewire.settings"
    assert SECTIONS.get("http") is HttpSettings
    with pytest.raises(ConfigurationException, match=r"config key 'http\.pool_size'"):
        make_manager({"http": {"pool_size": 0}})
    wrong_tls = r"config key 'http\.tls' has an invalid value \(client_certificates is 'sometimes'"
    with pytest.raises(ConfigurationException, match=wrong_tls):
        make_manager({"http": {"tls": {"client_certificates": "sometimes"}}})
    settings = Settings({"http": {"pool_size": "3", "tls": {"verify": False}}})
    assert settings.section("http", HttpSettings).pool_size == 3
    assert settings.section("http", HttpSettings).tls.verify is False


def test_the_older_http_timeouts_still_set_the_defaults_of_calls():
    """http.timeout and http.connect_timeout remain older spellings of calls.timeout and connect_timeout."""
    settings = Settings({"http": {"timeout": "2.5", "connect_timeout": 1}})
    assert settings.timeout("c", "s", "m") == 2.5
    assert settings.connect_timeout("c") == 1.0


def test_settings_http_says_where_the_section_went():
    """Code that read settings.http learns what to write instead."""
    with pytest.raises(AttributeError, match=r"settings\.section\('http', channels\.http\.HttpSettings\)"):
        Settings({}).http  # noqa: B018


class TtlSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The settings of a registry plugin: the ``registry`` section without ``type``."""

    ttl: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    prefix: str = "/sw"


class TypedRegistry(ComponentRegistry):
    settings_type = TtlSettings

    def register(self, descriptor, addresses):
        pass

    def deregister(self, descriptor):
        pass

    def watch(self, channel):
        pass

    def get_addresses(self, descriptor):
        return []


@pytest.fixture
def typed_registry() -> Iterator[None]:
    REGISTRIES.register("typed-test", TypedRegistry)
    yield
    REGISTRIES.unregister("typed-test")


def test_a_registry_declares_the_type_of_its_section(typed_registry):
    """The registry section (without type) is converted when the registry is made, with the key path."""
    registry = create_registry({"registry": {"type": "typed-test", "ttl": "2.5"}})
    assert registry.settings == TtlSettings(ttl=2.5)
    with pytest.raises(ConfigurationException, match=r"config key 'registry\.ttl'"):
        make_manager({"registry": {"type": "typed-test", "ttl": -1}})
    with pytest.raises(ConfigurationException, match=r"config key 'registry\.tll' is unknown"):
        make_manager({"registry": {"type": "typed-test", "tll": 3}})
