"""Request and response bodies of the HTTP API (beside ``SearchRequest``/``SearchResponse``).

The search bodies are the Searcher's own models, so the API, the CLI and Python callers accept
exactly the same fields with the same bounds.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DeleteResponse",
    "DocumentResponse",
    "DocumentsRequest",
    "DocumentsResponse",
    "ErrorBody",
    "ErrorResponse",
    "HealthResponse",
    "InfoResponse",
    "ItemResult",
    "ReadyResponse",
]


class ErrorBody(BaseModel):
    """What went wrong: a stable ``type``, a message naming field, value and what is allowed."""

    type: str = Field(..., examples=["invalid_request"])
    message: str = Field(..., examples=["field 'k': 0 is invalid: Input should be >= 1"])
    detail: Any = None


class ErrorResponse(BaseModel):
    """Every failure answers with this body."""

    error: ErrorBody


class DocumentsRequest(BaseModel):
    """A bulk upsert: documents whose fields follow the index template (an id re-used replaces)."""

    model_config = ConfigDict(extra="forbid")

    documents: list[Any] = Field(..., description="one JSON object per document")


class ItemResult(BaseModel):
    """The fate of one document of a bulk upsert, in request order."""

    index: int | None = Field(..., description="position in the request")
    id: str | None
    status: Literal["indexed", "failed"]
    reason: str | None = None


class DocumentsResponse(BaseModel):
    """Per-item report of a bulk upsert: every document is indexed or failed with its reason."""

    errors: bool
    indexed: int
    failed: int
    items: list[ItemResult]


class DocumentResponse(BaseModel):
    """One stored document."""

    id: str
    source: dict[str, Any]


class DeleteResponse(BaseModel):
    """A deleted document."""

    id: str
    deleted: bool


class HealthResponse(BaseModel):
    """Liveness: the process answers; the backend's own health is reported beside it."""

    status: Literal["ok"]
    backend: dict[str, Any]


class ReadyResponse(BaseModel):
    """Readiness: the model is loaded and the index is open."""

    status: Literal["ready"]
    checks: dict[str, Any]


class InfoResponse(BaseModel):
    """What the playground (or a storefront) needs to build its controls."""

    backend: str
    documents: int | None
    template: str
    id_field: str
    embedder: str | None
    filters: list[dict[str, Any]] = Field(
        ...,
        description="filterable fields: field, kind and, for keyword fields, the most frequent "
        "values (values: [{value, count}], values_more: more values exist than listed)",
    )
    filter_values: dict[str, Any] = Field(
        default_factory=dict,
        description="how the values were counted: documents counted, complete (False: a sample)",
    )
    defaults: dict[str, Any]
    limits: dict[str, int]
    bounds: dict[str, list[float | None]]
