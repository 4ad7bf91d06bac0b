"""The layers of the core, and the one-way arrow between the core and the plugins.

Inside ``container`` every module belongs to a layer (its sub-package; the public modules sit
on top), and a module imports only from its own layer or below, counting imports under
TYPE_CHECKING and inside functions. No import cycle exists at all, between layers or inside one.
Outside, ``container`` never imports the plugins, and the plugins and samples use only its
public modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "container"

LAYERS = [
    "values",  # statuses, the exception hierarchy and its status mapping, value types, import paths
    "config",  # Settings, typed plugin sections, entry-point groups
    "wire",  # the codec: bytes, no I/O
    "declarations",  # component bases, decorators, descriptors, health checks
    "call",  # context, calls and interceptors, requests/responses, transports, listeners, dispatcher, proxies
    "policies",  # URL selection, URL shapes, channel events
    "client",  # the Channel behind every proxy; the first plugin contract's adapter
    "discovery",  # the registry contract, watch lists
    "security",  # authenticators, the guard, credentials
    "observability",  # tracing, metrics, call logs
    "runtime",  # plugins, channel and service managers, hosting, containers, servers
]
"""The layers of ``container``, bottom up: a module imports only from its own layer or below."""

SURFACES = ["container", "container.plugin", "container.codec", "container.testing"]
"""The public modules on top of every layer (``container.observability`` is its layer's package)."""

PUBLIC = {*SURFACES, "container.observability"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def core_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(CORE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The container modules a module imports: every import statement, wherever it stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            submodules = (f"{target}.{alias.name}" for alias in node.names)
            found.update(module for module in submodules if module in known)
    return {m for m in found if m in known and m != name}


def layer_of(module: str) -> int:
    if module in SURFACES:
        return len(LAYERS)
    return LAYERS.index(module.split(".")[1])


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = core_modules()
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


def test_every_sub_package_is_a_layer():
    """Each sub-package of container is in the layer table, and each layer exists."""
    packages = {path.parent.name for path in CORE.glob("*/__init__.py")}
    assert packages == set(LAYERS)
    assert {module_name(path) for path in CORE.glob("*.py")} == set(SURFACES)


def test_no_module_imports_a_higher_layer(graph):
    """Imports go down or stay in the layer, counting TYPE_CHECKING and function-level imports."""
    upward = sorted(
        f"{module} ({LAYERS[layer_of(module)] if layer_of(module) < len(LAYERS) else 'surface'}) "
        f"imports {target} ({LAYERS[layer_of(target)] if layer_of(target) < len(LAYERS) else 'surface'})"
        for module, targets in graph.items()
        for target in targets
        if layer_of(target) > layer_of(module)
    )
    assert upward == []


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one import cycle as a list of modules (first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def test_no_import_cycle(graph):
    """No import cycle exists anywhere in container, also not inside one layer or through the top."""
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_reports_a_cycle():
    """The check above can fail: a cycle is found and reported in order."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_imports_read_count_type_checking_and_function_level_ones(tmp_path):
    """Imports under TYPE_CHECKING and inside functions are edges of the graph too."""
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from container.runtime._manager import ServiceManager\n"
        "def f():\n    from container import __version__\n"
    )
    found = imports_of("container.values._mod", source, {"container", "container.runtime._manager"})
    assert found == {"container", "container.runtime._manager"}


def imported_modules(package: str) -> list[tuple[str, str]]:
    """(file, module) for every import in a package's source."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if "build" in path.parts:  # a local build of a sample, not its source
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.extend((str(path.relative_to(ROOT)), alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(path.relative_to(ROOT)), node.module))
    return found


def test_container_never_imports_channels_or_registry():
    offending = [
        (f, m) for f, m in imported_modules("container") if m.split(".")[0] in ("channels", "registry")
    ]
    assert offending == []


@pytest.mark.parametrize("package", ["channels", "registry", "samples"])
def test_plugins_and_samples_import_only_the_public_modules_of_container(package):
    offending = [
        (f, m) for f, m in imported_modules(package) if m.split(".")[0] == "container" and m not in PUBLIC
    ]
    assert offending == []
