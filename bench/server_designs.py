"""Two other ways to build the embedded server, for bench/server_design.py to measure (bench only).

Both serve the same frontend (routing, dispatcher, error envelope) as ``HttpServer`` and keep
every socket on one event loop, with worker threads computing the answers:

- ``asyncio``: an :class:`asyncio.Protocol` on the standard event loop, fed to the same
  :class:`~channels.http._protocol.RequestReader` as the embedded server (httptools), answers
  computed in a thread pool and written with ``transport.write``; reading pauses while a
  request is answered and writing is flow-controlled (``pause_writing``).
- ``uvicorn``: uvicorn (httptools, the asyncio loop) running an ASGI adapter of the frontend
  in process, answers computed in a thread pool.

Neither has the limits of the embedded server (time limits, connection caps): they are here
to measure what each design costs per call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

from channels.http._frontend import HttpFrontend
from channels.http._protocol import HttpDate, HttpRequest, Limits, RequestReader, encode_answer


def serve_asyncio(frontend: HttpFrontend, host: str, port: int, threads: int) -> Callable[[], None]:
    """Serve on an asyncio loop in a thread; return a function that stops it."""
    pool = concurrent.futures.ThreadPoolExecutor(threads)
    limits = Limits()
    date = HttpDate()
    loop = asyncio.new_event_loop()

    class Protocol(asyncio.Protocol):
        def __init__(self) -> None:
            self.transport: Any = None
            self.reader: RequestReader | None = None
            self.busy = False
            self.paused = False

        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            peer = transport.get_extra_info("peername")
            self.reader = RequestReader(limits, f"{peer[0]}:{peer[1]}")

        def data_received(self, data: bytes) -> None:
            assert self.reader is not None
            self.reader.feed(data)
            if self.reader.requests or self.reader.refusal is not None:
                self.transport.pause_reading()  # parse no further than the requests waiting
            self.advance()

        def advance(self) -> None:
            reader = self.reader
            assert reader is not None
            if self.busy or self.paused or self.transport.is_closing():
                return
            if reader.requests:
                request = reader.requests.popleft()
                self.busy = True
                future = loop.run_in_executor(pool, frontend.answer, request)
                future.add_done_callback(lambda done: self.answered(request, done))
            elif reader.refusal is not None:
                answer = frontend.refuse(reader.refusal.status, reader.refusal.message)
                self.transport.write(encode_answer(answer, date(), False, "1.1"))
                self.transport.close()

        def answered(self, request: HttpRequest, done: asyncio.Future[Any]) -> None:
            self.busy = False
            if self.transport.is_closing():
                return
            keep = request.keep_alive
            self.transport.write(encode_answer(done.result(), date(), keep, request.version))
            if not keep:
                self.transport.close()
                return
            self.advance()
            if not self.busy and not self.paused and not self.reader.requests:
                self.transport.resume_reading()

        def pause_writing(self) -> None:
            self.paused = True

        def resume_writing(self) -> None:
            self.paused = False
            self.advance()
            if not self.busy and not self.reader.requests:
                self.transport.resume_reading()

    started = threading.Event()
    stopped = asyncio.Event()

    async def main() -> None:
        server = await loop.create_server(Protocol, host, port, backlog=1024)
        started.set()
        async with server:
            await stopped.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait(10)

    def stop() -> None:
        loop.call_soon_threadsafe(stopped.set)
        thread.join(5)
        pool.shutdown(wait=False)

    return stop


def asgi_application(frontend: HttpFrontend, threads: int) -> Any:
    """Return an ASGI application answering with the frontend, answers computed in a thread pool."""
    pool = concurrent.futures.ThreadPoolExecutor(threads)

    async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        target = scope["raw_path"].decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        client = scope.get("client") or ("", 0)
        request = HttpRequest(
            scope["method"],
            target,
            headers,
            b"".join(chunks),
            peer=f"{client[0]}:{client[1]}",
            version=scope["http_version"],
        )
        answer = await asyncio.get_running_loop().run_in_executor(pool, frontend.answer, request)
        fields = [(b"content-length", str(len(answer.body)).encode())]
        if answer.content_type:
            fields.append((b"content-type", answer.content_type.encode("latin-1")))
        fields += [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in answer.headers]
        await send({"type": "http.response.start", "status": answer.status, "headers": fields})
        await send({"type": "http.response.body", "body": answer.body})

    return application


def serve_uvicorn(frontend: HttpFrontend, host: str, port: int, threads: int) -> Callable[[], None]:
    """Serve with uvicorn in a thread of this process; return a function that stops it."""
    import time

    import uvicorn

    config = uvicorn.Config(
        asgi_application(frontend, threads),
        host=host,
        port=port,
        http="httptools",
        loop="asyncio",
        lifespan="off",
        access_log=False,
        log_level="warning",
        backlog=1024,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(5)

    return stop
