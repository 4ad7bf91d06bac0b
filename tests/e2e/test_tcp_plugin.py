"""The third-party channel sample, built and installed into a fresh virtual environment.

servicewire and samples/tcp_channel are installed there as regular (non-editable) packages,
so the plugin is found only through its own entry point. Both are built from copies in a
temporary folder (a build writes ``build/`` and ``*.egg-info`` where it runs), and the plugin's
tests and example run from its copy. Their dependencies (msgspec,
dependency-injector, pytest, ...) come from this test environment's site-packages through a
``.pth`` line, so the test does not download anything.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from ..sources import ROOT, copy_distribution, copy_project


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of samples/tcp_channel: the plugin's sources, tests and example."""
    return copy_project(ROOT / "samples" / "tcp_channel", tmp_path_factory.mktemp("plugin") / "tcp_channel")


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory, plugin: Path) -> Path:
    """A fresh venv with servicewire and the plugin installed from (copies of) their sources."""
    servicewire = copy_distribution(tmp_path_factory.mktemp("servicewire"))
    venv = tmp_path_factory.mktemp("plugin-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "_servicewire_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    for source in (servicewire, plugin):
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(source)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return python


def test_plugin_passes_the_conformance_kit(venv_python: Path, plugin: Path):
    """The plugin's own tests (servicewire's conformance kit) pass against the installed plugin."""
    result = subprocess.run(
        [str(venv_python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=plugin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    passed = re.search(r"\b(\d+) passed\b", result.stdout)
    assert passed and int(passed.group(1)) >= 20, result.stdout
    assert "skipped" not in result.stdout, "a plugin on the current contract runs every check"


def test_two_processes_talk_through_the_plugin(venv_python: Path, plugin: Path, tmp_path: Path):
    """A server and a client process, in the fresh venv, call each other over tcp-msgpack."""
    registry = tmp_path / "registry.json"
    server = subprocess.Popen(
        [str(venv_python), "example.py", "serve", str(registry)],
        cwd=plugin,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "serving"
        result = subprocess.run(
            [str(venv_python), "example.py", "call", str(registry)],
            cwd=plugin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"Hello world from pid {server.pid} over tcp-msgpack"
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        if server.stdout is not None:
            server.stdout.close()
