"""docs/async.md's FastAPI example runs as written: a FastAPI app under uvicorn awaits an async service.

The two blocks of the page (the greeter service, the FastAPI application) are written to files
as they are; the greeter is served by an HttpServer in this process (every hosted method is
``async def``, so on its asyncio engine), the application by uvicorn in a process of its own.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from channels.http import HttpServer

from .processes import ROOT, wait_until

PAGE = ROOT / "docs" / "async.md"


def example(name: str) -> str:
    found = re.search(rf"<!-- example: {re.escape(name)} -->\n```python\n(.*?)```", PAGE.read_text(), re.S)
    assert found, f"docs/async.md has no example {name}"
    return found.group(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def greeter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, HttpServer]]:
    """The page's greeter module, imported from its file, served by an HttpServer."""
    folder = tmp_path_factory.mktemp("docs-async")
    (folder / "greeting.py").write_text(example("greeting.py"))
    (folder / "fastapi_app.py").write_text(example("fastapi_app.py"))
    spec = importlib.util.spec_from_file_location("greeting", folder / "greeting.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["greeting"] = module
    spec.loader.exec_module(module)
    server = HttpServer(host="127.0.0.1", port=0)
    server.boot(module.GreeterServer)
    try:
        yield f"http://127.0.0.1:{server.port}", folder, server
    finally:
        server.shutdown()
        sys.modules.pop("greeting", None)


def test_the_greeter_is_served_on_the_asyncio_engine(greeter):
    """Every hosted method is async def: http.server auto chose the asyncio engine."""
    from channels.http._aio_engine import AsyncioEngine

    url, _, server = greeter
    assert requests.get(f"{url}/health/greeter-component", timeout=5).status_code == 200
    assert isinstance(server.engine, AsyncioEngine)


def test_the_fastapi_example_awaits_the_service_under_uvicorn(greeter):
    """GET /greet/{name} on the FastAPI app returns the greeter's answer, for 50 requests at once."""
    url, folder, _ = greeter
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "fastapi_app:app"],
        cwd=folder,
        env={**os.environ, "GREETER_URL": url, "PYTHONPATH": f"{folder}{os.pathsep}{ROOT}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    app = f"http://127.0.0.1:{port}"
    try:

        def serving() -> bool:
            try:
                return requests.get(f"{app}/greet/ann", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        assert wait_until(serving, timeout=30), "uvicorn did not serve the FastAPI application"
        assert requests.get(f"{app}/greet/ann", timeout=5).json() == {"greeting": "hello ann"}
        answers: dict[int, Any] = {}

        def ask(index: int) -> None:
            answers[index] = requests.get(f"{app}/greet/caller-{index}", timeout=10).json()

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert answers == {i: {"greeting": f"hello caller-{i}"} for i in range(50)}
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    assert "Traceback" not in errors, errors
