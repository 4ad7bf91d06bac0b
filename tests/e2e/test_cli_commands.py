"""The `servicewire` commands as an operator runs them, against real server processes.

Every command runs as its own process against servers started with `servicewire serve`, found
through a file registry and through a real etcd; exit statuses and `--json` output are checked.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.etcd_cluster import EtcdCluster

from .processes import ROOT, ServerProcess, python_module, wait_until

COMMAND = python_module("channels.cli")
SERVE = [*COMMAND, "serve", "tests.e2e.cli_services:MainContainer"]
OPS = "ops-component.ops-service"
CONNECTION_FAILED = "the connection failed"
"""servicewire's words for a connection that could not be made; the system's reason follows."""


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        input=stdin,
        env={**os.environ, **(env or {})},
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The command's stderr, checked to be one line without a traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


class Fleet:
    """Two `servicewire serve` processes registered in one registry, and their config file."""

    def __init__(self, root: Path, registry: dict[str, Any]) -> None:
        self.root = root
        self.config = root / "servicewire.json"
        self.config.write_text(
            json.dumps(
                {
                    "registry": registry,
                    "observability": {"metrics": True},
                    "auth": {"expose": {"report": "open", "metrics": "open"}},
                }
            )
        )
        self.servers: list[ServerProcess] = []
        self.health_files: list[Path] = []
        for _ in range(2):
            self.start()

    def start(self) -> ServerProcess:
        health = self.root / f"health-{len(self.servers)}"
        health.write_text("OK")
        server = ServerProcess([*SERVE, "--config", str(self.config)], env={"OPS_HEALTH_FILE": str(health)})
        self.servers.append(server)
        self.health_files.append(health)
        return server

    @property
    def urls(self) -> list[str]:
        return sorted(server.url for server in self.servers if server.process.poll() is None)

    def stop(self) -> None:
        for server in self.servers:
            server.kill()


def registry_section(kind: str, root: Path, etcd: EtcdCluster | None) -> dict[str, Any]:
    if kind == "file":
        return {"type": "file", "path": str(root / "registry.json"), "poll_interval": 0.05}
    assert etcd is not None
    return {"type": "etcd", "endpoints": etcd.endpoints, "prefix": f"/cli-{uuid.uuid4().hex[:8]}/", "ttl": 2}


@pytest.fixture(scope="module", params=["file", "etcd"])
def fleet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Two instances of the ops component, registered in a file registry or in a real etcd."""
    root = tmp_path_factory.mktemp(request.param)
    etcd = EtcdCluster(root / "etcd").start() if request.param == "etcd" else None
    try:
        fleet = Fleet(root, registry_section(request.param, root, etcd))
        try:
            yield fleet
        finally:
            fleet.stop()
    finally:
        if etcd is not None:
            etcd.stop()


# list


def test_list_json_names_every_instance_with_its_channels_and_health(fleet: Fleet):
    """`list --json` parses back: the component, both instance URLs, both channels, health OK."""
    result = run("list", "--config", str(fleet.config), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["registry"] in ("FileComponentRegistry", "EtcdComponentRegistry")
    [component] = document["components"]
    assert component["name"] == "ops-component"
    assert sorted(i["url"] for i in component["instances"]) == fleet.urls
    for instance in component["instances"]:
        assert instance["channels"] == ["dispatch-json", "dispatch-msgpack"]
        assert instance["health"] == "OK"


def test_list_prints_a_table_off_a_terminal(fleet: Fleet):
    """Without --json: a header row, then one row per instance."""
    result = run("list", "--config", str(fleet.config))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["COMPONENT", "INSTANCE", "CHANNELS", "HEALTH", "DETAILS"]
    for url in fleet.urls:
        row = next(line for line in lines if url in line)
        assert row.split()[:2] == ["ops-component", url] and "OK" in row.split()


# health


def test_health_exit_status_follows_the_worst_instance(fleet: Fleet):
    """0 when all are OK, 1 with a WARNING, 2 with an ERROR; --json says which instance.

    The fleet has no authenticator: its servers show the status to everyone and the details to
    nobody (auth.expose.health_details), and the command says where the details are.
    """
    config = ["--config", str(fleet.config)]
    assert run("health", *config).returncode == 0
    assert run("health", *config, "ops-component").returncode == 0
    try:
        fleet.health_files[0].write_text("WARNING")
        warned = run("health", *config, "--json")
        assert warned.returncode == 1, warned.stderr
        document = json.loads(warned.stdout)
        assert document["status"] == "WARNING"
        by_url = {i["url"]: i for i in document["instances"]}
        assert by_url[fleet.servers[0].url]["status"] == "WARNING"
        assert by_url[fleet.servers[0].url]["detail"].startswith("no details: the server shows them to ")
        assert by_url[fleet.servers[0].url]["checks"] == []
        assert by_url[fleet.servers[1].url]["status"] == "OK"
        fleet.health_files[1].write_text("ERROR")
        assert run("health", *config).returncode == 2
        only_first = run("health", "--url", fleet.servers[0].url, "ops-component")
        assert only_first.returncode == 1 and only_first.stdout.splitlines()[-1] == "WARNING"
    finally:
        for health in fleet.health_files:
            health.write_text("OK")


def test_health_of_what_cannot_be_reached_is_an_error(fleet: Fleet, tmp_path: Path):
    """An instance that does not answer, and a component with no instance, are ERROR (exit 2)."""
    from container.testing import free_port

    port = free_port()
    silent = run("health", "--url", f"http://127.0.0.1:{port}", "ops-component", "--json")
    assert silent.returncode == 2
    [instance] = json.loads(silent.stdout)["instances"]
    assert instance["status"] == "UNREACHABLE"
    # servicewire's words and the system's reason, not requests' and urllib3's nested text
    assert (
        instance["detail"]
        == f"cannot reach http://127.0.0.1:{port}: {CONNECTION_FAILED} (Connection refused)"
    )
    nobody = run("health", "--config", str(fleet.config), "nobody-component", "--json")
    assert nobody.returncode == 2
    assert json.loads(nobody.stdout)["detail"] == "no instance of nobody-component is registered"
    usage = run("health", "--url", "http://127.0.0.1:1")
    assert usage.returncode == 2
    assert one_line(usage) == "servicewire: health --url needs the COMPONENT to ask about"


# call


def test_call_untyped_through_the_dispatch_protocol(fleet: Fleet):
    """A list or an object of arguments; the result is JSON on stdout; msgpack works too."""
    config = ["--config", str(fleet.config)]
    assert json.loads(run("call", *config, f"{OPS}.add", "[2, 3]").stdout) == 5
    assert json.loads(run("call", *config, f"{OPS}.add", '{"a": 4, "b": 5}').stdout) == 9
    ordered = run(
        "call", *config, f"{OPS}.order", '[{"sku": "pen", "quantity": 2}]', "--channel", "dispatch-msgpack"
    )
    assert ordered.returncode == 0, ordered.stderr
    receipt = json.loads(ordered.stdout)
    assert receipt["sku"] == "pen" and receipt["quantity"] == 2
    assert receipt["served_by"] in {server.process.pid for server in fleet.servers}
    piped = run("call", *config, "ops-component/ops-service/add", "-", stdin="[20, 22]")
    assert json.loads(piped.stdout) == 42
    sent = run("call", *config, f"{OPS}.metadata", '["tenant"]', "-m", "tenant=acme")
    assert json.loads(sent.stdout) == "acme"


def test_call_typed_with_the_interface(fleet: Fleet):
    """--interface checks the arguments before sending and decodes the result by its type."""
    config = ["--config", str(fleet.config), "--interface", "tests.e2e.cli_services:OpsService"]
    ordered = run("call", *config, f"{OPS}.order", '{"item": {"sku": "ink", "quantity": 1}}')
    assert ordered.returncode == 0, ordered.stderr
    assert json.loads(ordered.stdout)["sku"] == "ink"
    wrong = run("call", *config, f"{OPS}.add", '["two", 3]')
    assert wrong.returncode == 2
    assert one_line(wrong).startswith("servicewire: the arguments do not fit add(a: int, b: int): ")
    unknown = run("call", *config, f"{OPS}.subtract", "[1, 2]")
    assert unknown.returncode == 2
    assert one_line(unknown) == (
        "servicewire: tests.e2e.cli_services:OpsService has no method 'subtract'; its methods: "
        "add, order, refuse, metadata, whoami, nap"
    )
    elsewhere = run("call", *config, "other-component.ops-service.add", "[1, 2]")
    assert elsewhere.returncode == 2
    assert "is service 'ops-service' of component 'ops-component'" in one_line(elsewhere)


def test_call_exit_statuses_tell_remote_error_bad_input_and_unreachable(fleet: Fleet):
    """1: the server answered with an error; 2: bad input; 3: could not reach."""
    from container.testing import free_port

    config = ["--config", str(fleet.config)]
    refused = run("call", *config, f"{OPS}.refuse", '["out of ink"]')
    assert refused.returncode == 1
    assert one_line(refused).startswith("servicewire: remote error: ")
    assert "refused: out of ink" in refused.stderr
    for args, message in [
        ([f"{OPS}.add", "[2,"], "servicewire: the arguments are not JSON ("),
        ([f"{OPS}.add", '"2"'], "servicewire: the arguments must be a JSON list (positional) or object"),
        (["ops-component.add", "[]"], "servicewire: 'ops-component.add' is not component.service.method"),
        ([f"{OPS}.add", '["a", "b"]'], "servicewire: remote error: "),
        ([f"{OPS}.nothing", "[]"], "servicewire: remote error: "),
        ([f"{OPS}.add", "[1, 2]", "-m", "Bad Key=1"], "servicewire: --metadata key 'bad key' is not allowed"),
        (
            [f"{OPS}.add", "[1, 2]", "--channel", "local"],
            "servicewire: an untyped call goes through the dispatch",
        ),
    ]:
        result = run("call", *config, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert one_line(result).startswith(message), (args, result.stderr)
    usage = run("call", *config, f"{OPS}.add", "[1, 2]", "--timeout", "soon")
    assert usage.returncode == 2
    line = one_line(usage)  # the middle is click's wording: only our frame is checked
    assert line.startswith("servicewire call: ") and "--timeout" in line
    assert line.endswith("(see 'servicewire call --help')")
    port = free_port()
    nowhere = run("call", "--url", f"http://127.0.0.1:{port}", f"{OPS}.add", "[1, 2]")
    assert nowhere.returncode == 3
    assert one_line(nowhere) == (
        f"servicewire: could not reach: cannot reach http://127.0.0.1:{port}/invoke/"
        f"{OPS.replace('.', '/')}/add: {CONNECTION_FAILED} (Connection refused)"
    )
    unregistered = run("call", *config, "nobody-component.ops-service.add", "[1, 2]", "--timeout", "0.5")
    assert unregistered.returncode == 3
    assert one_line(unregistered).startswith(
        "servicewire: could not reach: no instance of component 'nobody-component' is registered"
    )
    slow = run("call", *config, f"{OPS}.nap", "[5]", "--timeout", "0.3")
    assert slow.returncode == 3
    assert one_line(slow).startswith("servicewire: could not reach: ")


def test_an_untyped_call_goes_through_dispatch_msgpack_when_the_component_is_only_there(
    fleet: Fleet, tmp_path: Path
):
    """A component registered on dispatch-msgpack only (as README's tour registers it) is called."""
    only_msgpack = tmp_path / "msgpack.json"
    routes = {"ops-component": {"dispatch-msgpack": [fleet.urls[0]]}}
    only_msgpack.write_text(json.dumps({"registry": {"type": "static", "components": routes}}))
    result = run("call", "--config", str(only_msgpack), f"{OPS}.add", "[2, 3]")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == 5
    elsewhere = tmp_path / "elsewhere.json"
    routes = {"ops-component": {"local": ["inproc://elsewhere"]}}
    elsewhere.write_text(json.dumps({"registry": {"type": "static", "components": routes}}))
    refused = run("call", "--config", str(elsewhere), f"{OPS}.add", "[2, 3]", "--timeout", "0.5")
    assert refused.returncode == 2
    assert one_line(refused) == (
        "servicewire: component 'ops-component' has no instance on 'dispatch-json' or "
        "'dispatch-msgpack' (StaticComponentRegistry), only on local: an untyped call goes "
        "through dispatch-json or dispatch-msgpack; give --interface to call through another channel"
    )


# describe


def test_describe_from_the_server_and_from_the_interface_agree(fleet: Fleet):
    """The server's /describe and the interface give the same document; text lists signatures."""
    from container.testing import free_port

    served = run("describe", "--config", str(fleet.config), OPS, "--json")
    assert served.returncode == 0, served.stderr
    document = json.loads(served.stdout)
    local = run("describe", "--interface", "tests.e2e.cli_services:OpsService", OPS, "--json")
    assert json.loads(local.stdout) == document
    [service] = document["services"]
    add = next(m for m in service["methods"] if m["name"] == "add")
    assert add["signature"] == "add(a: int, b: int) -> int"
    assert [(p["name"], p["type"], p["schema"]) for p in add["parameters"]] == [
        ("a", "int", {"type": "integer"}),
        ("b", "int", {"type": "integer"}),
    ]
    order = next(m for m in service["methods"] if m["name"] == "order")
    assert order["returns"]["type"] == "tests.e2e.cli_services.Receipt"
    assert document["$defs"]["Item"]["required"] == ["sku", "quantity"]
    text = run("describe", "--url", fleet.servers[0].url, "ops-component")
    assert text.returncode == 0, text.stderr
    assert (
        "    order(item: tests.e2e.cli_services.Item) -> tests.e2e.cli_services.Receipt"
        in text.stdout.splitlines()
    )
    port = free_port()
    nowhere = run("describe", "--url", f"http://127.0.0.1:{port}", "ops-component")
    assert nowhere.returncode == 3
    assert one_line(nowhere) == (
        f"servicewire: could not reach: cannot reach http://127.0.0.1:{port}: "
        f"{CONNECTION_FAILED} (Connection refused)"
    )
    missing = run("describe", "--config", str(fleet.config), "ops-component.nothing")
    assert missing.returncode == 2
    assert (
        one_line(missing)
        == "servicewire: component 'ops-component' has no service 'nothing'; its services: ops-service"
    )


# list --watch


def test_list_watch_json_follows_instances_as_they_come_and_go(fleet: Fleet):
    """One JSON line per change: a third instance appears, and disappears once killed."""
    watcher = subprocess.Popen(
        [*COMMAND, "list", "--config", str(fleet.config), "--json", "--watch", "--interval", "0.2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    seen: list[list[str]] = []
    reader = threading.Thread(target=lambda: _follow(watcher, seen), daemon=True)
    reader.start()
    third = None
    try:
        assert wait_until(lambda: bool(seen) and seen[-1] == fleet.urls, timeout=20), seen
        third = fleet.start()
        assert wait_until(lambda: third.url in seen[-1] and len(seen[-1]) == 3, timeout=20), seen
        third.process.send_signal(signal.SIGKILL)
        third.wait()
        assert wait_until(lambda: seen[-1] == fleet.urls, timeout=20), seen
    finally:
        watcher.send_signal(signal.SIGINT)
        try:
            assert watcher.wait(15) == 0
        finally:
            watcher.kill()  # a no-op once it exited; never left running after a failure
        reader.join(5)
        assert watcher.stdout is not None
        watcher.stdout.close()
        fleet.servers = [server for server in fleet.servers if server is not third]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_list_watch_stops_on_sigint_or_sigterm_even_with_sigint_ignored(tmp_path: Path, stop: signal.Signals):
    """A watcher started from a background job (SIGINT ignored, as shells do) still stops, with 0."""
    config = tmp_path / "static.json"
    config.write_text(json.dumps({"registry": {"type": "static", "components": {}}}))
    watcher = subprocess.Popen(
        [*COMMAND, "list", "--config", str(config), "--json", "--watch", "--interval", "0.2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert watcher.stdout is not None
        first = json.loads(watcher.stdout.readline())
        assert first["components"] == []
        watcher.send_signal(stop)
        assert watcher.wait(10) == 0
    finally:
        watcher.kill()
        watcher.communicate()


def _follow(watcher: subprocess.Popen[str], seen: list[list[str]]) -> None:
    assert watcher.stdout is not None
    for line in watcher.stdout:
        document = json.loads(line)
        seen.append(sorted(i["url"] for c in document.get("components", []) for i in c["instances"]))


# credentials, as for any client


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, dict[str, Path], str]]:
    """One instance over TLS that takes JWTs (HS256, sent as bearer tokens) and client certificates."""
    import jwt
    import trustme

    root = tmp_path_factory.mktemp("guarded")
    ca = trustme.CA()
    files = {name: root / f"{name}.pem" for name in ("ca", "cert", "key", "client")}
    ca.cert_pem.write_to_path(str(files["ca"]))
    server_cert = ca.issue_cert("127.0.0.1")
    server_cert.cert_chain_pems[0].write_to_path(str(files["cert"]))
    server_cert.private_key_pem.write_to_path(str(files["key"]))
    ca.issue_cert("cli-operator@example.test").private_key_and_cert_chain_pem.write_to_path(
        str(files["client"])
    )
    secret = "a-test-secret-of-at-least-32-bytes!"
    config = root / "guarded.json"
    config.write_text(
        json.dumps(
            {
                "registry": {"type": "static"},
                "http": {
                    "tls": {
                        "certfile": str(files["cert"]),
                        "keyfile": str(files["key"]),
                        "client_ca": str(files["ca"]),
                        "client_certificates": "optional",
                    }
                },
                "auth": {
                    "jwt": {"key": secret, "algorithms": ["HS256"], "audience": "ops"},
                    "mtls": {"enabled": True},
                },
            }
        )
    )
    health = root / "health"
    health.write_text("WARNING")
    server = ServerProcess(
        [*SERVE, "--config", str(config)], env={"OPS_SCHEME": "https", "OPS_HEALTH_FILE": str(health)}
    )
    expires = int(time.time()) + 600
    signed = {
        name: jwt.encode({"sub": name, "aud": "ops", "exp": expires}, secret, algorithm="HS256")
        for name in ("ann", "joe")
    }
    try:
        yield server, files, signed
    finally:
        server.kill()


def test_call_sends_a_token_a_jwt_or_a_client_certificate(guarded):
    """--token, $SERVICEWIRE_TOKEN and --cert identify the caller; no credential is a 401, exit 1."""
    server, files, signed = guarded
    where = ["--url", server.url, "--ca", str(files["ca"]), f"{OPS}.whoami", "[]"]
    assert server.url.startswith("https://")
    by_token = run("call", *where, "--token", signed["ann"])
    assert by_token.returncode == 0, by_token.stderr
    assert json.loads(by_token.stdout) == "ann"
    assert json.loads(run("call", *where, env={"SERVICEWIRE_TOKEN": signed["joe"]}).stdout) == "joe"
    by_certificate = run("call", *where, "--cert", str(files["client"]))
    assert by_certificate.returncode == 0, by_certificate.stderr
    assert json.loads(by_certificate.stdout) == "cli-operator@example.test"
    anonymous = run("call", *where)
    assert anonymous.returncode == 1
    assert one_line(anonymous).startswith("servicewire: remote error: ")
    untrusted = run("call", "--url", server.url, f"{OPS}.whoami", "[]", "--token", signed["ann"])
    assert untrusted.returncode == 3, untrusted.stderr
    assert one_line(untrusted).startswith("servicewire: could not reach: ")


def test_describe_and_health_with_credentials(guarded):
    """/describe needs an authenticated caller by default; /health is open, its details are not."""
    server, files, signed = guarded
    tls = ["--url", server.url, "--ca", str(files["ca"])]
    refused = run("describe", *tls, "ops-component")
    assert refused.returncode == 1
    assert one_line(refused).startswith(f"servicewire: {server.url}/describe/ops-component answered 401: ")
    described = run("describe", *tls, "ops-component", "--json", "--token", signed["ann"])
    assert described.returncode == 0, described.stderr
    assert json.loads(described.stdout)["component"] == "ops-component"
    anonymous = run("health", *tls, "ops-component", "--json")
    assert anonymous.returncode == 1, anonymous.stderr  # WARNING: the status is open
    [instance] = json.loads(anonymous.stdout)["instances"]
    assert instance["status"] == "WARNING" and instance["detail"].startswith("no details: ")
    known = run("health", *tls, "ops-component", "--json", "--token", signed["ann"])
    assert known.returncode == 1, known.stderr
    [instance] = json.loads(known.stdout)["instances"]
    assert instance["detail"] == "switch: switched to WARNING"
    by_certificate = run("health", *tls, "ops-component", "--json", "--cert", str(files["client"]))
    assert json.loads(by_certificate.stdout)["instances"][0]["detail"] == "switch: switched to WARNING"
    wrong = run("health", *tls, "ops-component", "--json", "--token", "not.a.jwt")
    assert wrong.returncode == 2, wrong.stderr
    [instance] = json.loads(wrong.stdout)["instances"]
    assert instance["status"] == "UNKNOWN"
    assert instance["detail"].endswith("answered 401: the JWT is malformed")


# a registry that cannot list


def test_a_registry_that_cannot_list_is_one_line_and_exit_status_2(tmp_path: Path, capsys):
    """`list` on a plugin without list_addresses prints the registry's own refusal."""
    from channels.cli import main
    from container import ComponentRegistry
    from container.plugin import REGISTRIES
    from registry.static import StaticComponentRegistry

    class NamesOnlyRegistry(StaticComponentRegistry):
        list_addresses = ComponentRegistry.list_addresses

    REGISTRIES.register("names-only", NamesOnlyRegistry)
    config = tmp_path / "names-only.json"
    config.write_text(json.dumps({"registry": {"type": "names-only"}}))
    for command in (["list"], ["health"]):
        assert main([*command, "--config", str(config)]) == 2
        assert capsys.readouterr().err == (
            "servicewire: the NamesOnlyRegistry registry cannot list its components: it does not implement "
            "the optional ComponentRegistry.list_addresses() (docs/writing-a-registry-plugin.md); name the "
            "component, or use a registry that lists (static, file, etcd)\n"
        )


def test_a_spinner_shows_on_a_terminal_while_a_call_waits(fleet: Fleet):
    """stderr a terminal: a spinner while the call waits, erased after; stdout holds only the JSON."""
    import pty

    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [*COMMAND, "call", "--config", str(fleet.config), f"{OPS}.nap", "[1]"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=60,
            check=False,
        )
        os.close(follower)
        follower = -1
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal's other end is closed: all was read
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    assert result.returncode == 0 and json.loads(result.stdout) is None
    assert b"calling ops-component/ops-service/nap" in drawn
    assert drawn.endswith(b"\r")  # the line is erased once the answer is there


@pytest.mark.parametrize("engine", ["threads", "asyncio"])
def test_serve_stops_within_its_bound_with_a_call_in_flight_and_an_idle_connection(
    tmp_path: Path, engine: str
):
    """SIGTERM while a call runs past --drain-timeout and a keep-alive connection idles: exit 0 in time.

    The call is abandoned after the drain (logged), the idle connection is closed; nothing holds
    the process, on either engine (on asyncio's, the call runs in an executor's thread, which
    the interpreter joins at exit). (A SIGTERM once made `servicewire serve` hang: its handler
    set a threading.Event, whose lock the main thread may hold at that moment.)
    """
    config = tmp_path / "servicewire.json"
    config.write_text(json.dumps({"registry": {"type": "static"}, "http": {"server": engine}}))
    nap = tmp_path / "napping"
    server = ServerProcess(
        [*SERVE, "--config", str(config), "--drain-timeout", "1"], env={"OPS_NAP_FILE": str(nap)}
    )
    port = int(server.url.rsplit(":", 1)[1])
    idle = socket.create_connection(("127.0.0.1", port), timeout=5)
    busy = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        idle.sendall(b"GET /health/ops-component HTTP/1.1\r\nHost: x\r\n\r\n")
        assert idle.recv(100).startswith(b"HTTP/1.1 200 ")
        body = b'{"args": [60]}'
        busy.sendall(
            b"POST /invoke/ops-component/ops-service/nap HTTP/1.1\r\nHost: x\r\n"
            + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert wait_until(nap.exists, timeout=10), server.output
        started = time.monotonic()
        status = server.terminate(timeout=30)
        took = time.monotonic() - started
    finally:
        idle.close()
        busy.close()
    assert status == 0, server.output
    assert took < 5.0, f"exit took {took:.1f} s:\n{server.output}"
    assert "stopping on SIGTERM" in server.output
    assert "stopped on SIGTERM; 1 calls still running after 1 s were abandoned" in server.output


def test_serve_exits_when_its_shutdown_hangs(tmp_path: Path):
    """A component whose shutdown() never returns: the command logs what still runs and exits 1.

    The bound is twice --drain-timeout and 5 s.
    """
    config = tmp_path / "servicewire.json"
    config.write_text(json.dumps({"registry": {"type": "static"}}))
    server = ServerProcess(
        [*SERVE, "--config", str(config), "--drain-timeout", "0.5"], env={"OPS_HANG_ON_STOP": "1"}
    )
    started = time.monotonic()
    status = server.terminate(timeout=30)
    took = time.monotonic() - started
    assert status == 1, server.output
    assert 6.0 - 0.5 < took < 10.0, f"exit took {took:.1f} s:\n{server.output}"
    assert "the shutdown did not end within 6 s; exiting now" in server.output, server.output


@pytest.mark.parametrize("threads", ["0", "-3"])
def test_serve_refuses_a_thread_count_below_one(threads: str):
    """--threads 0 or below was silently ignored: now a usage error (exit 2) naming the option."""
    result = run("serve", "tests.e2e.cli_services:MainContainer", "--threads", threads)
    assert result.returncode == 2
    assert "--threads" in one_line(result)


# the working directory's modules


SCRIPT = str(Path(sys.executable).with_name("servicewire"))

SHOP_INTERFACE = """
from abc import abstractmethod

from container import Component, Service, component, service


@service(name="shop-service")
class Shop(Service):
    @abstractmethod
    def price(self, item: str) -> int: ...


@component(name="shop-component", services=[Shop])
class ShopComponent(Component): ...
"""


def test_the_script_imports_user_code_from_the_working_directory(tmp_path: Path):
    """`servicewire describe --interface shop:Shop` finds shop.py where it runs, as python -m would."""
    (tmp_path / "shop.py").write_text(SHOP_INTERFACE)
    result = subprocess.run(
        [SCRIPT, "describe", "--interface", "shop:Shop", "shop-component", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "price" in result.stdout


def test_a_file_in_the_working_directory_never_shadows_a_library(tmp_path: Path):
    """A yaml.py beside the config (a shared /tmp) is not imported in PyYAML's place."""
    (tmp_path / "yaml.py").write_text("raise SystemExit('HIJACKED: yaml.py of the working directory ran')\n")
    (tmp_path / "s.yml").write_text("registry:\n  type: static\n  components: {}\n")
    result = subprocess.run(
        [SCRIPT, "list", "--config", "s.yml", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "HIJACKED" not in result.stdout + result.stderr
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["components"] == []
