"""The HTTP side of a sync client: one method per endpoint, every failure one clear SyncError.

It takes any ``httpx.Client`` (a real one on a URL, or a test client on the ASGI app), so the
app, the tests and the benchmark speak to the server through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from .protocol import PROTOCOL_HEADER, PROTOCOL_VERSION, Change, Operation


class SyncError(Exception):
    """Sync failed; the message is one sentence a person can act on. Nothing local is lost."""


class AuthError(SyncError):
    """Wrong user name or password, or a token the server does not (or no longer) accept."""


class ThrottledError(SyncError):
    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class ProtocolMismatchError(SyncError):
    """The server speaks another protocol version: one of the two needs updating."""


class RejectedError(SyncError):
    """The server refused the request as it was (too large, malformed, clock too far ahead)."""


class ServerUnavailableError(SyncError):
    """The server did not answer, or failed; the request can be retried as it is."""


@dataclass(frozen=True)
class Login:
    token: str
    device_id: str
    user: str
    last_op_id: int


@dataclass(frozen=True)
class PushResult:
    accepted: int
    duplicates: int
    seq: int
    last_op_id: int


@dataclass(frozen=True)
class PullResult:
    changes: list[Change]
    cursor: int
    more: bool


class SyncClient:
    def __init__(self, http: httpx.Client, token: str | None = None):
        self.http = http
        self.token = token

    # -- accounts -----------------------------------------------------------------------------
    def version(self) -> dict[str, Any]:
        return self._call("GET", "/v1/version")

    def login(self, user: str, password: str, device_id: str, device_name: str = "") -> Login:
        data = self._call(
            "POST",
            "/v1/login",
            json={"user": user, "password": password, "device_id": device_id, "device_name": device_name},
        )
        self.token = data["token"]
        return Login(data["token"], data["device_id"], data["user"], data["last_op_id"])

    def logout(self) -> None:
        self._call("POST", "/v1/logout")
        self.token = None

    def devices(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/devices")["devices"]

    def revoke(self, device_id: str) -> None:
        self._call("DELETE", f"/v1/devices/{device_id}")

    # -- data ---------------------------------------------------------------------------------
    def push(self, ops: list[Operation]) -> PushResult:
        data = self._call("POST", "/v1/push", json={"ops": [op.to_json() for op in ops]})
        return PushResult(data["accepted"], data["duplicates"], data["seq"], data["last_op_id"])

    def pull(self, after: int, limit: int = 2000) -> PullResult:
        data = self._call("GET", "/v1/pull", params={"after": after, "limit": limit})
        return PullResult([Change.from_json(c) for c in data["changes"]], data["cursor"], data["more"])

    def seal_params(self) -> dict[str, Any] | None:
        return self._call("GET", "/v1/seal")["params"]

    def set_seal_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", "/v1/seal", json={"params": params})["params"]

    # -- one place for failures -----------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {PROTOCOL_HEADER: str(PROTOCOL_VERSION)}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self.http.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise ServerUnavailableError(
                "The sync server did not answer in time; your changes are kept and will be sent next time."
            ) from None
        except httpx.TransportError as err:
            raise ServerUnavailableError(
                f"Cannot reach the sync server ({type(err).__name__}); "
                "your changes are kept and will be sent next time."
            ) from None
        if response.status_code < 300:
            return response.json() if response.content else None
        raise _error_for(response)


def _error_for(response: httpx.Response) -> SyncError:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    if not isinstance(detail, str):
        detail = f"the sync server answered {response.status_code} {response.reason_phrase}"
    status = response.status_code
    if status == 401:
        return AuthError(detail)
    if status == 429:
        return ThrottledError(detail, float(response.headers.get("Retry-After", "60")))
    if status == 426:
        return ProtocolMismatchError(detail)
    if status >= 500:
        return ServerUnavailableError(
            f"The sync server failed ({status}); your changes are kept and will be sent next time."
        )
    return RejectedError(detail)
