"""Diagnostic statistics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hybrid_search.training.diagnose import cohens_d, dot_cosine_gap, norm_stats, spearman


def test_cohens_d_hand_computed():
    # means 3 and 1; sample variances 1 and 1 -> pooled sd 1 -> d = 2
    assert cohens_d(np.array([2.0, 3.0, 4.0]), np.array([0.0, 1.0, 2.0])) == pytest.approx(2.0)
    assert math.isnan(cohens_d(np.array([1.0]), np.array([1.0, 2.0])))
    assert math.isnan(cohens_d(np.array([1.0, 1.0]), np.array([1.0, 1.0])))
    unit_noise = np.array([1.0, 1.0 + 1e-7, 1.0 - 1e-7])  # float32 norms of unit vectors
    assert math.isnan(cohens_d(unit_noise, unit_noise[::-1] + 2e-8))


def test_norm_stats_and_spearman():
    stats = norm_stats(np.array([1.0, 2.0, 3.0, 4.0]))
    assert (stats.mean, stats.min, stats.p50, stats.max) == (2.5, 1.0, 2.5, 4.0)
    assert stats.cv == pytest.approx(math.sqrt(1.25) / 2.5)
    assert spearman([1, 2, 3, 4], [10, 20, 30, 45]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_dot_cosine_gap_sees_the_length_help():
    q = np.array([[1.0, 0.0]])
    # doc "r" (relevant) has the smaller cosine but the larger length
    docs = np.array([[0.9, np.sqrt(1 - 0.81)], [0.6 * 3, 0.8 * 3]])
    gap = dot_cosine_gap(q, docs, ["n", "r"], [{"r": 1, "n": 0}], k=10)
    assert gap["ndcg@10_dot"] == pytest.approx(1.0)
    assert gap["ndcg@10_cosine"] == pytest.approx(1 / math.log2(3))
    assert gap["gap"] > 0
