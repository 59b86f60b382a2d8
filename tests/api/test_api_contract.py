"""The error contract for every failure type, API keys, body limits, CORS and request ids."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hybrid_search.api import create_app
from hybrid_search.api.app import ERROR_STATUS
from hybrid_search.config import load_settings
from hybrid_search.errors import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    HybridSearchError,
    IndexCorruptError,
)
from tests.api.conftest import api_error
from tests.conftest import HashEmbedder

KEY = "s3cret-key"
DOC = {"sku": "K-1", "title": "Keyed fedora"}


# ------------------------------------------------------------------------------------ auth
def test_writes_need_the_key_reads_stay_open(make_client):
    client = make_client(api={"api_key": KEY})
    err = api_error(client.post("/v1/documents", json={"documents": [DOC]}), 401, "unauthorized")
    assert "writes need the API key" in err["message"]
    r = client.post("/v1/documents", json={"documents": [DOC]}, headers={"x-api-key": "wrong"})
    assert "the key sent is wrong" in api_error(r, 401, "unauthorized")["message"]
    assert r.headers["www-authenticate"] == "Bearer"
    assert api_error(client.delete("/v1/documents/T-BAG-000"), 401, "unauthorized")
    ok = client.post(
        "/v1/documents", json={"documents": [DOC]}, headers={"authorization": f"Bearer {KEY}"}
    )
    assert ok.status_code == 200 and ok.json()["indexed"] == 1
    assert client.delete("/v1/documents/K-1", headers={"x-api-key": KEY}).status_code == 200
    # Reads are open unless configured otherwise.
    assert client.post("/v1/search", json={"query": "tote"}).status_code == 200
    assert client.get("/v1/documents/T-BAG-000").status_code == 200
    assert client.get("/v1/similar/T-BAG-000").status_code == 200


def test_reads_keyed_by_config(make_client):
    client = make_client(api={"api_key": KEY, "read_requires_key": True})
    for r in (
        client.post("/v1/search", json={"query": "tote"}),
        client.get("/v1/documents/T-BAG-000"),
        client.get("/v1/similar/T-BAG-000"),
        client.get("/v1/info"),
    ):
        assert "reads need the API key" in api_error(r, 401, "unauthorized")["message"]
    r = client.post(
        "/v1/search", json={"query": "tote"}, headers={"authorization": f"bearer {KEY}"}
    )
    assert r.status_code == 200
    # Probes stay open: a load balancer has no key.
    assert client.get("/healthz").status_code == 200


def test_read_key_without_a_key_is_a_configapi_error(tmp_path):
    with pytest.raises(ConfigError, match="HYBRID_SEARCH_API__READ_REQUIRES_KEY"):
        load_settings(api={"read_requires_key": True}, embedded={"data_dir": tmp_path})


def test_api_key_from_the_environment_is_masked(monkeypatch, tmp_path):
    monkeypatch.setenv("HYBRID_SEARCH_API__API_KEY", KEY)
    settings = load_settings(embedded={"data_dir": tmp_path})
    assert settings.api.api_key is not None and settings.api.api_key.get_secret_value() == KEY
    assert KEY not in settings.model_dump_json()


# ---------------------------------------------------------------------------- body limits
def test_body_too_large_is_413(make_client):
    client = make_client(api={"max_body_bytes": 2048})
    big = {"documents": [{**DOC, "description": "x" * 4000}]}
    err = api_error(client.post("/v1/documents", json=big), 413, "payload_too_large")
    assert "at most 2048 allowed" in err["message"]
    assert "HYBRID_SEARCH_API__MAX_BODY_BYTES" in err["message"]


def test_chunked_body_too_large_is_413(make_client):
    client = make_client(api={"max_body_bytes": 2048})

    def chunks():
        yield b'{"query": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    r = client.post("/v1/search", content=chunks(), headers={"content-type": "application/json"})
    api_error(r, 413, "payload_too_large")

    def small():
        yield b'{"query": '
        yield b'"tote"}'

    r = client.post("/v1/search", content=small(), headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["hits"]


# ------------------------------------------------------------------- every error class
@pytest.mark.parametrize(
    ("exc", "status", "type_"),
    [
        (BackendUnavailableError("cluster down"), 503, "backend_unavailable"),
        (BackendError("shard failure", status=500, reason="x"), 502, "backend_error"),
        (IndexCorruptError("manifest unreadable"), 503, "index_corrupt"),
        (HybridSearchError("something else"), 500, "internal_error"),
    ],
)
def test_backend_failures_map_to_their_status(client, monkeypatch, exc, status, type_):
    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(client.app.state.searcher.backend, "lexical", fail)
    err = api_error(client.post("/v1/search", json={"query": "tote"}), status, type_)
    assert err["message"] == str(exc)
    assert err["detail"]["request_id"]


def test_embedder_down_with_fallback_off_is_503(make_searcher, corpus):
    class Broken(HashEmbedder):
        def encode_query(self, text):
            raise RuntimeError("model crashed")

    searcher = make_searcher(corpus, embedder=Broken(), search={"fallback": "off"})
    with TestClient(create_app(searcher.settings, searcher=searcher)) as client:
        err = api_error(
            client.post("/v1/search", json={"query": "tote"}), 503, "backend_unavailable"
        )
        assert "fallback is off" in err["message"]


def test_embedder_down_with_fallback_on_answers_lexically(make_searcher, corpus):
    class Broken(HashEmbedder):
        def encode_query(self, text):
            raise RuntimeError("model crashed")

    searcher = make_searcher(corpus, embedder=Broken())
    with TestClient(create_app(searcher.settings, searcher=searcher)) as client:
        body = client.post("/v1/search", json={"query": "tote"}).json()
        assert body["mode_used"] == "lexical" and body["degraded"] == ["vector"]
        assert "embedder unavailable" in body["fallback_reason"]


def test_model_mismatch_is_409(make_searcher, corpus):
    class Other(HashEmbedder):
        model_id = "test/another-model"

    searcher = make_searcher(corpus)
    searcher._embedder_factory = Other
    with TestClient(create_app(searcher.settings, searcher=searcher)) as client:
        err = api_error(client.post("/v1/search", json={"query": "tote"}), 409, "model_mismatch")
        assert "test/hash-embedder" in err["message"] and "test/another-model" in err["message"]


def test_unexpected_exception_is_500_with_request_id(make_searcher, corpus, monkeypatch):
    searcher = make_searcher(corpus)
    app = create_app(searcher.settings, searcher=searcher)

    def boom(request):
        raise RuntimeError("bug")

    monkeypatch.setattr(searcher, "search", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/v1/search", json={"query": "tote"}, headers={"x-request-id": "req-42"})
        err = api_error(r, 500, "internal_error")
        assert err["detail"] == {"request_id": "req-42"} and "req-42" in err["message"]
        assert "bug" not in err["message"]  # internals stay in the log


def test_error_table_covers_every_error_class():
    import hybrid_search.errors as errors

    mapped = {cls for cls, _, _ in ERROR_STATUS}
    leaves = {
        getattr(errors, n) for n in errors.__all__ if getattr(errors, n) is not HybridSearchError
    }
    # Every error class maps to a status of its own or through a base class in the table.
    assert all(any(issubclass(c, m) for m in mapped) for c in leaves)


def test_unknown_route_and_wrong_method(client):
    assert (
        "no route GET /v2/search"
        in api_error(client.get("/v2/search"), 404, "not_found")["message"]
    )
    r = client.get("/v1/search")
    api_error(r, 405, "method_not_allowed")
    assert "POST" in r.headers["allow"]


# ---------------------------------------------------------------------- CORS, request id
def test_cors_allows_configured_origins_only(make_client):
    client = make_client(api={"cors_origins": ["https://shop.example"]})
    pre = client.options(
        "/v1/search",
        headers={
            "origin": "https://shop.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,authorization",
        },
    )
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "https://shop.example"
    r = client.post(
        "/v1/search", json={"query": "tote"}, headers={"origin": "https://shop.example"}
    )
    assert r.headers["access-control-allow-origin"] == "https://shop.example"
    other = client.post(
        "/v1/search", json={"query": "tote"}, headers={"origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers


def test_no_cors_headers_by_default(client):
    r = client.post(
        "/v1/search", json={"query": "tote"}, headers={"origin": "https://shop.example"}
    )
    assert "access-control-allow-origin" not in r.headers


def test_request_id_is_echoed_or_made(client):
    assert (
        client.get("/healthz", headers={"x-request-id": "abc-1"}).headers["x-request-id"] == "abc-1"
    )
    made = client.get("/healthz", headers={"x-request-id": "bad id with spaces"}).headers[
        "x-request-id"
    ]
    assert made != "bad id with spaces" and len(made) == 32


# ------------------------------------------------- keys before bodies; schemes in OpenAPI
@pytest.mark.parametrize(
    ("settings", "method", "path"),
    [
        ({"api_key": KEY}, "post", "/v1/documents"),
        ({"api_key": KEY, "read_requires_key": True}, "post", "/v1/search"),
    ],
)
def test_the_key_is_checked_before_the_body_is_read(make_client, settings, method, path):
    client = make_client(api=settings)
    bad = {"content": b"{not json", "headers": {"content-type": "application/json"}}
    api_error(getattr(client, method)(path, **bad), 401, "unauthorized")
    api_error(
        getattr(client, method)(path, content=b"[1, 2]", headers=bad["headers"]),
        401,
        "unauthorized",
    )
    keyed = {"content-type": "application/json", "x-api-key": KEY}
    r = getattr(client, method)(path, content=b"{not json", headers=keyed)
    assert "not valid JSON" in api_error(r, 400, "invalid_request")["message"]


def test_openapi_declares_the_bearer_and_api_key_schemes(make_client):
    spec = make_client(api={"api_key": KEY}).get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    by_type = {s["type"]: s for s in schemes.values()}
    assert by_type["http"]["scheme"] == "bearer"
    assert by_type["apiKey"] == {**by_type["apiKey"], "in": "header", "name": "X-API-Key"}
    names = set(schemes)
    for path, method in (("/v1/documents", "post"), ("/v1/search", "post"), ("/v1/info", "get")):
        security = spec["paths"][path][method]["security"]
        assert {name for entry in security for name in entry} == names, (path, security)
    assert "security" not in spec["paths"]["/healthz"]["get"]
