"""The registry is chosen and configured from any dependency-injector configuration source."""

from __future__ import annotations

import pytest
from dependency_injector import containers, providers

from channels.http import HttpSettings
from container import ConfigurationException, ServiceContainer, descriptor_of
from container.plugin import create_registry

from .services import GreeterService

GREETER = descriptor_of(GreeterService).component_descriptor


class YamlApp(containers.DeclarativeContainer):
    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)


def _urls(registry) -> dict[str, list[str]]:
    return {a.channel: a.urls for a in registry.get_addresses(GREETER)}


def test_static_registry_from_dict():
    """The documented mapping configures the static registry."""
    registry = create_registry(
        {
            "registry": {
                "type": "static",
                "components": {"ct-greeter-component": {"dispatch-json": ["http://a:1/", "http://b:2"]}},
            }
        }
    )
    assert _urls(registry) == {"dispatch-json": ["http://a:1", "http://b:2"]}


def test_static_registry_from_yaml(tmp_path):
    """A YAML file loaded into the app's Configuration reaches the registry."""
    path = tmp_path / "config.yml"
    path.write_text(
        "registry:\n  type: static\n  components:\n    ct-greeter-component:\n"
        "      dispatch-msgpack:\n        - http://10.1.1.1:8000\n"
    )
    app = YamlApp()
    app.config.from_yaml(str(path), required=True)
    registry = app.services.registry()
    assert _urls(registry) == {"dispatch-msgpack": ["http://10.1.1.1:8000"]}


def test_registry_type_from_environment(monkeypatch):
    """Values from the environment work like any other source."""
    monkeypatch.setenv("SW_REGISTRY_TYPE", "static")
    app = YamlApp()
    app.config.registry.type.from_env("SW_REGISTRY_TYPE", required=True)
    assert type(app.services.registry()).__name__ == "StaticComponentRegistry"


def test_no_registry_section_means_empty_static():
    """Without a registry section, an empty static registry serves a local-only app."""
    registry = create_registry({})
    assert registry.get_addresses(GREETER) == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"registry": {}}, "'registry.type' is missing; known registry types: .*static"),
        ({"registry": {"type": 3}}, "'registry.type' must be a string"),
        ({"registry": "static"}, "'registry' must be a mapping"),
        ({"registry": {"type": "static", "components": ["x"]}}, "'registry.components' must map"),
        (
            {"registry": {"type": "static", "components": {"c": {"dispatch-json": [1]}}}},
            "'registry.components.c.dispatch-json' must be a list of URL strings",
        ),
    ],
    ids=["missing-type", "type-not-string", "section-not-mapping", "components-list", "url-int"],
)
def test_bad_config_names_the_key(config, message):
    """Malformed config is refused with the offending key named."""
    with pytest.raises(ConfigurationException, match=message):
        create_registry(config)


def test_numbers_and_booleans_from_the_environment_are_converted(monkeypatch):
    """Strings where a number or a boolean is expected are converted, as from environment variables."""
    monkeypatch.setenv("SW_TIMEOUT", "2.5")
    monkeypatch.setenv("SW_TRUST_ENV", "true")
    app = YamlApp()
    app.config.from_dict({"registry": {"type": "static"}, "http": {"client": "requests"}})
    app.config.calls.timeout.from_env("SW_TIMEOUT")
    app.config.http.trust_env.from_env("SW_TRUST_ENV")  # honoured by the requests client
    settings = app.services.settings()
    assert settings.calls.timeout == 2.5
    assert settings.section("http", HttpSettings).trust_env is True
    assert settings.timeout("any-component", "any-service", "any-method") == 2.5


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"calls": {"timeout": "soon"}}, r"^config key 'calls.timeout' has an invalid value \("),
        ({"calls": {"timeout": -1}}, r"^config key 'calls.timeout' has an invalid value \("),
        (
            {"components": {"orders": {"methods": {"orders.place": {"timeout": "x"}}}}},
            r"^config key 'components.orders.methods.orders.place.timeout' has an invalid value",
        ),
        ({"components": {"orders": {"coldown": 1}}}, r"^config key 'components.orders.coldown' is unknown"),
        ({"http": {"tls": {"verfy": True}}}, r"^config key 'http.tls.verfy' is unknown; known keys there: "),
        (
            {"auth": {"bearer": {"tokens": {"t-1": {"subject": "ann", "rols": ["admin"]}}}}},
            r"^config key 'auth.bearer.tokens.t-1.rols' is unknown; known keys there: subject, roles$",
        ),
        ({"http": {"max_body_size": 0}}, r"^config key 'http.max_body_size' has an invalid value \("),
        ({"components": ["orders"]}, r"config key 'components' must be a mapping"),
    ],
    ids=[
        "not-a-number",
        "negative",
        "method-path",
        "typo",
        "nested-typo",
        "typo-in-a-map",
        "zero-size",
        "not-a-mapping",
    ],
)
def test_settings_errors_name_the_full_key_path(config, message):
    """The settings model is validated once, and every error names the full key path."""
    from container.plugin import Settings

    with pytest.raises(ConfigurationException, match=message):
        Settings(config)


# YAML's booleans where a word is expected


def test_an_unquoted_off_is_read_as_off():
    """`dashboard: off` and `client: off` as README and the docs write them (YAML reads false)."""
    import yaml

    from container.plugin import Settings

    settings = Settings(
        yaml.safe_load(
            "auth:\n  expose: {dashboard: off, metrics: no, health: open}\n"
            "observability:\n  call_log: {client: off, server: off}\n"
        )
    )
    assert (settings.auth.expose.dashboard, settings.auth.expose.metrics) == ("off", "off")
    assert (settings.auth.expose.health, settings.auth.expose.report) == ("open", "authenticated")
    assert (settings.observability.call_log.client, settings.observability.call_log.server) == ("off", "off")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("auth:\n  expose: {dashboard: on}\n", "auth.expose.dashboard"),
        ("observability:\n  call_log: {client: yes}\n", "observability.call_log.client"),
    ],
)
def test_an_unquoted_on_is_refused_because_it_could_mean_several_words(text, key):
    import yaml

    from container.plugin import Settings

    with pytest.raises(ConfigurationException) as info:
        Settings(yaml.safe_load(text))
    message = str(info.value)
    assert message.startswith(f"config key '{key}' is true (YAML reads on, yes and true as a boolean)")
    assert "quoted if YAML would read it as a boolean" in message


def test_a_boolean_where_a_word_is_expected_says_quote_it():
    import yaml

    from container.plugin import Settings

    with pytest.raises(ConfigurationException) as info:
        Settings(yaml.safe_load("interceptors:\n  client: [off]\n"))
    assert str(info.value).startswith("config key 'interceptors.client[0]' has an invalid value (")
    assert str(info.value).endswith(
        "YAML reads on, off, yes, no, true and false as booleans: quote a word meant as text"
    )
