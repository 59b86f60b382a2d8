"""Property tests of the request path: any JSON a client can send is answered or refused cleanly.

``Searcher.search`` gets arbitrary request objects (known fields with values of every JSON type,
unknown fields, hostile query text: query-syntax characters, control characters, long strings);
it must either answer a well-formed, NaN-free response or raise ``InvalidRequestError``, never
anything else. Runs on the embedded engine over the tiny corpus with the hash embedder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hybrid_search.config import load_settings
from hybrid_search.errors import InvalidRequestError
from hybrid_search.ingest import index_documents
from hybrid_search.searcher import Searcher, SearchRequest, SearchResponse
from tests.conftest import HashEmbedder

JSON_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON = st.recursive(
    JSON_SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
# Text that has broken search engines: query-parser syntax, wildcards, regex and painless
# fragments, NUL and other control characters, right-to-left marks, very long tokens.
HOSTILE = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            'title:"x" OR 1=1',
            "*",
            "?",
            "\\",
            "((((",
            "a AND (b OR",
            "~2 ^3 -x +y",
            "/.*/",
            "doc['margin'].value",
            "params.x; System.exit(0)",
            "\x00\x01\x1f",
            "\u202e\u200b\ufeff",
            "a" * 600,
            "🙂" * 50,
            "{{ 7*7 }}",
            "<script>alert(1)</script>",
        ]
    ),
)
FIELDS = {
    "query": HOSTILE,
    "filters": st.one_of(
        JSON,
        st.dictionaries(
            st.sampled_from(["brand", "color", "in_stock", "price", "inventory_received_at"]),
            JSON,
            max_size=3,
        ),
    ),
    "k": st.one_of(st.integers(-5, 200), JSON),
    "page": st.one_of(st.integers(-2, 60), JSON),
    "mode": st.one_of(st.sampled_from(["auto", "hybrid", "lexical", "vector"]), JSON),
    "normalization": st.one_of(st.sampled_from(["min_max", "l2", "z_score"]), JSON),
    "combination": st.sampled_from(["arithmetic_mean", "geometric_mean", "harmonic_mean", "rrf"]),
    "lexical_weight": st.one_of(st.floats(-1, 2), JSON),
    "vector_weight": st.floats(-1, 2),
    "rank_constant": st.integers(-1, 20000),
    "min_vector_cosine": st.floats(-2, 2),
    "candidates": st.integers(0, 20000),
    "fuzzy": st.sampled_from(["off", "on_empty", "always", "sometimes"]),
    "adaptive_fusion": JSON,
    "commercial": st.one_of(
        JSON,
        st.fixed_dictionaries(
            {},
            optional={
                "margin_weight": st.floats(-1, 11),
                "popularity_damping": st.floats(-1, 1001),
                "exploration_rate": st.floats(-0.1, 0.6),
                "exploration_seed": st.integers(-(2**70), 2**70),
                "max_margin": JSON,
            },
        ),
    ),
    "explain": st.booleans(),
}
OPTIONAL = {name: value for name, value in FIELDS.items() if name != "query"}
# In-range values, so that most of these requests get past validation and through every stage.
VALID = {
    "filters": st.fixed_dictionaries(
        {},
        optional={
            "in_stock": st.booleans(),
            "price": st.fixed_dictionaries({}, optional={"gte": st.integers(0, 500)}),
            "color": st.lists(st.sampled_from(["black", "red", "tan", "navy"]), max_size=3),
        },
    ),
    "k": st.integers(1, 100),
    "page": st.integers(0, 50),
    "mode": st.sampled_from(["auto", "hybrid", "lexical", "vector"]),
    "normalization": st.sampled_from(["min_max", "l2"]),
    "combination": FIELDS["combination"],
    "lexical_weight": st.floats(0.01, 1),
    "vector_weight": st.floats(0, 1),
    "rank_constant": st.integers(1, 10000),
    "min_vector_cosine": st.floats(-1, 1),
    "candidates": st.integers(10, 2000),
    "fuzzy": st.sampled_from(["off", "on_empty", "always"]),
    "adaptive_fusion": st.booleans(),
    "commercial": st.fixed_dictionaries(
        {},
        optional={
            "enabled": st.booleans(),
            "popularity_weight": st.floats(-10, 10),
            "popularity_damping": st.floats(0, 1000),
            "exploration_rate": st.floats(0, 0.5),
            "exploration_seed": st.integers(-(2**63), 2**63),
        },
    ),
    "explain": st.booleans(),
}
WORDS = st.lists(
    st.sampled_from(["black", "leather", "tote", "calfskin", "bag", "silk", "wool", "coat", "red"]),
    min_size=1,
    max_size=4,
).map(" ".join)
REQUESTS = (
    st.fixed_dictionaries({"query": WORDS | HOSTILE}, optional=VALID)
    | st.fixed_dictionaries({"query": HOSTILE}, optional=OPTIONAL)
    | st.dictionaries(st.text(max_size=10), JSON, max_size=4)
)


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, corpus) -> Iterator[Searcher]:
    settings_ = load_settings(embedded={"data_dir": tmp_path_factory.mktemp("props") / "index"})
    s = Searcher.from_settings(settings_)
    s._embedder_factory = HashEmbedder
    report = index_documents(
        ((d["sku"], d) for d in corpus),
        template=s.template,
        embedder=HashEmbedder(),
        backend=s.backend,
    )
    assert report.failed == []
    yield s
    s.close()


def _check(response: SearchResponse, request: dict[str, Any]) -> None:
    body = response.model_dump(mode="json")
    json.dumps(body, allow_nan=False)  # a NaN or inf would break the HTTP response
    ids = [h["id"] for h in body["hits"]]
    assert len(ids) == len(set(ids)), "a document twice on one page"
    assert len(ids) <= response.k
    first = response.page * response.k + 1
    assert [h["rank"] for h in body["hits"]] == list(range(first, first + len(ids)))
    scores = [h["score"] for h in body["hits"]]
    if not request.get("commercial") or isinstance(request.get("commercial"), dict):
        explored = any(h["breakdown"].get("exploration") for h in body["hits"])
        if not explored:
            assert scores == sorted(scores, reverse=True), "hits best first"


@settings(max_examples=250, deadline=None)
@given(request=REQUESTS)
def test_any_request_is_answered_or_refused_cleanly(searcher, request):
    try:
        response = searcher.search(request)
    except InvalidRequestError as exc:
        refused = str(exc)
    else:
        event(f"answered {response.mode_used}")
        _check(response, request)
        return
    event("refused")
    assert "field" in refused or "filter" in refused, refused  # it names what is wrong


@settings(max_examples=200, deadline=None)
@given(query=HOSTILE, mode=st.sampled_from(["auto", "hybrid", "lexical", "vector"]))
def test_hostile_query_text_is_searched_as_words(searcher, query, mode):
    """Query text is analysed into terms, never parsed as query syntax."""
    try:
        response = searcher.search({"query": query, "mode": mode})
    except InvalidRequestError as exc:
        refused = str(exc)
    else:
        _check(response, {"query": query})
        return
    assert "field 'query'" in refused, refused  # empty, blank or too long: nothing else


@settings(max_examples=300, deadline=None)
@given(raw=st.dictionaries(st.text(max_size=10), JSON, max_size=5) | REQUESTS)
def test_request_model_validates_or_raises_validation_error(raw):
    try:
        request = SearchRequest.model_validate(raw)
    except ValidationError:
        return
    assert request.query
    assert request.k is None or request.k >= 1
    assert request.page >= 0
