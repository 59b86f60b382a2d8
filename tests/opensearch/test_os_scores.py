"""Score conversions per space type: what OpenSearch's knn returns, and back to a cosine.

The forward formulas are written here from reference/opensearch.md §1.3 (Lucene
VectorSimilarityFunction, k-NN SpaceType/Faiss score translations), independently of
``ranking/confidence.py``, so a shared mistake cannot hide.
"""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_search.backends.opensearch.queries import min_score_for_cosine
from hybrid_search.ranking.confidence import cosine_from_score, score_from_similarity

RNG = np.random.default_rng(7)


def _unit_pairs(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    a = RNG.normal(size=(n, 16))
    b = RNG.normal(size=(n, 16))
    b[: n // 4] = a[: n // 4] + 0.1 * b[: n // 4]  # some close pairs
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    return a, b


def lucene_cosine(cos: float) -> float:
    return max((1.0 + cos) / 2.0, 0.0)


def faiss_cosine(cos: float) -> float:
    raw = 1.0 - cos  # faiss inner product on normalised vectors, translated by 1 - raw
    return max((2.0 - raw) / 2.0, 0.0)


def max_inner_product(dot: float) -> float:
    return 1.0 / (1.0 - dot) if dot < 0 else dot + 1.0


def euclidean(d2: float) -> float:
    return 1.0 / (1.0 + d2)


@pytest.mark.parametrize("engine_score", [lucene_cosine, faiss_cosine], ids=["lucene", "faiss"])
def test_cosinesimil_round_trip(engine_score):
    a, b = _unit_pairs()
    for x, y in zip(a, b):
        cos = float(x @ y)
        score = engine_score(cos)
        assert score == pytest.approx(score_from_similarity(cos, "cosinesimil"), abs=1e-12)
        assert cosine_from_score(score, "cosinesimil") == pytest.approx(cos, abs=1e-12)


def test_innerproduct_round_trip_both_branches():
    a, b = _unit_pairs()
    dots = [float(x @ y) for x, y in zip(a, b)]
    assert min(dots) < 0 < max(dots), "both branches of the piecewise curve are exercised"
    for dot in dots:
        score = max_inner_product(dot)
        assert score == pytest.approx(score_from_similarity(dot, "innerproduct"), abs=1e-12)
        assert cosine_from_score(score, "innerproduct") == pytest.approx(dot, abs=1e-12)


def test_l2_round_trip_on_unit_vectors():
    a, b = _unit_pairs()
    for x, y in zip(a, b):
        d2 = float(np.sum((x - y) ** 2))
        score = euclidean(d2)
        assert score == pytest.approx(score_from_similarity(d2, "l2"), abs=1e-12)
        assert cosine_from_score(score, "l2") == pytest.approx(float(x @ y), abs=1e-9)


@pytest.mark.parametrize("space", ["cosinesimil", "innerproduct", "l2"])
@pytest.mark.parametrize("tau", [-0.5, 0.0, 0.35, 0.6, 0.95])
def test_radial_min_score_keeps_exactly_cosine_at_least_tau(space, tau):
    a, b = _unit_pairs(400)
    threshold = min_score_for_cosine(tau, space)
    for x, y in zip(a, b):
        cos = float(x @ y)
        if space == "cosinesimil":
            score = lucene_cosine(cos)
        elif space == "innerproduct":
            score = max_inner_product(cos)
        else:
            score = euclidean(float(np.sum((x - y) ** 2)))
        if abs(cos - tau) > 1e-9:
            assert (score >= threshold) == (cos >= tau), (space, tau, cos, score, threshold)


def test_radial_min_score_for_cosine_reference_value():
    assert min_score_for_cosine(0.6, "cosinesimil") == pytest.approx(0.8)  # reference §1.3
    assert min_score_for_cosine(-1.0, "cosinesimil") > 0  # knn refuses min_score <= 0
    assert min_score_for_cosine(1.0, "l2") == 1.0


def test_unknown_space_type_is_refused():
    with pytest.raises(ValueError, match="space_type"):
        min_score_for_cosine(0.5, "hamming")
