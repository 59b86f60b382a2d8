"""Zero-hit answers that do not mislead (issue 19 §5), on the embedded engine and OpenSearch.

Keyword filters follow the template's ``lowercase`` normalizer on both backends (``Black`` finds
``black``, a document stored as ``Vantier`` is found by ``VANTIER``); a range no value fits is
refused naming both bounds; an answer whose filters no document passes says so.
"""

from __future__ import annotations

from typing import Any

import pytest

from hybrid_search.documents import parse_filters
from hybrid_search.errors import InvalidRequestError
from hybrid_search.searcher import NO_MATCH

CONTRACT_BACKENDS = ("embedded", "opensearch")  # see tests/contract/conftest.py
ALL_TEXT = "made by hand"  # every corpus description says it


def _ids(resp: Any) -> set[str]:
    return {h["id"] for h in resp.hits}


def _casefolded(corpus: list[dict[str, Any]], field: str, wanted: list[str]) -> set[str]:
    """Brute force, case-insensitive, independent of the package's normaliser."""
    want = {w.casefold() for w in wanted}
    found = set()
    for doc in corpus:
        have = doc.get(field)
        have = have if isinstance(have, list) else [have]
        if any(isinstance(h, str) and h.casefold() in want for h in have):
            found.add(doc["sku"])
    return found


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("color", ["Black"]),
        ("color", ["BLACK", "Navy"]),
        ("brand", ["VANTIER"]),
        ("brand", ["vantier"]),  # stored as "Vantier"
        ("category", ["Shoes"]),
        ("material", ["CalfSkin"]),
    ],
)
def test_keyword_filters_ignore_case(make_searcher, corpus, field, values):
    searcher = make_searcher(corpus)
    expected = _casefolded(corpus, field, values)
    assert expected, "the case must have documents to find"
    filters = {field: values if len(values) > 1 else values[0]}
    resp = searcher.search({"query": ALL_TEXT, "filters": filters, "k": 50, "mode": "hybrid"})
    assert _ids(resp) == expected
    assert not resp.warnings
    lex = searcher.search({"query": ALL_TEXT, "filters": filters, "k": 50, "mode": "lexical"})
    assert _ids(lex) == expected


def test_mixed_case_documents_are_found_by_any_case(make_searcher, corpus):
    docs = [
        {**corpus[0], "sku": "MC-1", "color": "Midnight Blue", "brand": "ÉLAN"},
        {**corpus[1], "sku": "MC-2", "color": ["midnight blue", "Gold"], "brand": "élan"},
        {**corpus[2], "sku": "MC-3", "color": "red", "brand": "Other"},
    ]
    searcher = make_searcher(docs)
    for value in ("midnight blue", "MIDNIGHT BLUE", "Midnight Blue"):
        resp = searcher.search({"query": ALL_TEXT, "filters": {"color": value}, "k": 10})
        assert _ids(resp) == {"MC-1", "MC-2"}, value
    resp = searcher.search({"query": ALL_TEXT, "filters": {"brand": "Élan"}, "k": 10})
    assert _ids(resp) == {"MC-1", "MC-2"}
    # The source keeps what was sent.
    assert searcher.backend.get("MC-1")["color"] == "Midnight Blue"


CONTRADICTORY = [
    ({"price": {"gte": 900, "lte": 100}}, "price.gte = 900 and price.lte = 100"),
    ({"price": {"gt": 500, "lt": 500}}, "price.gt = 500 and price.lt = 500"),
    ({"price": {"gte": 500, "lt": 500}}, "price.gte = 500 and price.lt = 500"),
    ({"price": {"gt": 500.5, "lte": 500}}, "price.gt = 500.5 and price.lte = 500"),
    (
        {"inventory_received_at": {"gte": "2026-06-01", "lte": "2026-01-01"}},
        "inventory_received_at.gte = '2026-06-01' and inventory_received_at.lte = '2026-01-01'",
    ),
    (
        {"inventory_received_at": {"gt": "2026-03-03", "lt": "2026-03-04"}},
        "inventory_received_at.gt = '2026-03-03' and inventory_received_at.lt = '2026-03-04'",
    ),
]


@pytest.mark.parametrize(("filters", "named"), CONTRADICTORY, ids=[n for _, n in CONTRADICTORY])
def test_contradictory_ranges_are_refused(make_searcher, corpus, filters, named):
    searcher = make_searcher(corpus)
    with pytest.raises(InvalidRequestError) as caught:
        searcher.search({"query": "tote", "filters": filters})
    assert named in str(caught.value)
    assert "no value between them" in str(caught.value)


@pytest.mark.parametrize(
    "filters",
    [
        {"price": {"gte": 500, "lte": 500}},  # one point: a real range
        {"inventory_received_at": {"gte": "2026-03-03", "lte": "2026-03-03"}},  # one day
        {"inventory_received_at": {"gt": "2026-03-02", "lt": "2026-03-04"}},  # the day between
    ],
)
def test_narrow_but_possible_ranges_are_accepted(make_searcher, corpus, filters):
    searcher = make_searcher(corpus)
    assert parse_filters(filters, searcher.template)
    assert searcher.search({"query": ALL_TEXT, "filters": filters, "k": 50}).hits


@pytest.mark.parametrize("mode", ["auto", "hybrid", "lexical", "vector"])
def test_filters_no_document_passes_are_reported_as_such(make_searcher, corpus, mode):
    searcher = make_searcher(corpus)
    filters = {"color": "teal", "in_stock": True}
    resp = searcher.search({"query": "black tote", "filters": filters, "mode": mode})
    assert resp.hits == []
    assert resp.warnings == [f'{NO_MATCH} {{"color": "teal", "in_stock": true}}']
    assert resp.fallback_reason is None
    expected = {"auto": "hybrid", "hybrid": "hybrid", "lexical": "lexical", "vector": "vector"}
    assert resp.mode_used == expected[mode]


def test_an_empty_lexical_leg_under_passing_filters_is_not_no_match(make_searcher, corpus):
    searcher = make_searcher(corpus)
    resp = searcher.search(
        {"query": "zyxwvut", "filters": {"color": "black"}, "mode": "lexical", "fuzzy": "off"}
    )
    assert resp.hits == []
    assert not any(NO_MATCH in w for w in resp.warnings)
