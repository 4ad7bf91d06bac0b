"""Client and server in separate processes: demo, command line, graceful shutdown, gunicorn."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from container import ConfigurationException, ServiceClient, ServiceUnavailableException, connect
from container.testing import free_port
from tests.channels.services import WireService

from .processes import ROOT, ServerProcess, python_module, wait_until


def client_config(url: str) -> dict:
    return {
        "registry": {
            "type": "static",
            "components": {
                "wire-component": {"dispatch-json": [url], "dispatch-msgpack": [url]},
                "hello-component": {"dispatch-json": [url], "dispatch-msgpack": [url]},
            },
        }
    }


def test_make_demo_runs_two_servers_and_a_client():
    """The demo's client calls over both channels and round robin reaches both servers."""
    result = subprocess.run(
        python_module("samples.hello.demo"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dispatch-json: Hello, world! / Hello, servicewire!" in result.stdout
    assert "dispatch-msgpack: Hello, world! / Hello, servicewire!" in result.stdout
    pids = re.findall(r"demo: server pid (\d+)", result.stdout)
    round_robin = re.search(r"round robin: (.*)", result.stdout)
    assert len(pids) == 2 and round_robin is not None
    assert {f"pid {p}" for p in pids} == set(round_robin.group(1).split(", "))
    assert "servers stopped (exit statuses [0, 0])" in result.stdout


def test_servicewire_serve_command(tmp_path: Path):
    """`servicewire serve module:Container --config file` serves until SIGTERM."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"registry": {"type": "static"}}))
    command = shutil.which("servicewire", path=str(Path(sys.executable).parent))
    args = [command] if command else python_module("channels.cli")
    server = ServerProcess([*args, "serve", "samples.hello.hosting:MainContainer", "--config", str(config)])
    try:
        from samples.hello.interface import HelloService

        with ServiceClient(client_config(server.url)) as client:
            for channel in ("dispatch-json", "dispatch-msgpack"):
                hello = client.get_service(HelloService, channel)
                assert hello.hello("cli") == "Hello, cli!"
                assert hello.greet("cli").served_by == f"pid {server.process.pid}"
    finally:
        assert server.terminate() == 0, server.output


def test_servicewire_serve_interpolates_the_environment_in_yaml(tmp_path: Path):
    """--config FILE.yml is read by dependency-injector: ${VAR} and ${VAR:default} are filled in."""
    registry = tmp_path / "registry.json"
    config = tmp_path / "config.yml"
    config.write_text(
        "registry:\n  type: file\n  path: ${SW_TEST_REGISTRY}\ncalls:\n  timeout: ${SW_TEST_TIMEOUT:7.5}\n"
    )
    server = ServerProcess(
        [
            *python_module("channels.cli"),
            "serve",
            "samples.hello.hosting:MainContainer",
            "--config",
            str(config),
        ],
        env={"SW_TEST_REGISTRY": str(registry)},
    )
    try:
        from samples.hello.interface import HelloService

        with ServiceClient({"registry": {"type": "file", "path": str(registry)}}) as client:
            assert client.get_service(HelloService, "dispatch-msgpack").hello("yaml") == "Hello, yaml!"
    finally:
        assert server.terminate() == 0, server.output


def test_servicewire_serve_says_which_config_file_is_wrong(tmp_path: Path):
    """A missing or malformed config file stops the command with a message naming the file."""
    broken = tmp_path / "broken.yml"
    broken.write_text("registry: [unclosed\n")
    for path in (tmp_path / "missing.yml", broken):
        result = subprocess.run(
            [
                *python_module("channels.cli"),
                "serve",
                "samples.hello.hosting:MainContainer",
                "--config",
                str(path),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert str(path) in result.stderr


def test_graceful_shutdown_lets_in_flight_calls_finish(tmp_path: Path):
    """SIGTERM during a call: the call completes, then the server stops and exits 0."""
    marker = tmp_path / "sleeping"
    server = ServerProcess(python_module("tests.e2e.wire_server"), env={"WIRE_SLEEP_MARKER": str(marker)})
    outcome: dict[str, object] = {}
    with ServiceClient(client_config(server.url)) as client:
        wire = client.get_service(WireService, "dispatch-msgpack")
        assert wire.hello("warm") == "warm"

        def slow_call() -> None:
            try:
                outcome["result"] = wire.sleep(1.5)
            except Exception as exc:  # recorded for the assertion below
                outcome["error"] = exc

        caller = threading.Thread(target=slow_call)
        caller.start()
        assert wait_until(marker.exists, timeout=30), "the call reached the implementation"
        server.process.terminate()
        caller.join(timeout=30)
        assert outcome == {"result": 1.5}
        assert server.wait(timeout=30) == 0, server.output
        with pytest.raises(ServiceUnavailableException):
            wire.hello("after shutdown")


def test_same_wsgi_app_under_gunicorn():
    """The WSGI application serves the hello component under gunicorn (2 workers)."""
    port = free_port()
    gunicorn = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--threads",
        "2",
        f'channels.http.wsgi:create_app("samples.hello.hosting:MainContainer", port={port})',
    ]
    process = subprocess.Popen(
        gunicorn, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        from samples.hello.interface import HelloService

        with ServiceClient(client_config(url)) as client:
            hello = client.get_service(HelloService, "dispatch-msgpack")

            def answers() -> bool:
                try:
                    return hello.hello("gunicorn") == "Hello, gunicorn!"
                except ServiceUnavailableException:
                    return False

            assert wait_until(answers, timeout=30), "gunicorn did not serve"
            servers = {hello.greet("x").served_by for _ in range(20)}
            assert all(s.startswith("pid ") and s != f"pid {process.pid}" for s in servers)
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out  # SIGTERM: gunicorn stops its workers gracefully


def test_gunicorn_worker_deregisters_first_then_finishes_calls_in_flight(tmp_path: Path):
    """SIGTERM to gunicorn: the registry entry goes at once, the call in flight still completes."""
    port = free_port()
    registry = tmp_path / "registry.json"
    marker = tmp_path / "sleeping"
    env = {
        **os.environ,
        "WIRE_CONFIG": json.dumps({"registry": {"type": "file", "path": str(registry)}}),
        "WIRE_SLEEP_MARKER": str(marker),
    }
    app = f'channels.http.wsgi:create_app("tests.e2e.wire_server:from_environment", port={port})'
    gunicorn = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        "2",
        app,
    ]
    process = subprocess.Popen(
        gunicorn, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )

    def registered() -> bool:
        try:
            document = json.loads(registry.read_text())
        except (OSError, ValueError):
            return False
        return any("wire-component" in entry["components"] for entry in document["instances"].values())

    outcome: dict[str, object] = {}
    try:
        assert wait_until(registered, timeout=30), "the worker registered"
        with ServiceClient({"registry": {"type": "file", "path": str(registry)}}) as client:
            wire = client.get_service(WireService, "dispatch-msgpack")

            def slow_call() -> None:
                try:
                    outcome["result"] = wire.sleep(2.0)
                except Exception as exc:  # recorded for the assertion below
                    outcome["error"] = exc

            caller = threading.Thread(target=slow_call)
            caller.start()
            assert wait_until(marker.exists, timeout=30), "the call reached the implementation"
            process.terminate()
            assert wait_until(lambda: not registered(), timeout=1.5), "deregistered while the call runs"
            assert "result" not in outcome, "the call was still running when the entry went"
            caller.join(timeout=30)
        assert outcome == {"result": 2.0}
        out, _ = process.communicate(timeout=30)
        assert process.returncode == 0, out
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_thousand_connects_leave_threads_and_files_flat(tmp_path: Path):
    """connect() shares one manager per configuration: threads and open files stay flat."""
    from samples.hello.interface import HelloService

    registry = tmp_path / "registry.json"
    server = ServerProcess(
        python_module("samples.hello.server", "--registry", str(registry)),
    )
    config = {"registry": {"type": "file", "path": str(registry)}}
    try:
        assert connect(HelloService, config).hello("warm") == "Hello, warm!"
        threads, files = threading.active_count(), open_files()
        for i in range(1000):
            assert (
                connect(HelloService, config, preferred_channel="dispatch-msgpack").hello(str(i))
                == f"Hello, {i}!"
            )
        for _ in range(100):  # calls that raise must not leak either
            with pytest.raises(ConfigurationException):
                connect(
                    HelloService,
                    {"registry": {"type": "file", "path": str(registry)}, "calls": {"timeout": "x"}},
                )
        assert threading.active_count() <= threads, "a thread more: leaked (earlier tests' may end meanwhile)"
        assert open_files() <= files + 2, "at most a connection or two of the pool more"
    finally:
        server.terminate()
