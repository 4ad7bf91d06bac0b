"""The HTTP channels ``dispatch-json`` and ``dispatch-msgpack``, and the HTTP server.

Client side: :class:`DispatchJsonChannel` and :class:`DispatchMsgpackChannel`, whose
:class:`HttpTransport` POSTs each call's bytes, found through the ``servicewire.channels``
entry points. Server side: :class:`ServiceApplication`, a WSGI application over the dispatcher
(run it under any WSGI server), and :class:`HttpServer`, which serves it in process. Their
config section ``http`` is :class:`HttpSettings` (``http.tls``: :class:`TlsSettings`), declared
in the ``servicewire.settings`` entry-point group.
"""

from ._client import (
    DispatchJsonChannel,
    DispatchMsgpackChannel,
    HttpChannel,
    HttpTransport,
    SessionCustomizer,
    customize_session,
    remove_session_customizer,
)
from ._server import HttpServer
from ._settings import HttpSettings, Timeouts, TlsSettings, timeouts_for
from ._wsgi import ServiceApplication

__all__ = [
    "DispatchJsonChannel",
    "DispatchMsgpackChannel",
    "HttpChannel",
    "HttpServer",
    "HttpSettings",
    "HttpTransport",
    "ServiceApplication",
    "SessionCustomizer",
    "Timeouts",
    "TlsSettings",
    "customize_session",
    "remove_session_customizer",
    "timeouts_for",
]
