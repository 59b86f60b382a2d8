"""The commercial formula and exploration, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hybrid_search.ranking.commercial import CommercialParams, commercial_terms, explore

NAN = float("nan")


def test_formula_by_hand():
    params = CommercialParams(
        relevance_weight=0.7,
        margin_weight=0.2,
        freshness_weight=0.1,
        freshness_tau_days=30,
        popularity_weight=0.05,
        popularity_damping=1.0,
    )
    t = commercial_terms(
        np.array([1.0, 0.5]),
        np.array([0.4, 0.2]),
        np.array([0.0, 30.0]),
        np.array([9.0, 0.0]),
        params,
    )
    assert t.max_margin == 0.4 and t.max_popularity == 9.0
    assert t.relevance.tolist() == pytest.approx([0.7, 0.35])
    assert t.margin.tolist() == pytest.approx([0.2, 0.1])
    assert t.freshness.tolist() == pytest.approx([0.1, 0.1 * math.exp(-1)])
    assert t.popularity.tolist() == pytest.approx([0.05, 0.0])
    assert t.total.tolist() == pytest.approx([1.05, 0.35 + 0.1 + 0.1 * math.exp(-1)])
    assert t.order().tolist() == [0, 1]


def test_missing_fields_contribute_zero_and_future_dates_count_as_new():
    t = commercial_terms(
        np.array([0.5, 0.5]),
        np.array([NAN, 0.3]),
        np.array([NAN, -5.0]),
        np.array([NAN, 2.0]),
        CommercialParams(),
    )
    assert t.margin[0] == 0 and t.freshness[0] == 0 and t.popularity[0] == 0
    assert t.freshness[1] == pytest.approx(CommercialParams().freshness_weight)
    assert np.isfinite(t.total).all()


def test_configured_max_margin_clips():
    t = commercial_terms(
        np.array([0.0, 0.0]),
        np.array([0.6, 0.15]),
        np.array([NAN, NAN]),
        np.array([0.0, 0.0]),
        CommercialParams(margin_weight=1.0, max_margin=0.3),
    )
    assert t.margin.tolist() == pytest.approx([1.0, 0.5])


def test_popularity_damping_is_sublinear():
    params = CommercialParams(popularity_weight=1.0, popularity_damping=1.0)
    t = commercial_terms(
        np.zeros(3), np.full(3, NAN), np.full(3, NAN), np.array([100.0, 10.0, 1.0]), params
    )
    assert t.popularity.tolist() == pytest.approx(
        [1.0, math.log1p(10) / math.log1p(100), math.log1p(1) / math.log1p(100)]
    )
    linear = commercial_terms(
        np.zeros(3),
        np.full(3, NAN),
        np.full(3, NAN),
        np.array([100.0, 10.0, 1.0]),
        CommercialParams(popularity_weight=1.0, popularity_damping=0.0),
    )
    assert linear.popularity.tolist() == pytest.approx([1.0, 0.1, 0.01])


def test_all_zero_inputs_do_not_divide_by_zero():
    t = commercial_terms(np.zeros(2), np.zeros(2), np.full(2, NAN), np.zeros(2), CommercialParams())
    assert np.isfinite(t.total).all() and t.total.tolist() == [0.0, 0.0]


def _window(n=40):
    order = list(range(n))
    popularity = np.array([0.0 if i % 4 == 3 else 10.0 + i for i in range(n)])
    relevance = np.linspace(1.0, 0.1, n)
    return order, popularity, relevance


def test_exploration_is_deterministic_and_slots_low_velocity_items():
    order, pop, rel = _window()
    a = explore(order, pop, rel, rate=0.1, seed=1, query="red bag")
    b = explore(order, pop, rel, rate=0.1, seed=1, query="red bag")
    assert a == b
    new_order, explored = a
    assert sorted(new_order) == order  # a permutation: nothing lost or duplicated
    assert len(explored) == 4
    assert all(pop[i] == 0.0 for i in explored)
    for i in explored:  # each explored item moved up, never down
        assert new_order.index(i) < order.index(i)


def test_exploration_varies_with_seed_and_query():
    order, pop, rel = _window(200)
    base = explore(order, pop, rel, rate=0.1, seed=1, query="red bag")[0]
    assert explore(order, pop, rel, rate=0.1, seed=2, query="red bag")[0] != base
    assert explore(order, pop, rel, rate=0.1, seed=1, query="blue bag")[0] != base


def test_exploration_off():
    order, pop, rel = _window()
    assert explore(order, pop, rel, rate=0.0, seed=1, query="q") == (order, set())


def _formula_read_with_nan_to_num(fused, margin, age_days, popularity, params):
    """The module docstring's formula, each column read by ``np.nan_to_num`` (NaN -> 0, or
    infinitely old for an age; +-inf -> the largest finite float): the reference for the
    fewer-pass version in ``commercial_terms``."""
    big = np.finfo(np.float64).max
    with np.errstate(all="ignore"):
        finite = margin[np.isfinite(margin)]
        max_margin = params.max_margin
        if max_margin is None:
            max_margin = float(finite.max()) if finite.size else 0.0
        margin_norm = np.zeros_like(fused)
        if max_margin > 0:
            margin_norm = np.clip(np.nan_to_num(margin, nan=0.0) / max_margin, 0.0, 1.0)
        age = np.maximum(np.nan_to_num(age_days, nan=np.inf), 0.0)
        freshness = np.exp(-age / params.freshness_tau_days)
        pop = np.maximum(np.nan_to_num(popularity, nan=0.0), 0.0)
        max_pop = float(pop.max()) if pop.size else 0.0
        g = params.popularity_damping
        denominator = math.log1p(min(g * max_pop, big))
        pop_norm = np.zeros_like(fused)
        if max_pop > 0 and g > 0 and denominator > 0:
            pop_norm = np.log1p(np.minimum(g * pop, big)) / denominator
        elif max_pop > 0:
            pop_norm = pop / max_pop
        return (
            params.relevance_weight * fused
            + params.margin_weight * margin_norm
            + params.freshness_weight * freshness
            + params.popularity_weight * pop_norm
        )


@pytest.mark.parametrize("damping", [0.0, 1e-300, 1.0, 1e300])
@pytest.mark.parametrize("max_margin", [None, 0.5, 1e-300])
def test_missing_and_infinite_values_are_read_like_nan_to_num(damping, max_margin):
    special = [np.nan, np.inf, -np.inf, 0.0, -1.0, 1e308, 1e-300, 0.4, 30.0]
    rng = np.random.default_rng(3)
    params = CommercialParams(popularity_damping=damping, max_margin=max_margin)
    for _ in range(200):
        fused, margin, age, pop = (rng.choice(special, size=6) for _ in range(4))
        fused = np.abs(np.nan_to_num(fused))
        expected = _formula_read_with_nan_to_num(fused, margin, age, pop, params)
        with np.errstate(all="ignore"):
            got = commercial_terms(fused, margin, age, pop, params).total
        np.testing.assert_array_equal(got, expected)
