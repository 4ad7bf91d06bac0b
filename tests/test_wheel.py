"""The wheel that `make dist` builds installs into a fresh venv and runs the hello demo from there.

How, and why so:

- The sdist and the wheel are built as `make dist` builds them (``python -m build
  --no-isolation``: the sdist, then the wheel from the sdist, by this environment's setuptools,
  no network), from a copy of what the distribution is made of, so that the checkout gets no
  ``build/`` folder and no stale file of an earlier build can slip into the wheel. Both pass
  ``twine check --strict``.
- The fresh venv gets the wheel alone (``pip install --no-deps --no-index``). Its dependencies
  are the ones already installed here (the lock's versions under `make test`), made visible
  through a ``.pth`` file that names a folder of links to this environment's packages, leaving
  out servicewire's own (the checkout's editable install): no network, and nothing of
  servicewire reaches the fresh venv except the wheel.
- samples/ is not in the wheel: the demo's code is copied from the checkout into an empty
  folder and run there with the fresh venv's Python, so ``container``, ``channels`` and
  ``registry`` can only come from the installed wheel (the test checks that they do).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("container", "channels", "registry")
DISTRIBUTION = ("setup.cfg", "pyproject.toml", "README.md", *PACKAGES)

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


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def build(tmp_path: Path) -> tuple[Path, Path]:
    """Build the sdist and the wheel (from the sdist) of a copy of the distribution's sources."""
    source = tmp_path / "source"
    for name in DISTRIBUTION:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, source)
    (sdist,) = dist.glob("servicewire-*.tar.gz")
    (wheel,) = dist.glob("servicewire-*.whl")
    run(sys.executable, "-m", "twine", "check", "--strict", sdist, wheel)
    return sdist, wheel


def dependencies_folder(tmp_path: Path) -> Path:
    """A folder of links to this environment's installed packages, servicewire's own left out."""
    folder = tmp_path / "dependencies"
    folder.mkdir()
    site = {Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")}
    for directory in site:
        for entry in directory.iterdir():
            name = entry.name.lower()
            if name.endswith(".pth") or "servicewire" in name or name in PACKAGES:
                continue  # the editable install of the checkout (its finder, .pth and metadata)
            if not (folder / entry.name).exists():
                (folder / entry.name).symlink_to(entry)
    return folder


def test_the_built_wheel_runs_the_hello_demo_in_a_fresh_venv(tmp_path):
    """Build sdist and wheel, install the wheel alone into a new venv, run samples/hello against it."""
    _, wheel = build(tmp_path)

    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False, symlinks=True)
    python = environment / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel)
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    (purelib / "servicewire-dependencies.pth").write_text(f"{dependencies_folder(tmp_path)}\n")

    application = tmp_path / "application"
    shutil.copytree(
        ROOT / "samples" / "hello",
        application / "samples" / "hello",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}

    found = json.loads(run(python, "-c", PROBE, cwd=application, env=env))
    assert all(Path(module).is_relative_to(environment) for module in found["modules"]), found
    assert found["plugins"] == [str(purelib)], found
    assert found["version"] == wheel.name.split("-")[1]

    out = run(python, "-m", "samples.hello.demo", cwd=application, env=env)
    assert "dispatch-json: Hello, world! / Hello, servicewire!" in out, out
    assert "dispatch-msgpack: Hello, world! / Hello, servicewire!" in out, out
    assert "demo: servers stopped (exit statuses [0, 0])" in out, out
