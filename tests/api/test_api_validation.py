"""Request validation as a new user meets it: strict numbers and booleans, finite numbers, and
an unknown field named with the fields that are allowed (issue 19, item 6)."""

from __future__ import annotations

import pytest

from hybrid_search.errors import InvalidRequestError
from hybrid_search.schemas import SearchRequest, validate_request
from tests.api.conftest import api_error


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("k", "5", "field 'k': '5' is a string; send an integer"),
        ("k", True, "field 'k': True is a boolean; send an integer"),
        ("k", 5.5, "field 'k': 5.5 is a decimal number; send an integer"),
        ("page", "1", "field 'page': '1' is a string; send an integer"),
        ("lexical_weight", "0.5", "field 'lexical_weight': '0.5' is a string; send a number"),
        ("lexical_weight", True, "field 'lexical_weight': True is a boolean; send a number"),
        ("explain", "yes", "field 'explain': 'yes' is a string; send true or false"),
        ("explain", 1, "field 'explain': 1 is a number; send true or false"),
        ("adaptive_fusion", "false", "field 'adaptive_fusion': 'false' is a string; send true"),
    ],
)
def test_numbers_and_booleans_are_strict(client, field, value, needle):
    err = api_error(
        client.post("/v1/search", json={"query": "tote", field: value}), 400, "invalid_request"
    )
    assert needle in err["message"]
    assert err["detail"][0]["field"] == field


def test_nested_commercial_fields_are_strict(client):
    body = {"query": "tote", "commercial": {"enabled": "true", "margin_weight": "1"}}
    err = api_error(client.post("/v1/search", json=body), 400, "invalid_request")
    fields = {d["field"] for d in err["detail"]}
    assert fields == {"commercial.enabled", "commercial.margin_weight"}


def test_an_int_is_still_a_float(client):
    body = {"query": "tote", "lexical_weight": 1, "vector_weight": 0, "min_vector_cosine": 0}
    assert client.post("/v1/search", json=body).status_code == 200
    body = {"query": "tote", "commercial": {"margin_weight": 1, "freshness_tau_days": 30}}
    assert client.post("/v1/search", json=body).status_code == 200


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_must_be_finite(client, literal):
    raw = f'{{"query": "tote", "lexical_weight": {literal}}}'.encode()
    r = client.post("/v1/search", content=raw, headers={"content-type": "application/json"})
    err = api_error(r, 400, "invalid_request")
    assert "field 'lexical_weight'" in err["message"]
    assert "must be a finite number" in err["message"]
    assert "less than" not in err["message"] and "greater than" not in err["message"]


def test_a_misspelt_field_is_named_with_the_allowed_ones(client):
    err = api_error(client.post("/v1/search", json={"querry": "tote"}), 400, "invalid_request")
    message = err["message"]
    assert message.startswith("unknown field 'querry' (did you mean 'query'?); allowed: query, ")
    assert "filters, k, page, mode" in message and "commercial, explain" in message
    assert "(and 1 more problem: field 'query' is required)" in message
    assert [d["type"] for d in err["detail"]] == ["extra_forbidden", "missing"]


def test_an_unknown_nested_field_lists_the_nested_fields(client):
    body = {"query": "tote", "commercial": {"margin": 0.5}}
    err = api_error(client.post("/v1/search", json=body), 400, "invalid_request")
    assert err["message"].startswith(
        "unknown field 'commercial.margin' (did you mean 'margin_weight'?); allowed: enabled, "
    )
    assert "exploration_seed, max_margin" in err["message"]


def test_an_unknown_documents_envelope_field(client):
    r = client.post("/v1/documents", json={"docs": []})
    err = api_error(r, 400, "invalid_request")
    assert err["message"].startswith("unknown field 'docs' (did you mean 'documents'?)")
    assert "allowed: documents" in err["message"]


def test_python_callers_get_the_same_words():
    with pytest.raises(InvalidRequestError, match=r"unknown field 'querry' \(did you mean"):
        validate_request({"querry": "tote"})
    with pytest.raises(InvalidRequestError, match="'5' is a string; send an integer"):
        validate_request({"query": "tote", "k": "5"})
    assert validate_request({"query": "tote", "k": 5}).k == 5
    assert isinstance(validate_request(SearchRequest(query="x")), SearchRequest)


def test_bounds_in_info_are_unchanged_by_strict_types(client):
    bounds = client.get("/v1/info").json()["bounds"]
    assert bounds["k"] == [1, None] and bounds["lexical_weight"] == [0.0, 1.0]
    assert bounds["commercial.freshness_tau_days"] == [0.0, 3650.0]
