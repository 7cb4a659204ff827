"""A scriptable HTTP server on 127.0.0.1 for provider tests, in a background thread.

Each incoming POST takes the next :class:`Reply` from the script (or the default
reply). A reply is a status, headers, and a list of *chunks* written one by one with
an optional delay; special chunks drop the connection or stall. Every request is
logged (path, headers, JSON body) so tests assert what the SDK really sent.

    server = ScriptedServer(openai_routes)   # see fake_openai.py / fake_anthropic.py
    server.start(); ...; server.stop()
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DROP = object()  # close the socket abruptly at this point
STALL = object()  # stop writing (until the client gives up or the test ends)


@dataclass(frozen=True)
class Pause:
    """A chunk that writes nothing: the server is silent this long (a reply that comes in bursts)."""

    seconds: float


@dataclass
class Reply:
    status: int = 200
    chunks: list[Any] = field(default_factory=list)  # bytes, DROP, STALL or a Pause
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds between chunks
    first_delay: float = 0.0  # seconds before the first chunk (time to first token)
    content_type: str = "text/event-stream"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any
    disconnected: threading.Event = field(default_factory=threading.Event)


class ScriptedServer:
    def __init__(self, get_routes: dict[str, Callable[[], Reply]] | None = None):
        self.get_routes = get_routes or {}
        self.script: deque[Reply | Callable[[Request], Reply]] = deque()
        self.default: Reply | Callable[[Request], Reply] | None = None
        self.requests: list[Request] = []
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def push(self, *replies: Reply | Callable[[Request], Reply]) -> None:
        self.script.extend(replies)

    def posts(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST"]

    def start(self, port: int = 0) -> ScriptedServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                request = Request("GET", self.path, {k.lower(): v for k, v in self.headers.items()}, None)
                server.requests.append(request)
                route = server.get_routes.get(self.path.split("?")[0])
                reply = (
                    route()
                    if route
                    else Reply(404, [b'{"error": {"message": "not found"}}'], content_type="application/json")
                )
                server._send(self, reply, request)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                request = Request("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                server.requests.append(request)
                reply = server.script.popleft() if server.script else server.default
                if reply is None:
                    reply = Reply(
                        500, [b'{"error": {"message": "no scripted reply"}}'], content_type="application/json"
                    )
                if callable(reply):
                    reply = reply(request)
                server._send(self, reply, request)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def _send(self, handler: BaseHTTPRequestHandler, reply: Reply, request: Request) -> None:
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            for key, value in reply.headers.items():
                handler.send_header(key, value)
            streaming = reply.content_type == "text/event-stream"
            if streaming:
                handler.send_header("Transfer-Encoding", "chunked")
                handler.send_header("Cache-Control", "no-cache")
            else:
                body = b"".join(c for c in reply.chunks if isinstance(c, bytes))
                handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            if not streaming:
                handler.wfile.write(body)
                handler.wfile.flush()
                return
            if reply.first_delay:
                self._sleep(reply.first_delay)
            for chunk in reply.chunks:
                if chunk is DROP:
                    handler.wfile.flush()
                    handler.connection.shutdown(socket.SHUT_RDWR)
                    handler.close_connection = True
                    return
                if isinstance(chunk, Pause):
                    self._sleep(chunk.seconds)
                    continue
                if chunk is STALL:
                    self._sleep(3600, until_disconnect=handler)
                    request.disconnected.set()
                    handler.close_connection = True
                    return
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                handler.wfile.flush()
                if reply.delay:
                    self._sleep(reply.delay)
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            request.disconnected.set()
            handler.close_connection = True

    def _sleep(self, seconds: float, until_disconnect: BaseHTTPRequestHandler | None = None) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._stop.is_set():
            if until_disconnect is not None and _peer_closed(until_disconnect.connection):
                return
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _peer_closed(sock: socket.socket) -> bool:
    try:
        sock.setblocking(False)
        try:
            data = sock.recv(1, socket.MSG_PEEK)
        finally:
            sock.setblocking(True)
        return data == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event, framed exactly as providers send it."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {payload}\n\n".encode()
