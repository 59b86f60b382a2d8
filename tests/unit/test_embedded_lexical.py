"""The embedded lexical leg's typo tolerance: which terms count as typos, and how they expand."""

from __future__ import annotations

from typing import Any

import pytest


def _doc(sku: str, title: str, brand: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "title": title,
        "brand": brand,
        "category": "handbags",
        "description": "Made by hand.",
        "price": 100.0,
    }


DOCS = [
    _doc("A-1", "black calfskin tote", "Vantier"),
    _doc("A-2", "red silk scarf", "Blach"),  # one edit from "black", but only as a brand
    _doc("A-3", "navy wool coat", "Orsolo"),
    _doc("QX-WAT-00001", "steel moon-phase watch", "Orsolo"),
    _doc("QX-OUT-00002", "waxed cotton parka", "Vantier"),  # "wax": one edit from "wat"
]


@pytest.fixture
def backend(make_searcher):
    return make_searcher(DOCS).backend


def _ids(backend, hits):
    found = backend.fetch([h.key for h in hits])
    return [found[h.key][0] for h in hits]


def test_a_term_one_field_knows_is_not_a_typo_in_the_others(backend):
    # "black" is a title term: the brand field must not expand it to "blach".
    exact = backend.lexical("black", k=10, filters=[])
    assert _ids(backend, exact) == ["A-1"]
    assert backend.lexical("black", k=10, filters=[], fuzzy=True) == exact


def test_a_term_no_field_knows_expands_in_every_field(backend):
    # "blakc": a transposition of "black" (title) two edits from "blach" (brand).
    assert backend.lexical("blakc", k=10, filters=[]) == []
    assert _ids(backend, backend.lexical("blakc", k=10, filters=[], fuzzy=True)) == ["A-1"]
    # "blah": one edit from "blach" (brand) only; expands there and finds A-2.
    assert _ids(backend, backend.lexical("blah", k=10, filters=[], fuzzy=True)) == ["A-2"]


def test_a_word_known_under_another_analyzer_is_no_typo(backend):
    # "wat" is a sku.text term (standard analyzer); the stemmed title field lacks it, but that
    # makes it no typo there: it must not expand to "wax" and pull in the parka.
    exact = backend.lexical("QX-WAT-00001", k=10, filters=[])
    assert _ids(backend, exact)[0] == "QX-WAT-00001"
    assert backend.lexical("QX-WAT-00001", k=10, filters=[], fuzzy=True) == exact
    assert "QX-OUT-00002" in _ids(backend, backend.lexical("wexed", k=10, filters=[], fuzzy=True))


def test_known_and_misspelt_terms_together(backend):
    hits = backend.lexical("navy woll", k=10, filters=[], fuzzy=True)
    assert _ids(backend, hits)[0] == "A-3"
    # "woll" matched "wool" fuzzily, so the typo query outscores the exact one.
    exact = backend.lexical("navy woll", k=10, filters=[])
    assert hits[0].score > exact[0].score


# ---------------------------------------------------------------- best_fields, field by field
QUERIES = [
    "black leather tote",
    "navy wool coat",
    "silk scarf made in italy",
    "gold watch",
    "cashmer sweatr",  # typos: fuzzy clauses inside the per-field queries
    "leather",
    "Vantier",
    "LX-WAT-00003",  # "lx" is in every SKU: the narrowed query with its fallback
    "lx-sho-00002 black",
]


@pytest.fixture(scope="module")
def demo_backend(tmp_path_factory):
    from hybrid_search.config import load_settings
    from hybrid_search.demo import load_catalogue
    from tests.conftest import HashEmbedder, index_all, searcher_with

    settings = load_settings(embedded={"data_dir": str(tmp_path_factory.mktemp("demo"))})
    embedder = HashEmbedder()
    searcher = searcher_with(settings, embedder)
    docs = load_catalogue()
    # Two commits: hits come from two segments, so doc addresses and row keys differ.
    index_all(searcher, docs[:300], embedder)
    index_all(searcher, docs[300:], embedder)
    yield searcher.backend
    searcher.close()


def _dis_max_reference(backend, text, k, filters, fuzzy):
    """The single dis_max query the per-field searches replace, run as one tantivy search."""
    import tantivy

    from hybrid_search.backends.embedded.lexical import KEY_FIELD

    lex, snap = backend.lex, backend._open()
    fields = lex.field_queries(text, snap.searcher, fuzzy=fuzzy)
    dis_max = tantivy.Query.disjunction_max_query([f.query for f in fields])
    query = lex.combine(dis_max, lex.filter_query(filters))
    hits = snap.searcher.search(query, k, count=False).hits
    keys = snap.searcher.fast_field_values(KEY_FIELD, [a for _, a in hits])
    return {key: score for (score, _), key in zip(hits, keys, strict=True)}


@pytest.mark.parametrize("fuzzy", [False, True])
@pytest.mark.parametrize("k", [3, 10, 50])
@pytest.mark.parametrize("filters", [None, {"category": "handbags"}, {"price": {"gte": 900}}])
def test_field_by_field_search_equals_the_dis_max(demo_backend, template, fuzzy, k, filters):
    from hybrid_search.documents import parse_filters

    clauses = parse_filters(filters, template)
    for text in QUERIES:
        want = _dis_max_reference(demo_backend, text, k, clauses, fuzzy)
        got = demo_backend.lexical(text, k=k, filters=clauses, fuzzy=fuzzy)
        got_scores = {h.key: h.score for h in got}
        assert len(got) == len(want), text
        cut = min(want.values(), default=0.0)  # documents tied at the k-th score may swap
        assert {key for key, s in want.items() if s > cut} <= set(got_scores), text
        for key, score in got_scores.items():
            if key in want:
                assert score == want[key], (text, key)  # bit for bit
            else:
                assert score == cut, (text, key)
        assert [h.score for h in got] == sorted(want.values(), reverse=True), text


def test_fields_that_cannot_reach_the_top_k_are_skipped(demo_backend, monkeypatch):
    """A field whose terms' best scores add up below a searched field's k-th score is not
    searched; the answers stay the dis_max's (the test above), and skipping does happen."""
    lex, searcher = demo_backend.lex, demo_backend._open().searcher
    skipped = []
    below = lex.below

    def spy(searcher_, field, threshold):
        answer = below(searcher_, field, threshold)
        skipped.append(answer)
        return answer

    monkeypatch.setattr(lex, "below", spy)
    for text in ("black leather tote", "silk scarf made in italy", "gold watch"):
        got = demo_backend.lexical(text, k=3, filters=[])
        assert [h.score for h in got] == sorted(
            _dis_max_reference(demo_backend, text, 3, [], False).values(), reverse=True
        )
    assert any(skipped)
    # The bound: no document's field score exceeds the sum of its terms' best scores.
    for field in lex.field_queries("black leather tote", searcher):
        best = searcher.search(field.query, 1, count=False).hits[0][0]
        assert not lex.below(searcher, field, best)
        assert lex.below(searcher, field, best * 3.01)  # three terms, each at most ``best``
    (typo_field, *_) = lex.field_queries("blakc", searcher, fuzzy=True)
    assert not typo_field.exact and not lex.below(searcher, typo_field, 1e9)  # never skipped


def test_best_per_key_keeps_each_documents_best_field():
    import numpy as np

    from hybrid_search.backends.embedded.lexical import best_per_key

    keys = np.array([7, 3, 9, 3, 7, 1, -1, 12], dtype=np.int64)
    scores = np.array([2.0, 5.0, 4.0, 6.0, 1.0, 4.0, 9.0, 8.0])
    got_keys, got_scores = best_per_key(keys, scores, 3, limit=10)
    # -1 (no key) and 12 (beyond the snapshot) dropped; 3 keeps 6.0; 1 and 9 tie: key order.
    assert got_keys.tolist() == [3, 1, 9]
    assert got_scores.tolist() == [6.0, 4.0, 4.0]


def test_common_terms_are_narrowed_away_with_the_same_top_k(demo_backend):
    """A SKU's house prefix ("lx") is in every document: the narrowed query must give the
    full query's top k, and the bound must be the prefix's own best score."""
    import tantivy

    lex, searcher = demo_backend.lex, demo_backend._open().searcher
    (sku_field,) = [f for f in lex.field_queries("LX-WAT-00003", searcher) if f.narrowed]
    full = searcher.search(sku_field.query, 10, count=False).hits
    narrowed = searcher.search(sku_field.narrowed, 10, count=False).hits
    assert narrowed[-1][0] > sku_field.common_bound  # so the backend keeps the narrowed answer
    assert [a.doc for _, a in narrowed] == [a.doc for _, a in full]
    assert [s for s, _ in narrowed] == [s for s, _ in full]  # same terms added in the same order
    assert searcher.doc_freq("sku__text", "lx") * 2 >= searcher.num_docs
    only_lx = tantivy.Query.boost_query(
        tantivy.Query.term_query(lex.schema, "sku__text", "lx"), 3.0
    )
    best = searcher.search(only_lx, 1, count=False).hits[0][0]
    assert 0 < best <= sku_field.common_bound == pytest.approx(best, rel=2e-3)
    # Only common terms: nothing to narrow to, the full query runs.
    (only_common,) = [f for f in lex.field_queries("LX", searcher) if f.common_bound > 0]
    assert only_common.narrowed is None


def test_narrowing_stays_exact_after_deletes(tmp_path):
    """Deleted documents still count in tantivy's BM25 statistics until a merge: the bound is
    measured, not computed, so the narrowed answers still equal the full query's."""
    import tantivy

    from hybrid_search.config import load_settings
    from hybrid_search.demo import load_catalogue
    from tests.conftest import HashEmbedder, index_all, searcher_with

    embedder = HashEmbedder()
    searcher = searcher_with(load_settings(embedded={"data_dir": str(tmp_path)}), embedder)
    try:
        docs = load_catalogue()
        index_all(searcher, docs, embedder)
        searcher.backend.delete([d["sku"] for d in docs[:250]])
        backend = searcher.backend
        lex, snap = backend.lex, backend._open()
        (sku_field,) = [f for f in lex.field_queries("LX-WAT-00403", snap.searcher) if f.narrowed]
        lx = tantivy.Query.term_query(lex.schema, "sku__text", "lx")
        best = snap.searcher.search(tantivy.Query.boost_query(lx, 3.0), 1, count=False).hits[0][0]
        assert sku_field.common_bound == pytest.approx(best, rel=2e-3)
        for text in ("LX-WAT-00403", "lx-sho-00402 black", "LX-BAG-00510"):
            fields = lex.field_queries(text, snap.searcher)
            dis_max = tantivy.Query.disjunction_max_query([f.query for f in fields])
            want = snap.searcher.search(dis_max, 20, count=False).hits
            got = backend.lexical(text, k=20, filters=[])
            assert [h.score for h in got] == [s for s, _ in want], text
    finally:
        searcher.close()
