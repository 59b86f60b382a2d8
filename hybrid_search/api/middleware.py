"""ASGI middleware of the sidecar: a request id on every response, and the body size limit.

Pure ASGI (no ``BaseHTTPMiddleware``) so it adds no task or thread per request.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hybrid_search.api.errors import PayloadTooLargeError, error_response

__all__ = ["RequestContextMiddleware"]

_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    """Tags each request with an id (``X-Request-ID``, kept from the caller when it is sane) and
    refuses bodies larger than ``max_body_bytes`` with ``413``, declared or streamed."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and _SAFE_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit() or int(declared) > self.max_body_bytes:
                await self._too_large(scope, receive, send_tagged, declared)
                return
            await self.app(scope, receive, send_tagged)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send_tagged)
            return
        # No Content-Length (chunked upload): read up to the limit before the app sees it.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(scope, receive, send_tagged, f"more than {size}")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send_tagged)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, size: str) -> None:
        msg = (
            f"request body: {size} bytes, at most {self.max_body_bytes} allowed "
            "(HYBRID_SEARCH_API__MAX_BODY_BYTES); send fewer documents per request"
        )
        response = error_response(
            PayloadTooLargeError.status,
            PayloadTooLargeError.type,
            msg,
            {"max_body_bytes": self.max_body_bytes},
            headers={"connection": "close"},
        )
        await response(scope, receive, send)
