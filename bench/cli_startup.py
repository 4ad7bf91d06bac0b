"""How long `servicewire --help` takes, and what each CLI library candidate adds to it.

Each command is a fresh interpreter; the rounds interleave the commands so that the machine's
noise hits all of them alike; the figure is the median of the rounds, with its ratio to the
interpreter's own start (`python -c pass`) measured in the same run. A candidate library that
is not importable here is reported as such (install it into the venv to measure it: typer,
rich). The same measurement with hyperfine (Debian's package), for comparison:

    hyperfine -N -w 5 -r 40 '.venv/bin/python -c pass' '.venv/bin/python -c "import click"' \\
        '.venv/bin/python -c "import typer"' '.venv/bin/servicewire --help'

Usage: .venv/bin/python bench/cli_startup.py [--rounds 40]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CANDIDATES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import argparse": [sys.executable, "-c", "import argparse"],
    "import click": [sys.executable, "-c", "import click"],
    "import typer": [sys.executable, "-c", "import typer"],
    "import rich.table, rich.console": [sys.executable, "-c", "import rich.table, rich.console"],
    "import container": [sys.executable, "-c", "import container"],
    "python -m channels.cli --help": [sys.executable, "-m", "channels.cli", "--help"],
    "servicewire --help": [str(Path(sys.executable).parent / "servicewire"), "--help"],
    "servicewire call --help": [str(Path(sys.executable).parent / "servicewire"), "call", "--help"],
}

NEEDS = {"import click": "click", "import typer": "typer", "import rich.table, rich.console": "rich"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    rounds = parser.parse_args().rounds
    commands = {}
    for name, command in CANDIDATES.items():
        module = NEEDS.get(name)
        if module is not None and importlib.util.find_spec(module) is None:
            print(f"{name}: {module} is not installed here (skipped)")
            continue
        if not Path(command[0]).exists() and shutil.which(command[0]) is None:
            print(f"{name}: {command[0]} not found (skipped)")
            continue
        commands[name] = command
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(3):  # warm the file cache
        for command in commands.values():
            subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
    for _ in range(rounds):
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - started)
    floor = statistics.median(times["python -c pass"])
    print(f"\nmedian of {rounds} rounds, ms (ratio to python -c pass; added over it)")
    print(f"{'command':34} {'median':>8} {'ratio':>7} {'added':>8}")
    for name, found in times.items():
        median = statistics.median(found)
        print(f"{name:34} {median * 1000:8.1f} {median / floor:7.2f} {(median - floor) * 1000:8.1f}")


if __name__ == "__main__":
    main()
