"""The Searcher's two optional backend parts the OpenSearch backend declares: ``both_legs`` (both
legs in one round trip) and ``native_fusion`` (the native hybrid mode), exercised over the
embedded engine so they run without a cluster."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from hybrid_search.backends.base import Legs
from hybrid_search.ranking.fusion import FusionResult


class _WithLegs:
    """Wraps a backend and adds ``legs`` built from its own two legs, counting the calls."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.legs_calls = 0
        self.capabilities = replace(inner.capabilities, both_legs=self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def legs(self, text, embedding, *, k, filters, fuzzy=False):
        self.legs_calls += 1
        return Legs(
            self._inner.lexical(text, k=k, filters=filters),
            self._inner.vector(embedding, k=k, filters=filters),
        )


@pytest.mark.parametrize("mode", ["auto", "hybrid"])
def test_searcher_uses_legs_when_the_backend_has_it(make_searcher, corpus, mode):
    searcher = make_searcher(corpus)
    req = {"query": "black calfskin tote", "k": 10, "mode": mode, "filters": {"in_stock": True}}
    want = searcher.search(req)
    wrapped = _WithLegs(searcher.backend)
    searcher.backend = wrapped
    got = searcher.search(req)
    assert wrapped.legs_calls == 1 and "legs" in got.timings_ms
    assert [h["id"] for h in got.hits] == [h["id"] for h in want.hits]
    assert [h["score"] for h in got.hits] == pytest.approx([h["score"] for h in want.hits])
    assert got.mode_used == want.mode_used


def test_lexical_and_vector_modes_do_not_use_legs(make_searcher, corpus):
    searcher = make_searcher(corpus)
    wrapped = _WithLegs(searcher.backend)
    searcher.backend = wrapped
    for mode in ("lexical", "vector"):
        searcher.search({"query": "tote", "mode": mode})
    assert wrapped.legs_calls == 0


class _Native(_WithLegs):
    """A native-hybrid backend whose pipeline answer is given: the embedded rows, reversed."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.capabilities = replace(self.capabilities, native_fusion=self)
        self.native_calls: list[dict[str, Any]] = []

    def native_fused(
        self, text, embedding, *, window, filters, min_vector_cosine, rrf=False, fuzzy=False
    ):
        self.native_calls.append({"window": window, "tau": min_vector_cosine, "rrf": rrf})
        rows = [h.key for h in self._inner.lexical(text, k=window, filters=filters)][::-1]
        scores = np.linspace(1.0, 0.1, len(rows))
        nan = np.full((len(rows), 2), np.nan)
        return FusionResult(rows, scores, nan, nan.copy())


def test_native_mode_takes_the_pipeline_order_and_keeps_the_commercial_stage(make_searcher, corpus):
    searcher = make_searcher(corpus)
    native = _Native(searcher.backend)
    searcher.backend = native
    resp = searcher.search({"query": "made by hand", "k": 5, "mode": "auto"})
    assert native.native_calls == [{"window": 200, "tau": 0.35, "rrf": False}]
    assert native.legs_calls == 0 and resp.mode_used == "hybrid" and resp.fallback_reason is None
    assert not resp.warnings
    assert all(h["breakdown"]["lexical"] is None for h in resp.hits)
    assert all("relevance" in h["breakdown"] for h in resp.hits)  # commercial stage still ran
    plain = searcher.search(
        {"query": "made by hand", "k": 5, "mode": "hybrid", "commercial": {"enabled": False}}
    )
    assert native.native_calls[-1]["tau"] is None  # mode=hybrid: no radial gate
    assert [h["breakdown"]["fused"] for h in plain.hits] == pytest.approx(
        list(np.linspace(1.0, 0.1, 40)[:5])
    )
