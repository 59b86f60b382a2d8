"""The request path's decisions as pure functions (ranking/plan.py), without a backend."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hybrid_search.config import load_settings
from hybrid_search.errors import InvalidRequestError
from hybrid_search.ranking.adaptive import adaptive_vector_weight, lexical_spread
from hybrid_search.ranking.plan import (
    NO_MATCH,
    adaptive_params,
    choose_legs,
    decide,
    fuse_legs,
    resolve,
    retry_typos,
)
from hybrid_search.schemas import SearchRequest
from hybrid_search.templates import load_template


@pytest.fixture(scope="module")
def settings():
    return load_settings()


@pytest.fixture(scope="module")
def template(settings):
    return load_template(settings.template, settings.templates_dir)


def _resolved(settings, template, **fields):
    return resolve(SearchRequest(query="black tote", **fields), settings.search, template)


@pytest.mark.parametrize(
    ("mode", "both", "native", "want"),
    [
        ("lexical", True, True, "lexical"),
        ("vector", True, True, "vector"),
        ("auto", False, False, "parallel"),
        ("hybrid", False, True, "parallel"),  # native fusion only where both legs travel together
        ("auto", True, False, "both"),
        ("hybrid", True, True, "native"),
    ],
)
def test_choose_legs(mode, both, native, want):
    assert choose_legs(mode, both_legs=both, native_fusion=native) == want


def test_resolve_takes_the_settings_and_names_the_bad_field(settings, template):
    r = _resolved(settings, template, page=2, k=30)
    cfg = settings.search
    assert (r.k, r.mode, r.window) == (30, cfg.mode, max(cfg.candidates, 90))
    assert r.adaptive == (adaptive_params(cfg) if cfg.adaptive_fusion else None)
    with pytest.raises(InvalidRequestError, match="field 'k'"):
        _resolved(settings, template, k=cfg.max_k + 1)
    with pytest.raises(InvalidRequestError, match="'lexical_weight' and 'vector_weight'"):
        _resolved(settings, template, lexical_weight=0.0, vector_weight=0.0)
    with pytest.raises(InvalidRequestError, match="query"):
        resolve(SearchRequest(query="   "), cfg, template)


def test_the_gate_drops_a_weak_vector_leg_only_when_lexical_found_something(settings, template):
    r = _resolved(settings, template, mode="auto", min_vector_cosine=0.5)
    weak = {"vector_found": True, "lexical_top": [3.0, 1.0], "top_cosine": 0.2}
    dropped = decide(r, lexical_found=True, **weak)
    assert dropped.mode_used == "lexical" and "0.200 < threshold 0.500" in dropped.fallback_reason
    kept = decide(r, lexical_found=False, **weak)
    assert kept.mode_used == "vector" and kept.fallback_reason is None
    assert kept.warnings == [
        f"{dropped.fallback_reason}; kept because the lexical leg found nothing"
    ]
    hybrid = _resolved(settings, template, mode="hybrid", min_vector_cosine=0.5)
    assert decide(hybrid, lexical_found=True, **weak).mode_used == "hybrid"  # no gate


def test_degraded_unmatched_and_native(settings, template):
    r = _resolved(settings, template, mode="auto", filters={"in_stock": True})
    down = decide(
        r,
        lexical_found=True,
        vector_found=False,
        lexical_top=[1.0],
        top_cosine=None,
        degraded="embedder unavailable: x",
    )
    assert (down.mode_used, down.degraded) == ("lexical", ["vector"])
    assert down.warnings == ["embedder unavailable: x"] == [down.fallback_reason]
    none = decide(
        r, lexical_found=False, vector_found=False, lexical_top=[], top_cosine=None, unmatched=True
    )
    assert none.mode_used == "hybrid" and none.fallback_reason is None
    assert none.warnings == [f'{NO_MATCH} {{"in_stock": true}}']
    native = decide(
        r, lexical_found=False, vector_found=False, lexical_top=[], top_cosine=None, native=True
    )
    assert native.mode_used == "hybrid" and native.leg_names == ["lexical", "vector"]
    assert native.weights == r.weights


def test_adaptive_weights_and_fusion(settings, template):
    r = _resolved(settings, template, mode="hybrid", adaptive_fusion=True)
    lexical, vector = [("a", 3.0), ("b", 1.0)], [("b", 0.9), ("c", 0.8)]
    found = {"lexical_found": True, "vector_found": True, "lexical_top": [3.0, 1.0]}
    d = decide(r, **found, top_cosine=0.9)
    assert r.adaptive is not None
    w = adaptive_vector_weight(
        replace(r.adaptive, vector_weight=r.vector_share),
        top_cosine=0.9,
        spread=lexical_spread([3.0, 1.0]),
        code_like=False,
    )
    assert d.weights == (1.0 - w, w)
    fused = fuse_legs(r, d, lexical, vector)
    assert set(fused.keys) == {"a", "b", "c"}
    off = _resolved(settings, template, mode="hybrid", adaptive_fusion=False)
    assert decide(off, **found, top_cosine=0.9).weights == off.weights


def test_retry_typos_only_on_empty(settings, template):
    r = _resolved(settings, template, fuzzy="on_empty")
    assert retry_typos(r, lexical_found=False, vector_used=True)
    assert not retry_typos(r, lexical_found=True, vector_used=True)
    v = _resolved(settings, template, fuzzy="on_empty", mode="vector")
    assert not retry_typos(v, lexical_found=False, vector_used=True)
    assert retry_typos(v, lexical_found=False, vector_used=False)  # the embedder was down
    assert not retry_typos(
        _resolved(settings, template, fuzzy="off"), lexical_found=False, vector_used=True
    )
