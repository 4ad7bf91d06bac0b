"""Find an interpreter of the lowest Python that setup.cfg's ``python_requires`` admits.

Usage: python requirements/floor_python.py [--version]

Prints the interpreter's path and exits 0, or says on stderr why there is none and exits 1;
with ``--version``, prints that version (``3.10``) only.
Used by the Makefile (`make floor`, `make test-floor`) and tests/test_wheel.py. Where it looks,
in order, keeping the first that runs and reports that version:

1. ``$SERVICEWIRE_FLOOR_PYTHON``, when set (an interpreter elsewhere);
2. ``python3.X`` on ``PATH`` (a pyenv shim there fails unless pyenv selects that version:
   it is skipped then);
3. pyenv's own installs, ``$PYENV_ROOT/versions/3.X.*/bin/python3.X`` (``~/.pyenv`` without
   ``PYENV_ROOT``), the newest patch release first.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

SETUP_CFG = Path(__file__).resolve().parent.parent / "setup.cfg"


def floor_version(setup_cfg: Path = SETUP_CFG) -> tuple[int, int]:
    """The ``(major, minor)`` of ``python_requires = >=X.Y`` in setup.cfg.

    Raises:
        ValueError: python_requires is missing or has no ``>=X.Y``.
    """
    parser = configparser.ConfigParser()
    parser.read(setup_cfg, encoding="utf-8")
    requires = parser.get("options", "python_requires", fallback="")
    match = re.search(r">=\s*(\d+)\.(\d+)", requires)
    if match is None:
        raise ValueError(f"{setup_cfg}: python_requires {requires!r} has no lower bound >=X.Y")
    return int(match.group(1)), int(match.group(2))


def dotted(version: tuple[int, int]) -> str:
    """``(3, 10)`` as ``3.10``."""
    return f"{version[0]}.{version[1]}"


def _reports(executable: str, version: tuple[int, int]) -> bool:
    """Whether ``executable`` runs and is that Python version."""
    try:
        result = subprocess.run(  # noqa: S603 (the interpreters this script was asked to look for)
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.strip() == dotted(version)


def _patch(path: Path) -> tuple[int, ...]:
    """The version numbers of a pyenv install's folder name (3.10.13 -> (3, 10, 13))."""
    return tuple(int(part) for part in re.findall(r"\d+", path.name))


def candidates(version: tuple[int, int]) -> list[str]:
    """Where an interpreter of ``version`` may be, in the order they are tried."""
    name = f"python{dotted(version)}"
    found = []
    if os.environ.get("SERVICEWIRE_FLOOR_PYTHON"):
        found.append(os.environ["SERVICEWIRE_FLOOR_PYTHON"])
    on_path = shutil.which(name)
    if on_path:
        found.append(on_path)
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    installs = sorted(pyenv_root.glob(f"versions/{dotted(version)}.*"), key=_patch, reverse=True)
    found.extend(str(install / "bin" / name) for install in installs if re.fullmatch(r"[\d.]+", install.name))
    return found


def find(version: tuple[int, int] | None = None) -> str | None:
    """The first interpreter of ``version`` (setup.cfg's floor by default) that runs, or None."""
    wanted = version or floor_version()
    return next((path for path in candidates(wanted) if _reports(path, wanted)), None)


def main() -> int:
    """Print the floor interpreter's path, or why there is none (or, with --version, the version)."""
    version = floor_version()
    if sys.argv[1:] == ["--version"]:
        print(dotted(version))
        return 0
    path = find(version)
    if path is None:
        tried = ", ".join(candidates(version)) or "nothing found"
        print(
            f"Python {dotted(version)} (setup.cfg's lowest) not found (tried: {tried}): install it, "
            "or set SERVICEWIRE_FLOOR_PYTHON to its interpreter, to test servicewire on it",
            file=sys.stderr,
        )
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
