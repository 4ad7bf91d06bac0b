"""The wheel that `make dist` builds installs, with the dependencies it declares, into a fresh venv and runs.

How, and why so:

- The sdist and the wheel are built as `make dist` builds them (``python -m build
  --no-isolation``: the sdist, then the wheel from the sdist, by this environment's setuptools,
  no network), from a copy of what the distribution is made of, so that the checkout gets no
  ``build/`` folder and no stale file of an earlier build can slip into the wheel. Both pass
  ``twine check --strict``.
- The fresh venv (no pip, nothing of this environment) gets the wheel and what its metadata
  declares, nothing else: the lock's uv resolves them with the lock as constraints, so at the
  lock's versions, ``--offline`` from uv's cache that the lock's install filled (`make test`
  installs the lock for this Python and, through `make floor`, for the lowest one). A
  dependency missing from ``install_requires`` is missing there too, and what needs it fails.
- samples/ is not in the wheel: the demo's code is copied from the checkout into an empty
  folder and run there with the fresh venv's Python, so ``container``, ``channels`` and
  ``registry`` can only come from the installed wheel (the test checks that they do).
- The installed ``servicewire`` command serves the hello container with a YAML config file (a
  file registry in a temporary folder): it starts, registers where the file says, and stops
  gracefully on SIGTERM.
- On the lowest Python that setup.cfg admits (found by requirements/floor_python.py; the test
  skips, saying why, on a machine without it), the wheel with every extra (and pytest, which
  the conformance kit ``container.testing`` needs): every module of the three packages
  imports, then the same demo and ``serve``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .sources import ROOT, copy_distribution, copy_project

LOCK = ROOT / "requirements" / "dev.lock"
FLOOR_PYTHON = ROOT / "requirements" / "floor_python.py"
EXTRAS = ("etcd", "jwt", "otel", "prometheus")

PROBE = """
import json, importlib.metadata as md
import container, channels.http, registry.file
plugins = [*md.entry_points(group="servicewire.channels"), *md.entry_points(group="servicewire.registries")]
print(json.dumps({
    "modules": [container.__file__, channels.http.__file__, registry.file.__file__],
    "plugins": sorted({str(e.dist.locate_file("")) for e in plugins}),
    "version": md.version("servicewire"),
}))
"""

IMPORT_ALL = """
import importlib, pkgutil, sys
names = []
for package in ("container", "channels", "registry"):
    module = importlib.import_module(package)
    names.append(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        if info.name.endswith(".__main__"):
            continue  # runs the command line
        importlib.import_module(info.name)
        names.append(info.name)
print("%d.%d" % sys.version_info[:2], len(names))
"""

OFFLINE = (
    "uv installs offline from its cache, which `make test` fills when it installs the lock "
    "(for the lowest Python: `make floor`); run it once with the network"
)


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None, hint: str = "") -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}\n{hint}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the sdist and the wheel (from the sdist) of a copy of the distribution's sources."""
    tmp_path = tmp_path_factory.mktemp("dist")
    source = copy_distribution(tmp_path / "source")
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, source)
    (sdist,) = dist.glob("servicewire-*.tar.gz")
    (built,) = dist.glob("servicewire-*.whl")
    run(sys.executable, "-m", "twine", "check", "--strict", sdist, built)
    return built


def fresh_venv(base_python: str | Path, folder: Path, *requirements: str) -> Path:
    """A new venv of ``base_python``: ``requirements`` and what they declare, at the lock's versions."""
    environment = folder / "venv"
    run(base_python, "-m", "venv", "--without-pip", environment)
    python = environment / "bin" / "python"
    uv = [sys.executable, "-m", "uv", "pip", "install", "--offline", "--python", python, "-c", LOCK]
    run(*uv, *requirements, hint=OFFLINE)
    return python


def application(folder: Path) -> Path:
    """An empty folder holding a copy of samples/hello (which the wheel does not hold)."""
    app = folder / "application"
    copy_project(ROOT / "samples" / "hello", app / "samples" / "hello")
    return app


def clean_environment() -> dict[str, str]:
    """This process's environment without what would put the checkout or this venv in reach."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def check_demo(python: Path, app: Path) -> None:
    """samples/hello's demo: two servers of the installed package, a client calling both."""
    out = run(python, "-m", "samples.hello.demo", cwd=app, env=clean_environment())
    assert "dispatch-json: Hello, world! / Hello, servicewire!" in out, out
    assert "dispatch-msgpack: Hello, world! / Hello, servicewire!" in out, out
    assert "demo: servers stopped (exit statuses [0, 0])" in out, out


def check_serve_with_yaml(python: Path, app: Path, folder: Path) -> None:
    """The venv's ``servicewire serve`` reads a YAML config, registers there, and stops on SIGTERM."""
    registry = folder / "registry" / "registry.json"
    config = folder / "servicewire.yml"
    config.write_text(f"registry:\n  type: file\n  path: {registry}\ncalls:\n  timeout: 5\n")
    command = [str(python.parent / "servicewire"), "serve", "samples.hello.hosting:MainContainer"]
    server = subprocess.Popen(
        [*command, "--config", str(config)],
        cwd=app,
        env={**clean_environment(), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        lines: list[str] = []
        for line in server.stdout:  # until the start line, or the end of a server that stopped
            lines.append(line)
            if "serving on " in line:
                break
        match = re.search(r"serving on (http://\S+)", "".join(lines))
        assert match, "".join(lines) + server.stdout.read()
        url = match.group(1)
        assert url in registry.read_text(), "the component is registered where the YAML file says"
        server.send_signal(signal.SIGTERM)
        status = server.wait(timeout=30)
        lines.append(server.stdout.read())
        assert status == 0, "".join(lines)
        assert "stopped gracefully on SIGTERM" in lines[-1], "".join(lines)
        assert url not in registry.read_text(), "a graceful stop removes the entry"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()


def test_the_built_wheel_runs_the_hello_demo_in_a_fresh_venv(wheel: Path, tmp_path: Path):
    """The wheel and its declared dependencies alone, in a new venv: the demo and `servicewire serve` run."""
    python = fresh_venv(sys.executable, tmp_path, str(wheel))
    app = application(tmp_path)

    found = json.loads(run(python, "-c", PROBE, cwd=app, env=clean_environment()))
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    assert all(Path(module).is_relative_to(tmp_path / "venv") for module in found["modules"]), found
    assert found["plugins"] == [purelib], found
    assert found["version"] == wheel.name.split("-")[1]

    check_demo(python, app)
    check_serve_with_yaml(python, app, tmp_path)


def floor_python() -> str:
    """An interpreter of setup.cfg's lowest Python; the test skips, saying why, without one."""
    result = subprocess.run(
        [sys.executable, FLOOR_PYTHON], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        pytest.skip(result.stderr.strip())
    return result.stdout.strip()


def test_the_wheel_with_every_extra_runs_on_the_lowest_python(wheel: Path, tmp_path: Path):
    """On the lowest Python setup.cfg admits: every module imports, the demo and `serve` run."""
    base = floor_python()
    # pytest too: the plugin conformance kit, container.testing, is a pytest module
    python = fresh_venv(base, tmp_path, f"servicewire[{','.join(EXTRAS)}] @ {wheel.as_uri()}", "pytest")
    app = application(tmp_path)

    version, count = run(python, "-c", IMPORT_ALL, cwd=app, env=clean_environment()).split()
    wanted = run(sys.executable, FLOOR_PYTHON, "--version").strip()
    assert version == wanted, (version, wanted)
    assert int(count) > 40, count

    check_demo(python, app)
    check_serve_with_yaml(python, app, tmp_path)
