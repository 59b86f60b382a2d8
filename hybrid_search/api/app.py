"""``create_app(settings)``: the FastAPI sidecar, its error contract and its playground.

Every failure answers ``{"error": {"type", "message", "detail"}}`` with the status from
``ERROR_STATUS`` (FastAPI's own validation errors answer 400, not 422). Anything unexpected is a
500 carrying the request id, logged with its traceback. Routes live in ``routes.py``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from hybrid_search.api.deps import ModelLoad
from hybrid_search.api.errors import ApiError, error_response
from hybrid_search.api.facets import FilterValues
from hybrid_search.api.middleware import RequestContextMiddleware
from hybrid_search.api.routes import router
from hybrid_search.config import Settings, load_settings
from hybrid_search.errors import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    EmbedderError,
    HybridSearchError,
    IndexCorruptError,
    IndexNotFoundError,
    InvalidRequestError,
    MissingDependencyError,
    ModelMismatchError,
    TemplateError,
)
from hybrid_search.observability.metrics import CONTENT_TYPE_LATEST, MetricsMiddleware
from hybrid_search.observability.observer import Observer
from hybrid_search.schemas import describe_problems, summarise_problems
from hybrid_search.searcher import Searcher

__all__ = ["ERROR_STATUS", "create_app"]

logger = logging.getLogger(__name__)

#: Error class -> (HTTP status, error type). The first matching row wins (subclasses first).
ERROR_STATUS: tuple[tuple[type[HybridSearchError], int, str], ...] = (
    (InvalidRequestError, 400, "invalid_request"),
    (IndexNotFoundError, 404, "not_found"),
    (ModelMismatchError, 409, "model_mismatch"),
    (BackendError, 502, "backend_error"),
    (BackendUnavailableError, 503, "backend_unavailable"),
    (EmbedderError, 503, "embedder_unavailable"),
    (IndexCorruptError, 503, "index_corrupt"),
    (ConfigError, 500, "config_error"),
    (TemplateError, 500, "template_error"),
    (MissingDependencyError, 500, "missing_dependency"),
)

_STATIC = Path(str(files("hybrid_search.api") / "static"))
# Swagger UI 5 (reads OpenAPI 3.1, which FastAPI emits) from the fastapi-offline wheel: no CDN.
_DOCS_ASSETS = Path(str(files("fastapi_offline") / "static"))


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "-")


def _status_of(exc: HybridSearchError) -> tuple[int, str]:
    if isinstance(exc, ApiError):
        return exc.status, exc.type
    for cls, status, type_ in ERROR_STATUS:
        if isinstance(exc, cls):
            return status, type_
    return 500, "internal_error"


async def _hybrid_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HybridSearchError)  # narrowing: registered for this class only
    status, type_ = _status_of(exc)
    detail = exc.detail if isinstance(exc, ApiError) else None
    headers = {"www-authenticate": "Bearer"} if status == 401 else None
    if status >= 500:
        logger.warning("%s %s -> %d %s: %s", request.method, request.url.path, status, type_, exc)
        request.app.state.observer.failed(type_)
        detail = {"request_id": _request_id(request), **(detail or {})}
    return error_response(status, type_, str(exc), detail, headers)


def _body_model(request: Request) -> type[BaseModel] | None:
    """The pydantic model of the matched route's JSON body, to list its allowed fields."""
    field = getattr(request.scope.get("route"), "body_field", None)
    annotation = getattr(getattr(field, "field_info", None), "annotation", None)
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    body_level = [
        e
        for e in errors
        if e.get("type") == "json_invalid"
        or (tuple(e.get("loc", ())) == ("body",) and isinstance(e.get("input"), bytes | str))
    ]
    if body_level:
        err = body_level[0]
        if err.get("type") == "json_invalid":
            cause = (err.get("ctx") or {}).get("error", "")
            where = ".".join(str(p) for p in err.get("loc", ())[1:]) or "0"
            message = f"request body is not valid JSON: {cause} at position {where}"
        else:
            message = "request body: send a JSON object with 'Content-Type: application/json'"
        problem = {"field": "", "type": err.get("type", ""), "message": message}
        return error_response(400, "invalid_request", message, [problem])
    # The location's first part is where the value came from (body, query, path), not a field.
    problems = describe_problems(errors, _body_model(request), strip=1)
    return error_response(400, "invalid_request", summarise_problems(problems), problems)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        type_, message = "not_found", f"no route {request.method} {request.url.path}"
    elif exc.status_code == 405:
        type_ = "method_not_allowed"
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        type_, message = "http_error", str(exc.detail)
    return error_response(exc.status_code, type_, message, None, headers or None)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = _request_id(request)
    logger.error(
        "%s %s failed (request id %s)",
        request.method,
        request.url.path,
        request_id,
        exc_info=exc,
    )
    return error_response(
        500,
        "internal_error",
        f"internal error; quote request id {request_id} when reporting it",
        {"request_id": request_id},
        {"x-request-id": request_id},
    )


def _warm_up(app: FastAPI) -> None:
    """Load the embedding model in the background; ``/readyz`` answers 503 until it is done."""
    model: ModelLoad = app.state.model
    try:
        _ = app.state.searcher.encoder
    except HybridSearchError as exc:
        model.error = str(exc)
        logger.warning("the embedding model did not load: %s", exc)
    finally:
        model.ready.set()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state = app.state
    # Open the index before serving (a missing one is reported by /readyz, not fatal: the first
    # POST /v1/documents creates it), then load the model without holding up liveness.
    health = await run_in_threadpool(state.searcher.health)
    if not health.ok:
        logger.warning("index not open yet: %s", health.detail.get("error"))
    if state.warm_up:
        threading.Thread(target=_warm_up, args=(app,), name="model-warm-up", daemon=True).start()
    else:
        state.model.ready.set()
    try:
        yield
    finally:
        if state.owns_searcher:
            await run_in_threadpool(state.searcher.close)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The schema with FastAPI's default 422 replaced by our 400 error contract."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        for path in schema.get("paths", {}).values():
            for op in path.values():
                responses = op.get("responses", {})
                if responses.pop("422", None) is not None and "400" not in responses:
                    responses["400"] = {
                        "description": "bad input: field, value and what is allowed",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ErrorResponse"}
                            }
                        },
                    }
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(
    settings: Settings | None = None,
    *,
    searcher: Searcher | None = None,
    warm_up: bool = True,
) -> FastAPI:
    """Build the sidecar app.

    Args:
        settings: the settings (``load_settings()`` when None).
        searcher: serve this Searcher (the caller closes it); by default one is built from the
            settings and closed at shutdown.
        warm_up: load the embedding model in the background at startup.

    Raises:
        ConfigError: invalid settings.
    """
    settings = settings or load_settings()
    app = FastAPI(
        title="hybrid_search",
        version="1",
        summary="Hybrid (BM25 + vector) product search sidecar",
        lifespan=_lifespan,
        docs_url=None,  # served below from local assets: a sidecar often has no internet
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.owns_searcher = searcher is None
    app.state.searcher = searcher or Searcher.from_settings(settings)
    app.state.warm_up = warm_up
    app.state.model = ModelLoad()
    app.state.observer = Observer(settings.observability, searcher=app.state.searcher)
    app.state.filter_values = FilterValues(app.state.searcher.backend, app.state.searcher.template)

    app.add_exception_handler(HybridSearchError, _hybrid_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    if settings.observability.metrics_enabled:
        app.add_middleware(MetricsMiddleware, metrics=app.state.observer.metrics)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.api.max_body_bytes)
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
            max_age=600,
        )
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def playground() -> FileResponse:
        return FileResponse(_STATIC / "index.html")

    if settings.observability.metrics_enabled:

        @app.get("/metrics", include_in_schema=False)
        def metrics() -> Response:
            return Response(app.state.observer.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="openapi.json",
            title="hybrid_search API",
            swagger_js_url="docs-assets/swagger-ui-bundle.js",
            swagger_css_url="docs-assets/swagger-ui.css",
            swagger_favicon_url="docs-assets/favicon.png",
        )

    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    app.mount("/docs-assets", StaticFiles(directory=_DOCS_ASSETS), name="docs-assets")
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    if settings.api.api_key is None:
        logger.warning("no API key configured (HYBRID_SEARCH_API__API_KEY): writes are open")
    return app
