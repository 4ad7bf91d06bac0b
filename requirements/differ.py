"""Print the packages whose versions differ between two pinned requirement files.

Usage: python requirements/differ.py LOCK OTHER   (used by `make test-latest` / `make test-oldest`)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def pins(path: str) -> dict[str, str]:
    """Return {normalized name: version} of every ``name==version`` line of a requirements file."""
    found = {}
    for line in Path(path).read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found


def main() -> int:
    """Print the versions that differ, then what only one side holds; always succeeds."""
    lock, other = pins(sys.argv[1]), pins(sys.argv[2])
    changed = sorted(name for name in lock.keys() & other.keys() if lock[name] != other[name])
    print(f"{len(changed)} versions differ from {sys.argv[1]} in {sys.argv[2]}:")
    for name in changed:
        print(f"  {name}: lock {lock[name]}, here {other[name]}")
    only_lock = sorted(lock.keys() - other.keys())
    only_here = sorted(other.keys() - lock.keys())
    print("only in the lock (its installers, other platforms, what other versions need):", end=" ")
    print(", ".join(f"{name} {lock[name]}" for name in only_lock) or "none")
    print("only here:", ", ".join(f"{name} {other[name]}" for name in only_here) or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
