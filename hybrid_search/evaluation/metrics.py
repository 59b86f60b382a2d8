"""Retrieval metrics per query, their means, and paired significance between two systems.

Standard metrics come from ``pytrec_eval`` (the reference ``trec_eval`` in C, package
``pytrec-eval-terrier``, extra ``eval``): nDCG@10 (``ndcg_cut_10``, linear gain as in trec_eval
and ranx), recall@10 and @100, MRR@10 (``recip_rank`` over the top 10). A document is relevant
when its grade is >= 1, as in trec_eval. Runs are given as ranked id lists; the order given is the
order scored (ties cannot be re-broken by trec_eval's docno order).

Metrics for shallow judgment pools, where most retrieved documents were never judged
(Home Depot's raters judged Home Depot's own results):

- ``judged@10``: share of the top 10 returned that has a judgment (0 for an empty result).
- ``ndcg@10_judged``: nDCG@10 after removing unjudged documents from the ranking ("condensed
  list", Sakai, "Alternatives to Bpref", SIGIR 2007).
- ``zero_result``: 1 when the system returned nothing for the query.
- ``serendipity@10``: among relevant documents in the top 10, the share that shares no token
  with the query (lower-cased alphanumeric tokens, stop words dropped, a trailing plural ``s``
  stripped): relevance that lexical matching alone cannot find. NaN for a query with no
  relevant document in its top 10; means skip NaN.

Significance: a paired two-sided randomisation test (sign flips of the per-query differences;
Smucker, Allan & Carterette, "A comparison of statistical significance tests for information
retrieval evaluation", CIKM 2007) and a paired bootstrap confidence interval of the mean difference.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hybrid_search.errors import MissingDependencyError

__all__ = [
    "METRICS",
    "Comparison",
    "Qrels",
    "Run",
    "bootstrap_ci",
    "compare",
    "evaluate",
    "holm",
    "mean_metrics",
    "randomization_test",
    "tokens",
]

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Sequence[str]]

METRICS = (
    "ndcg@10",
    "recall@10",
    "recall@100",
    "mrr@10",
    "ndcg@10_judged",
    "judged@10",
    "zero_result",
    "serendipity@10",
)
_TREC = {"ndcg@10": "ndcg_cut_10", "recall@10": "recall_10", "recall@100": "recall_100"}
_STOP = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it"}
    | {"of", "on", "or", "the", "to", "with"}
)
_TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> set[str]:
    """The token set used by ``serendipity@10`` (lower-cased, stop words out, plural s off)."""
    out = set()
    for tok in _TOKEN.findall(text.lower()):
        if tok in _STOP:
            continue
        out.add(tok[:-1] if len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss") else tok)
    return out


def _pytrec() -> Any:
    try:
        import pytrec_eval
    except ImportError as exc:
        msg = 'metrics need pytrec_eval: pip install "hybrid-search[eval]"'
        raise MissingDependencyError(msg) from exc
    return pytrec_eval


def _trec_run(run: Run, depth: int) -> dict[str, dict[str, float]]:
    # Scores strictly decreasing in the given order, so trec_eval keeps that order.
    return {
        qid: {doc: float(depth - i) for i, doc in enumerate(list(docs)[:depth])}
        for qid, docs in run.items()
        if docs
    }


def _trec_measures(
    qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]], measures: set[str]
) -> dict[str, dict[str, float]]:
    if not run:
        return {}
    evaluator = _pytrec().RelevanceEvaluator(qrels, measures)
    result: dict[str, dict[str, float]] = evaluator.evaluate(run)
    return result


def evaluate(
    qrels: Qrels,
    run: Run,
    *,
    query_texts: Mapping[str, str] | None = None,
    doc_texts: Mapping[str, str] | Callable[[str], str] | None = None,
) -> dict[str, dict[str, float]]:
    """Every metric of ``METRICS`` for every query of ``qrels``: ``{metric: {qid: value}}``.

    A query of ``qrels`` missing from ``run`` counts as a zero result. ``serendipity@10`` needs
    ``query_texts`` and ``doc_texts`` (a mapping or a function of the doc id); without them it
    is left out.

    Raises:
        MissingDependencyError: pytrec_eval is not installed.
        ValueError: a grade is not an integer.
    """
    qids = sorted(qrels)
    trec_qrels: dict[str, dict[str, int]] = {}
    for qid in qids:
        judged = {}
        for doc, grade in qrels[qid].items():
            if not isinstance(grade, (int, np.integer)) or isinstance(grade, bool):
                msg = f"qrels[{qid!r}][{doc!r}] = {grade!r}: grades must be integers"
                raise ValueError(msg)
            judged[doc] = int(grade)
        trec_qrels[qid] = judged
    ranked = {qid: list(run.get(qid, ()))[:100] for qid in qids}

    full = _trec_measures(trec_qrels, _trec_run(ranked, 100), {"ndcg_cut.10", "recall.10,100"})
    top10 = _trec_measures(trec_qrels, _trec_run(ranked, 10), {"recip_rank"})
    condensed = {qid: [d for d in docs if d in trec_qrels[qid]] for qid, docs in ranked.items()}
    judged_only = _trec_measures(trec_qrels, _trec_run(condensed, 10), {"ndcg_cut.10"})

    out: dict[str, dict[str, float]] = {name: {} for name in METRICS}
    lookup = doc_texts.__getitem__ if isinstance(doc_texts, Mapping) else doc_texts
    for qid in qids:
        docs = ranked[qid]
        for name, key in _TREC.items():
            out[name][qid] = float(full.get(qid, {}).get(key, 0.0))
        out["mrr@10"][qid] = float(top10.get(qid, {}).get("recip_rank", 0.0))
        out["ndcg@10_judged"][qid] = float(judged_only.get(qid, {}).get("ndcg_cut_10", 0.0))
        top = docs[:10]
        judged = trec_qrels[qid]
        out["judged@10"][qid] = sum(d in judged for d in top) / len(top) if top else 0.0
        out["zero_result"][qid] = 0.0 if docs else 1.0
        if query_texts is not None and lookup is not None:
            relevant = [d for d in top if judged.get(d, 0) >= 1]
            if relevant:
                q = tokens(query_texts[qid])
                novel = sum(not (q & tokens(lookup(d))) for d in relevant)
                out["serendipity@10"][qid] = novel / len(relevant)
            else:
                out["serendipity@10"][qid] = math.nan
    if query_texts is None or lookup is None:
        del out["serendipity@10"]
    return out


def mean_metrics(per_query: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """The mean of each metric over queries (NaN values skipped; NaN if none is left)."""
    means = {}
    for name, values in per_query.items():
        arr = np.asarray(list(values.values()), dtype=np.float64)
        arr = arr[~np.isnan(arr)]
        means[name] = float(arr.mean()) if arr.size else math.nan
    return means


def _paired(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> np.ndarray:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        msg = f"paired samples need equal 1-d shapes, got {x.shape} and {y.shape}"
        raise ValueError(msg)
    d: np.ndarray = y - x
    return d


def randomization_test(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    samples: int = 10_000,
    seed: int = 0,
) -> float:
    """Two-sided p-value of the paired randomisation (sign-flip) test on ``mean(b - a)``.

    The p-value counts the observed assignment as one of the permutations, ``(hits + 1) /
    (samples + 1)``, so it is never 0.

    Raises:
        ValueError: the samples are not paired (different lengths).
    """
    d = _paired(a, b)
    if d.size == 0 or not np.any(d):
        return 1.0
    observed = abs(float(d.mean()))
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, samples, 2000):
        n = min(2000, samples - start)
        signs = rng.choice((-1.0, 1.0), size=(n, d.size))
        hits += int(np.sum(np.abs(signs @ d) / d.size >= observed - 1e-12))
    return (hits + 1) / (samples + 1)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values of a family of tests, in the order given (Holm, "A simple
    sequentially rejective multiple test procedure", Scand. J. Statistics 1979): the i-th
    smallest p times ``(m - i + 1)``, made monotone, capped at 1."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[i])))
        adjusted[i] = running
    return adjusted


def bootstrap_ci(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    samples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of ``mean(b - a)`` over resampled queries.

    Raises:
        ValueError: the samples are not paired, or ``confidence`` is not in (0, 1).
    """
    if not 0.0 < confidence < 1.0:
        msg = f"confidence {confidence!r} must be in (0, 1)"
        raise ValueError(msg)
    d = _paired(a, b)
    if d.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = np.concatenate(
        [
            d[rng.integers(0, d.size, size=(min(2000, samples - s), d.size))].mean(axis=1)
            for s in range(0, samples, 2000)
        ]
    )
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [tail, 1.0 - tail])
    return float(lo), float(hi)


@dataclass(frozen=True)
class Comparison:
    """System B against baseline A on one metric, over the queries both were scored on."""

    metric: str
    baseline: float
    system: float
    delta: float
    p_value: float
    ci_low: float
    ci_high: float
    queries: int

    @property
    def significant(self) -> bool:
        """p < 0.05."""
        return self.p_value < 0.05


def compare(
    baseline: Mapping[str, float],
    system: Mapping[str, float],
    *,
    metric: str = "ndcg@10",
    samples: int = 10_000,
    seed: int = 0,
) -> Comparison:
    """Paired comparison of two systems' per-query values of one metric.

    Queries where either value is NaN are left out.

    Raises:
        ValueError: the two systems were scored on different query sets.
    """
    if set(baseline) != set(system):
        only = sorted(set(baseline) ^ set(system))[:5]
        msg = f"{metric}: the systems were scored on different queries (e.g. {only})"
        raise ValueError(msg)
    qids = [q for q in sorted(baseline) if not (math.isnan(baseline[q]) or math.isnan(system[q]))]
    a = np.array([baseline[q] for q in qids], dtype=np.float64)
    b = np.array([system[q] for q in qids], dtype=np.float64)
    lo, hi = bootstrap_ci(a, b, samples=samples, seed=seed)
    return Comparison(
        metric=metric,
        baseline=float(a.mean()) if a.size else math.nan,
        system=float(b.mean()) if b.size else math.nan,
        delta=float((b - a).mean()) if a.size else math.nan,
        p_value=randomization_test(a, b, samples=samples, seed=seed),
        ci_low=lo,
        ci_high=hi,
        queries=len(qids),
    )
