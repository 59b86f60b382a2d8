"""Query-adaptive weights, code detection, typo-tolerant lexical leg, and replay == Searcher."""

from __future__ import annotations

import pytest

from hybrid_search.backends.embedded.lexical import _edit_distance, fuzziness_auto
from hybrid_search.evaluation.tuning import FusionConfig, QueryLegs, replay
from hybrid_search.ranking.adaptive import (
    AdaptiveParams,
    adaptive_vector_weight,
    has_code_token,
    lexical_spread,
)
from tests.evaluation.conftest import QUERIES


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("whirlpool filter wsf26c2exf", True),
        ("LX-WAT-00042", True),
        ("ridgid wd1680 filter", True),
        ("item 514416", True),
        ("12000 btu air conditioner", False),
        ("2x4 stud", False),
        ("12in tile", False),
        ("3.5gal bucket", False),
        ("20inx50in glass", False),
        ("hampton30 cabinet", False),
        ("black leather boots", False),
    ],
)
def test_code_tokens(query, code):
    assert has_code_token(query) is code


def test_lexical_spread():
    assert lexical_spread([10.0, 8.0, 5.0], k=3) == pytest.approx(0.5)
    assert lexical_spread([10.0, 8.0, 5.0], k=10) == pytest.approx(0.5)  # fewer than k: last
    assert lexical_spread([4.0], k=10) == 0.0
    assert lexical_spread([]) is None


def test_adaptive_weight_is_linear_clipped_and_capped_for_codes():
    p = AdaptiveParams(
        vector_weight=0.3,
        cosine_pivot=0.5,
        cosine_slope=1.0,
        spread_pivot=0.4,
        spread_slope=-0.5,
        code_vector_weight=0.1,
        min_vector_weight=0.05,
        max_vector_weight=0.6,
    )
    # 0.3 + 1.0 * (0.6 - 0.5) - 0.5 * (0.6 - 0.4) = 0.3
    w = adaptive_vector_weight(p, top_cosine=0.6, spread=0.6, code_like=False)
    assert w == pytest.approx(0.3)
    assert adaptive_vector_weight(p, top_cosine=0.9, spread=0.4, code_like=False) == 0.6
    assert adaptive_vector_weight(p, top_cosine=0.1, spread=0.4, code_like=False) == 0.05
    assert adaptive_vector_weight(p, top_cosine=0.6, spread=0.6, code_like=True) == 0.1
    assert adaptive_vector_weight(p, top_cosine=None, spread=None, code_like=False) == 0.3


def test_fuzziness_auto_and_edit_distance():
    assert [fuzziness_auto(t) for t in ("ab", "abc", "abcde", "abcdef")] == [0, 1, 1, 2]
    assert _edit_distance("tiolet", "toilet", 2) == 1  # a transposition is one edit
    assert _edit_distance("flor", "floor", 1) == 1
    assert _edit_distance("vynal", "vinyl", 1) == 2  # over the limit: limit + 1
    assert _edit_distance("abc", "abcdef", 2) == 3


def test_fuzzy_lexical_matches_misspelt_terms_only(session):
    backend = session.searcher.backend
    assert backend.lexical("tiolet", k=10, filters=[]) == []
    (hit, *_) = backend.lexical("tiolet", k=10, filters=[], fuzzy=True)
    assert backend.fetch([hit.key])[hit.key][0] == "d3"
    # A known term keeps its exact BM25 score.
    exact = backend.lexical("sofa", k=10, filters=[])
    assert backend.lexical("sofa", k=10, filters=[], fuzzy=True) == exact


def test_searcher_fuzzy_modes(session):
    s = session.searcher
    off = s.search({"query": "tiolet", "mode": "lexical", "fuzzy": "off"})
    assert off.hits == []
    for fuzzy in ("on_empty", "always"):
        r = s.search({"query": "tiolet", "mode": "lexical", "fuzzy": fuzzy})
        assert r.hits[0]["id"] == "d3", fuzzy


@pytest.mark.parametrize(
    "cfg",
    [
        FusionConfig(min_vector_cosine=None, candidates=10),
        FusionConfig(mode="lexical", candidates=10, fuzzy="always"),
        FusionConfig(min_vector_cosine=0.9, candidates=10, fuzzy="on_empty"),
        FusionConfig(normalization="z_score", vector_weight=0.5, candidates=10, fuzzy="always"),
        FusionConfig(combination="rrf", candidates=10, min_vector_cosine=None),
        FusionConfig(
            candidates=10,
            min_vector_cosine=0.0,
            adaptive=AdaptiveParams(cosine_slope=1.5, spread_slope=-0.5, code_vector_weight=0.1),
        ),
    ],
)
def test_replay_ranks_like_the_searcher(session, cfg):
    s = session.searcher
    backend = s.backend
    for qid, text in QUERIES.items():
        plain = backend.lexical(text, k=10, filters=[])
        typo = backend.lexical(text, k=10, filters=[], fuzzy=True)
        vec = backend.vector(s.encoder.encode(text), k=10, filters=[])
        src = backend.fetch([h.key for h in (*plain, *typo, *vec)])

        def ids(hits, src=src):
            return [(src[h.key][0], h.score) for h in hits]

        legs = QueryLegs(text, ids(plain), ids(typo), ids(vec))
        request = {
            "query": text,
            "k": 10,
            "mode": "lexical"
            if cfg.mode == "lexical"
            else "auto"
            if cfg.min_vector_cosine is not None
            else "hybrid",
            "normalization": cfg.normalization,
            "combination": cfg.combination,
            "lexical_weight": 1 - cfg.vector_weight,
            "vector_weight": cfg.vector_weight,
            "candidates": cfg.candidates,
            "fuzzy": cfg.fuzzy,
            "adaptive_fusion": cfg.adaptive is not None,
            "commercial": {"enabled": False},
        }
        if cfg.min_vector_cosine is not None:
            request["min_vector_cosine"] = cfg.min_vector_cosine
        if cfg.adaptive is not None:
            s._adaptive = cfg.adaptive
        got = [h["id"] for h in s.search(request).hits]
        assert got == replay(legs, cfg)[:10], (qid, text)
