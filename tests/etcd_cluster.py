"""Real etcd servers for the tests: members on 127.0.0.1 ephemeral ports, temporary data."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

INSTALL_HINT = "etcd is not installed: apt-get install etcd-server (Debian) or put an etcd binary on PATH"


def etcd_binary() -> str:
    """Return the etcd binary; skip (locally) or fail (in CI) when there is none."""
    binary = shutil.which("etcd")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(INSTALL_HINT + " (CI must run the etcd tests; .ci/run installs it)")
        pytest.skip(INSTALL_HINT)
    return binary


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class EtcdMember:
    """One etcd process; restartable on the same ports and data directory."""

    def __init__(
        self, name: str, data_dir: Path, client_port: int, peer_port: int, initial_cluster: str
    ) -> None:
        self.name = name
        self.data_dir = data_dir
        self.client_port = client_port
        self.peer_port = peer_port
        self.initial_cluster = initial_cluster
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"{name}.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    def start(self) -> None:
        args = [
            etcd_binary(),
            "--name",
            self.name,
            "--data-dir",
            str(self.data_dir),
            "--listen-client-urls",
            self.endpoint,
            "--advertise-client-urls",
            self.endpoint,
            "--listen-peer-urls",
            f"http://127.0.0.1:{self.peer_port}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{self.peer_port}",
            "--initial-cluster",
            self.initial_cluster,
            "--initial-cluster-state",
            "new",
            "--initial-cluster-token",
            "servicewire-tests",
            "--logger",
            "zap",
            "--log-level",
            "error",
        ]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=log)

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.endpoint + "/health", timeout=1).json().get("health") == "true":
                    return
            except (requests.RequestException, ValueError):
                pass
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"etcd {self.name} exited:\n{self.log.read_text()}")
            time.sleep(0.1)
        raise AssertionError(f"etcd {self.name} not healthy after {timeout}s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.process = None


class EtcdCluster:
    """``size`` etcd members forming one cluster."""

    def __init__(self, root: Path, size: int = 1) -> None:
        ports = free_ports(2 * size)
        names = [f"m{i}" for i in range(size)]
        initial = ",".join(f"{n}=http://127.0.0.1:{ports[2 * i + 1]}" for i, n in enumerate(names))
        self.members = [
            EtcdMember(name, root / name, ports[2 * i], ports[2 * i + 1], initial)
            for i, name in enumerate(names)
        ]

    @property
    def endpoints(self) -> list[str]:
        return [m.endpoint for m in self.members]

    def start(self) -> EtcdCluster:
        for member in self.members:
            member.start()
        for member in self.members:
            member.wait_healthy()
        return self

    def stop(self) -> None:
        for member in self.members:
            member.stop()
