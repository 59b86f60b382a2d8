"""The versioned routes: thin wrappers over the Searcher and the ingest path.

Routes that search, embed or touch the index are plain ``def``: FastAPI runs them in its
threadpool, so CPU-bound work never blocks the event loop. Key checks are ``async`` (no I/O) and
run before the body is read (``_KeyedRoute``): a caller without the key learns that first, not
that its JSON is malformed.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.responses import Response

from hybrid_search.api.deps import (
    FilterValuesDep,
    ModelLoad,
    ModelLoadDep,
    ObserverDep,
    SearcherDep,
    SettingsDep,
    get_settings,
)
from hybrid_search.api.errors import NotReadyError, UnauthorizedError
from hybrid_search.api.schemas import (
    DeleteResponse,
    DocumentResponse,
    DocumentsRequest,
    DocumentsResponse,
    ErrorResponse,
    HealthResponse,
    InfoResponse,
    ItemResult,
    ReadyResponse,
)
from hybrid_search.errors import HybridSearchError, IndexNotFoundError, InvalidRequestError
from hybrid_search.hits import IngestReport
from hybrid_search.searcher import CommercialOverrides, Searcher, SearchRequest, SearchResponse

__all__ = ["router"]

_KEY_HELP = (
    "With HYBRID_SEARCH_API__API_KEY set, writes need the key; reads too with "
    "HYBRID_SEARCH_API__READ_REQUIRES_KEY=true. Either scheme will do."
)
# Declared for OpenAPI (/docs shows them and its Authorize button); the check is _check_key's.
_BEARER = HTTPBearer(
    scheme_name="bearer", description=f"Authorization: Bearer <key>. {_KEY_HELP}", auto_error=False
)
_API_KEY = APIKeyHeader(
    name="X-API-Key",
    scheme_name="api_key",
    description=f"X-API-Key: <key>. {_KEY_HELP}",
    auto_error=False,
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "bad input: field, value and what is allowed"},
    401: {"model": ErrorResponse, "description": "missing or wrong API key"},
    404: {"model": ErrorResponse, "description": "no such document or index"},
    413: {"model": ErrorResponse, "description": "request body too large"},
    503: {"model": ErrorResponse, "description": "backend or model unavailable"},
}
DocId = Annotated[str, Path(min_length=1, max_length=512, description="the document id")]


def _check_key(request: Request, *, write: bool) -> None:
    api = get_settings(request).api
    if api.api_key is None or not (write or api.read_requires_key):
        return
    auth = request.headers.get("authorization", "")
    given = auth[7:].strip() if auth[:7].lower() == "bearer " else request.headers.get("x-api-key")
    expected = api.api_key.get_secret_value().encode()
    if given is None or not hmac.compare_digest(given.encode(), expected):
        what = "writes" if write else "reads"
        msg = (
            f"{what} need the API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            + ("" if given is None else " (the key sent is wrong)")
        )
        raise UnauthorizedError(msg)


async def require_read(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
    _api_key: Annotated[str | None, Security(_API_KEY)] = None,
) -> None:
    """Reads are open unless ``api.read_requires_key``.

    Declares the schemes for OpenAPI and marks the route; ``_KeyedRoute`` checks the key, once,
    before the body is parsed.
    """


async def require_write(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
    _api_key: Annotated[str | None, Security(_API_KEY)] = None,
) -> None:
    """Writes need the key whenever one is configured (checked by ``_KeyedRoute``)."""


class _KeyedRoute(APIRoute):
    """Checks the key before FastAPI reads and parses the body (its dependencies run after)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        calls = {dep.dependency for dep in self.dependencies}
        write = require_write in calls
        if not write and require_read not in calls:
            return handler

        async def keyed(request: Request) -> Response:
            _check_key(request, write=write)
            return await handler(request)

        return keyed


router = APIRouter(route_class=_KeyedRoute)

Read = [Depends(require_read)]
Write = [Depends(require_write)]


@router.post("/v1/search", response_model=SearchResponse, dependencies=Read, responses=_ERRORS)
def search(
    body: SearchRequest, request: Request, searcher: SearcherDep, observer: ObserverDep
) -> SearchResponse:
    """Hybrid search: legs, confidence gate, fusion, commercial stage, per-hit breakdown."""
    start = time.perf_counter()
    response = searcher.search(body)
    observer.searched(
        response,
        seconds=time.perf_counter() - start,
        route="/v1/search",
        searcher=searcher,
        query=body.query,
        filters=body.filters,
        mode=body.mode,
        request_id=getattr(request.state, "request_id", None),
    )
    return response


@router.get(
    "/v1/similar/{doc_id:path}",
    response_model=SearchResponse,
    dependencies=Read,
    responses=_ERRORS,
)
def similar(
    doc_id: DocId,
    searcher: SearcherDep,
    observer: ObserverDep,
    k: Annotated[int | None, Query(ge=1, description="hits to return")] = None,
    filters: Annotated[
        str | None, Query(description='a JSON object, e.g. {"in_stock": true}')
    ] = None,
    blocks: Annotated[
        str | None,
        Query(
            description="with vector_blocks in the template: compare only these blocks, "
            "comma-separated (e.g. text); default every block"
        ),
    ] = None,
) -> SearchResponse:
    """More like this: nearest documents by the stored vector, the document itself excluded."""
    parsed: Any = None
    if filters:
        try:
            parsed = json.loads(filters)
        except json.JSONDecodeError as exc:
            msg = f"field 'filters': {filters[:100]!r} is not JSON ({exc.msg}); send a JSON object"
            raise InvalidRequestError(msg) from exc
    start = time.perf_counter()
    names = [b.strip() for b in blocks.split(",")] if blocks is not None else None
    response = searcher.similar(doc_id, k=k, filters=parsed, blocks=names)
    observer.searched(response, seconds=time.perf_counter() - start, route="/v1/similar")
    return response


def _item_report(report: IngestReport) -> DocumentsResponse:
    items = [
        ItemResult(
            index=o.index,
            id=o.id,
            status="indexed" if o.reason is None else "failed",
            reason=o.reason,
        )
        for o in report.items
    ]
    failed = sum(item.status == "failed" for item in items)
    return DocumentsResponse(errors=failed > 0, indexed=report.indexed, failed=failed, items=items)


@router.post(
    "/v1/documents", response_model=DocumentsResponse, dependencies=Write, responses=_ERRORS
)
def upsert_documents(
    body: DocumentsRequest, searcher: SearcherDep, settings: SettingsDep, observer: ObserverDep
) -> DocumentsResponse:
    """Bulk upsert: validate, embed and index; every document is indexed or failed with why."""
    limit = settings.api.max_documents
    if not 1 <= len(body.documents) <= limit:
        msg = (
            f"field 'documents': {len(body.documents)} documents; send 1..{limit} per request "
            "(HYBRID_SEARCH_API__MAX_DOCUMENTS)"
        )
        raise InvalidRequestError(msg)
    report = searcher.upsert(body.documents)
    observer.ingested(report)
    return _item_report(report)


@router.get(
    "/v1/documents/{doc_id:path}",
    response_model=DocumentResponse,
    dependencies=Read,
    responses=_ERRORS,
)
def get_document(doc_id: DocId, searcher: SearcherDep) -> DocumentResponse:
    """One stored document by id."""
    source = searcher.get(doc_id)
    if source is None:
        msg = f"document {doc_id!r} not found"
        raise IndexNotFoundError(msg)
    return DocumentResponse(id=doc_id, source=source)


@router.delete(
    "/v1/documents/{doc_id:path}",
    response_model=DeleteResponse,
    dependencies=Write,
    responses=_ERRORS,
)
def delete_document(doc_id: DocId, searcher: SearcherDep) -> DeleteResponse:
    """Delete one document by id (404 if it does not exist)."""
    if searcher.delete([doc_id]) == 0:
        msg = f"document {doc_id!r} not found"
        raise IndexNotFoundError(msg)
    return DeleteResponse(id=doc_id, deleted=True)


@router.get("/healthz", response_model=HealthResponse)
def healthz(searcher: SearcherDep) -> HealthResponse:
    """Liveness: 200 while the process answers; the backend's state is reported, not judged."""
    health = searcher.health()
    return HealthResponse(status="ok", backend={"ok": health.ok, **health.detail})


def _model_state(model: ModelLoad, searcher: Searcher) -> str | None:
    """The embedder as ``model (runtime)`` once warm-up loaded it, else None."""
    if not model.ready.is_set() or model.error is not None:
        return None
    embedder = searcher.embedder
    return f"{embedder.model_id} ({embedder.runtime})"


@router.get("/readyz", response_model=ReadyResponse, responses={503: _ERRORS[503]})
def readyz(searcher: SearcherDep, model: ModelLoadDep) -> ReadyResponse:
    """Readiness: 200 once the model is loaded and the index is open, else 503 with the checks."""
    health = searcher.health()
    checks: dict[str, Any] = {"index": health.detail}
    problems = [] if health.ok else [f"index: {health.detail.get('error')}"]
    if model.ready.is_set() and model.error is not None:
        try:  # the model failed at start-up; it may load now (files mounted since)
            _ = searcher.encoder
            model.error = None
        except HybridSearchError as exc:
            model.error = str(exc)
    if not model.ready.is_set():
        checks["model"] = "loading"
        problems.append("model: loading")
    elif model.error is not None:
        checks["model"] = f"failed: {model.error}"
        problems.append(f"model: {model.error}")
    else:
        checks["model"] = _model_state(model, searcher)
        if health.ok:
            try:
                searcher.check_model()
            except HybridSearchError as exc:
                checks["model"] = f"mismatch: {exc}"
                problems.append(f"model: {exc}")
    if problems:
        raise NotReadyError("not ready: " + "; ".join(problems), detail=checks)
    return ReadyResponse(status="ready", checks=checks)


def _bounds(model: type[BaseModel], prefix: str = "") -> dict[str, list[float | None]]:
    out: dict[str, list[float | None]] = {}
    for name, info in model.model_fields.items():
        lo = hi = None
        for meta in info.metadata:
            lo = getattr(meta, "ge", getattr(meta, "gt", lo))
            hi = getattr(meta, "le", getattr(meta, "lt", hi))
        if lo is not None or hi is not None:
            out[prefix + name] = [lo, hi]
    return out


@router.get("/v1/info", response_model=InfoResponse, dependencies=Read)
def info(
    searcher: SearcherDep,
    settings: SettingsDep,
    model: ModelLoadDep,
    filter_values: FilterValuesDep,
) -> InfoResponse:
    """Filterable fields (with the known values of keyword fields), defaults, limits and the
    bounds of every tunable parameter."""
    template = searcher.template
    try:
        documents: int | None = searcher.count()
    except HybridSearchError:
        documents = None
    cfg = settings.search
    defaults = cfg.model_dump(
        include={
            "k",
            "mode",
            "normalization",
            "combination",
            "lexical_weight",
            "vector_weight",
            "rank_constant",
            "min_vector_cosine",
            "candidates",
            "fuzzy",
            "adaptive_fusion",
        }
    )
    defaults["commercial"] = settings.commercial.model_dump()
    known = filter_values.get()
    filters: list[dict[str, Any]] = []
    for name in template.filter_fields:
        entry: dict[str, Any] = {"field": name, "kind": template.fields[name].kind}
        if name in known.fields:
            entry["values"] = known.fields[name]["values"]
            entry["values_more"] = known.fields[name]["more"]
        filters.append(entry)
    return InfoResponse(
        backend=searcher.backend_name,
        documents=documents,
        template=template.name,
        id_field=template.id_field,
        embedder=_model_state(model, searcher),
        filters=filters,
        filter_values={"documents": known.documents, "complete": known.complete},
        defaults=defaults,
        limits={
            "max_k": cfg.max_k,
            "max_page": cfg.max_page,
            "max_query_chars": cfg.max_query_chars,
            "max_filters": cfg.max_filters,
            "max_body_bytes": settings.api.max_body_bytes,
            "max_documents": settings.api.max_documents,
        },
        bounds={**_bounds(SearchRequest), **_bounds(CommercialOverrides, "commercial.")},
    )
