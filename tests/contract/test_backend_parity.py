"""The same searches on the embedded engine and on a real OpenSearch cluster rank alike.

Runs only with ``HYBRID_SEARCH_TEST_OPENSEARCH_URL`` (skipped with the reason otherwise; a failure
with ``HYBRID_SEARCH_REQUIRE_OPENSEARCH=1``). It covers what osmem-server cannot: the knn leg,
both legs in one ``_msearch``, the painless stage on a real cluster, and the native hybrid mode.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hybrid_search.documents import embedding_text, parse_filters
from tests.conftest import HashEmbedder

pytestmark = pytest.mark.integration

QUERIES = ["black calfskin tote", "navy suede shoes", "gold watch made by hand", "T-BAG-001"]


@pytest.fixture
def pair(make_searcher, make_opensearch_searcher, corpus) -> tuple[Any, Any]:
    """(embedded searcher, OpenSearch searcher) over the same corpus."""
    return make_searcher(corpus), make_opensearch_searcher(corpus)


def _ids(resp: Any) -> list[str]:
    return [h["id"] for h in resp.hits]


@pytest.mark.parametrize("query", QUERIES)
def test_vector_leg_scores_are_identical(pair, query):
    embedded, remote = pair
    vec = HashEmbedder().encode_query(query)
    mine = embedded.backend.vector(vec, k=10, filters=[])
    theirs = remote.backend.vector(vec, k=10, filters=[])
    np.testing.assert_allclose([h.score for h in theirs], [h.score for h in mine], rtol=1e-5)


@pytest.mark.parametrize("query", QUERIES)
def test_hybrid_rankings_agree(pair, query):
    """Without typo tolerance: Lucene's ``fuzziness`` also expands terms the index knows ("001"
    of T-BAG-001 matches "000", "002"), the embedded engine only unknown ones
    (``test_fuzzy_expands_known_terms_on_opensearch_only``)."""
    embedded, remote = pair
    req = {"query": query, "k": 10, "mode": "hybrid", "commercial": {"enabled": False}}
    req["fuzzy"] = "off"
    mine, theirs = embedded.search(req), remote.search(req)
    assert len(set(_ids(mine)) & set(_ids(theirs))) >= 8
    assert _ids(mine)[0] == _ids(theirs)[0]
    for a, b in zip(mine.hits, theirs.hits):
        assert a["breakdown"]["fused"] == pytest.approx(b["breakdown"]["fused"], abs=0.05)


def test_fuzzy_expands_known_terms_on_opensearch_only(pair):
    """The one known ranking difference between the backends with the default typo tolerance,
    pinned so that a change on either side is seen: Lucene expands the known "001"."""
    embedded, remote = pair
    mine = [h.key for h in embedded.backend.lexical("T-BAG-001", k=10, filters=[], fuzzy=True)]
    theirs = [h.key for h in remote.backend.lexical("T-BAG-001", k=10, filters=[], fuzzy=True)]
    found = embedded.backend.fetch(mine)
    skus = [found[k][0] for k in mine]
    assert skus[0] == theirs[0] == "T-BAG-001"
    assert "T-SHO-002" in theirs  # "001" -> "002", one edit: the embedded engine does not
    assert "T-SHO-002" not in skus


def test_legs_are_one_msearch_and_match_the_single_legs(pair):
    _, remote = pair
    backend = remote.backend
    vec = HashEmbedder().encode_query("black tote")
    clauses = parse_filters({"in_stock": True}, backend.template)
    legs = backend.legs("black tote", vec, k=20, filters=clauses)
    lexical, vector = legs.lexical, legs.vector
    assert legs.vector_error is None
    assert lexical == backend.lexical("black tote", k=20, filters=clauses)
    assert [h.key for h in vector] == [h.key for h in backend.vector(vec, k=20, filters=clauses)]


def test_commercial_stage_on_the_cluster_matches_embedded(pair):
    embedded, remote = pair
    req = {"query": "made by hand", "k": 20, "mode": "lexical"}
    mine, theirs = embedded.search(req), remote.search(req)
    by_id = {h["id"]: h for h in mine.hits}
    compared = 0
    for hit in theirs.hits:
        if hit["id"] in by_id and hit["breakdown"]["fused"] == pytest.approx(
            by_id[hit["id"]]["breakdown"]["fused"], abs=1e-6
        ):
            other = by_id[hit["id"]]["breakdown"]
            for term in ("margin", "freshness", "popularity"):
                assert hit["breakdown"][term] == pytest.approx(other[term], rel=1e-6, abs=1e-9)
            compared += 1
    # Only hits with the same fused score can be compared term by term; there must be some.
    assert compared >= len(theirs.hits) // 2 > 0, f"{compared} of {len(theirs.hits)} hits compared"


def test_vector_of_and_fuzzy(pair, corpus):
    _, remote = pair
    backend = remote.backend
    want = HashEmbedder().encode_documents([embedding_text(corpus[0], backend.template)])[0]
    np.testing.assert_allclose(backend.vector_of(corpus[0]["sku"]), want, atol=1e-6)
    assert backend.lexical("calfskn clutchh", k=5, filters=[], fuzzy=True)


def test_native_mode_ranks_like_sidecar_fusion(make_opensearch_searcher, corpus):
    factory = make_opensearch_searcher
    native = factory(corpus, opensearch={"mode": "native"})
    steps = native.backend.bootstrapper.run(model_id="test/hash-embedder", dimension=384)
    if any(s.kind == "search_pipeline" and s.action == "skipped" for s in steps):
        pytest.skip("the cluster has no neural-search plugin (search pipelines refused)")
    req = {"query": "black calfskin tote", "k": 10, "mode": "hybrid"}
    req["commercial"] = {"enabled": False}
    sidecar = factory(corpus)
    got, want = native.search(req), sidecar.search(req)
    assert got.mode_used == "hybrid"
    assert len(set(_ids(got)) & set(_ids(want))) >= 8
    for hit in got.hits:
        assert hit["score"] >= 0  # no sentinel scores: the pipeline ran
