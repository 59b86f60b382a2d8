"""The Searcher's stages and fallback policy, on the embedded engine with the hash embedder."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from hybrid_search.errors import (
    BackendUnavailableError,
    EmbedderError,
    InvalidRequestError,
    ModelMismatchError,
)
from tests.conftest import HashEmbedder


class FailingEmbedder(HashEmbedder):
    def encode_query(self, text):
        raise RuntimeError("model crashed")


class SlowEmbedder(HashEmbedder):
    def encode_query(self, text):
        time.sleep(0.5)
        return super().encode_query(text)


def test_hybrid_breakdown_adds_up(make_searcher, corpus):
    s = make_searcher(corpus)
    r = s.search({"query": "black calfskin tote", "k": 5})
    assert r.mode_used == "hybrid" and r.fallback_reason is None
    assert r.hits and r.hits[0]["source"]["title"].endswith("tote")
    for hit in r.hits:
        b = hit["breakdown"]
        parts = b["relevance"] + b["margin"] + b["freshness"] + b["popularity"]
        assert hit["score"] == pytest.approx(parts)
        assert b["relevance"] == pytest.approx(b["fused"])  # relevance_weight defaults to 1
    scores = [h["score"] for h in r.hits]
    assert scores == sorted(scores, reverse=True)


def test_lexical_and_vector_modes(make_searcher, corpus):
    s = make_searcher(corpus)
    lex = s.search({"query": "trench coat", "mode": "lexical"})
    assert lex.mode_used == "lexical" and lex.candidates["vector"] == 0
    assert set(lex.hits[0]["breakdown"]) >= {"lexical", "lexical_normalized", "fused"}
    vec = s.search({"query": "trench coat", "mode": "vector", "commercial": {"enabled": False}})
    assert vec.mode_used == "vector" and vec.candidates["lexical"] == 0
    assert vec.hits[0]["breakdown"]["vector_cosine"] == pytest.approx(vec.top_vector_cosine)


def test_confidence_gate_falls_back_to_lexical(make_searcher, corpus):
    s = make_searcher(corpus)
    r = s.search({"query": "tote", "min_vector_cosine": 0.99})
    assert r.mode_used == "lexical"
    assert "low vector confidence" in r.fallback_reason and "< threshold 0.990" in r.fallback_reason
    kept = s.search({"query": "tote", "min_vector_cosine": -1.0})
    assert kept.mode_used == "hybrid"


def test_gate_keeps_vector_when_lexical_finds_nothing(make_searcher, corpus):
    s = make_searcher(corpus)
    r = s.search({"query": "zzqxv", "min_vector_cosine": 0.99})
    assert r.hits, "hybrid never returns zero results for a non-empty catalogue"
    assert r.mode_used == "vector" and r.warnings


@pytest.mark.parametrize("embedder", [FailingEmbedder(), SlowEmbedder()])
def test_embedder_failure_or_timeout_falls_back(make_searcher, corpus, embedder):
    s = make_searcher(corpus, embedding={"timeout_s": 0.05})
    s._embedder_factory = lambda: embedder
    s._model_checked = True
    for mode in ("auto", "hybrid", "vector"):
        r = s.search({"query": "tote", "mode": mode})
        assert r.mode_used == "lexical" and r.degraded == ["vector"] and r.hits
        assert "embedder unavailable" in r.fallback_reason


def test_fallback_off_is_strict(make_searcher, corpus):
    s = make_searcher(corpus, search={"fallback": "off"})
    s._embedder_factory = lambda: FailingEmbedder()
    s._model_checked = True
    with pytest.raises(BackendUnavailableError, match="fallback is off"):
        s.search({"query": "tote"})


def test_model_load_failure_degrades(make_searcher, corpus):
    s = make_searcher(corpus)

    def broken():
        raise OSError("weights missing")

    s._embedder_factory = broken
    r = s.search({"query": "tote"})
    assert r.degraded == ["vector"] and "weights missing" in r.fallback_reason


def test_other_model_is_refused(make_searcher, corpus):
    s = make_searcher(corpus)

    class Other(HashEmbedder):
        model_id = "someone/else"

    s._embedder_factory = lambda: Other()
    with pytest.raises(ModelMismatchError, match="someone/else"):
        s.search({"query": "tote"})


def test_paging_is_consistent(make_searcher, corpus):
    s = make_searcher(corpus)
    full = s.search({"query": "calfskin suede silk", "k": 12})
    pages = [s.search({"query": "calfskin suede silk", "k": 4, "page": p}) for p in range(3)]
    assert [h["id"] for p in pages for h in p.hits] == [h["id"] for h in full.hits]
    assert [h["rank"] for h in pages[1].hits] == [5, 6, 7, 8]


def test_filters_apply_to_both_legs(make_searcher, corpus):
    s = make_searcher(corpus)
    r = s.search(
        {"query": "black tote", "k": 40, "filters": {"in_stock": True, "price": {"lte": 1000}}}
    )
    assert r.hits
    for hit in r.hits:
        assert hit["source"]["in_stock"] is True and hit["source"]["price"] <= 1000


def test_commercial_overrides_and_off(make_searcher, corpus):
    s = make_searcher(corpus)
    off = s.search({"query": "scarf", "commercial": {"enabled": False}})
    assert "margin" not in off.hits[0]["breakdown"]
    assert off.hits[0]["score"] == pytest.approx(off.hits[0]["breakdown"]["fused"])
    margin_only = s.search(
        {
            "query": "scarf",
            "k": 40,
            "commercial": {
                "relevance_weight": 0.0,
                "margin_weight": 1.0,
                "freshness_weight": 0.0,
                "popularity_weight": 0.0,
            },
        }
    )
    margins = [h["source"].get("margin", 0.0) for h in margin_only.hits]
    assert margins == sorted(margins, reverse=True)


def test_exploration_is_deterministic(make_searcher, corpus):
    s = make_searcher(corpus)
    req = {
        "query": "calfskin suede silk titanium",
        "k": 20,
        "commercial": {"exploration_rate": 0.2, "exploration_seed": 3},
    }
    a, b = s.search(req), s.search(req)
    assert [h["id"] for h in a.hits] == [h["id"] for h in b.hits]
    assert any(h["breakdown"]["exploration"] for h in a.hits)


@pytest.mark.parametrize(
    ("request_", "fragment"),
    [
        ({"query": ""}, "field 'query'"),
        ({"query": "   "}, "field 'query'"),
        ({"query": "x" * 600}, "at most 512"),
        ({"query": "x", "k": 1000}, "field 'k': 1000"),
        ({"query": "x", "page": 99}, "field 'page': 99"),
        ({"query": "x", "mode": "fuzzy"}, "field 'mode'"),
        ({"query": "x", "lexical_weight": 2}, "field 'lexical_weight'"),
        ({"query": "x", "lexical_weight": 0, "vector_weight": 0}, "both 0"),
        ({"query": "x", "filters": {"nope": 1}}, "filter field 'nope'"),
        ({"query": "x", "surprise": 1}, "field 'surprise'"),
        ({"query": "x", "commercial": {"margin_weight": -1}}, "field 'commercial.margin_weight'"),
    ],
)
def test_bad_requests(make_searcher, corpus, request_, fragment):
    s = make_searcher(corpus)
    with pytest.raises(InvalidRequestError, match=fragment):
        s.search(request_)


def test_query_cache_and_timeout_wrapper():
    from hybrid_search.embedding import QueryEncoder

    enc = QueryEncoder(HashEmbedder(), cache_size=2, timeout_s=1.0)
    a = enc.encode("red bag")
    assert enc.encode("red bag") is a and enc.hits == 1
    enc.encode("b")
    enc.encode("c")  # evicts "red bag"
    assert enc.encode("red bag") is not a and enc.misses == 4
    slow = QueryEncoder(SlowEmbedder(), timeout_s=0.05)
    with pytest.raises(EmbedderError, match=r"longer than 0\.05"):
        slow.encode("x")
    enc.close()
    slow.close()


def test_concurrent_searches_share_one_encoder(make_searcher, corpus):
    s = make_searcher(corpus)
    errors = []

    def worker(i):
        try:
            for _ in range(20):
                assert s.search({"query": f"silk scarf {i}"}).hits
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert np.isfinite(s.search({"query": "silk"}).hits[0]["score"])
