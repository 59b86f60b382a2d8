"""Request limits: configured bounds are what the API enforces, with the error contract.

``tests/api`` checks the default limits one field at a time (k, page, query length, body size,
documents per upsert). Here: lowered limits from the settings are honoured by the API and by
the Searcher alike, the filter count, the window size, hostile bodies (deep nesting, huge value
lists) and path ids. Every refusal is a 400 or 413 with ``{"error": {type, message, detail}}``,
never a 5xx.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hybrid_search.api import create_app
from hybrid_search.errors import InvalidRequestError

LIMITS = {"max_query_chars": 20, "max_k": 5, "max_page": 2, "max_filters": 2}


@pytest.fixture
def limited(make_searcher, corpus):
    searcher = make_searcher(corpus, search={**LIMITS, "k": 5}, api={"max_body_bytes": 4096})
    with TestClient(create_app(searcher.settings, searcher=searcher, warm_up=False)) as client:
        yield client, searcher


def _refused(response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) == {"type", "message", "detail"}
    return str(body["error"]["message"])


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"query": "q" * 21}, "field 'query': 21 characters, at most 20 allowed"),
        ({"query": "tote", "k": 6}, "field 'k': 6 is out of range; allowed 1..5"),
        ({"query": "tote", "page": 3}, "field 'page': 3 is out of range; allowed 0..2"),
        (
            {"query": "tote", "filters": {"brand": "A", "color": "red", "in_stock": True}},
            "filters: 3 fields given, at most 2 allowed",
        ),
        ({"query": "tote", "candidates": 10001}, "field 'candidates'"),
        ({"query": "tote", "candidates": 9}, "field 'candidates'"),
    ],
)
def test_configured_limits_are_enforced_by_api_and_searcher(limited, body, needle):
    client, searcher = limited
    r = client.post("/v1/search", json=body)
    assert needle in _refused(r)
    assert r.json()["error"]["type"] == "invalid_request"
    with pytest.raises(InvalidRequestError):  # the CLI and Python callers get the same bounds
        searcher.search(body)


def test_the_limits_themselves_are_allowed(limited):
    client, _ = limited
    body = {"query": "q" * 20, "k": 5, "page": 2, "filters": {"brand": "A", "in_stock": True}}
    assert client.post("/v1/search", json=body).status_code == 200
    info = client.get("/v1/info").json()["limits"]
    assert {k: info[k] for k in LIMITS} == LIMITS and info["max_body_bytes"] == 4096


def test_similar_honours_max_k_and_filter_count(limited):
    client, _ = limited
    assert "allowed 1..5" in _refused(client.get("/v1/similar/T-BAG-000?k=6"))
    many = '{"brand": "A", "color": "red", "in_stock": true}'
    assert "at most 2 allowed" in _refused(client.get(f"/v1/similar/T-BAG-000?filters={many}"))
    assert "is not JSON" in _refused(client.get("/v1/similar/T-BAG-000?filters={oops"))


def test_hostile_bodies_are_refused_not_crashed(limited):
    client, _ = limited
    headers = {"content-type": "application/json"}
    deep = b"[" * 2000 + b"]" * 2000  # fits the 4096-byte limit; deep enough to hurt a parser
    assert client.post("/v1/search", content=deep, headers=headers).status_code == 400
    big = {"query": "tote", "filters": {"color": [f"c{i}" for i in range(2000)]}}
    assert "at most 4096 allowed" in _refused(client.post("/v1/search", json=big), 413)
    r = client.post("/v1/search", content=b"x" * 10, headers={**headers, "content-length": "-1"})
    assert r.status_code == 413


def test_path_ids_are_bounded(limited):
    client, _ = limited
    assert "doc_id" in _refused(client.get("/v1/documents/" + "a" * 513))
    assert client.get("/v1/documents/" + "a" * 512).status_code == 404
    assert client.delete("/v1/documents/" + "a" * 513).status_code == 400
