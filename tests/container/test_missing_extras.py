"""A feature whose extra is not installed says how to install it, truthfully.

servicewire is not published, so ``pip install 'servicewire[jwt]'`` cannot work: the error
names the extra and the way that does (from the checkout, README: Installing). Each case runs
in its own Python process in which the extra's package cannot be imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
sys.modules[sys.argv[1]] = None  # as if the extra were not installed
from dependency_injector import providers
from container import ConfigurationException, ServiceContainer
config = providers.Object(json.loads(sys.argv[2]))
try:
    ServiceContainer(config=config).service_manager().create_dispatcher()
except ConfigurationException as exc:
    print(exc)
"""


@pytest.mark.parametrize(
    ("blocked", "config", "extra"),
    [
        ("jwt", {"auth": {"jwt": {"key": "secret", "algorithms": ["HS256"], "audience": "a"}}}, "jwt"),
        ("opentelemetry", {"observability": {"tracing": True}}, "otel"),
        ("prometheus_client", {"observability": {"metrics": True}}, "prometheus"),
    ],
    ids=["jwt", "otel", "prometheus"],
)
def test_a_missing_extra_names_the_install_from_the_checkout(blocked, config, extra):
    arguments = [blocked, json.dumps({"registry": {"type": "static"}, **config})]
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    message = result.stdout.strip()
    assert f"pip install '.[{extra}]'" in message, message
    assert "README: Installing" in message
    assert "servicewire[" not in message
