"""The seed's acceptance scenarios over both HTTP channels and every client, on a real server.

``[asyncio]`` runs each case through the ``async def`` mirror of wire-test, awaited.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from decimal import Decimal

import pytest
import requests

from channels.http import HttpTransport, customize_session, remove_session_customizer
from container import (
    ConfigurationException,
    RemoteServiceException,
    ServiceTimeoutException,
    ServiceUnavailableException,
)

from .conftest import SYNC_TRANSPORTS, client_manager, wire, wire_names
from .services import Account, Color, InsufficientFunds, WireService, make_payload

CHANNELS = ["dispatch-json", "dispatch-msgpack"]


@pytest.fixture(params=CHANNELS)
def proxy(request, base_url, transport):
    manager = client_manager(base_url, transport)
    yield wire(manager, transport, request.param)
    manager.close()


@pytest.mark.parametrize("transport", SYNC_TRANSPORTS)
def test_proxy_is_remote(proxy):
    """The proxy is a proxy of the chosen channel, not the implementation."""
    assert type(proxy).__name__ == "WireServiceProxy"


def test_string_round_trip(proxy):
    """A string comes back unchanged, unicode included."""
    assert proxy.hello("hello wörld ✓") == "hello wörld ✓"


def test_recursive_payload_round_trip(proxy):
    """The 41-node recursive dataclass comes back equal."""
    payload = make_payload()
    assert proxy.echo(payload) == payload


def test_attrs_enum_uuid_decimal_datetime_optional_set(proxy):
    """attrs classes, Enum, UUID, Decimal, datetime, Optional, set and recursion survive."""
    parent = Account(uuid.uuid4(), "root", Decimal("1.10"), dt.datetime(2026, 1, 2, 3, 4, 5), Color.RED)
    account = Account(
        uuid.uuid4(),
        "ann",
        Decimal("10.25"),
        dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.timezone.utc),
        Color.GREEN,
        nickname=None,
        tags={"a", "b"},
        parent=parent,
    )
    result = proxy.account(account, bonus=Decimal("0.75"))
    assert result == Account(
        account.id, "ann", Decimal("11.00"), account.opened, Color.GREEN, None, {"a", "b"}, parent
    )
    assert isinstance(result.balance, Decimal) and isinstance(result.id, uuid.UUID)


def test_date_time_tuple_of_uuids(proxy):
    """date, time and tuples of UUIDs are decoded by the parameter types."""
    ids = (uuid.UUID(int=1), uuid.UUID(int=2))
    assert proxy.when(dt.date(2026, 2, 3), dt.time(4, 5, 6), ids) == {
        "day": "2026-02-03",
        "at": "04:05:06",
        "ids": f"{ids[0]},{ids[1]}",
    }


def test_known_service_exception_is_raised_as_itself(proxy):
    """A ServiceException subclass both sides know is raised again as itself."""
    with pytest.raises(InsufficientFunds, match="cannot withdraw 5"):
        proxy.withdraw(5)


def test_other_exception_becomes_remote_service_exception(proxy):
    """Any other exception is a RemoteServiceException with the remote type and an error id."""
    with pytest.raises(RemoteServiceException) as info:
        proxy.crash()
    assert info.value.remote_type == "builtins.ValueError"
    assert info.value.remote_message == (
        f"internal error; the server logged it with error id {info.value.error_id}"
    )
    assert info.value.status == 500


def test_eight_threads_share_one_proxy(proxy):
    """Eight threads calling one proxy each get their own answers back."""
    errors: list[str] = []

    def work(n: int) -> None:
        for i in range(40):
            message = f"thread-{n}-call-{i}"
            answer = proxy.hello(message)
            if answer != message:
                errors.append(f"{message} -> {answer}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def test_wrong_argument_type_is_refused_by_the_server(base_url, transport):
    """A value that does not fit the declared type is refused with the field path."""
    manager = client_manager(base_url, transport)
    proxy = wire(manager, transport, "dispatch-json")
    payload = make_payload()
    payload.children[0].int_attr = "not an int"  # type: ignore[assignment]
    with pytest.raises(RemoteServiceException) as info:
        proxy.echo(payload)
    assert info.value.status == 400 and info.value.kind == "wrong-type"
    assert info.value.remote_message.startswith(
        "argument 'data': value does not fit the declared type at `data.children[0].int_attr`"
    )
    manager.close()


def test_method_timeout_is_the_deadline_and_names_url(base_url, transport):
    """A method's configured timeout bounds the call: ServiceTimeoutException names URL and limit."""
    component, service = wire_names(transport)
    manager = client_manager(
        base_url,
        transport,
        components={component: {"methods": {f"{service}.sleep": {"read_timeout": 0.2}}}},
    )
    proxy = wire(manager, transport)
    with pytest.raises(ServiceTimeoutException) as info:
        proxy.sleep(1.0)
    assert info.value.limit == "deadline" and info.value.seconds == 0.2
    expected = f"{base_url}/invoke/{component}/{service}/sleep"
    if transport == "asyncio":
        # The core's deadline timer ends an awaited call before the transport's: it names the
        # instance's URL, not the method's (container/client/_plan.py, _attempt_async).
        assert info.value.url in (expected, base_url)
    else:
        assert info.value.url == expected
    assert proxy.hello("still works") == "still works"  # other methods keep the default
    manager.close()


def test_dead_server_is_service_unavailable(transport):
    """A URL where nothing listens raises ServiceUnavailableException naming it; nothing was sent."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    manager = client_manager(f"http://127.0.0.1:{port}", transport)
    proxy = wire(manager, transport, "dispatch-json")
    with pytest.raises(ServiceUnavailableException) as info:
        proxy.hello("anyone?")
    assert f"127.0.0.1:{port}" in info.value.url and info.value.sent is False
    manager.close()


SEEN_AUTHORIZATION: list[str] = []


def bearer(session: requests.Session, component: str) -> None:
    """A session customizer: a header, and a response hook recording what was sent."""
    session.headers["Authorization"] = f"Bearer token-for-{component}"
    session.hooks["response"].append(
        lambda response, **_: SEEN_AUTHORIZATION.append(response.request.headers["Authorization"])
    )


def test_session_customizers_belong_to_a_container(base_url):
    """A customizer named in one container's config adjusts its sessions, not another's."""
    SEEN_AUTHORIZATION.clear()
    customized = client_manager(base_url, "requests", http={"session_customizers": [f"{__name__}:bearer"]})
    plain = client_manager(base_url, "requests")
    try:
        assert customized.get_service(WireService, "dispatch-json").hello("with token") == "with token"
        assert plain.get_service(WireService, "dispatch-json").hello("without") == "without"
    finally:
        customized.close()
        plain.close()
    assert SEEN_AUTHORIZATION == ["Bearer token-for-wire-component"]


def test_session_customizers_given_in_code(base_url):
    """The "http.session_customizers" extension takes functions given in code (requests client)."""
    from dependency_injector import providers

    from container import ServiceContainer

    SEEN_AUTHORIZATION.clear()
    config = {
        "registry": {"type": "static", "components": {"wire-component": {"dispatch-json": [base_url]}}},
        "http": {"client": "requests"},
    }
    container = ServiceContainer(
        config=providers.Object(config), extensions=providers.Dict({"http.session_customizers": [bearer]})
    )
    manager = container.service_manager()
    try:
        assert manager.get_service(WireService, "dispatch-json").hello("code") == "code"
    finally:
        manager.close()
    assert SEEN_AUTHORIZATION == ["Bearer token-for-wire-component"]


def test_session_customizers_while_the_pool_is_chosen_are_refused_at_boot(base_url, implementation):
    """The pool has no session: customizing one is a ConfigurationException, never a silent switch.

    From config, when the container's manager is made; given in code, at the channel's first
    call, before anything is sent.
    """
    from dependency_injector import providers

    from container import ServiceContainer

    with pytest.raises(ConfigurationException, match=r"http\.session_customizers adjusts requests sessions"):
        client_manager(base_url, http={"session_customizers": [f"{__name__}:bearer"]})
    with pytest.raises(ConfigurationException, match="set http.client: requests"):
        client_manager(base_url, http={"trust_env": True})
    config = {"registry": {"type": "static", "components": {"wire-component": {"dispatch-json": [base_url]}}}}
    container = ServiceContainer(
        config=providers.Object(config), extensions=providers.Dict({"http.session_customizers": [bearer]})
    )
    manager = container.service_manager()
    before = list(implementation.executed)
    try:
        proxy = manager.get_service(WireService, "dispatch-json")
        with pytest.raises(ConfigurationException, match='the extension "http.session_customizers" adjusts'):
            proxy.hello("never sent")
    finally:
        manager.close()
    assert implementation.executed == before


class SessionMaker(HttpTransport):
    """A transport that makes its sessions itself (full control over the requests client)."""

    def create_session(self, component: str) -> requests.Session:
        session = super().create_session(component)
        session.headers["Authorization"] = "Bearer made-by-subclass"
        return session


def test_a_transport_subclass_that_makes_sessions_needs_the_requests_client(base_url):
    """Overriding create_session works with http.client: requests, and is refused with the pool."""
    from container import ServiceManager

    for transport in ("requests", "pool"):
        manager: ServiceManager = client_manager(base_url, transport)
        try:
            if transport == "pool":
                with pytest.raises(
                    ConfigurationException, match=r"SessionMaker\.create_session \(overridden\)"
                ):
                    SessionMaker(manager.settings)
            else:
                made = SessionMaker(manager.settings)
                assert (
                    made.create_session("wire-component").headers["Authorization"]
                    == "Bearer made-by-subclass"
                )
                made.close()
        finally:
            manager.close()


def test_customize_session_is_removed_and_says_what_to_use():
    """The process-wide customize_session of 0.1 raises, naming the per-container ways instead."""
    with pytest.raises(ConfigurationException) as info:
        customize_session(bearer)
    message = str(info.value)
    assert "removed" in message and "http.headers" in message and "auth.credentials" in message
    assert "http.client: requests" in message and "http.session_customizers" in message
    with pytest.raises(ConfigurationException, match="removed"):
        remove_session_customizer(bearer)


def test_bad_timeout_config_is_refused(base_url):
    """A timeout that is not a number is refused when the manager is created, naming the key."""
    from container import ConfigurationException

    with pytest.raises(ConfigurationException, match="^config key 'http.read_timeout' has an invalid value"):
        client_manager(base_url, http={"read_timeout": "soon"})


def test_an_argument_the_codec_cannot_carry_is_refused_before_sending(base_url, implementation):
    """A 70-bit integer has no MessagePack form: SerializationException, and nothing ran."""
    from container import SerializationException

    before = list(implementation.executed)
    manager = client_manager(base_url)
    try:
        with pytest.raises(SerializationException, match="cannot encode the arguments of .*hello"):
            manager.get_service(WireService, "dispatch-msgpack").hello(2**70)
    finally:
        manager.close()
    assert implementation.executed == before


def test_a_client_that_imports_implementations_still_calls_remotely(base_url):
    """WireServiceImpl is imported in this process; a ServiceClient still goes over HTTP."""
    config = {"registry": {"type": "static", "components": {"wire-component": {"dispatch-json": [base_url]}}}}
    from container import ServiceClient, channel_of

    from .services import WireServiceImpl

    with ServiceClient(config) as client:
        wire = client.get_service(WireService)
        assert not isinstance(wire, WireServiceImpl)
        assert wire.hello("over the wire") == "over the wire"
        assert channel_of(wire).name == "dispatch-json"
