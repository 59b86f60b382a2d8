"""The learned re-rank on both backends: the same candidate scores (per-field BM25 of every
matched field, the cosine, the field texts) and the same re-ranked order, explain included.

The OpenSearch half runs on the real test cluster (``make_opensearch_searcher``), skipped with
the reason when ``HYBRID_SEARCH_TEST_OPENSEARCH_URL`` is not set.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hybrid_search.ltr.model import save_model
from hybrid_search.ltr.stage import FeatureRecorder
from hybrid_search.training.ltr import QueryRows, fit
from tests.conftest import HashEmbedder

pytest.importorskip("lightgbm")
pytestmark = pytest.mark.integration

QUERIES = ["black calfskin tote", "navy suede shoes", "gold watch made by hand", "black handbags"]


def _window(searcher: Any, query: str) -> tuple[Any, list[str], Any]:
    """The fused window of a hybrid search, and the query vector, through the searcher."""
    recorder = FeatureRecorder(searcher.template)
    searcher.ltr = recorder
    searcher.search({"query": query, "k": 10, "rerank": "ltr", "fuzzy": "off"})
    assert recorder.last is not None
    return recorder.last


@pytest.fixture
def pair(make_searcher, make_opensearch_searcher, corpus) -> tuple[Any, Any]:
    return make_searcher(corpus), make_opensearch_searcher(corpus)


@pytest.mark.parametrize("query", QUERIES)
def test_candidate_scores_agree(pair, query):
    embedded, remote = pair
    vec = HashEmbedder().encode_query(query)
    lexical = embedded.backend.lexical(query, k=40, filters=[])
    keys = [h.key for h in lexical]
    mine = embedded.backend.candidate_scores(query, vec, keys)
    sources = embedded.backend.fetch(keys)
    ids = [sources[k][0] for k in keys]
    theirs = remote.backend.candidate_scores(query, vec, ids)
    assert mine.ids == theirs.ids == ids
    assert mine.texts == theirs.texts
    np.testing.assert_allclose(theirs.cosines, mine.cosines, atol=1e-5)
    # each field's own BM25: the same fields match, with scores of the same size
    assert ((mine.field_scores > 0) == (theirs.field_scores > 0)).all()
    assert (mine.field_scores > 0).sum(axis=1).max() >= 2, "some candidate matches 2+ fields"
    # (Lucene quantises field lengths into one byte: a few per cent apart, more on tiny idfs)
    np.testing.assert_allclose(theirs.field_scores, mine.field_scores, rtol=0.1, atol=0.05)
    # the lexical leg's score is the best boosted field (best_fields), on tantivy's scale there
    boosts = np.array(list(embedded.template.lexical_fields.values()))
    best = (mine.field_scores * boosts).max(axis=1) * 2.2
    np.testing.assert_allclose(best, [h.score for h in lexical], rtol=1e-4)


def test_reranked_order_and_explain_agree(pair, tmp_path):
    embedded, remote = pair
    features = FeatureRecorder(embedded.template).features
    rows = []
    for i, query in enumerate(QUERIES * 3):
        ids, x = _window(embedded, query)
        labels = np.zeros(len(ids))
        labels[(i % len(ids))] = 2.0  # any judgments: the test is about serving alike
        rows.append(QueryRows(f"q{i}", ids, x, labels))
    booster = fit(rows, features, params={"min_data_in_leaf": 3}, rounds=20)
    model_dir = save_model(
        booster,
        tmp_path / "model",
        features=features,
        embedding_model=HashEmbedder.model_id,
        text_fields=list(embedded.template.lexical_fields),
        window=200,
        trained={},
    )
    from hybrid_search.ltr.stage import LtrStage

    for searcher in (embedded, remote):
        searcher.ltr = LtrStage(model_dir, searcher.template)
    heads = 0
    for query in QUERIES:
        req = {"query": query, "k": 5, "rerank": "ltr", "fuzzy": "off", "explain": True}
        req["commercial"] = {"enabled": False}
        mine, theirs = embedded.search(req), remote.search(req)
        # The same model on features about 1 % apart (Lucene's one-byte field lengths): this
        # model, fitted to arbitrary labels on 12 windows, can split between two backends'
        # values of one feature ('gold watch made by hand': the fused score 0.358 vs 0.362
        # moves one candidate from first to third). So each head is in the other's top 3, and
        # the heads agree on all queries but one; without the re-rank on one side its head
        # would be the fused head, outside the other's top 3 on two of these queries.
        top_mine = [h["id"] for h in mine.hits[:3]]
        top_theirs = [h["id"] for h in theirs.hits[:3]]
        assert mine.hits[0]["id"] in top_theirs, (query, top_mine, top_theirs)
        assert theirs.hits[0]["id"] in top_mine, (query, top_mine, top_theirs)
        heads += mine.hits[0]["id"] == theirs.hits[0]["id"]
        scores = [h["breakdown"]["ltr"] for h in theirs.hits]
        assert scores == sorted(scores, reverse=True)
        for b in theirs.hits:
            assert len(b["breakdown"]["ltr_contributions"]["top_features"]) == 5
            assert b["explain"]["ltr"]["model"] == "model"
    assert heads >= len(QUERIES) - 1, "the heads differ on more than one query"


@pytest.mark.parametrize("query", QUERIES)
def test_features_agree(pair, query):
    """Every feature of the window's candidates, embedded against OpenSearch."""
    embedded, remote = pair
    ids_a, xa = _window(embedded, query)
    ids_b, xb = _window(remote, query)
    assert set(ids_a[:10]) == set(ids_b[:10])
    where = {d: i for i, d in enumerate(ids_b)}
    common = [i for i, d in enumerate(ids_a) if d in where]
    a, b = xa[common], xb[[where[ids_a[i]] for i in common]]
    # ranks of tied documents follow each engine's tie order (row key, _id): left out here
    names = FeatureRecorder(embedded.template).features
    keep = [j for j, name in enumerate(names) if not name.endswith("_rank")]
    a, b = a[:, keep], b[:, keep]
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    # (a term in nearly every document: idfs near 0 differ by up to 0.025 absolute)
    np.testing.assert_allclose(np.nan_to_num(b), np.nan_to_num(a), rtol=0.03, atol=0.03)
