"""HTTP channel benchmark: servicewire's dispatch-json and dispatch-msgpack against floors and peers.

Run (from the repository root, with the project's venv):

    .venv/bin/python bench/http_bench.py            # our cases and the floors (about 1 minute)
    .venv/bin/python bench/http_bench.py --peers    # plus aspyx-service, gRPC and Pyro5 from
                                              # ../shared/bench/peers in the same run (+4 min)
    .venv/bin/python bench/http_bench.py --baseline main --rounds 3
                                              # the client side of this tree against the code
                                              # of a git revision, in one run (below)

Each server runs in its own process; each case's client runs in a fresh interpreter. Method
of ../shared/bench/peers: 300 warm-up calls, then 3000 hello and 1000 echo calls timed one by one
(median and p99 in microseconds), then 8 threads calling echo for 2 s (calls/s).

With ``--baseline REV``, each client case (sw-json, sw-msgpack, sw-msgpack-tls unless --only says
otherwise) runs against one server of this tree, alternately with the client code of this tree
and of REV (``git archive REV``, put first on the client's ``sys.path``), ``--rounds`` times
each (in the order REV, this tree, then this tree, REV, ...); the best figures of each are
compared as ratios, this tree over REV.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
if os.environ.get("BENCH_CODE_ROOT"):  # --baseline: the client imports container/channels from there
    sys.path.insert(0, os.environ["BENCH_CODE_ROOT"])

CASES = {
    "sw-json": ("servicewire", "servicewire dispatch-json (embedded server)"),
    "sw-msgpack": ("servicewire", "servicewire dispatch-msgpack (embedded server)"),
    "sw-msgpack-tls": ("servicewire", "servicewire dispatch-msgpack over TLS 1.3 (embedded server)"),
    "sw-msgpack-requests": ("servicewire", "servicewire dispatch-msgpack, the requests client transport"),
    "sw-msgpack-slow": (
        "servicewire",
        "servicewire dispatch-msgpack; calls/s beside 8 clients that never read",
    ),
    "sw-msgpack-observed": ("servicewire", "servicewire dispatch-msgpack, tracing (every span) and metrics"),
    "sw-msgpack-sampled": ("servicewire", "servicewire dispatch-msgpack, tracing (10% sampled) and metrics"),
    "sw-tcp": ("servicewire", "servicewire tcp-msgpack (samples/tcp_channel plugin)"),
    "floor-http": ("http-echo", "floor: http.client -> raw-socket HTTP echo, msgspec JSON"),
    "floor-tcp-json": ("tcp", "floor: raw TCP, length prefix, msgspec JSON"),
    "floor-tcp-msgpack": ("tcp", "floor: raw TCP, length prefix, msgspec MessagePack"),
}
PEER_CASES = {
    "a1": "aspyx-service 0.11.6 dispatch-json",
    "a2": "aspyx-service 0.11.6 dispatch-msgpack",
    "d1": "gRPC Python generic unary (msgspec JSON)",
    "b2": "Pyro5 msgpack",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# clients (run in a fresh interpreter: python bench/http_bench.py --client CASE PORT)


class TcpClient:
    def __init__(self, port: int, codec: str) -> None:
        import msgspec
        from workload import Data

        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        module = msgspec.msgpack if codec == "msgpack" else msgspec.json
        self.encode = module.Encoder().encode
        self.decode_str = module.Decoder(str).decode
        self.decode_data = module.Decoder(Data).decode

    def _round_trip(self, body: bytes) -> bytes:
        self.sock.sendall(len(body).to_bytes(4, "big") + body)
        size = int.from_bytes(self._recv(4), "big")
        return self._recv(size)

    def _recv(self, size: int) -> bytes:
        chunks = []
        while size:
            chunk = self.sock.recv(min(size, 1 << 20))
            if not chunk:
                raise ConnectionError("closed")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def hello(self, message: str) -> str:
        return self.decode_str(self._round_trip(self.encode(message)))  # type: ignore[no-any-return]

    def echo(self, data: Any) -> Any:
        return self.decode_data(self._round_trip(self.encode(data)))


class HttpClientFloor:
    def __init__(self, port: int) -> None:
        import http.client

        import msgspec
        from workload import Data

        self.connection = http.client.HTTPConnection("127.0.0.1", port)
        self.encode = msgspec.json.Encoder().encode
        self.decode_str = msgspec.json.Decoder(str).decode
        self.decode_data = msgspec.json.Decoder(Data).decode

    def _post(self, path: str, body: bytes) -> bytes:
        self.connection.request("POST", path, body, {"Content-Type": "application/json"})
        return self.connection.getresponse().read()

    def hello(self, message: str) -> str:
        return self.decode_str(self._post("/hello", self.encode(message)))  # type: ignore[no-any-return]

    def echo(self, data: Any) -> Any:
        return self.decode_data(self._post("/echo", self.encode(data)))


def make_client(case: str, port: int) -> tuple[Any, bool]:
    """Return (client, shared across threads?)."""
    if case.startswith("sw-"):
        from workload import BenchService

        from container import ServiceClient

        channels = {"sw-json": "dispatch-json", "sw-tcp": "tcp-msgpack"}
        channel = channels.get(case, "dispatch-msgpack")
        url = os.environ["BENCH_TCP_URL"] if case == "sw-tcp" else f"http://127.0.0.1:{port}"
        config: dict[str, Any] = {
            "registry": {"type": "static", "components": {"bench-component": {channel: [url]}}}
        }
        if case in ("sw-msgpack-observed", "sw-msgpack-sampled"):
            from workload import observed_config

            config.update(observed_config(case == "sw-msgpack-sampled"))
        if case == "sw-msgpack-requests":
            config["http"] = {"client": "requests"}
        if case == "sw-msgpack-tls":
            url = f"https://127.0.0.1:{port}"
            config["registry"]["components"]["bench-component"][channel] = [url]
            config["http"] = {"tls": {"verify": os.path.join(os.environ["BENCH_TLS_DIR"], "ca.pem")}}
        return ServiceClient(config).get_service(BenchService, channel), True
    if case == "floor-http":
        return HttpClientFloor(port), False
    return TcpClient(port, "msgpack" if case.endswith("msgpack") else "json"), False


SLOW_READERS = int(os.environ.get("BENCH_SLOW_READERS", "8"))


def start_slow_readers(port: int, payload: Any) -> list[socket.socket]:
    """Open SLOW_READERS connections that pipeline echo calls with a 1 KB window and never read.

    Returns once the server stopped taking their requests (their sends stall): from then on
    they hold whatever the server gives a client that does not read.
    """
    import threading

    import msgspec

    body = msgspec.msgpack.encode({"args": [payload]})
    request = (
        f"POST /invoke/bench-component/bench-service/echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/msgpack\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    sent = [0] * SLOW_READERS
    sockets = []

    def pipeline(index: int, sock: socket.socket) -> None:
        try:
            while True:
                sock.sendall(request)
                sent[index] += 1
        except OSError:
            return

    for index in range(SLOW_READERS):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        sock.connect(("127.0.0.1", port))
        sockets.append(sock)
        threading.Thread(target=pipeline, args=(index, sock), daemon=True).start()
    deadline = time.monotonic() + 20
    last = -1
    while time.monotonic() < deadline and sum(sent) != last:
        last = sum(sent)
        time.sleep(0.5)
    return sockets


def run_client(case: str, port: int, server_pid: int) -> dict[str, Any]:
    import workload

    code_root = os.environ.get("BENCH_CODE_ROOT")
    if code_root:
        import channels.http

        assert channels.http.__file__.startswith(code_root), (
            f"{channels.http.__file__} is not from {code_root}"
        )

    client, shared = make_client(case, port)
    payload = workload.make_payload()
    assert client.hello(workload.HELLO_MESSAGE) == workload.HELLO_MESSAGE
    assert client.echo(payload) == payload, "echo must return an equal Data"
    workload.time_calls(lambda: client.hello(workload.HELLO_MESSAGE), 300, 3)
    workload.time_calls(lambda: client.echo(payload), 300, 3)
    cpu_client, cpu_server = time.process_time(), workload.pid_cpu_seconds(server_pid)
    hello = workload.time_calls(lambda: client.hello(workload.HELLO_MESSAGE), 3000, 8)
    echo = workload.time_calls(lambda: client.echo(payload), 1000, 12)
    calls = len(hello) + len(echo)
    cpu_client = (time.process_time() - cpu_client) / calls * 1e6
    cpu_server = (workload.pid_cpu_seconds(server_pid) - cpu_server) / calls * 1e6
    extra: dict[str, Any] = {}
    if case == "sw-msgpack-slow":
        # Against one server from one process: a warm-up round, then without the slow readers,
        # with them, and without them again (they reset); "without" is the mean of the two.
        workload.throughput(lambda: client.echo(payload), seconds=1.0)
        before = workload.throughput(lambda: client.echo(payload))
        readers = start_slow_readers(port, payload)
        rate = workload.throughput(lambda: client.echo(payload))
        for sock in readers:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes its sending thread
            except OSError:
                pass  # the server closed it already
            sock.close()
        time.sleep(1.0)
        after = workload.throughput(lambda: client.echo(payload))
        extra["echo_rate_without"] = (before + after) / 2
    elif shared:
        rate = workload.throughput(lambda: client.echo(payload))
    else:
        import threading

        local = threading.local()

        def call() -> Any:
            if not hasattr(local, "client"):
                local.client = make_client(case, port)[0]
            return local.client.echo(payload)

        rate = workload.throughput(call)
    return {
        "hello_median": workload.median(hello),
        "hello_p99": workload.p99(hello),
        "echo_median": workload.median(echo),
        "echo_p99": workload.p99(echo),
        "echo_rate": rate,
        "n_hello": len(hello),
        "n_echo": len(echo),
        "cpu_client_us": cpu_client,
        "cpu_server_us": cpu_server,
        **extra,
    }


# orchestration


def make_certificates(folder: str) -> None:
    """Write a private CA (ca.pem) and a certificate for 127.0.0.1 (server.pem, server.key)."""
    import trustme

    ca = trustme.CA()
    ca.cert_pem.write_to_path(os.path.join(folder, "ca.pem"))
    issued = ca.issue_cert("127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(os.path.join(folder, "server.pem"))
    issued.private_key_pem.write_to_path(os.path.join(folder, "server.key"))


def run_case(case: str, code_roots: list[str] | None = None, rounds: int = 1) -> Any:
    """Run one case: its server, then its client (one result).

    With ``code_roots``, the client runs ``rounds`` times with each code root in turn (None:
    this tree) against the same server; the result is a list of results per root.
    """
    import tempfile

    kind, _ = CASES[case]
    port = free_port()
    env = dict(os.environ)
    if case in ("sw-msgpack-observed", "sw-msgpack-sampled"):
        env["BENCH_OBSERVE"] = "sampled" if case == "sw-msgpack-sampled" else "all"
    if case == "sw-msgpack-tls":
        env["BENCH_TLS_DIR"] = tempfile.mkdtemp(prefix="sw-bench-tls-")
        make_certificates(env["BENCH_TLS_DIR"])
    server = subprocess.Popen(
        [sys.executable, str(HERE / "servers.py"), kind, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert server.stdout is not None
        ready = server.stdout.readline().split()
        assert ready and ready[0] == "ready", ready
        if case == "sw-tcp" and ready[1:] == ["-"]:
            raise RuntimeError("sw-tcp needs the plugin: pip install -e samples/tcp_channel")
        client_env = {**env, "BENCH_TCP_URL": ready[1] if len(ready) > 1 else "-"}
        if code_roots is None:
            return run_client_process(case, port, server.pid, client_env)
        results: list[list[dict[str, Any]]] = [[] for _ in code_roots]
        for round_number in range(rounds):
            order = list(enumerate(code_roots))
            if round_number % 2:  # ABBA: neither code always runs first against the server
                order.reverse()
            for index, code_root in order:
                root_env = {**client_env, "BENCH_CODE_ROOT": code_root} if code_root else client_env
                results[index].append(run_client_process(case, port, server.pid, root_env))
        return results
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)


def run_client_process(case: str, port: int, server_pid: int, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(HERE / "http_bench.py"), "--client", case, str(port), str(server_pid)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
        env=env,
    )
    if out.returncode != 0:
        raise RuntimeError(f"client {case} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def best(results: list[dict[str, Any]]) -> dict[str, float]:
    """The best of several rounds: lowest medians and CPU, highest throughput."""
    lowest = ("hello_median", "echo_median", "cpu_client_us")
    found = {key: min(r[key] for r in results) for key in lowest}
    found["echo_rate"] = max(r["echo_rate"] for r in results)
    return found


def run_baseline(revision: str, cases: list[str], rounds: int) -> None:
    """Compare the client side of this tree with that of ``revision``, in one run (see the docstring)."""
    import io
    import tarfile
    import tempfile

    folder = tempfile.mkdtemp(prefix="sw-bench-baseline-")
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", revision], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"client code: this tree against {revision} ({commit}); best of {rounds} rounds each, alternating")
    print()
    print("| case | code | hello median µs | echo median µs | echo calls/s, 8 threads | client CPU µs/call |")
    print("|---|---|---:|---:|---:|---:|")
    ratios = []
    for case in cases:
        baseline_runs, ours_runs = run_case(case, [folder, ""], rounds)
        base, ours = best(baseline_runs), best(ours_runs)
        for label, row in ((revision, base), ("this tree", ours)):
            print(
                f"| {case} | {label} | {row['hello_median']:.0f} | {row['echo_median']:.0f} | "
                f"{row['echo_rate']:.0f} | {row['cpu_client_us']:.0f} |"
            )
        ratios.append(
            f"{case} client, this tree / {revision}: hello median {ours['hello_median'] / base['hello_median']:.2f}x, "
            f"echo median {ours['echo_median'] / base['echo_median']:.2f}x, "
            f"8-thread echo throughput {ours['echo_rate'] / base['echo_rate']:.2f}x, "
            f"client CPU {ours['cpu_client_us'] / base['cpu_client_us']:.2f}x"
        )
    print()
    print("Targets: medians and client CPU <= 1.0x (no slower), throughput >= 1.0x, within the noise.")
    for line in ratios:
        print(line)


def peers_script() -> Path:
    """The shared peers harness: $SERVICEWIRE_PEERS, else ../shared beside the checkout, or one level up.

    (A worktree in a folder of worktrees has it one level up; a tree elsewhere names it.)
    """
    given = os.environ.get("SERVICEWIRE_PEERS")
    if given:
        return Path(given)
    candidates = [
        base / "shared" / "bench" / "peers" / "run.sh" for base in (ROOT.parent, ROOT.parent.parent)
    ]
    return next((path for path in candidates if path.exists()), candidates[0])


def run_peers() -> dict[str, dict[str, Any]]:
    script = peers_script()
    if not script.exists():
        print(f"peers harness not found at {script}", file=sys.stderr)
        return {}
    subprocess.run(
        ["bash", str(script), "--only", ",".join(PEER_CASES)],
        check=False,
        stdout=subprocess.DEVNULL,
        timeout=900,
    )
    results_dir = Path("/tmp/peers-results")
    latest = max(results_dir.glob("results-*.json"), key=os.path.getmtime)
    found = {}
    for row in json.loads(latest.read_text())["results"]:
        if row.get("key") in PEER_CASES and "error" not in row:
            found[row["key"]] = row
    return found


def print_targets(results: dict[str, Any], peers: dict[str, Any]) -> None:
    """Print the HTTP server issue's ratio lines, exactly as a script reads them."""
    lines = []
    plain, tls, floor = results.get("sw-msgpack"), results.get("sw-msgpack-tls"), results.get("floor-http")
    if plain and "d1" in peers:
        grpc = peers["d1"]
        rate = plain["echo_rate"] / float(grpc["thr_rate"])
        lines.append(f"sw-msgpack / gRPC: 8-thread echo throughput {rate:.2f}x")
        lines.append(f"sw-msgpack / gRPC: echo median {plain['echo_median'] / float(grpc['echo_med']):.2f}x")
    if plain and floor:
        lines.append(
            f"sw-msgpack / http floor: echo median {plain['echo_median'] / floor['echo_median']:.2f}x"
        )
    if plain and tls:
        lines.append(
            f"sw-msgpack TLS / sw-msgpack plain: echo median {tls['echo_median'] / plain['echo_median']:.2f}x"
        )
        lines.append(
            f"sw-msgpack plain / sw-msgpack TLS: 8-thread echo throughput {plain['echo_rate'] / tls['echo_rate']:.2f}x"
        )
    via_requests = results.get("sw-msgpack-requests")
    if plain and via_requests:
        lines.append(
            f"sw-msgpack requests client / pool: echo median {via_requests['echo_median'] / plain['echo_median']:.2f}x, "
            f"client CPU {via_requests['cpu_client_us'] / plain['cpu_client_us']:.2f}x, "
            f"8-thread echo throughput {via_requests['echo_rate'] / plain['echo_rate']:.2f}x"
        )
    slow = results.get("sw-msgpack-slow")
    if slow:
        ratio = slow["echo_rate"] / slow["echo_rate_without"]
        lines.append(f"sw-msgpack: 8-thread echo throughput with 8 slow readers / without {ratio:.2f}x")
    for case, label in (("sw-msgpack-observed", "observed"), ("sw-msgpack-sampled", "observed 10%")):
        observed = results.get(case)
        if plain and observed:
            ratio = observed["echo_median"] / plain["echo_median"]
            lines.append(f"sw-msgpack {label} / sw-msgpack plain: echo median {ratio:.2f}x")
    if lines:
        print()
        print(
            "Targets: throughput vs gRPC >= 1.5, median vs gRPC <= 0.5, vs http floor <= 1.3, "
            "TLS <= 1.3, with slow readers >= 0.8, observed <= 1.15."
        )
        for line in lines:
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--client", nargs=3, metavar=("CASE", "PORT", "SERVER_PID"))
    parser.add_argument("--peers", action="store_true", help="also run the shared peers harness")
    parser.add_argument("--only", help="comma-separated case keys")
    parser.add_argument("--json", help="write raw results here")
    parser.add_argument("--baseline", metavar="REV", help="compare the client code with a git revision's")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per code with --baseline")
    arguments = parser.parse_args()
    if arguments.client:
        case, port, pid = arguments.client
        print(json.dumps(run_client(case, int(port), int(pid))))
        return
    if arguments.baseline:
        cases = arguments.only.split(",") if arguments.only else ["sw-json", "sw-msgpack", "sw-msgpack-tls"]
        run_baseline(arguments.baseline, cases, arguments.rounds)
        return
    cases = arguments.only.split(",") if arguments.only else list(CASES)
    results = {case: run_case(case) for case in cases}
    peers = run_peers() if arguments.peers else {}
    if arguments.json:
        Path(arguments.json).write_text(json.dumps({"ours": results, "peers": peers}, indent=1))
    print("CPU columns: ours per call over hello and echo; the peers' per echo call.\n")
    print(
        "| case | hello median µs | hello p99 | echo median µs | echo p99 | echo calls/s, 8 threads "
        "| client CPU µs/call | server CPU µs/call |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for case, row in results.items():
        print(
            f"| {CASES[case][1]} | {row['hello_median']:.0f} | {row['hello_p99']:.0f} | "
            f"{row['echo_median']:.0f} | {row['echo_p99']:.0f} | {row['echo_rate']:.0f} | "
            f"{row['cpu_client_us']:.0f} | {row['cpu_server_us']:.0f} |"
        )
    for key, row in peers.items():
        print(
            f"| {PEER_CASES[key]} (peers harness) | {row['hello_med']:.0f} | {row['hello_p99']:.0f} | "
            f"{row['echo_med']:.0f} | {row['echo_p99']:.0f} | {row['thr_rate']:.0f} | "
            f"{row['echo_cli_cpu']:.0f} | {row['echo_srv_cpu']:.0f} |"
        )
    print()
    print("Ratios in this run (target in brackets):")
    for ours, theirs in (("sw-json", "a1"), ("sw-msgpack", "a2")):
        if ours in results and theirs in peers:
            median_ratio = results[ours]["echo_median"] / float(peers[theirs]["echo_med"])
            rate_ratio = results[ours]["echo_rate"] / float(peers[theirs]["thr_rate"])
            print(
                f"- {ours} / aspyx {theirs}: echo median {median_ratio:.3f}x [<= 0.25], "
                f"8-thread echo throughput {rate_ratio:.1f}x [>= 4]"
            )
    print_targets(results, peers)
    if "sw-tcp" in results and "floor-tcp-msgpack" in results:
        tcp, floor = results["sw-tcp"], results["floor-tcp-msgpack"]
        for name in ("hello", "echo"):
            ratio = tcp[f"{name}_median"] / floor[f"{name}_median"]
            print(f"- sw-tcp / raw TCP msgpack floor: {name} median {ratio:.2f}x [<= 1.5]")
        ratio = floor["echo_rate"] / tcp["echo_rate"]
        print(f"- raw TCP msgpack floor / sw-tcp: 8-thread echo throughput {ratio:.2f}x [<= 1.5]")
        for key in ("b2", "d1"):
            if key in peers:
                print(
                    f"- sw-tcp / {PEER_CASES[key]}: echo median {tcp['echo_median'] / float(peers[key]['echo_med']):.2f}x"
                )


if __name__ == "__main__":
    main()
