"""POST /v1/search and GET /v1/similar/{id} through TestClient (embedded engine, hash embedder)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.api.conftest import api_error


def test_search_answers_hits_mode_and_fallback_reason(client):
    r = client.post("/v1/search", json={"query": "black calfskin tote", "k": 5})
    assert r.status_code == 200
    body = r.json()
    assert body["mode_used"] == "hybrid" and body["fallback_reason"] is None
    assert len(body["hits"]) == 5 and body["hits"][0]["id"] == "T-BAG-000"
    hit = body["hits"][0]
    assert {"lexical", "vector", "fused", "relevance", "margin", "freshness", "popularity"} <= set(
        hit["breakdown"]
    )
    assert hit["source"]["sku"] == hit["id"] and hit["rank"] == 1
    assert [h["score"] for h in body["hits"]] == sorted(
        (h["score"] for h in body["hits"]), reverse=True
    )


def test_search_parameters_reach_the_searcher(client):
    base = client.post("/v1/search", json={"query": "black calfskin tote"}).json()
    boosted = client.post(
        "/v1/search", json={"query": "black calfskin tote", "commercial": {"margin_weight": 1.0}}
    ).json()
    assert [h["id"] for h in base["hits"]] != [h["id"] for h in boosted["hits"]]
    lexical = client.post(
        "/v1/search", json={"query": "calfskin", "mode": "lexical", "explain": True}
    ).json()
    assert lexical["mode_used"] == "lexical" and "explain" in lexical["hits"][0]
    gated = client.post("/v1/search", json={"query": "calfskin", "min_vector_cosine": 1.0}).json()
    assert gated["mode_used"] == "lexical"
    assert "low vector confidence" in gated["fallback_reason"]
    page1 = client.post("/v1/search", json={"query": "calfskin", "k": 3, "page": 1}).json()
    assert [h["rank"] for h in page1["hits"]] == [4, 5, 6]


def test_search_filters(client):
    r = client.post(
        "/v1/search",
        json={"query": "calfskin", "filters": {"in_stock": True, "price": {"lte": 600}}},
    )
    assert r.status_code == 200 and r.json()["hits"]
    for hit in r.json()["hits"]:
        assert hit["source"]["in_stock"] is True and hit["source"]["price"] <= 600


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"query": "tote", "k": 0}, "field 'k': 0"),
        ({"query": "tote", "k": 1000}, "field 'k': 1000 is out of range; allowed 1..100"),
        ({"query": "tote", "k": "many"}, "field 'k': 'many'"),
        ({"query": "tote", "page": 51}, "field 'page': 51 is out of range; allowed 0..50"),
        ({"query": "x" * 600}, "field 'query': 600 characters, at most 512 allowed"),
        ({"query": "   "}, "field 'query'"),
        ({"query": ""}, "field 'query'"),
        ({}, "field 'query' is required"),
        ({"query": "tote", "mode": "fast"}, "field 'mode': 'fast'"),
        ({"query": "tote", "lexical_weight": 2}, "field 'lexical_weight': 2"),
        (
            {"query": "tote", "commercial": {"margin_weight": -1}},
            "field 'commercial.margin_weight'",
        ),
        ({"query": "tote", "colour": "red"}, "unknown field 'colour'; allowed: query, filters"),
        ({"query": "tote", "filters": {"shade": "red"}}, "filter field 'shade' is not filterable"),
        ({"query": "tote", "filters": {"price": {"lte": "cheap"}}}, "price"),
        ({"query": "tote", "filters": {"brand": {"gte": 1}}}, "ranges are only allowed"),
        (
            {"query": "tote", "lexical_weight": 0, "vector_weight": 0},
            "'lexical_weight' and 'vector_weight' are both 0",
        ),
    ],
)
def test_search_bad_input_is_400_naming_the_field(client, body, needle):
    err = api_error(client.post("/v1/search", json=body), 400, "invalid_request")
    assert needle in err["message"]


def test_search_unknown_filter_lists_allowed_fields(client):
    err = api_error(
        client.post("/v1/search", json={"query": "tote", "filters": {"shade": "red"}}),
        400,
        "invalid_request",
    )
    assert "allowed: ['brand', 'category', 'color'" in err["message"]


def test_search_body_not_json_or_not_object(client):
    r = client.post(
        "/v1/search", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert "not valid JSON" in api_error(r, 400, "invalid_request")["message"]
    r = client.post("/v1/search", json=["tote"])
    assert (
        "request body: ['tote'] is a list; send a JSON object"
        in api_error(r, 400, "invalid_request")["message"]
    )
    r = client.post(
        "/v1/search", content=b'{"query": "tote"}', headers={"content-type": "text/plain"}
    )
    assert "Content-Type: application/json" in api_error(r, 400, "invalid_request")["message"]


def test_validation_detail_lists_every_problem(client):
    err = api_error(client.post("/v1/search", json={"query": "", "k": 0}), 400, "invalid_request")
    assert "(and 1 more problem: field 'k': 0 is invalid" in err["message"]
    assert {d["field"] for d in err["detail"]} == {"query", "k"}


def test_search_runs_off_the_event_loop(client, monkeypatch):
    searcher = client.app.state.searcher
    real = searcher.search

    def slow(request):
        time.sleep(0.6)
        return real(request)

    monkeypatch.setattr(searcher, "search", slow)
    done = []
    t = threading.Thread(
        target=lambda: done.append(client.post("/v1/search", json={"query": "tote"}))
    )
    t.start()
    time.sleep(0.1)
    started = time.perf_counter()
    assert client.get("/healthz").status_code == 200
    assert time.perf_counter() - started < 0.4  # answered while the search was still running
    t.join()
    assert done[0].status_code == 200


def test_similar_excludes_itself_and_applies_filters(client):
    r = client.get("/v1/similar/T-BAG-000", params={"k": 5})
    assert r.status_code == 200
    body = r.json()
    ids = [h["id"] for h in body["hits"]]
    assert len(ids) == 5 and "T-BAG-000" not in ids and body["mode_used"] == "vector"
    cosines = [h["breakdown"]["vector_cosine"] for h in body["hits"]]
    assert cosines == sorted(cosines, reverse=True)
    r = client.get(
        "/v1/similar/T-BAG-000", params={"k": 10, "filters": json.dumps({"in_stock": True})}
    )
    assert r.status_code == 200 and r.json()["hits"]
    assert all(h["source"]["in_stock"] for h in r.json()["hits"])


def test_similar_errors(client):
    assert (
        "'NOPE' not found" in api_error(client.get("/v1/similar/NOPE"), 404, "not_found")["message"]
    )
    err = api_error(client.get("/v1/similar/T-BAG-000?filters={oops"), 400, "invalid_request")
    assert "field 'filters'" in err["message"]
    err = api_error(
        client.get('/v1/similar/T-BAG-000?filters={"shade":"red"}'), 400, "invalid_request"
    )
    assert "shade" in err["message"]
    assert (
        "field 'k'"
        in api_error(client.get("/v1/similar/T-BAG-000?k=0"), 400, "invalid_request")["message"]
    )
    err = api_error(client.get("/v1/similar/T-BAG-000?k=101"), 400, "invalid_request")
    assert "allowed 1..100" in err["message"]
