"""Errors of the HTTP layer and the one body every failure answers with.

Every failure, from the Searcher, from FastAPI's own request validation or from the server,
answers ``{"error": {"type", "message", "detail"}}``; the status table lives in ``app.py``.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from hybrid_search.errors import HybridSearchError

__all__ = [
    "ApiError",
    "NotReadyError",
    "PayloadTooLargeError",
    "UnauthorizedError",
    "error_response",
]


class ApiError(HybridSearchError):
    """An error of the HTTP layer itself; carries its status and type."""

    status = 500
    type = "internal_error"

    def __init__(self, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.detail = detail


class UnauthorizedError(ApiError):
    """Missing or wrong API key."""

    status = 401
    type = "unauthorized"


class PayloadTooLargeError(ApiError):
    """The request body is larger than ``api.max_body_bytes``."""

    status = 413
    type = "payload_too_large"


class NotReadyError(ApiError):
    """The model is not loaded or the index is not open (``/readyz``)."""

    status = 503
    type = "not_ready"


def error_response(
    status: int,
    type_: str,
    message: str,
    detail: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The error contract as a response: ``{"error": {"type", "message", "detail"}}``."""
    body = {"error": {"type": type_, "message": message, "detail": detail}}
    return JSONResponse(body, status_code=status, headers=headers)
