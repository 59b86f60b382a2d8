"""Property tests of the commercial stage and exploration: finite totals, bounded terms, order.

Inputs cover what documents may carry: missing fields (NaN), negative and future ages, any finite
margin, popularity from 0 to huge, and every coefficient within the bounds the settings allow.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hybrid_search.ranking.commercial import CommercialParams, commercial_terms, explore

FINITE = st.floats(allow_nan=False, allow_infinity=False)  # documents accept any finite number
MAYBE = st.one_of(st.just(math.nan), FINITE)
AGE = st.floats(-4e6, 4e6)  # days between dates of years 1 and 9999, future dates included


@st.composite
def windows(draw: st.DrawFn) -> dict[str, np.ndarray]:
    n = draw(st.integers(0, 40))
    fused = sorted((draw(st.floats(0.0, 1.0)) for _ in range(n)), reverse=True)
    col = lambda strategy: np.array([draw(strategy) for _ in range(n)], dtype=np.float64)  # noqa: E731
    return {
        "fused": np.array(fused, dtype=np.float64),
        "margin": col(MAYBE),
        "age_days": col(st.one_of(st.just(math.nan), AGE)),
        "popularity": col(st.one_of(st.just(math.nan), st.floats(0.0, allow_infinity=False))),
    }


PARAMS = st.builds(
    CommercialParams,
    relevance_weight=st.floats(0.0, 10.0),
    margin_weight=st.floats(0.0, 10.0),
    freshness_weight=st.floats(0.0, 10.0),
    freshness_tau_days=st.floats(1e-3, 3650.0),
    popularity_weight=st.floats(-10.0, 10.0),
    popularity_damping=st.floats(0.0, 1000.0),
    max_margin=st.one_of(st.none(), st.floats(1e-6, 1e6)),
)


@given(window=windows(), params=PARAMS)
def test_every_term_is_finite_and_bounded(window, params):
    t = commercial_terms(
        window["fused"], window["margin"], window["age_days"], window["popularity"], params
    )
    for name in ("relevance", "margin", "freshness", "popularity", "total"):
        values = getattr(t, name)
        assert values.shape == window["fused"].shape, name
        assert np.isfinite(values).all(), f"{name} has NaN/inf: {values}"
    eps = 1e-9
    assert (t.margin >= -eps).all() and (t.margin <= params.margin_weight + eps).all()
    assert (t.freshness >= -eps).all() and (t.freshness <= params.freshness_weight + eps).all()
    lo, hi = sorted((0.0, params.popularity_weight))
    assert (t.popularity >= lo - eps).all() and (t.popularity <= hi + eps).all()
    np.testing.assert_allclose(t.total, t.relevance + t.margin + t.freshness + t.popularity)


@given(window=windows(), relevance=st.floats(0.0, 10.0))
def test_without_business_terms_the_fused_order_stands(window, relevance):
    params = CommercialParams(
        relevance_weight=relevance, margin_weight=0, freshness_weight=0, popularity_weight=0
    )
    t = commercial_terms(
        window["fused"], window["margin"], window["age_days"], window["popularity"], params
    )
    assert t.order().tolist() == list(range(len(window["fused"])))  # stable: ties keep order


@given(window=windows(), params=PARAMS, data=st.data())
def test_more_margin_never_lowers_a_candidate(window, params, data):
    n = len(window["fused"])
    if n == 0:
        return
    i = data.draw(st.integers(0, n - 1))
    base = commercial_terms(
        window["fused"], window["margin"], window["age_days"], window["popularity"], params
    )
    margin = window["margin"].copy()
    margin[i] = (0.0 if math.isnan(margin[i]) else margin[i]) + data.draw(st.floats(0.0, 1e6))
    if params.max_margin is None:  # a new window maximum rescales everyone else: skip that
        finite = window["margin"][np.isfinite(window["margin"])]
        if finite.size == 0 or margin[i] > finite.max():
            return
    more = commercial_terms(
        window["fused"], margin, window["age_days"], window["popularity"], params
    )
    assert more.total[i] >= base.total[i] - 1e-9


@given(
    n=st.integers(0, 60),
    rate=st.floats(0.0, 0.5),
    seed=st.integers(-(2**63), 2**63),
    query=st.text(max_size=30),
    data=st.data(),
)
def test_exploration_is_a_deterministic_permutation(n, rate, seed, query, data):
    order = data.draw(st.permutations(list(range(n))))
    popularity = np.array(
        [data.draw(st.one_of(st.just(math.nan), st.floats(0, 1e6))) for _ in range(n)]
    )
    relevance = np.array([data.draw(st.floats(0.0, 1.0)) for _ in range(n)])
    new, picked = explore(order, popularity, relevance, rate=rate, seed=seed, query=query)
    assert sorted(new) == sorted(order), "nothing lost or doubled"
    assert len(picked) <= math.floor(rate * n)
    assert picked <= set(order)
    again = explore(order, popularity, relevance, rate=rate, seed=seed, query=query)
    assert again == (new, picked)
    if not picked:
        assert new == list(order)


@pytest.mark.parametrize(
    ("popularity", "damping", "margin", "max_margin"),
    [
        ([1e308, 1.0], 1000.0, [0.5, 0.2], None),  # g * p overflowed: inf / inf = NaN
        ([1e-10, 5e-11], 1e-320, [0.5, 0.2], None),  # g * max p underflowed: 0 / 0
        ([3.0, 1.0], 1.0, [1e300, -1e300], 1e-300),  # margin / max_margin overflowed
    ],
)
def test_regressions_found_by_the_properties(popularity, damping, margin, max_margin):
    params = CommercialParams(popularity_damping=damping, max_margin=max_margin)
    with np.errstate(all="raise"):  # no warning either
        t = commercial_terms(
            np.array([1.0, 0.5]),
            np.array(margin),
            np.array([1.0, 2.0]),
            np.array(popularity),
            params,
        )
    assert np.isfinite(t.total).all()
    assert t.popularity[0] == pytest.approx(params.popularity_weight)  # the window's maximum
