"""One error type for the API: a status, a short code for programs, and a sentence for people."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}


def not_found(what: str = "No such item.") -> ApiError:
    # Another user's rows answer exactly like rows that do not exist.
    return ApiError(404, "not_found", what)
