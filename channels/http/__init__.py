"""The HTTP channels ``dispatch-json`` and ``dispatch-msgpack``, and the HTTP server.

Client side: :class:`DispatchJsonChannel` and :class:`DispatchMsgpackChannel`, found through
the ``servicewire.channels`` entry points, whose :class:`HttpTransport` POSTs each call's bytes
through the client transport config chooses: :class:`PoolTransport` (the default) or
:class:`RequestsTransport` (``http.client: requests``). Server side:
:class:`ServiceApplication`, a WSGI application over the dispatcher (run it under any WSGI
server), :class:`AsgiApplication`, its ASGI twin (uvicorn, granian), and :class:`HttpServer`,
which serves them in process. Their config section ``http`` is
:class:`HttpSettings` (``http.tls``: :class:`TlsSettings`, ``http.components.<name>``:
:class:`HttpComponentSettings`), declared in the ``servicewire.settings`` entry-point group.
Operator tools read a server's own endpoints with :class:`HttpProbe`; :class:`Dashboard` is the
live page the server (or ``servicewire dashboard``) serves; :func:`describe_component` is what
``/describe`` answers.
"""

from ._asgi import AsgiApplication
from ._client import (
    DispatchJsonChannel,
    DispatchMsgpackChannel,
    HttpChannel,
    HttpTransport,
    customize_session,
    remove_session_customizer,
)
from ._dashboard import Dashboard
from ._describe import describe_component, describe_service
from ._pool_transport import PoolTransport
from ._probe import (
    HttpProbe,
    Instance,
    InstanceHealth,
    ProbeFailed,
    credential_headers,
    error_message,
    instances_of,
    probe_problem,
)
from ._requests_transport import RequestsTransport, SessionCustomizer
from ._server import HttpServer
from ._settings import HttpComponentSettings, HttpSettings, Timeouts, TlsSettings, timeouts_for
from ._wsgi import ServiceApplication

__all__ = [
    "AsgiApplication",
    "Dashboard",
    "DispatchJsonChannel",
    "DispatchMsgpackChannel",
    "HttpChannel",
    "HttpComponentSettings",
    "HttpProbe",
    "HttpServer",
    "HttpSettings",
    "HttpTransport",
    "Instance",
    "InstanceHealth",
    "PoolTransport",
    "ProbeFailed",
    "RequestsTransport",
    "ServiceApplication",
    "SessionCustomizer",
    "Timeouts",
    "TlsSettings",
    "credential_headers",
    "customize_session",
    "describe_component",
    "describe_service",
    "error_message",
    "instances_of",
    "probe_problem",
    "remove_session_customizer",
    "timeouts_for",
]
