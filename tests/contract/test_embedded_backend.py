"""Backend behaviour: filters on both legs, deletes and upserts (embedded, and OpenSearch when
``HYBRID_SEARCH_TEST_OPENSEARCH_URL`` is set).

Every filtered answer is checked against a brute-force Python filter over the corpus, written
here independently of ``hybrid_search.documents`` so a shared mistake cannot hide.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np
import pytest

from hybrid_search.documents import embedding_text, parse_filters
from hybrid_search.errors import InvalidRequestError
from hybrid_search.ingest import index_documents
from hybrid_search.searcher import Searcher
from tests.conftest import HashEmbedder

CONTRACT_BACKENDS = ("embedded", "opensearch")  # see tests/contract/conftest.py
ALL_TEXT = "made by hand"  # every corpus description says it: the lexical leg matches all docs
DATE_FIELDS = {"inventory_received_at"}
NUMBER_FIELDS = {"price"}


def _value(raw: Any, field: str) -> float:
    if field in DATE_FIELDS:
        parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.timestamp()
    return float(raw)


def matches(doc: dict[str, Any], filters: dict[str, Any]) -> bool:
    """Brute-force reference: AND of clauses; missing field fails every clause."""
    for field, cond in filters.items():
        value = doc.get(field)
        if value is None:
            return False
        if isinstance(cond, dict):
            v = _value(value, field)
            for op, bound in cond.items():
                b = _value(bound, field)
                if not {"gt": v > b, "gte": v >= b, "lt": v < b, "lte": v <= b}[op]:
                    return False
        elif field in NUMBER_FIELDS | DATE_FIELDS:
            if _value(value, field) != _value(cond, field):
                return False
        else:
            have = value if isinstance(value, list) else [value]
            want = cond if isinstance(cond, list) else [cond]
            if not any(h == w and type(h) is type(w) for h in have for w in want):
                return False
    return True


FILTERS = {
    "keyword-term": {"brand": "Vantier"},
    "keyword-any-of": {"brand": ["Vantier", "Belvane"]},
    "multi-valued-term": {"color": "gold"},
    "multi-valued-any-of": {"color": ["black", "navy"]},
    "boolean-false": {"in_stock": False},
    "boolean-true": {"in_stock": True},
    "range-inclusive": {"price": {"gte": 500, "lte": 1000}},
    "range-exclusive": {"price": {"gt": 500, "lt": 1000}},
    "range-open-upper": {"price": {"gt": 1950}},
    "range-open-lower": {"price": {"lte": 150}},
    "number-point": {"price": 650},
    "number-point-no-match": {"price": 651},
    "and-combination": {"category": "shoes", "in_stock": True, "price": {"lt": 1400}},
    "and-multi-valued": {"color": "gold", "in_stock": True},
    "and-empty-result": {"brand": "Vantier", "category": "watches"},
}

DATE_FILTERS = {
    "date-inclusive": {"inventory_received_at": {"gte": "2026-03-03", "lte": "2026-06-06"}},
    "date-exclusive": {"inventory_received_at": {"gt": "2026-03-03", "lt": "2026-06-06"}},
    "date-point": {"inventory_received_at": "2026-03-03"},
    "date-time-z": {"inventory_received_at": {"lt": "2026-01-04T00:00:01Z"}},
    "date-and-keyword": {"inventory_received_at": {"gte": "2026-09-01"}, "category": "handbags"},
}


def _skus(backend: Any, hits: list[Any]) -> list[str]:
    found = backend.fetch([h.key for h in hits])
    assert set(found) == {h.key for h in hits}, "a leg returned a row fetch does not know"
    return [found[h.key][0] for h in hits]


def _check_filters(searcher: Searcher, corpus: list[dict[str, Any]], filters: dict) -> None:
    backend, emb = searcher.backend, HashEmbedder()
    expected = {d["sku"] for d in corpus if matches(d, filters)}
    clauses = parse_filters(filters, searcher.template)

    lex = backend.lexical(ALL_TEXT, k=100, filters=clauses)
    assert set(_skus(backend, lex)) == expected
    assert len(lex) == len(expected)
    assert [h.score for h in lex] == sorted((h.score for h in lex), reverse=True)

    vec = backend.vector(emb.encode_query("black leather"), k=100, filters=clauses)
    assert set(_skus(backend, vec)) == expected
    assert len(vec) == len(expected)

    # top-k of the filtered subset equals brute force (scores compared: robust to ties)
    passing = [d for d in corpus if d["sku"] in expected]
    if passing:
        q = emb.encode_query("navy suede shoes")
        docs = emb.encode_documents([embedding_text(d, searcher.template) for d in passing])
        want = np.sort((1.0 + docs @ q) / 2.0)[::-1][:5]
        got = [h.score for h in backend.vector(q, k=5, filters=clauses)]
        np.testing.assert_allclose(got, want, rtol=1e-5)

    resp = searcher.search({"query": ALL_TEXT, "filters": filters, "k": 50, "mode": "hybrid"})
    assert {h["id"] for h in resp.hits} == expected
    assert all(matches(h["source"], filters) for h in resp.hits)


@pytest.mark.parametrize("filters", list(FILTERS.values()), ids=list(FILTERS))
def test_filters_match_brute_force(make_searcher, corpus, filters):
    _check_filters(make_searcher(corpus), corpus, filters)


@pytest.mark.parametrize("filters", list(DATE_FILTERS.values()), ids=list(DATE_FILTERS))
def test_date_filters_match_brute_force(make_searcher, corpus, filters):
    searcher = make_searcher(corpus)
    _check_filters(searcher, corpus, filters)


def test_range_boundaries_are_exact(make_searcher, corpus):
    backend = make_searcher(corpus).backend
    vec = HashEmbedder().encode_query("x")

    def skus(rng: dict[str, float]) -> set[str]:
        clauses = parse_filters({"price": rng}, backend.template)
        return set(_skus(backend, backend.vector(vec, k=100, filters=clauses)))

    assert skus({"gte": 500, "lte": 550}) == {"T-BAG-008", "T-BAG-009"}
    assert skus({"gt": 500, "lte": 550}) == {"T-BAG-009"}
    assert skus({"gte": 500, "lt": 550}) == {"T-BAG-008"}
    assert skus({"gt": 500, "lt": 550}) == set()
    assert skus({"gte": 499.99, "lt": 500.01}) == {"T-BAG-008"}


def test_unfiltered_legs_return_everything(make_searcher, corpus):
    backend = make_searcher(corpus).backend
    everyone = {d["sku"] for d in corpus}
    assert set(_skus(backend, backend.lexical(ALL_TEXT, k=100, filters=[]))) == everyone
    vec = backend.vector(HashEmbedder().encode_query("tote"), k=100, filters=[])
    assert set(_skus(backend, vec)) == everyone


BAD_FILTERS = [
    ({"colour": "red"}, "colour"),
    ({"price": "cheap"}, "price"),
    ({"price": [100, 200]}, "price"),
    ({"price": {"gte": "a lot"}}, "price"),
    ({"price": {"between": [1, 2]}}, "price"),
    ({"price": {}}, "price"),
    ({"in_stock": "yes"}, "in_stock"),
    ({"in_stock": 1}, "in_stock"),
    ({"brand": {"gte": "A"}}, "brand"),
    ({"brand": 5}, "brand"),
    ({"brand": []}, "brand"),
]


@pytest.mark.parametrize(("filters", "field"), BAD_FILTERS, ids=[str(f) for f, _ in BAD_FILTERS])
def test_bad_filters_name_the_field(make_searcher, corpus, filters, field):
    searcher = make_searcher(corpus)
    with pytest.raises(InvalidRequestError, match=f"'{field}"):
        parse_filters(filters, searcher.template)
    with pytest.raises(InvalidRequestError, match=f"'{field}"):
        searcher.search({"query": "tote", "filters": filters})


def test_huge_integer_filter_bound_is_an_invalid_request(make_searcher, corpus):
    searcher = make_searcher(corpus)
    with pytest.raises(InvalidRequestError, match="'price"):
        searcher.search({"query": "tote", "filters": {"price": {"gte": 10**400}}})


@pytest.mark.parametrize(
    ("bounds", "must_include", "must_exclude"),
    [
        # AND of the two and OpenSearch's "last operator wins" both include 1000 here
        ({"gte": 1000, "gt": 500}, {"T-SHO-018"}, {"T-BAG-008"}),
        # ... and both give price < 500 here
        ({"lte": 1000, "lt": 500}, {"T-WAT-006"}, {"T-BAG-008", "T-SHO-018"}),
    ],
)
def test_gt_and_gte_given_together(make_searcher, corpus, bounds, must_include, must_exclude):
    backend = make_searcher(corpus).backend
    try:
        clauses = parse_filters({"price": bounds}, backend.template)
    except InvalidRequestError as exc:  # refusing the mix is a correct fix too
        refused = str(exc)
    else:
        refused = None
    if refused is not None:
        assert "'price" in refused
        return
    for hits in (
        backend.lexical(ALL_TEXT, k=100, filters=clauses),
        backend.vector(HashEmbedder().encode_query("x"), k=100, filters=clauses),
    ):
        skus = set(_skus(backend, hits))
        assert must_include <= skus and not must_exclude & skus


@pytest.mark.parametrize(
    ("filters", "included"),
    [
        ({"inventory_received_at": {"lte": "2026-03-03"}}, True),
        ({"inventory_received_at": {"gt": "2026-03-03"}}, False),
        ({"inventory_received_at": "2026-03-03"}, True),
    ],
)
def test_date_only_bounds_cover_the_whole_day(make_searcher, corpus, filters, included):
    doc = {**corpus[2], "sku": "D-1", "inventory_received_at": "2026-03-03T10:00:00Z"}
    searcher = make_searcher([doc])
    clauses = parse_filters(filters, searcher.template)
    hits = searcher.backend.vector(HashEmbedder().encode_query("x"), k=10, filters=clauses)
    assert bool(hits) is included


# ------------------------------------------------------------------------------------- deletes
def test_deleted_docs_never_come_back(make_searcher, corpus):
    searcher = make_searcher(corpus)
    backend, emb = searcher.backend, HashEmbedder()
    gone = ["T-BAG-000", "T-SHO-035"]  # both gold: the filter-mask cache must not keep them
    gold = parse_filters({"color": "gold"}, searcher.template)
    q = emb.encode_query(embedding_text(corpus[0], searcher.template))
    before = backend.vector(q, k=100, filters=gold)
    keys = {sku: h.key for sku, h in zip(_skus(backend, before), before)}

    assert backend.delete([*gone, "NO-SUCH-SKU", gone[0]]) == 2
    assert backend.count() == len(corpus) - 2
    assert backend.info().documents == len(corpus) - 2
    for sku in gone:
        assert backend.get(sku) is None
    assert backend.fetch([keys[s] for s in gone]) == {}
    for filters in ([], gold):
        for hits in (
            backend.lexical("Maison Aurelle black calfskin tote gold", k=100, filters=filters),
            backend.vector(q, k=100, filters=filters),
        ):
            assert not set(_skus(backend, hits)) & set(gone)
            assert not {h.key for h in hits} & {keys[s] for s in gone}
    resp = searcher.search({"query": "black calfskin tote", "k": 50, "mode": "hybrid"})
    assert not {h["id"] for h in resp.hits} & set(gone)

    assert backend.delete(gone) == 0
    assert backend.delete(["NO-SUCH-SKU"]) == 0
    assert backend.delete([]) == 0
    assert backend.count() == len(corpus) - 2


def test_delete_then_reindex_brings_the_doc_back(make_searcher, corpus):
    searcher = make_searcher(corpus)
    backend = searcher.backend
    assert backend.delete(["T-BAG-000"]) == 1
    report = index_documents(
        [("line 1", corpus[0])],
        template=searcher.template,
        embedder=HashEmbedder(),
        backend=backend,
    )
    assert report.indexed == 1 and report.failed == []
    assert backend.count() == len(corpus)
    assert backend.get("T-BAG-000") == corpus[0]
    assert "T-BAG-000" in _skus(backend, backend.lexical("black tote", k=100, filters=[]))
    vec = backend.vector(HashEmbedder().encode_query("tote"), k=100, filters=[])
    assert _skus(backend, vec).count("T-BAG-000") == 1


# ------------------------------------------------------------------------------------- upserts
def _upsert(searcher: Searcher, docs: list[dict[str, Any]]) -> Any:
    items = [(f"line {i}", d) for i, d in enumerate(docs, 1)]
    return index_documents(
        items, template=searcher.template, embedder=HashEmbedder(), backend=searcher.backend
    )


def test_upsert_replaces_the_document(make_searcher, corpus, backend_kind):
    searcher = make_searcher(corpus)
    backend, emb = searcher.backend, HashEmbedder()
    old = corpus[0]
    new = {**old, "title": "Quokka hammock", "color": "teal", "description": "A teal hammock."}
    old_q = emb.encode_query(embedding_text(old, searcher.template))
    old_key = backend.vector(old_q, k=1, filters=[])[0].key
    assert _upsert(searcher, [new]).indexed == 1

    assert backend.count() == len(corpus)
    assert backend.get(old["sku"]) == new
    assert _skus(backend, backend.lexical("quokka", k=10, filters=[])) == [old["sku"]]
    assert old["sku"] not in _skus(backend, backend.lexical("tote", k=100, filters=[]))
    vec = backend.vector(old_q, k=100, filters=[])
    if backend_kind == "embedded":  # row keys change on upsert; OpenSearch keys are the _id
        assert old_key not in {h.key for h in vec}
    assert _skus(backend, vec).count(old["sku"]) == 1
    for color, present in (("gold", False), ("teal", True)):
        clauses = parse_filters({"color": color}, searcher.template)
        for hits in (
            backend.lexical(ALL_TEXT + " hammock", k=100, filters=clauses),
            backend.vector(old_q, k=100, filters=clauses),
        ):
            assert (old["sku"] in _skus(backend, hits)) is present


def test_duplicates_in_one_batch_last_wins(make_searcher, corpus):
    searcher = make_searcher(corpus)
    backend = searcher.backend
    first = {**corpus[1], "title": "Wombat satchel"}
    last = {**corpus[1], "title": "Narwhal satchel"}
    report = _upsert(searcher, [first, last])
    assert report.failed == []
    assert backend.count() == len(corpus)
    assert backend.get(first["sku"]) == last
    assert backend.lexical("wombat", k=10, filters=[]) == []
    assert _skus(backend, backend.lexical("narwhal", k=10, filters=[])) == [first["sku"]]
    vec = backend.vector(HashEmbedder().encode_query("Wombat satchel"), k=100, filters=[])
    assert _skus(backend, vec).count(first["sku"]) == 1
    resp = searcher.search({"query": "satchel", "k": 50, "mode": "hybrid"})
    assert [h["source"]["title"] for h in resp.hits if h["id"] == first["sku"]] == [last["title"]]


def test_vectors_are_normalised_and_zero_ones_refused(make_searcher, corpus):
    searcher = make_searcher(corpus)
    backend, emb = searcher.backend, HashEmbedder()
    vec = emb.encode_documents(["long vector"])
    docs = [{**corpus[0], "sku": "V-LONG"}, {**corpus[0], "sku": "V-ZERO"}]
    report = backend.index(docs, np.vstack([5.0 * vec, np.zeros_like(vec)]))
    assert report.indexed == 1 and [sku for sku, _ in report.failed] == ["V-ZERO"]
    top = backend.vector(3.0 * vec[0], k=1, filters=[])
    assert _skus(backend, top) == ["V-LONG"] and top[0].score == pytest.approx(1.0, abs=1e-6)
    assert backend.get("V-ZERO") is None and backend.count() == len(corpus) + 1
    assert backend.vector(np.zeros(384, dtype=np.float32), k=5, filters=[]) == []


def test_infinite_vector_is_reported_without_warnings(make_searcher, corpus):
    backend = make_searcher(corpus).backend
    vec = np.full((1, 384), np.inf, dtype=np.float32)
    report = backend.index([{**corpus[0], "sku": "V-INF"}], vec)
    assert report.indexed == 0 and [sku for sku, _ in report.failed] == ["V-INF"]
