"""Copies of what a distribution is built from, so that tests build and install outside the checkout.

A build in a source folder writes ``build/`` and ``*.egg-info`` there (setuptools, also under
pip); a test that builds or installs from a copy leaves the checkout as it found it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("container", "channels", "registry")
DISTRIBUTION = ("setup.cfg", "pyproject.toml", "README.md", *PACKAGES)
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "dist", "*.egg-info")


def copy_distribution(target: Path) -> Path:
    """Copy servicewire's sources (what its sdist is made of) into ``target``; return it."""
    target.mkdir(parents=True, exist_ok=True)
    for name in DISTRIBUTION:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, target / name, ignore=LEFT_OUT)
        else:
            shutil.copy2(ROOT / name, target / name)
    return target


def copy_project(source: Path, target: Path) -> Path:
    """Copy another project's folder (a sample plugin), without what earlier builds left there."""
    shutil.copytree(source, target, ignore=LEFT_OUT)
    return target
