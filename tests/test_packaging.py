"""`pip install .` (not editable) installs the three packages and the entry points."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from .sources import ROOT, copy_distribution

PROBE = """
import json, importlib.metadata as md
import container, channels.inproc, registry.static
print(json.dumps({
    "files": [container.__file__, channels.inproc.__file__, registry.static.__file__],
    "channels": sorted(e.name for e in md.entry_points(group="servicewire.channels")),
    "registries": sorted(e.name for e in md.entry_points(group="servicewire.registries")),
    "settings": sorted(e.name for e in md.entry_points(group="servicewire.settings")),
    "typed": all(__import__("os").path.exists(__import__("os").path.join(
        __import__("os").path.dirname(m.__file__), "py.typed")) for m in (container, channels.inproc)),
}))
"""


def test_pip_install_non_editable(tmp_path):
    """A regular install lays out container/, channels/, registry/ with py.typed and entry points."""
    source = copy_distribution(tmp_path / "source")  # pip builds in the folder it installs
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    for package in ("container", "channels", "registry"):
        assert (target / package / "__init__.py").exists(), package
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    found = json.loads(out)
    assert all(str(target) in f for f in found["files"]), found["files"]
    assert "local" in found["channels"]
    assert "static" in found["registries"]
    assert found["settings"] == ["http", "serve"], "the typed sections of the HTTP channels and the CLI"
    assert found["typed"]


def test_the_version_is_one_everywhere():
    """setup.cfg's version, container.__version__, the installed metadata and README's file names agree."""
    import configparser
    import importlib.metadata

    import container

    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    version = setup["metadata"]["version"]
    assert container.__version__ == version
    assert importlib.metadata.version("servicewire") == version
    # README's install section names the files that `make dist` builds: they carry this version.
    readme = (ROOT / "README.md").read_text()
    named = re.findall(r"servicewire-(\d[^-\s`']*?)(?:-py3-none-any\.whl|\.tar\.gz)", readme)
    assert named, "README names the sdist and the wheel that make dist builds"
    assert set(named) == {version}, f"README's file names say {sorted(set(named))}; setup.cfg says {version}"
