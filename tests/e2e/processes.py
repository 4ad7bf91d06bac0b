"""Start real server processes and find the URL they serve on."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    """A child process that prints ``serving on http(s)://...`` once it accepts calls."""

    def __init__(
        self, args: list[str], env: dict[str, str] | None = None, timeout: float = 30, cwd: Path = ROOT
    ) -> None:
        self.process = subprocess.Popen(
            args,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.lines: list[str] = []
        self._url: str | None = None
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout) or self._url is None:
            self.kill()
            raise AssertionError("server did not start:\n" + "".join(self.lines))

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            match = re.search(r"serving on (https?://\S+)", line)
            if match and self._url is None:
                self._url = match.group(1)
                self._ready.set()
        self._ready.set()

    @property
    def url(self) -> str:
        assert self._url is not None
        return self._url

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def terminate(self, timeout: float = 30) -> int:
        self.process.terminate()
        return self.wait(timeout)

    def wait(self, timeout: float = 30) -> int:
        status = self.process.wait(timeout)
        self._reader.join(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return status

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.wait(10)


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def wait_until(predicate, timeout: float = 10, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
