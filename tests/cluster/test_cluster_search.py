"""The search path on a real OpenSearch: the painless commercial stage against the numpy formula,
native hybrid mode with both pipelines and the radial gate, and the inner-product and
``vector_blocks`` templates (scores, 416-d vectors read back from the cluster)."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pytest

from hybrid_search.documents import parse_date
from hybrid_search.ingest import index_documents
from hybrid_search.ranking.commercial import CommercialParams, commercial_terms
from hybrid_search.ranking.confidence import cosine_from_score
from hybrid_search.ranking.fusion import FusionResult
from hybrid_search.reembed import reembed
from tests.conftest import HashEmbedder, renamed

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)

COEFFICIENTS = {
    "default": CommercialParams(),
    "extreme": CommercialParams(
        relevance_weight=0.01,
        margin_weight=50.0,
        freshness_weight=-3.0,
        freshness_tau_days=0.5,
        popularity_weight=-7.5,
        popularity_damping=1e-6,
    ),
    "capped margin, steep popularity": CommercialParams(
        margin_weight=2.0, max_margin=0.12, popularity_weight=4.0, popularity_damping=1e4
    ),
}


def _with_gaps(corpus: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The corpus with some commercial fields missing (each role absent somewhere)."""
    docs = []
    for i, doc in enumerate(corpus):
        doc = dict(doc)
        if i % 5 == 1:
            doc.pop("margin", None)
        if i % 7 == 2:
            doc.pop("inventory_received_at", None)
        if i % 4 == 3:
            doc.pop("popularity", None)
        docs.append(doc)
    return docs


@pytest.mark.parametrize("stage", ["painless", "sidecar"])
@pytest.mark.parametrize("name", list(COEFFICIENTS))
def test_commercial_stage_equals_the_numpy_formula_on_every_hit(
    make_opensearch_searcher, corpus, name, stage
):
    docs = _with_gaps(corpus)
    searcher = make_opensearch_searcher(docs, opensearch={"commercial_stage": stage})
    backend: Any = searcher.backend
    by_sku = {d["sku"]: d for d in docs}
    ids = [d["sku"] for d in docs]
    fused = np.linspace(1.0, 0.05, len(ids))
    window = FusionResult(
        list(ids), fused, np.full((len(ids), 2), np.nan), np.full((len(ids), 2), np.nan)
    )
    params = COEFFICIENTS[name]
    terms = backend.rerank(window, params, now=NOW)

    def column(field: str) -> np.ndarray:
        return np.array([float(by_sku[i].get(field, math.nan)) for i in ids])

    ages = np.array(
        [
            (NOW - parse_date(by_sku[i]["inventory_received_at"], "d")).total_seconds() / 86400
            if "inventory_received_at" in by_sku[i]
            else math.nan
            for i in ids
        ]
    )
    want = commercial_terms(fused, column("margin"), ages, column("popularity"), params)
    assert np.isfinite(terms.total).all()  # every candidate scored by the cluster
    np.testing.assert_allclose(terms.total, want.total, rtol=0, atol=1e-5)


@pytest.mark.parametrize("stage", ["painless", "sidecar"])
def test_sidecar_search_with_each_commercial_stage(make_opensearch_searcher, corpus, stage):
    searcher = make_opensearch_searcher(_with_gaps(corpus), opensearch={"commercial_stage": stage})
    sent: list[str] = []
    client: Any = searcher.backend.client
    send = client.send

    def spy(request: Any, **kwargs: Any) -> Any:
        sent.append(f"{request.method} {request.path}")
        return send(request, **kwargs)

    client.send = spy
    resp = searcher.search({"query": "black calfskin tote", "k": 10, "explain": True})
    assert resp.mode_used == "hybrid" and resp.hits
    assert any(p.endswith("/_msearch") for p in sent)  # both legs in one round trip
    if stage == "painless":  # window stats + script_score
        assert sum(p.endswith("/_search") for p in sent) == 2
    else:  # one ids search for the commercial fields
        assert sum(p.endswith("/_search") for p in sent) == 1
    for hit in resp.hits:
        b = hit["breakdown"]
        parts = b["relevance"] + b["margin"] + b["freshness"] + b["popularity"]
        assert hit["score"] == pytest.approx(parts, abs=1e-5)
    totals = [h["score"] for h in resp.hits]
    assert totals == sorted(totals, reverse=True)


@pytest.mark.parametrize("combination", ["arithmetic_mean", "rrf"])
def test_native_mode_with_each_pipeline(make_opensearch_searcher, corpus, combination):
    search = {"combination": combination}
    native = make_opensearch_searcher(corpus, opensearch={"mode": "native"}, search=search)
    steps = native.backend.bootstrapper.run(model_id="test/hash-embedder", dimension=384)
    pipelines = {s.name: s.action for s in steps if s.kind == "search_pipeline"}
    assert "skipped" not in pipelines.values(), pipelines  # neural-search is installed
    sidecar = make_opensearch_searcher(corpus, search=search)
    req = {"query": "black calfskin tote", "k": 10, "mode": "hybrid", "explain": True}
    req["commercial"] = {"enabled": False}
    got, want = native.search(req), sidecar.search(req)
    assert got.mode_used == "hybrid"
    assert [h["id"] for h in got.hits][:3] == [h["id"] for h in want.hits][:3]
    assert len({h["id"] for h in got.hits} & {h["id"] for h in want.hits}) >= 8
    for hit in got.hits:
        assert hit["score"] >= 0  # no sentinel scores: the pipeline ran


def test_native_radial_gate_keeps_only_close_vectors(make_opensearch_searcher, corpus):
    """Stopwords only: the lexical leg matches nothing (english analyzer; no SKU holds them), so
    every hit comes from the radial knn sub-query, which keeps exactly the cosines >= tau (the
    gate is on in mode auto)."""
    emb = HashEmbedder()
    native = make_opensearch_searcher(corpus, opensearch={"mode": "native"})
    native.backend.bootstrapper.run(model_id=emb.model_id, dimension=384)
    query, tau = "a in by", 0.3
    assert native.backend.lexical(query, k=40, filters=[]) == []
    vec = emb.encode_query(query)
    cosines = {d["sku"]: float(vec @ emb.encode_documents([_text(native, d)])[0]) for d in corpus}
    close = {sku for sku, cos in cosines.items() if cos >= tau}
    assert 0 < len(close) < len(corpus)
    req = {"query": query, "k": 40, "mode": "auto", "min_vector_cosine": tau}
    req["commercial"] = {"enabled": False}
    got = native.search(req)
    assert {h["id"] for h in got.hits} == close


def _text(searcher: Any, doc: dict[str, Any]) -> str:
    from hybrid_search.documents import embedding_text

    return embedding_text(doc, searcher.template)


def test_innerproduct_template_scores_and_cosines(make_opensearch_searcher, corpus):
    searcher = make_opensearch_searcher(corpus, template="products-innerproduct")
    backend: Any = searcher.backend
    emb = HashEmbedder()
    vec = emb.encode_query("navy suede shoes")
    hits = backend.vector(vec, k=10, filters=[])
    docs = {d["sku"]: d for d in corpus}
    for hit in hits:
        dot = float(vec @ emb.encode_documents([_text(searcher, docs[hit.key])])[0])
        want = dot + 1 if dot >= 0 else 1 / (1 - dot)  # k-NN's innerproduct score
        assert hit.score == pytest.approx(want, abs=1e-5)
        assert cosine_from_score(hit.score, "innerproduct") == pytest.approx(dot, abs=1e-5)


def test_behaviour_template_416_d_vectors_read_back(
    make_opensearch_searcher, corpus, opensearch_version
):
    searcher = make_opensearch_searcher(template="products-behaviour")
    backend: Any = searcher.backend
    docs = []
    for i, doc in enumerate(corpus[:8]):
        if i < 6:  # the last two are new arrivals: no behaviour vector
            block = np.zeros(32)
            block[i % 3] = 1.0
            doc = {**doc, "vectors": {"behaviour": block.tolist()}}
        docs.append(doc)
    emb = HashEmbedder()
    report = index_documents(
        ((f"doc {i}", d) for i, d in enumerate(docs)),
        template=searcher.template,
        embedder=emb,
        backend=backend,
    )
    assert report.failed == [] and report.indexed == 8
    # On 3.x the knn field's _source is derived from the vector doc values: what vector_of,
    # reembed and reindex read back must still be the full 416-d vector.
    before = {d["sku"]: backend.vector_of(d["sku"]) for d in docs}
    assert all(v is not None and v.shape == (416,) for v in before.values())
    assert before[docs[0]["sku"]][384:].any() and not before[docs[7]["sku"]][384:].any()
    assert "vectors" not in backend.get(docs[0]["sku"])
    moved = reembed(backend, backend.template, renamed(emb, "m2"))
    assert moved.swapped and moved.ingest.failed == [] and moved.source_count == 8
    for sku, vec in before.items():
        np.testing.assert_allclose(backend.vector_of(sku), vec, atol=1e-6)
    text = searcher.template.query_vector(emb.encode_query("black tote"))
    hits = backend.vector(text, k=5, filters=[])
    assert hits and all(h.score > 0 for h in hits)
    assert opensearch_version[0] in (2, 3)
