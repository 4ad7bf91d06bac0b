"""The one-way arrow: container never imports the plugins; plugins use only its public modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = {"container", "container.plugin", "container.codec", "container.testing", "container.observability"}


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
