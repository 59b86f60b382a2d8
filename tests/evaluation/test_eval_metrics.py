"""Metrics against values computed by hand, and the significance tests on known cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hybrid_search.evaluation.metrics import (
    bootstrap_ci,
    compare,
    evaluate,
    mean_metrics,
    randomization_test,
    tokens,
)

LOG2_3 = math.log2(3)
LOG2_5 = math.log2(5)

QRELS = {"q1": {"a": 2, "b": 0, "c": 1}, "q2": {"x": 1}, "q3": {"m": 1, "n": 2}}
RUN = {"q1": ["z", "a", "b", "c"], "q2": [], "q3": ["n", "m"]}


@pytest.fixture(scope="module")
def per_query():
    texts = {"a": "red sofa", "b": "", "c": "blue couch", "m": "oak table", "n": "tables", "z": ""}
    queries = {"q1": "red chair", "q2": "x", "q3": "table"}
    return evaluate(QRELS, RUN, query_texts=queries, doc_texts=texts)


def test_ndcg_at_10_by_hand(per_query):
    # q1: DCG = 2/log2(3) + 0/log2(4) + 1/log2(5); IDCG = 2/1 + 1/log2(3) (linear gain).
    dcg = 2 / LOG2_3 + 1 / LOG2_5
    idcg = 2 + 1 / LOG2_3
    assert per_query["ndcg@10"]["q1"] == pytest.approx(dcg / idcg)
    assert per_query["ndcg@10"]["q2"] == 0.0
    assert per_query["ndcg@10"]["q3"] == pytest.approx(1.0)


def test_judged_only_ndcg_drops_unjudged_documents(per_query):
    # q1 condensed: a, b, c -> DCG = 2 + 0 + 1/log2(4).
    assert per_query["ndcg@10_judged"]["q1"] == pytest.approx((2 + 0.5) / (2 + 1 / LOG2_3))


def test_recall_mrr_judged_zero_result(per_query):
    assert per_query["recall@10"] == {"q1": 1.0, "q2": 0.0, "q3": 1.0}
    assert per_query["recall@100"]["q1"] == 1.0
    assert per_query["mrr@10"] == {"q1": 0.5, "q2": 0.0, "q3": 1.0}
    assert per_query["judged@10"] == {"q1": 0.75, "q2": 0.0, "q3": 1.0}
    assert per_query["zero_result"] == {"q1": 0.0, "q2": 1.0, "q3": 0.0}


def test_serendipity_counts_relevant_hits_without_a_shared_token(per_query):
    # q1: relevant a ("red sofa" shares "red") and c ("blue couch" shares nothing) -> 1/2.
    assert per_query["serendipity@10"]["q1"] == 0.5
    assert math.isnan(per_query["serendipity@10"]["q2"])
    # "tables" -> "table": a plural is still a shared token.
    assert per_query["serendipity@10"]["q3"] == 0.0
    assert mean_metrics(per_query)["serendipity@10"] == 0.25


def test_recall_cutoff_and_mrr_cutoff():
    qrels = {"q": {"d11": 1, "d50": 1}}
    run = {"q": [f"d{i}" for i in range(100)]}
    out = evaluate(qrels, run)
    assert out["recall@10"]["q"] == 0.0
    assert out["recall@100"]["q"] == 1.0
    assert out["mrr@10"]["q"] == 0.0  # first relevant at rank 12
    assert "serendipity@10" not in out


def test_mean_and_missing_query_is_zero_result():
    out = evaluate({"q1": {"a": 1}, "q2": {"b": 1}}, {"q1": ["a"]})
    means = mean_metrics(out)
    assert means["ndcg@10"] == 0.5
    assert means["zero_result"] == 0.5


def test_non_integer_grade_is_refused():
    with pytest.raises(ValueError, match=r"qrels\['q'\]\['a'\] = 0.5"):
        evaluate({"q": {"a": 0.5}}, {"q": ["a"]})  # type: ignore[dict-item]


def test_tokens():
    assert tokens("The Red-Oak tables, 2 ft.") == {"red", "oak", "table", "2", "ft"}


def test_randomization_test_exact_small_case():
    # d = [1, 1, 1]: of the 8 sign patterns, 2 reach |mean| >= 1 -> p ~ 0.25.
    p = randomization_test([0, 0, 0], [1, 1, 1], samples=20_000, seed=1)
    assert p == pytest.approx(0.25, abs=0.015)
    assert randomization_test([1, 2], [1, 2]) == 1.0


def test_randomization_detects_a_consistent_gain_and_not_noise():
    rng = np.random.default_rng(0)
    base = rng.random(300)
    assert randomization_test(base, base + 0.05 + rng.normal(0, 0.05, 300)) < 0.001
    assert randomization_test(base, base + rng.normal(0, 0.05, 300)) > 0.05


def test_bootstrap_ci_covers_the_mean_difference():
    rng = np.random.default_rng(3)
    a = rng.random(500)
    b = a + 0.1 + rng.normal(0, 0.02, 500)
    lo, hi = bootstrap_ci(a, b)
    assert lo < float((b - a).mean()) < hi
    assert 0.09 < lo < hi < 0.11
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(a, b, confidence=1.5)


def test_compare_pairs_by_query_and_refuses_different_sets():
    c = compare({"q1": 0.1, "q2": 0.2, "q3": math.nan}, {"q1": 0.3, "q2": 0.4, "q3": 0.9})
    assert c.queries == 2
    assert c.delta == pytest.approx(0.2)
    assert c.baseline == pytest.approx(0.15)
    with pytest.raises(ValueError, match="different queries"):
        compare({"q1": 0.1}, {"q2": 0.1})
