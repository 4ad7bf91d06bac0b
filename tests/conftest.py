"""Fixtures shared by every test folder: real etcd servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .etcd_cluster import EtcdCluster


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[EtcdCluster]:
    """A one-member etcd on 127.0.0.1 ephemeral ports with a temporary data directory."""
    cluster = EtcdCluster(tmp_path / "etcd", 1).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def etcd3(tmp_path: Path) -> Iterator[EtcdCluster]:
    """A three-member etcd cluster on one machine."""
    cluster = EtcdCluster(tmp_path / "etcd3", 3).start()
    yield cluster
    cluster.stop()
