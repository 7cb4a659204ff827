"""The FastAPI application: its state (database, hub, notifier), limits and error handling.

Every error leaves as ``{"detail": one sentence, "code": ...}``; nothing answers with a
traceback. Unexpected failures are logged (the log never holds tokens or passwords: they travel
in headers and bodies, which are not logged) and answered 500 with a plain sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..core.sync.protocol import PROTOCOL_VERSION
from . import api
from .db import Database
from .errors import ApiError
from .notify import Hub, Notifier, listen
from .settings import ServerSettings

log = logging.getLogger("dataelan.server")


@dataclass
class SyncState:
    settings: ServerSettings
    db: Database
    hub: Hub
    notifier: Notifier


def create_app(settings: ServerSettings, migrate: bool = True) -> FastAPI:
    db = Database(settings.database_url)
    if migrate:
        db.migrate()
    hub = Hub()
    state = SyncState(settings, db, hub, Notifier(hub, db.is_postgres))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        hub.bind(asyncio.get_running_loop())
        stop = asyncio.Event()
        listener = None
        if db.is_postgres:
            conninfo = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            listener = asyncio.create_task(listen(conninfo, hub, stop))
        try:
            yield
        finally:
            stop.set()
            if listener:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await listener
            db.close()

    app = FastAPI(
        title="Dataelan sync server",
        version=__version__,
        description=f"Merge-based sync for Dataelan Desktop, protocol {PROTOCOL_VERSION}. See docs/SYNC.md.",
        lifespan=lifespan,
    )
    app.state.sync = state
    app.include_router(api.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_push_bytes)
    _error_handlers(app)
    return app


def create_app_from_env() -> FastAPI:
    """For uvicorn's workers (``factory=True``): settings come from DATAELAN_SERVER_* variables."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return create_app(ServerSettings.from_env())


def _error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, err: ApiError):
        return _error(err.status, err.code, err.detail, err.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, err: RequestValidationError):
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        what = str(first.get("msg", "is not valid")).rstrip(".")
        return _error(422, "malformed", f"The request is malformed: {where or 'body'}: {what}.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, err: StarletteHTTPException):
        detail = err.detail if isinstance(err.detail, str) else "The request was refused."
        return _error(err.status_code, "http", detail, getattr(err, "headers", None))

    @app.exception_handler(DataError)
    async def bad_value(_request: Request, _err: DataError):
        return _error(
            422, "bad_value", "The server cannot store a value in this request (not valid text or JSON)."
        )

    @app.exception_handler(OperationalError)
    async def database_down(_request: Request, err: OperationalError):
        log.error("database unavailable: %s", type(err.orig).__name__ if err.orig else err)
        return _error(
            503,
            "unavailable",
            "The sync server's database is unavailable; try again shortly.",
            {"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, err: Exception):
        log.error("unexpected failure: %s", type(err).__name__, exc_info=err)
        return _error(500, "internal", "The sync server failed on this request; it was not applied.")


class BodyLimit:
    """Refuse (413) any request body larger than the limit, whether or not it states its length.

    The body is read here, up to the limit, and replayed to the app, so the refusal is a clean
    answer rather than an error raised while the endpoint reads.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await self._refuse(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await self._refuse(scope, receive, send)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _refuse(self, scope, receive, send):
        response = _error(
            413,
            "too_large",
            f"This request is larger than the server accepts ({self.max_bytes // (1024 * 1024)} MiB); "
            "send smaller batches.",
        )
        await response(scope, receive, send)
