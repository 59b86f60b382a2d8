"""The API's zero-hit answers (issue 19 §5): a contradictory range is a 400 naming both bounds,
filters no document passes are reported as such, keyword filters ignore case."""

from __future__ import annotations

from tests.api.conftest import api_error


def test_a_contradictory_range_is_a_400_naming_both_bounds(client):
    body = {"query": "tote", "filters": {"price": {"gte": 900, "lte": 100}}}
    error = api_error(client.post("/v1/search", json=body), 400, "invalid_request")
    assert "price.gte = 900 and price.lte = 100 leave no value between them" in error["message"]


def test_filters_no_document_passes_say_so(client):
    body = {"query": "black tote", "filters": {"color": "teal"}}
    resp = client.post("/v1/search", json=body)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["hits"] == []
    assert answer["warnings"] == ['no document matches the filters {"color": "teal"}']
    assert answer["mode_used"] == "hybrid" and answer["fallback_reason"] is None


def test_keyword_filters_ignore_case(client):
    upper = client.post("/v1/search", json={"query": "tote", "filters": {"color": "BLACK"}})
    lower = client.post("/v1/search", json={"query": "tote", "filters": {"color": "black"}})
    assert upper.status_code == lower.status_code == 200
    assert upper.json()["hits"] and [h["id"] for h in upper.json()["hits"]] == [
        h["id"] for h in lower.json()["hits"]
    ]
