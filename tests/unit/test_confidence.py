"""Score <-> similarity per space type (reference/opensearch.md §1.3) and the gate."""

from __future__ import annotations

import pytest

from hybrid_search.ranking.confidence import cosine_from_score, gate, score_from_similarity


@pytest.mark.parametrize(
    ("space", "similarity", "score"),
    [
        ("cosinesimil", 0.6, 0.8),
        ("cosinesimil", -1.0, 0.0),
        ("innerproduct", 0.5, 1.5),
        ("innerproduct", -1.0, 0.5),
        ("l2", 0.25, 0.8),
    ],
)
def test_opensearch_score_formulas(space, similarity, score):
    assert score_from_similarity(similarity, space) == pytest.approx(score)


@pytest.mark.parametrize("space", ["cosinesimil", "innerproduct"])
@pytest.mark.parametrize("similarity", [-0.9, -0.2, 0.0, 0.35, 0.99])
def test_round_trip(space, similarity):
    score = score_from_similarity(similarity, space)
    assert cosine_from_score(score, space) == pytest.approx(similarity)


def test_l2_to_cosine_for_unit_vectors():
    # unit vectors with cosine 0.6 have squared distance 2 - 2*0.6 = 0.8
    assert cosine_from_score(score_from_similarity(0.8, "l2"), "l2") == pytest.approx(0.6)


def test_unknown_space():
    with pytest.raises(ValueError, match="cosinesimil"):
        cosine_from_score(0.5, "hamming")


def test_gate():
    assert gate(0.5, 0.35).use_vector
    low = gate(0.2, 0.35)
    assert not low.use_vector and "0.200 < threshold 0.350" in (low.reason or "")
    assert not gate(None, 0.35).use_vector
    assert gate(0.35, 0.35).use_vector  # the threshold itself passes
