"""The dashboard: the HTTP server's route, its state from real instances, and the page in Chromium."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from channels.http import Dashboard, HttpServer
from container import ServiceClient
from container.testing import free_port

from .browser import Browser
from .cli_services import MainContainer, OpsService
from .processes import ServerProcess, python_module, wait_until

DOCS_PNG = "SERVICEWIRE_DASHBOARD_PNG"
"""Where the browser test also copies its screenshot (``make docs-screenshot``: docs/cli.png)."""


def boot(config: dict) -> HttpServer:
    server = HttpServer("127.0.0.1", 0)
    container = MainContainer()
    container.config.from_dict(config)
    server.boot(container)
    return server


@pytest.fixture
def ops_server() -> Iterator[HttpServer]:
    """An instance of the ops component that serves its metrics openly."""
    server = boot(
        {
            "registry": {"type": "static"},
            "observability": {"metrics": True},
            "auth": {"expose": {"metrics": "open", "dashboard": "open"}},
        }
    )
    yield server
    server.shutdown()


@pytest.mark.parametrize(
    ("expose", "status", "message"),
    [
        ({}, 404, "/dashboard is off (auth.expose.dashboard)"),
        (
            {"dashboard": "authenticated"},
            401,
            "/dashboard needs an authenticated caller and no authenticator is configured",
        ),
    ],
    ids=["off-by-default", "authenticated"],
)
def test_the_dashboard_route_follows_auth_expose(expose: dict, status: int, message: str):
    """Off unless auth.expose.dashboard turns it on; `authenticated` wants an authenticated caller."""
    server = boot({"registry": {"type": "static"}, "auth": {"expose": expose}})
    try:
        for path in ("/dashboard", "/dashboard/state"):
            answer = requests.get(f"http://127.0.0.1:{server.port}{path}", timeout=5)
            assert answer.status_code == status
            assert answer.json()["error"]["message"].startswith(message)
    finally:
        server.shutdown()


def test_the_page_and_its_state_are_served_when_open(ops_server: HttpServer):
    """The page is self-contained HTML; its state lists this instance with its health."""
    base = f"http://127.0.0.1:{ops_server.port}"
    page = requests.get(base + "/dashboard", timeout=5)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text  # nothing fetched from elsewhere
    state = requests.get(base + "/dashboard/state", timeout=10).json()
    [component] = state["components"]
    assert component["name"] == "ops-component"
    assert [(i["url"], i["health"]) for i in component["instances"]] == [(base, "OK")]


def test_state_shows_failovers_cool_downs_and_call_figures(ops_server: HttpServer):
    """A dead first URL: the call fails over, the URL cools down; the live one's calls are counted."""
    live, dead = f"http://127.0.0.1:{ops_server.port}", f"http://127.0.0.1:{free_port()}"
    config = {
        "registry": {"type": "static", "components": {"ops-component": {"dispatch-json": [dead, live]}}},
        "components": {"ops-component": {"selector": "first", "cooldown": 30}},
    }
    with ServiceClient(config) as client:
        dashboard = Dashboard(client.manager)
        try:
            ops = client.get_service(OpsService, "dispatch-json")
            assert ops.add(1, 2) == 3
            first = dashboard.state()
            by_url = {i["url"]: i for i in first["components"][0]["instances"]}
            assert by_url[dead]["health"] == "UNREACHABLE" and by_url[dead]["failovers"] == 1
            assert 0 < by_url[dead]["cooling_down"] <= 30
            assert by_url[live]["health"] == "OK" and by_url[live]["cooling_down"] == 0
            seen = sorted((e["kind"], e["url"]) for e in first["events"] if e["kind"] != "addresses")
            assert seen == [("cool-down", dead), ("failover", dead)]
            for number in range(20):
                ops.add(number, 1)
            time.sleep(0.6)  # past the dashboard's reuse of a state
            methods = dashboard.state()["metrics"]["methods"]
            served = next(m for m in methods if m["side"] == "server" and m["method"] == "add")
            assert served["component"] == "ops-component" and served["service"] == "ops-service"
            assert served["calls_per_second"] > 0 and served["error_rate"] == 0
            assert 0 < served["p50"] <= served["p90"] <= served["p99"]
        finally:
            dashboard.close()


def test_quantiles_interpolate_inside_buckets():
    """Half the calls under 10 ms and half under 20 ms: the median is the 10 ms bound."""
    from channels.http._dashboard import quantile

    buckets = [(0.01, 50.0), (0.02, 100.0), (float("inf"), 100.0)]
    assert quantile(0.5, buckets) == pytest.approx(0.01)
    assert quantile(0.75, buckets) == pytest.approx(0.015)
    assert quantile(0.5, [(0.01, 0.0), (float("inf"), 0.0)]) is None


# the page in a real browser


def test_the_dashboard_in_chromium_follows_the_instances(tmp_path: Path):
    """Instances appear, a health change shows, a killed instance disappears; screenshots are written."""
    config = tmp_path / "servicewire.json"
    config.write_text(
        json.dumps(
            {
                "registry": {"type": "file", "path": str(tmp_path / "registry.json"), "poll_interval": 0.05},
                "observability": {"metrics": True},
                "auth": {"expose": {"metrics": "open"}},
            }
        )
    )
    serve = [
        *python_module("channels.cli"),
        "serve",
        "tests.e2e.cli_services:MainContainer",
        "--config",
        str(config),
    ]
    health = [tmp_path / "health-0", tmp_path / "health-1"]
    for path in health:
        path.write_text("OK")
    servers = [ServerProcess(serve, env={"OPS_HEALTH_FILE": str(path)}) for path in health]
    dashboard = ServerProcess(
        [*python_module("channels.cli"), "dashboard", "--config", str(config), "--port", "0"]
    )
    browser = Browser(tmp_path / "chromium-profile")
    try:
        page = dashboard.url
        assert page.endswith("/dashboard")
        browser.open(page)
        rows = "document.querySelectorAll('tr.instance').length"
        assert browser.wait_for(f"{rows} === 2")
        urls = browser.evaluate(
            "[...document.querySelectorAll('tr.instance')].map(r => r.dataset.url).sort()"
        )
        assert urls == sorted(server.url for server in servers)
        with ServiceClient({"registry": json.loads(config.read_text())["registry"]}) as client:
            ops = client.get_service(OpsService)
            for number in range(30):
                ops.add(number, number)
        assert browser.wait_for("document.querySelectorAll('tr.method').length > 0")
        health[1].write_text("WARNING")
        changed = f"document.querySelector('tr.instance[data-url=\"{servers[1].url}\"]').dataset.health"
        assert browser.wait_for(f"{changed} === 'WARNING'")
        shot = browser.screenshot(tmp_path / "dashboard.png")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get(DOCS_PNG):
            shutil.copy(shot, os.environ[DOCS_PNG])
        servers[0].process.send_signal(signal.SIGKILL)
        servers[0].wait()
        assert browser.wait_for(f"{rows} === 1")
        remaining = browser.evaluate("document.querySelector('tr.instance').dataset.url")
        assert remaining == servers[1].url
        browser.screenshot(tmp_path / "dashboard-after-kill.png")
        assert wait_until(lambda: (tmp_path / "dashboard-after-kill.png").stat().st_size > 0)
    finally:
        browser.close()
        dashboard.terminate()
        for server in servers:
            server.kill()
