"""The complete examples of the plugin guides run, pass the conformance kits, and type their settings."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import types
from pathlib import Path

import pytest
import yaml
from dependency_injector import providers

from container import ChannelAddress, ConfigurationException, ServiceContainer
from container.config._settings import CORE_SECTIONS
from container.plugin import CHANNELS, REGISTRIES, SECTIONS, Settings, create_registry
from container.testing import ChannelConformance, RegistryConformance

DOCS = Path(__file__).resolve().parent.parent / "docs"
CONCEPTS = DOCS / "concepts.md"
CHANNEL_GUIDE = DOCS / "writing-a-channel-plugin.md"
REGISTRY_GUIDE = DOCS / "writing-a-registry-plugin.md"


def load_example(guide: Path, name: str) -> object:
    """Import the code block that follows ``<!-- example: name -->`` in a guide, as a module."""
    text = guide.read_text()
    found = re.search(rf"<!-- example: {re.escape(name)} -->\n```python\n(.*?)```", text, re.S)
    assert found, f"{guide.name} has no example {name}"
    module_name = "docs_example_" + name.removesuffix(".py")
    spec = importlib.util.spec_from_loader(module_name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    exec(compile(found.group(1), f"{guide}:{name}", "exec"), module.__dict__)
    return module


# What the guides' entry points declare, registered in code (the examples are no distribution).
loopback = load_example(CHANNEL_GUIDE, "loopback_channel.py")
CHANNELS.register("loopback-json", loopback.LoopbackChannel)  # type: ignore[attr-defined]
SECTIONS.register("loopback", loopback.LoopbackSettings)  # type: ignore[attr-defined]
memory = load_example(REGISTRY_GUIDE, "memory_registry.py")
REGISTRIES.register("memory", memory.MemoryRegistry)  # type: ignore[attr-defined]


class TestTheGuidesLoopbackChannel(ChannelConformance):
    """The channel guide's example is a complete channel: every check of the kit passes."""

    channel = "loopback-json"
    config = {"loopback": {"workers": "4"}}  # noqa: RUF012 - the kit's class attribute

    def address(self, port: int) -> ChannelAddress:
        return ChannelAddress("loopback-json", "loopback://")


def test_the_loopback_section_is_typed_and_validated_with_the_configuration():
    """The example's typed section: converted for its transport, refused with its key path."""
    manager = ServiceContainer(config=providers.Object({"loopback": {"workers": "3"}})).service_manager()
    try:
        section = manager.settings.section("loopback", loopback.LoopbackSettings)  # type: ignore[attr-defined]
        assert section.workers == 3, "the string from the config is converted"
    finally:
        manager.close()
    with pytest.raises(ConfigurationException, match=r"config key 'loopback\.workers'"):
        ServiceContainer(config=providers.Object({"loopback": {"workers": 0}})).service_manager()


class TestTheGuidesMemoryRegistry(RegistryConformance):
    """The registry guide's example is a complete registry: every check of the kit passes."""

    shared = True

    def registry_config(self, tmp_path, request):
        return {"type": "memory", "space": request.node.name}


def test_the_memory_registry_section_is_typed():
    """The example's settings_type: its section is typed, and a misspelt key names the full path."""
    assert create_registry({"registry": {"type": "memory", "space": "a"}}).settings.space == "a"
    misspelt = {"registry": {"type": "memory", "spcae": "a"}}
    with pytest.raises(ConfigurationException, match=r"config key 'registry\.spcae' is unknown"):
        ServiceContainer(config=providers.Object(misspelt)).service_manager()


def test_the_runtime_examples_run():
    """The runtime's examples in concepts.md and the channel guide run, their asserts included."""
    load_example(CONCEPTS, "runtime.py")
    load_example(CHANNEL_GUIDE, "runtime_addresses.py")


# every code block of the pages that explain calls runs

RUNNABLE = [
    "async.md",
    "calls.md",
    "concepts.md",
    "writing-a-channel-plugin.md",
    "writing-a-registry-plugin.md",
]
"""Pages whose every code block runs: Python in order in one namespace per page, YAML as a
servicewire configuration, TOML and JSON parsed. A block without a language is a diagram."""

_FENCE = re.compile(r"^(?P<indent>[ ]*)```(?P<lang>[a-z]*)\n(?P<body>.*?)^(?P=indent)```[ ]*$", re.S | re.M)


def code_blocks(page: Path) -> list[tuple[str, str, int]]:
    """The fenced blocks of a page: (language, code without the list indentation, line)."""
    text = page.read_text()
    found = []
    for match in _FENCE.finditer(text):
        indent = len(match.group("indent"))
        body = "".join(line[indent:] for line in match.group("body").splitlines(keepends=True))
        found.append((match.group("lang"), body, text.count("\n", 0, match.start()) + 1))
    return found


@pytest.mark.parametrize("page", RUNNABLE)
def test_every_code_block_of_the_page_runs(page: str) -> None:
    """The page's Python runs top to bottom, its configuration validates, its TOML and JSON parse."""
    blocks = code_blocks(DOCS / page)
    assert any(lang == "python" for lang, _, _ in blocks), f"{page} has no Python block"
    module = types.ModuleType("docs_page_" + page.removesuffix(".md").replace("-", "_"))
    sys.modules[module.__name__] = module  # what dataclasses and typing look names up in
    for lang, code, line in blocks:
        where = f"{page}:{line}"
        if lang == "python":
            exec(compile(code, where, "exec"), module.__dict__)
        elif lang == "yaml":
            Settings(yaml.safe_load(code))
        elif lang == "toml":
            tomllib = pytest.importorskip("tomllib", reason="TOML is parsed with Python 3.11+ tomllib")
            tomllib.loads(code)
        elif lang == "json":
            json.loads(code)
        else:
            assert lang == "", f"{where}: a block in {lang!r}, which this test cannot run"


# every YAML block of every page is a configuration that validates

ROOT = DOCS.parent
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
NOT_A_CONFIG = "<!-- not a servicewire configuration -->"
"""Put on the line before a YAML block that is something else (a Kubernetes manifest)."""


def yaml_blocks() -> list[tuple[str, str]]:
    """(page:line, YAML) of every YAML block of README.md and docs/ that is a servicewire config."""
    found = []
    for page in PAGES:
        lines = page.read_text().splitlines()
        for lang, code, line in code_blocks(page):
            if lang in ("yaml", "yml") and lines[line - 2].strip() != NOT_A_CONFIG:
                found.append((f"{page.relative_to(ROOT)}:{line}", code))
    return found


@pytest.mark.parametrize(("where", "code"), yaml_blocks(), ids=[where for where, _ in yaml_blocks()])
def test_every_yaml_configuration_of_the_docs_validates(where: str, code: str) -> None:
    """Each block validates against the real Settings, and names only sections someone declares."""
    config = yaml.safe_load(code)
    assert isinstance(config, dict), f"{where}: not a mapping"
    settings = Settings(config)
    declared = CORE_SECTIONS | set(settings.runtime.sections.names())
    unknown = sorted(set(config) - declared)
    assert not unknown, f"{where}: sections no one declares: {unknown}"


def test_the_docs_have_yaml_configurations_to_validate() -> None:
    pages = {where.split(":")[0] for where, _ in yaml_blocks()}
    assert {"README.md", "docs/security.md", "docs/observability.md", "docs/http.md"} <= pages


# every public name is documented: docs/api.md lists each surface's __all__, and nothing else

API = DOCS / "api.md"


def api_entries() -> dict[str, list[str]]:
    """The names docs/api.md lists (``- `name`: ...``), by the module heading they stand under."""
    entries: dict[str, list[str]] = {}
    module = None
    for line in API.read_text().splitlines():
        heading = re.match(r"^## `([a-z.]+)`$", line)
        if heading:
            module = heading.group(1)
            entries[module] = []
        entry = re.match(r"^- `([A-Za-z_][A-Za-z0-9_]*)`: \S", line)
        if entry and module is not None:
            entries[module].append(entry.group(1))
    return entries


@pytest.mark.parametrize("module", ["container", "container.plugin", "container.codec"])
def test_every_public_name_is_listed_in_the_api_reference(module: str) -> None:
    """Each name of the module's __all__ has its line in docs/api.md, under that module, once."""
    listed = api_entries().get(module, [])
    public = importlib.import_module(module).__all__
    assert sorted(set(public) - set(listed)) == [], f"docs/api.md does not list these {module} names"
    assert sorted(set(listed) - set(public)) == [], f"docs/api.md lists names {module} does not export"
    assert len(listed) == len(set(listed)), "a name listed twice"
