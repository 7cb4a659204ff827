"""A loopback stand-in for the Hugging Face hub's file endpoint (set ``HF_ENDPOINT`` to ``base_url``).

Serves ``HEAD`` and ``GET /{repo}/resolve/{revision}/{filename}`` with the headers
huggingface_hub reads (``X-Repo-Commit``, ``ETag`` = the file's SHA-256 as for LFS
files, ``Content-Length``) and honours ``Range: bytes=N-`` so partial files resume.
Faults: ``drop_after`` cuts the first GET after that many bytes; ``corrupt`` serves
bytes that do not match the advertised SHA-256; ``delay`` slows every chunk.
"""

from __future__ import annotations

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, files: dict[str, bytes]):
        self.files = files  # "owner/name/filename" → content
        self.drop_after: int | None = None
        self.corrupt = False
        self.delay = 0.0
        self.chunk = 64 * 1024
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Range header
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def _lookup(self, path: str) -> bytes | None:
        parts = path.split("?")[0].strip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return None
        return self.files.get(f"{parts[0]}/{parts[1]}/{'/'.join(parts[4:])}")

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _headers(self, content: bytes, status: int, start: int = 0) -> None:
                self.send_response(status)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{hashlib.sha256(content).hexdigest()}"')
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(content) - start))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
                self.end_headers()

            def do_HEAD(self):
                hub.requests.append(("HEAD", self.path, None))
                content = hub._lookup(self.path)
                if content is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.end_headers()
                    return
                self._headers(content, 200)

            def do_GET(self):
                range_header = self.headers.get("Range")
                hub.requests.append(("GET", self.path, range_header))
                content = hub._lookup(self.path)
                if content is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = int(range_header.split("=")[1].split("-")[0]) if range_header else 0
                advertised = content
                body = bytes(b ^ 0xFF for b in content) if hub.corrupt else content
                self._headers(advertised, 206 if start else 200, start)
                sent = 0
                drop = hub.drop_after
                try:
                    for offset in range(start, len(body), hub.chunk):
                        piece = body[offset : offset + hub.chunk]
                        if drop is not None and sent + len(piece) > drop:
                            hub.drop_after = None  # only the first transfer is cut
                            self.wfile.write(piece[: max(0, drop - sent)])
                            self.wfile.flush()
                            self.close_connection = True
                            return
                        self.wfile.write(piece)
                        sent += len(piece)
                        if hub.delay:
                            time.sleep(hub.delay)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
