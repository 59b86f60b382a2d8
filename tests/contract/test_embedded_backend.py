"""Embedded engine behaviour: filters on both legs, deletes, upserts, reopen, error paths.

Every filtered answer is checked against a brute-force Python filter over the corpus, written
here independently of ``hybrid_search.documents`` so a shared mistake cannot hide.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hybrid_search.documents import embedding_text, parse_filters
from hybrid_search.errors import (
    IndexCorruptError,
    IndexNotFoundError,
    InvalidRequestError,
    ModelMismatchError,
)
from hybrid_search.ingest import index_documents
from hybrid_search.searcher import Searcher
from tests.conftest import HashEmbedder

ALL_TEXT = "made by hand"  # every corpus description says it: the lexical leg matches all docs
DATE_FIELDS = {"inventory_received_at"}
NUMBER_FIELDS = {"price"}


class OtherModel(HashEmbedder):
    model_id = "test/another-model"


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


@pytest.fixture
def dated_dir(tmp_path: Path, template: Any) -> Path:
    """The products template with the received-at date made filterable."""
    body = json.loads(template.path.read_text())
    body["_meta"]["hybrid_search"]["filter_fields"].append("inventory_received_at")
    out = tmp_path / "templates"
    out.mkdir()
    (out / "dated.json").write_text(json.dumps(body))
    return out


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
def test_date_filters_match_brute_force(make_searcher, corpus, dated_dir, filters):
    searcher = make_searcher(corpus, templates_dir=dated_dir, template="dated")
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
    ({"inventory_received_at": {"gte": "2026-01-01"}}, "inventory_received_at"),  # not filterable
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


@pytest.mark.xfail(
    strict=True,
    raises=OverflowError,
    reason="BUG: documents._is_number calls math.isfinite on a huge int -> OverflowError",
)
def test_huge_integer_filter_bound_is_an_invalid_request(make_searcher, corpus):
    searcher = make_searcher(corpus)
    with pytest.raises(InvalidRequestError, match="'price"):
        searcher.search({"query": "tote", "filters": {"price": {"gte": 10**400}}})


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
        [("line 1", corpus[0])], template=searcher.template, embedder=HashEmbedder(), backend=backend
    )
    assert report.indexed == 1 and report.failed == []
    assert backend.count() == len(corpus)
    assert backend.get("T-BAG-000") == corpus[0]
    hits = backend.lexical("tote", k=10, filters=[])
    assert _skus(backend, hits) == ["T-BAG-000"]


# ------------------------------------------------------------------------------------- upserts
def _upsert(searcher: Searcher, docs: list[dict[str, Any]]) -> Any:
    items = [(f"line {i}", d) for i, d in enumerate(docs, 1)]
    return index_documents(
        items, template=searcher.template, embedder=HashEmbedder(), backend=searcher.backend
    )


def test_upsert_replaces_the_document(make_searcher, corpus):
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


# --------------------------------------------------------------------------------- persistence
def _reopen(make_settings: Any, **overrides: Any) -> Searcher:
    searcher = Searcher.from_settings(make_settings(**overrides))
    searcher._embedder_factory = lambda: HashEmbedder()  # noqa: SLF001
    return searcher


QUERIES = ["black calfskin tote", "navy suede shoes", "silk scarf", "titanium watch"]


def _snapshot(searcher: Searcher) -> dict[str, Any]:
    backend, emb = searcher.backend, HashEmbedder()
    gold = parse_filters({"color": "gold"}, searcher.template)
    out: dict[str, Any] = {"count": backend.count()}
    for q in QUERIES:
        out[q] = (
            [(h.key, h.score) for h in backend.lexical(q, k=20, filters=[])],
            [(h.key, h.score) for h in backend.vector(emb.encode_query(q), k=20, filters=gold)],
            [(h["id"], h["score"]) for h in searcher.search({"query": q, "k": 10}).hits],
        )
    return out


def test_reopen_gives_same_answers(make_searcher, make_settings, corpus):
    searcher = make_searcher(corpus)
    assert searcher.backend.delete(["T-WAT-006", "T-SCA-007"]) == 2
    _upsert(searcher, [{**corpus[2], "title": "Oskarsson red suede chelsea boots"}])
    before = _snapshot(searcher)
    searcher.close()

    again = _reopen(make_settings)
    try:
        after = _snapshot(again)
        assert after.keys() == before.keys()
        for name in before:
            assert after[name] == pytest.approx(before[name], rel=1e-6)
        assert again.backend.get("T-WAT-006") is None
        assert again.backend.get("T-SHO-002")["title"].endswith("chelsea boots")
        extra = {**corpus[0], "sku": "T-NEW-100", "title": "Kinkajou backpack"}
        assert _upsert(again, [extra]).indexed == 1
    finally:
        again.close()

    third = _reopen(make_settings)
    try:
        assert third.backend.count() == len(corpus) - 1
        assert _skus(third.backend, third.backend.lexical("kinkajou", k=5, filters=[])) == [
            "T-NEW-100"
        ]
    finally:
        third.close()


# ------------------------------------------------------------------------------------- errors
def test_missing_index_names_the_path(make_settings, tmp_path):
    searcher = _reopen(make_settings)
    try:
        with pytest.raises(IndexNotFoundError, match=str((tmp_path / "index").resolve())):
            searcher.search({"query": "tote"})
        with pytest.raises(IndexNotFoundError):
            searcher.backend.count()
        assert searcher.backend.health().ok is False
    finally:
        searcher.close()


def _damage(data_dir: Path, what: str) -> str:
    """Damage one file of a closed index; returns the path the error must name."""
    target = data_dir / what
    if what == "manifest.json":
        target.unlink()
    elif what == "manifest-garbage":
        target = data_dir / "manifest.json"
        target.write_text("{not json")
    elif what == "docs.jsonl":
        lines = target.read_bytes().splitlines(keepends=True)
        target.write_bytes(b"".join(lines[:-3]))
    else:
        row = 384 * 4 if what == "vectors.f32" else 3 * 8
        target.write_bytes(target.read_bytes()[: -2 * row])
    return str(target)


@pytest.mark.parametrize(
    "what", ["manifest.json", "manifest-garbage", "vectors.f32", "columns.f64", "docs.jsonl"]
)
def test_damaged_index_is_corrupt_and_names_the_path(make_searcher, make_settings, corpus, what):
    searcher = make_searcher(corpus)
    data_dir = searcher.backend.data_dir
    searcher.close()
    path = _damage(data_dir, what)
    again = _reopen(make_settings)
    try:
        with pytest.raises(IndexCorruptError, match=path):
            again.search({"query": "tote"})
        with pytest.raises(IndexCorruptError):
            again.backend.count()
        assert again.backend.health().ok is False
    finally:
        again.close()


def test_other_model_is_refused(make_searcher, make_settings, corpus):
    make_searcher(corpus).close()
    searcher = _reopen(make_settings)
    searcher._embedder_factory = OtherModel  # noqa: SLF001
    try:
        for mode in ("hybrid", "vector", "auto"):
            with pytest.raises(ModelMismatchError, match="test/another-model"):
                searcher.search({"query": "tote", "mode": mode})
        with pytest.raises(ModelMismatchError, match="test/hash-embedder"):
            searcher.backend.ensure_index(model_id=OtherModel.model_id, dimension=384)
        with pytest.raises(ModelMismatchError):
            index_documents(
                [("line 1", corpus[0])],
                template=searcher.template,
                embedder=OtherModel(),
                backend=searcher.backend,
            )
        with pytest.raises(InvalidRequestError, match="768"):
            searcher.backend.ensure_index(model_id=HashEmbedder.model_id, dimension=768)
        assert searcher.backend.count() == len(corpus)
    finally:
        searcher.close()


def test_changed_template_layout_is_refused(make_searcher, make_settings, corpus, template, tmp_path):
    make_searcher(corpus).close()
    body = json.loads(template.path.read_text())
    body["template"]["mappings"]["properties"]["description"]["analyzer"] = "standard"
    tdir = tmp_path / "changed"
    tdir.mkdir()
    (tdir / "products.json").write_text(json.dumps(body))
    searcher = _reopen(make_settings, templates_dir=tdir)
    try:
        with pytest.raises(ModelMismatchError, match="template"):
            searcher.search({"query": "tote"})
    finally:
        searcher.close()
