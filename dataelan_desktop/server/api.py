"""The HTTP and WebSocket endpoints. Every query is scoped by the signed-in user: another user's
rows and devices answer 404 exactly like ones that do not exist."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, WebSocket
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect, WebSocketState

from .. import __version__
from ..core.sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION, Operation
from ..core.sync.schema import TABLES
from . import accounts, store
from .accounts import Principal
from .errors import ApiError, not_found
from .tables import Device, User

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
BIG = 2**62


class ErrorOut(BaseModel):
    detail: str
    code: str


class VersionOut(BaseModel):
    protocol: int
    server: str


class LoginIn(BaseModel):
    user: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    device_id: str = Field(
        pattern=UUID_PATTERN, description="a UUID made on the device, kept for its lifetime"
    )
    device_name: str = Field("", max_length=200)


class LoginOut(BaseModel):
    token: str = Field(description="shown once; send it as `Authorization: Bearer …`")
    user: str
    device_id: str
    last_op_id: int = Field(description="the highest op id the server holds from this device")
    protocol: int


class MeOut(BaseModel):
    user: str
    device_id: str
    seq: int


class DeviceOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    last_seen_at: datetime | None
    revoked: bool
    current: bool


class DevicesOut(BaseModel):
    devices: list[DeviceOut]


class OpIn(BaseModel):
    op_id: int = Field(ge=1, le=BIG)
    table: str = Field(max_length=64)
    row_id: str = Field(max_length=36)
    kind: Literal["insert", "set"]
    field: str | None = Field(None, max_length=64)
    value: Any = None
    hlc: str = Field(max_length=64)


class PushIn(BaseModel):
    ops: list[OpIn]


class PushOut(BaseModel):
    accepted: int = Field(description="operations stored now")
    duplicates: int = Field(
        description="operations already stored by an earlier push (replays change nothing)"
    )
    seq: int
    last_op_id: int


class ChangeOut(BaseModel):
    seq: int
    table: str
    row_id: str
    kind: Literal["insert", "set"]
    field: str | None
    value: Any
    hlc: str


class PullOut(BaseModel):
    changes: list[ChangeOut]
    cursor: int = Field(description="pass as `after` next time; every change up to it has been sent")
    more: bool


class RegisterOut(BaseModel):
    value: Any
    hlc: str


class RowOut(BaseModel):
    table: str
    row_id: str
    fields: dict[str, Any] | None
    registers: dict[str, RegisterOut]


class SealParamsIn(BaseModel):
    kdf: Literal["argon2id"]
    salt: str = Field(pattern=r"^[A-Za-z0-9+/]{16,88}={0,2}$")
    opslimit: int = Field(ge=1, le=64)
    memlimit: int = Field(ge=8192, le=2**31)
    check: str = Field(pattern=r"^sealed:v1:[A-Za-z0-9_-]+={0,2}$", max_length=1000)


class SealIn(BaseModel):
    params: SealParamsIn


class SealOut(BaseModel):
    params: dict[str, Any] | None


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 404, 409, 413, 422, 426, 429)
}

bearer = HTTPBearer(auto_error=False, description="the token a device got from /v1/login")


def check_protocol(
    version: str | None = Header(None, alias=PROTOCOL_HEADER, description="the client's protocol version"),
) -> None:
    """A client of another protocol version gets one clear sentence (426), not a confusing failure."""
    if version is None or version == str(PROTOCOL_VERSION):
        return
    if not version.isdigit() or len(version) > 6:
        raise ApiError(400, "bad_protocol", f"{PROTOCOL_HEADER} must be a protocol number.")
    if int(version) > PROTOCOL_VERSION:
        raise ApiError(
            426,
            "protocol",
            f"This app speaks sync protocol {int(version)} and the server only protocol {PROTOCOL_VERSION}: "
            "update the server.",
        )
    raise ApiError(
        426,
        "protocol",
        f"The server speaks sync protocol {PROTOCOL_VERSION} and this app protocol {int(version)}: update the app.",
    )


def sync_state(request: Request):
    return request.app.state.sync


def principal(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    state = sync_state(request)
    with state.db.session() as session:
        return accounts.authenticate(session, creds.credentials if creds else None)


router = APIRouter(prefix="/v1", dependencies=[Depends(check_protocol)], responses=ERRORS)


@router.get("/version", response_model=VersionOut, tags=["server"])
def version() -> dict[str, Any]:
    """The protocol this server speaks; a client of another version says 'update' plainly."""
    return {"protocol": PROTOCOL_VERSION, "server": __version__}


@router.post("/login", response_model=LoginOut, tags=["accounts"])
def login(body: LoginIn, request: Request) -> dict[str, Any]:
    """Sign a device in with the user's password; returns that device's own token."""
    state = sync_state(request)
    name = _CONTROL.sub("", body.device_name).strip()
    ip = request.client.host if request.client else "unknown"
    token, device, user = accounts.login(
        state.db, state.settings, body.user, body.password, body.device_id, name, ip
    )
    return {
        "token": token,
        "user": user.name,
        "device_id": device.id,
        "last_op_id": device.last_op_id,
        "protocol": PROTOCOL_VERSION,
    }


@router.post("/logout", status_code=204, tags=["accounts"])
def logout(request: Request, who: Principal = Depends(principal)) -> Response:
    """Sign this device out: its token stops working at once, its WebSocket closes."""
    _revoke(request, who, who.device_id)
    return Response(status_code=204)


@router.get("/me", response_model=MeOut, tags=["accounts"])
def me(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    with sync_state(request).db.session() as session:
        return {
            "user": who.user_name,
            "device_id": who.device_id,
            "seq": store.current_seq(session, who.user_id),
        }


@router.get("/devices", response_model=DevicesOut, tags=["accounts"])
def devices(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    """This user's devices (never another user's)."""
    with sync_state(request).db.session() as session:
        rows = session.scalars(
            select(Device).where(Device.user_id == who.user_id).order_by(Device.created_at)
        ).all()
        return {
            "devices": [
                {
                    "id": d.id,
                    "name": d.name,
                    "created_at": d.created_at,
                    "last_seen_at": d.last_seen_at,
                    "revoked": d.revoked_at is not None,
                    "current": d.id == who.device_id,
                }
                for d in rows
            ]
        }


@router.delete("/devices/{device_id}", status_code=204, tags=["accounts"])
def revoke_device(
    request: Request, device_id: str = Path(max_length=36), who: Principal = Depends(principal)
) -> Response:
    """Revoke one of this user's devices: its token is refused at once, its WebSocket closed."""
    _revoke(request, who, device_id)
    return Response(status_code=204)


def _revoke(request: Request, who: Principal, device_id: str) -> None:
    state = sync_state(request)
    with state.db.session() as session:
        if accounts.revoke_device(session, who.user_id, device_id) is None:
            raise not_found("No such device.")
        state.notifier.emit(session, {"user": who.user_id, "revoked": device_id})


@router.post("/push", response_model=PushOut, tags=["sync"], responses=ERRORS)
def push(body: PushIn, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    """Store a batch of this device's operations, each exactly once (a replayed push changes nothing)."""
    state = sync_state(request)
    limit = state.settings.max_ops_per_push
    if len(body.ops) > limit:
        raise ApiError(413, "too_many_ops", f"A push holds at most {limit} operations; send smaller batches.")
    ops = [Operation(o.op_id, o.table, o.row_id, o.kind, o.field, o.value, o.hlc) for o in body.ops]
    store.check_ops(ops, who, state.settings)
    with state.db.session() as session:
        outcome = store.push(session, who, ops, state.settings)
        if outcome.accepted:
            state.notifier.emit(session, {"user": who.user_id, "seq": outcome.seq})
    return outcome.__dict__


@router.get("/pull", response_model=PullOut, tags=["sync"])
def pull(
    request: Request,
    after: int = Query(0, ge=0, le=BIG, description="the cursor from the previous pull (0: everything)"),
    limit: int = Query(2000, ge=1, le=5000),
    who: Principal = Depends(principal),
) -> Response:
    """This user's changes after ``after``, in order, at most ``limit``; current state, not history."""
    state = sync_state(request)
    with state.db.session() as session:
        changes, cursor, more = store.pull(session, who, after, limit)
        if state.settings.fault == "pause-pull" and after > 0:  # test hook: the kill test strikes here
            store.pause_for_fault("pull paused before answering")
    # Built here rather than validated through PullOut: a page of 5,000 changes is a first sync's
    # hot path, and these dicts are PullOut's shape by construction.
    body = {"changes": [c.to_json() for c in changes], "cursor": cursor, "more": more}
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")), media_type="application/json"
    )


@router.get("/rows/{table}/{row_id}", response_model=RowOut, tags=["sync"])
def read_row(
    request: Request,
    table: str = Path(max_length=64),
    row_id: str = Path(max_length=36),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """One row's current state on the server (404 for another user's row, as for a missing one)."""
    if table not in TABLES:
        raise not_found("No such table.")
    with sync_state(request).db.session() as session:
        row = store.read_row(session, who, table, row_id)
    if row is None:
        raise not_found("No such row.")
    return row


@router.get("/seal", response_model=SealOut, tags=["encryption"])
def get_seal(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    """The salt and check value of this user's sync passphrase (not secret); null if not encrypted."""
    with sync_state(request).db.session() as session:
        return {"params": session.get(User, who.user_id).seal_params}


@router.put("/seal", response_model=SealOut, tags=["encryption"])
def set_seal(body: SealIn, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    """Turn encryption on for this user, once; the first device's parameters stay (409 for others)."""
    with sync_state(request).db.session() as session:
        user = session.get(User, who.user_id, with_for_update=True)
        params = body.params.model_dump()
        if user.seal_params and user.seal_params != params:
            raise ApiError(
                409, "seal_set", "Encryption is already on for this account, with another passphrase."
            )
        user.seal_params = params
        return {"params": params}


# -- WebSocket: only "something changed, seq N"; the client then pulls ---------------------------
WS_REFUSED = 4401


@router.websocket("/ws")
async def notices(websocket: WebSocket) -> None:
    state = websocket.app.state.sync
    token = _bearer_token(websocket.headers.get("authorization"))
    await websocket.accept()
    who = await run_in_threadpool(_check_token, state, token)
    if isinstance(who, str):
        await websocket.close(code=WS_REFUSED, reason=who)
        return
    queue = state.hub.subscribe(who.user_id)
    receiver = asyncio.ensure_future(websocket.receive())
    try:
        seq = await run_in_threadpool(_seq, state, who.user_id)
        await websocket.send_json({"type": "hello", "seq": seq})
        while True:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait(
                {getter, receiver}, timeout=state.settings.ws_recheck_s, return_when=asyncio.FIRST_COMPLETED
            )
            if receiver in done:
                getter.cancel()
                if receiver.result().get("type") == "websocket.disconnect":
                    return
                receiver = asyncio.ensure_future(websocket.receive())  # clients need not talk; ignore it
                continue
            if getter not in done:  # quiet for a while: is the token still good? (revoked elsewhere)
                getter.cancel()
                reason = await run_in_threadpool(_check_token, state, token)
                if isinstance(reason, str):
                    await websocket.close(code=WS_REFUSED, reason=reason)
                    return
                continue
            notice = getter.result()
            if notice.get("revoked") == who.device_id:
                await websocket.close(code=WS_REFUSED, reason="This device's sign-in was revoked.")
                return
            if "seq" in notice:
                await websocket.send_json({"type": "changed", "seq": notice["seq"]})
            elif notice.get("recheck"):
                reason = await run_in_threadpool(_check_token, state, token)
                if isinstance(reason, str):
                    await websocket.close(code=WS_REFUSED, reason=reason)
                    return
                await websocket.send_json(
                    {"type": "changed", "seq": await run_in_threadpool(_seq, state, who.user_id)}
                )
    except WebSocketDisconnect:
        return
    finally:
        receiver.cancel()
        state.hub.unsubscribe(who.user_id, queue)
        if websocket.client_state == WebSocketState.CONNECTED:
            try:
                await websocket.close()
            except RuntimeError:
                pass


def _bearer_token(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def _check_token(state, token: str | None) -> Principal | str:
    try:
        with state.db.session() as session:
            return accounts.authenticate(session, token)
    except ApiError as err:
        return err.detail


def _seq(state, user_id: int) -> int:
    with state.db.session() as session:
        return store.current_seq(session, user_id)
