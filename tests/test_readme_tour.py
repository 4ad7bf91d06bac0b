"""README's five-minute tour runs as written, against a real server, and closes what it opens."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.e2e.processes import ROOT, ServerProcess, python_module

EXAMPLE_URL = "http://10.0.0.5:8000"
"""The tour's example address: no test contacts it; the tests' server stands in for it."""
LOCAL_URL = "http://127.0.0.1:8000"
"""The tour's local address: a fixed port may be taken here, so the tests' server stands in."""
STEP_3_CLOSED = "\nassert app.services.service_manager().closed, 'step 3 leaves its container open'\n"


def tour_blocks() -> list[str]:
    """The Python blocks under README's '## A five-minute tour', in order."""
    section = (ROOT / "README.md").read_text().split("\n## A five-minute tour\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (each declares its own hello-component), from the root."""
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture()
def hello_url() -> Iterator[str]:
    """A real server process hosting the hello sample, on a free port of 127.0.0.1."""
    server = ServerProcess(python_module("samples.hello.server"))
    try:
        yield server.url
    finally:
        server.terminate()


def test_the_tour_runs_and_closes_the_container_it_creates(hello_url: str):
    """Steps 1 to 4 run as one program and step 5 as a script of its own, as the tour tells;
    the container of step 3 is closed by the tour's own code."""
    blocks = [code.replace(EXAMPLE_URL, hello_url).replace(LOCAL_URL, hello_url) for code in tour_blocks()]
    assert len(blocks) == 5, "steps 1 to 5 each have one Python block"
    program = run_python("".join(blocks[:3]) + STEP_3_CLOSED + blocks[3])
    assert program.returncode == 0, program.stderr
    assert program.stdout.splitlines() == ["Hello, world!"]
    script = run_python(blocks[4])
    assert script.returncode == 0, script.stderr
    assert script.stdout.splitlines() == ["Hello, world!"]
