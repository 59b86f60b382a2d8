"""A client wrapper for tests: every body the backend sends is validated against the spec."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hybrid_search.backends.opensearch.client import Request
from hybrid_search.backends.opensearch.spec import SpecValidator

__all__ = ["Validating", "body_kind"]


def body_kind(request: Request) -> str | None:
    """The spec body kind of a request the backend sends (None: no body, or not modelled)."""
    path = request.path
    if request.body is None:
        return None
    if path.startswith("/_index_template/"):
        return "index_template"
    if path.startswith("/_search/pipeline/"):
        return "search_pipeline"
    if path.startswith("/_scripts/"):
        return "script"
    if path.endswith("/_msearch"):
        return "msearch"
    if path.endswith("/_bulk"):
        return "bulk"
    if path.endswith("/_search"):
        return "search"
    if request.method == "PUT" and path.count("/") == 1:
        return "create_index"
    return None  # _mget, _aliases, _doc: small bodies outside the validated kinds


class Validating:
    """Wraps a client: every body it sends is validated against the spec first (when a
    validator is given), and passed to ``guard(method, path, body)``, which may raise."""

    def __init__(
        self,
        client: Any,
        validator: SpecValidator | None,
        *,
        guard: Callable[[str, str, Any], None] | None = None,
    ) -> None:
        self._client = client
        self._validator = validator
        self._guard = guard
        self.kinds: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def send(self, request: Request, **kwargs: Any) -> Any:
        if self._guard is not None:
            self._guard(request.method, request.path, request.body)
        kind = body_kind(request)
        if kind is not None and self._validator is not None:
            errors = self._validator.validate(kind, request.body)
            assert errors == [], f"{request.method} {request.path} ({kind}): {errors}"
            self.kinds.append(kind)
        return self._client.send(request, **kwargs)
