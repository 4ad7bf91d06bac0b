"""`servicewire serve` as a user runs it: a real process, its exit status and what it prints."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from channels.cli._config import check_environment, key_of_marker, unset_variables
from channels.cli._serve import boot_failure
from container import ConfigurationException, ServiceUnavailableException

from .processes import ROOT, ServerProcess, python_module

SERVE = [*python_module("channels.cli"), "serve", "samples.hello.hosting:MainContainer"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SERVE, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False, env=env
    )


def environment_without(*names: str) -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if key not in names}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            "registry:\n  type: static\ncalls:\n  timeout: soon\n",
            "servicewire: config key 'calls.timeout' has an invalid value (",
        ),
        (
            "registry:\n  type: static\ncalls:\n  timout: 3\n",
            "servicewire: config key 'calls.timout' is unknown; known keys there: ",
        ),
        (
            "registry:\n  type: static\ncalls:\n  timeout: ${SW_CLI_TEST_UNSET}\n",
            "servicewire: config file {path}: config key 'calls.timeout' uses ${SW_CLI_TEST_UNSET}, "
            "but SW_CLI_TEST_UNSET is not set and the marker has no default; set SW_CLI_TEST_UNSET, "
            "or write ${SW_CLI_TEST_UNSET:default}",
        ),
        ("registry: [unclosed\n", "servicewire: config file {path} cannot be loaded ("),
        (
            "registry:\n  type: static\nserve:\n  setpu: samples.hello.demo:main\n",
            "servicewire: config key 'serve.setpu' is unknown; known keys there: setup",
        ),
        (
            "registry:\n  type: static\ncomponents:\n  hello-component:\n    methods:\n"
            "      hello-service.helo: {timeout: 2}\n",
            "servicewire: config key 'components.hello-component.methods.hello-service.helo' is unknown",
        ),
    ],
    ids=["invalid-value", "unknown-key", "unset-variable", "malformed-yaml", "serve-key", "method-key"],
)
def test_a_configuration_error_is_one_line_and_exit_status_2(tmp_path: Path, config: str, message: str):
    """What the config holds wrong stops the command at boot: one line naming the key, no traceback."""
    path = tmp_path / "config.yml"
    path.write_text(config)
    result = run("--config", str(path), env=environment_without("SW_CLI_TEST_UNSET"))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(message.replace("{path}", str(path))), lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["samples.hello.hosting:MainContainer", "--config", "/nonexistent/servicewire.yml"],
            "servicewire: config file /nonexistent/servicewire.yml does not exist",
        ),
        (
            ["samples.nowhere:Main"],
            "servicewire: the container to serve: cannot import 'samples.nowhere:Main'",
        ),
    ],
    ids=["missing-config-file", "unimportable-container"],
)
def test_what_the_command_line_names_wrongly_is_one_line_and_exit_status_2(args: list[str], message: str):
    """A file or a container that is not there is refused the same way."""
    command = [*python_module("channels.cli"), "serve", *args]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(message), result.stderr


def test_a_port_in_use_is_one_line_and_exit_status_1():
    """A server that cannot listen is not a configuration error: exit status 1, one line."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run("--port", str(taken.getsockname()[1]))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("servicewire: cannot start: ")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_one_line_at_start_says_what_and_where_one_at_a_graceful_stop(tmp_path: Path, stop: signal.Signals):
    """The start line names the URL, each component with its services and registered URLs; exit 0."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"registry": {"type": "static"}}))
    server = ServerProcess([*SERVE, "--config", str(config)])
    url = server.url
    pid = server.process.pid
    server.process.send_signal(stop)
    assert server.wait() == 0, server.output
    lines = server.output.splitlines()
    assert len(lines) == 2, server.output  # nothing else: the core's boot lines are summarised
    start = re.sub(r"^\S+ \S+ ", "", lines[0])  # without the time stamp
    assert start == (
        f"servicewire.cli INFO serving on {url} (pid {pid}): hello-component [hello-service] "
        f"at dispatch-json {url}, dispatch-msgpack {url}"
    )
    assert lines[1].endswith(f"servicewire.cli INFO stopped gracefully on {stop.name}")


def test_the_server_stops_serving_when_it_says_it_stopped(tmp_path: Path):
    """After the stop line the registered URL no longer answers."""
    from container import ServiceClient
    from samples.hello.interface import HelloService

    server = ServerProcess(SERVE)
    try:
        routes = {"hello-component": {"dispatch-json": [server.url]}}
        config = {"registry": {"type": "static", "components": routes}}
        with ServiceClient(config) as client:
            hello = client.get_service(HelloService, "dispatch-json")
            assert hello.hello("cli") == "Hello, cli!"
            assert server.terminate() == 0, server.output
            assert "stopped gracefully on SIGTERM" in server.output
            with pytest.raises(ServiceUnavailableException):
                hello.hello("after the stop")
    finally:
        server.kill()


# the pieces another front end of the command reuses


def test_unset_variables_are_those_without_a_default():
    text = "a: ${SET}\nb: ${UNSET}\nc: ${WITH_DEFAULT:7}\nd: ${EMPTY_DEFAULT:}\ne: ${UNSET}\nf: ${OTHER}\n"
    assert unset_variables(text, {"SET": "1"}) == [("UNSET", 2), ("OTHER", 6)]


def test_the_key_of_a_marker_is_found_in_the_file_as_written():
    document = {"auth": {"bearer": {"tokens": {"${TOKEN}": {"subject": "ann"}}}}, "xs": [{"x": "a ${Y} b"}]}
    assert key_of_marker(document, "TOKEN") == "auth.bearer.tokens"
    assert key_of_marker(document, "Y") == "xs[0].x"
    assert key_of_marker(document, "Z") is None


def test_a_file_that_only_parses_once_filled_in_names_the_line(tmp_path: Path):
    """Markers inside a YAML flow mapping break the raw parse: the message gives the line instead."""
    text = "registry:\n  type: static\nhttp: {tls: {verify: ${CA_FILE}}}\n"
    path = tmp_path / "c.yml"
    with pytest.raises(ConfigurationException) as info:
        check_environment(str(path), text, {})
    assert str(info.value).startswith(f"config file {path}: line 3 uses ${{CA_FILE}}, but CA_FILE is not set")


@pytest.mark.parametrize(
    ("exc", "status", "message"),
    [
        (ConfigurationException("config key 'x' is unknown"), 2, "servicewire: config key 'x' is unknown"),
        (ConfigurationException("first\n  second\n"), 2, "servicewire: first second"),
        (ServiceUnavailableException("etcd is down"), 1, "servicewire: cannot start: etcd is down"),
        (OSError(98, "in use"), 1, "servicewire: cannot start: [Errno 98] in use"),
    ],
    ids=["configuration", "multi-line", "service", "os"],
)
def test_boot_failure_turns_an_exception_into_a_line_and_a_status(exc, status, message):
    assert boot_failure(exc) == (message, status)


def test_boot_failure_lets_a_bug_show_its_traceback():
    assert boot_failure(ZeroDivisionError("a bug")) is None


# how services are run: --setup, the config key serve.setup, --log-format json


def test_setup_runs_before_boot_and_json_logs_parse(tmp_path: Path):
    """--setup is called with the config before the container is created; every log line is JSON."""
    log = tmp_path / "setup.log"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"registry": {"type": "static"}}))
    serve = [*python_module("channels.cli"), "serve", "samples.hello.hosting:MainContainer"]
    server = ServerProcess(
        [*serve, "--config", str(config), "--setup", "tests.e2e.cli_services:setup", "--log-format", "json"],
        env={"OPS_SETUP_LOG": str(log)},
    )
    assert log.read_text() == "setup ran before boot; registry static\n"
    assert server.terminate() == 0, server.output
    records = [json.loads(line) for line in server.output.splitlines()]
    assert [r["message"].split(" (pid")[0] for r in records] == [
        f"serving on {server.url}",
        "stopped gracefully on SIGTERM",
    ]
    assert {r["level"] for r in records} == {"INFO"} and {r["logger"] for r in records} == {"servicewire.cli"}


def test_the_config_key_serve_setup_names_the_setup_function(tmp_path: Path):
    """serve.setup in the config file does what --setup does."""
    log = tmp_path / "setup.log"
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"registry": {"type": "static"}, "serve": {"setup": "tests.e2e.cli_services:setup"}})
    )
    server = ServerProcess([*SERVE, "--config", str(config)], env={"OPS_SETUP_LOG": str(log)})
    assert log.read_text() == "setup ran before boot; registry static\n"
    assert server.terminate() == 0


@pytest.mark.parametrize(
    ("setup", "status", "message"),
    [
        (
            "tests.e2e.cli_services:failing_setup",
            1,
            "servicewire: the set-up function tests.e2e.cli_services:failing_setup failed: "
            "RuntimeError: no collector configured",
        ),
        ("tests.e2e.nowhere:setup", 2, "servicewire: --setup: cannot import 'tests.e2e.nowhere:setup'"),
    ],
    ids=["raises", "does-not-import"],
)
def test_a_setup_that_fails_stops_the_command_in_one_line(setup: str, status: int, message: str):
    """A failing set-up is exit 1, one that does not import exit 2 (a configuration error)."""
    result = run("--setup", setup)
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(message), result.stderr


def test_help_reads_without_markup():
    """`servicewire --help` and each command's help: plain text, no reStructuredText backticks."""
    for command in ([], ["serve"], ["list"], ["call"], ["health"], ["describe"], ["dashboard"]):
        result = subprocess.run(
            [*python_module("channels.cli"), *command, "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "``" not in result.stdout and ":class:" not in result.stdout
        assert result.stdout.startswith(f"Usage: servicewire {' '.join(command)}".rstrip())


def test_shell_completion_comes_with_click():
    """The bash completion script and its answers: what click gives for free."""
    servicewire = str(Path(sys.executable).parent / "servicewire")
    script = subprocess.run(
        [servicewire],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "_SERVICEWIRE_COMPLETE": "bash_source"},
    )
    assert "complete -o nosort -F _servicewire_completion servicewire" in script.stdout
    answer = subprocess.run(
        [servicewire],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={
            **os.environ,
            "_SERVICEWIRE_COMPLETE": "bash_complete",
            "COMP_WORDS": "servicewire de",
            "COMP_CWORD": "1",
        },
    )
    assert answer.stdout.split() == ["plain,describe"]
