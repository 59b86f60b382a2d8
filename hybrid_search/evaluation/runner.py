"""Run queries through the real Searcher in several modes and score every mode.

A mode is a name plus ``SearchRequest`` overrides (``{"mode": "lexical"}``, a fusion method and
weights, the commercial stage on or off). Every mode goes through ``Searcher.search`` exactly as
a storefront request does, so the numbers measure the shipped request path.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hybrid_search.evaluation.metrics import Comparison, compare, evaluate, mean_metrics
from hybrid_search.searcher import Searcher

__all__ = [
    "ABLATION_MODES",
    "BASELINE_MODES",
    "FUSION_MODES",
    "IMPROVEMENT_MODES",
    "ModeResult",
    "ModeSpec",
    "default_modes",
    "run_mode",
    "significance",
]

logger = logging.getLogger(__name__)

_OFF: dict[str, Any] = {"commercial": {"enabled": False}}
# The plain engine of the bar: no typo tolerance, fixed weights, no commercial stage.
_PLAIN: dict[str, Any] = {"fuzzy": "off", "adaptive_fusion": False, **_OFF}


@dataclass(frozen=True)
class ModeSpec:
    """A named set of per-request overrides."""

    name: str
    request: Mapping[str, Any] = field(default_factory=dict)


def _fusion(norm: str, comb: str, lw: float = 0.7, vw: float = 0.3) -> ModeSpec:
    short = {"arithmetic_mean": "", "geometric_mean": "-geometric", "harmonic_mean": "-harmonic"}
    return ModeSpec(
        f"hybrid-{norm}{short[comb]}-{lw:g}/{vw:g}",
        {
            "mode": "hybrid",
            "normalization": norm,
            "combination": comb,
            "lexical_weight": lw,
            "vector_weight": vw,
            **_PLAIN,
        },
    )


BASELINE_MODES = (
    ModeSpec("lexical", {"mode": "lexical", **_PLAIN}),
    ModeSpec("vector", {"mode": "vector", **_PLAIN}),
)
FUSION_MODES = (
    _fusion("min_max", "arithmetic_mean"),
    _fusion("min_max", "arithmetic_mean", 0.5, 0.5),
    _fusion("min_max", "geometric_mean"),
    _fusion("min_max", "harmonic_mean"),
    _fusion("l2", "arithmetic_mean"),
    _fusion("l2", "geometric_mean"),
    _fusion("l2", "harmonic_mean"),
    _fusion("z_score", "arithmetic_mean"),
    ModeSpec(
        "hybrid-rrf",
        {"mode": "hybrid", "combination": "rrf", "lexical_weight": 0.5, "vector_weight": 0.5}
        | _PLAIN,
    ),
)
_HYBRID = _fusion("min_max", "arithmetic_mean").request
# Each improvement added to the one before, from BM25 and the plain 0.7/0.3 min_max fusion.
IMPROVEMENT_MODES = (
    ModeSpec("lexical+typo", {"mode": "lexical", **_PLAIN, "fuzzy": "always"}),
    ModeSpec("hybrid+typo", {**_HYBRID, "fuzzy": "always"}),
    ModeSpec("hybrid+typo+gate", {**_HYBRID, "fuzzy": "always", "mode": "auto"}),
    ModeSpec(
        "hybrid+typo+gate+adaptive",
        {**_HYBRID, "fuzzy": "always", "mode": "auto", "adaptive_fusion": True},
    ),
)
# The shipped default with one feature taken away at a time.
ABLATION_MODES = (
    ModeSpec("default-typo", {"fuzzy": "off", **_OFF}),
    ModeSpec("default-typo+retry", {"fuzzy": "on_empty", **_OFF}),
    ModeSpec("default-adaptive", {"adaptive_fusion": False, **_OFF}),
    ModeSpec("default-gate", {"mode": "hybrid", **_OFF}),
)


def default_modes(*, candidates: int | None = 100, commercial: bool = True) -> list[ModeSpec]:
    """Baselines, fusion methods, improvements one by one, the shipped default and ablations.

    ``candidates`` fixes the window per leg of every mode but the ``default`` ones (the issue's
    bar is top-100 per leg); ``default`` and its ablations run with the configured settings,
    window included, and ``default+commercial`` adds the commercial stage.
    """
    window = {} if candidates is None else {"candidates": candidates}
    fixed = (*BASELINE_MODES, *FUSION_MODES, *IMPROVEMENT_MODES)
    modes = [ModeSpec(m.name, {**m.request, **window}) for m in fixed]
    modes.append(ModeSpec("default", dict(_OFF)))
    modes.extend(ABLATION_MODES)
    if commercial:
        modes.append(ModeSpec("default+commercial", {"commercial": {"enabled": True}}))
    return modes


@dataclass
class ModeResult:
    """One mode's ranked ids per query, per-query metrics, means, and how it ran."""

    spec: ModeSpec
    run: dict[str, list[str]]
    per_query: dict[str, dict[str, float]]
    means: dict[str, float]
    modes_used: dict[str, int]
    latency_ms_p50: float
    latency_ms_p99: float


def run_mode(
    searcher: Searcher,
    spec: ModeSpec,
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    k: int = 100,
    doc_text: Any = None,
) -> ModeResult:
    """Search every query in one mode and score the rankings.

    Raises:
        InvalidRequestError: the mode's overrides are not a valid request.
    """
    run: dict[str, list[str]] = {}
    used: Counter[str] = Counter()
    took: list[float] = []
    for qid in sorted(queries):
        t = time.perf_counter()
        response = searcher.search({"query": queries[qid], "k": k, **spec.request})
        took.append((time.perf_counter() - t) * 1000)
        run[qid] = [str(h["id"]) for h in response.hits]
        used[response.mode_used if not response.fallback_reason else "gated"] += 1
    judged = {q: qrels[q] for q in queries}
    per_query = evaluate(judged, run, query_texts=queries, doc_texts=doc_text)
    lat = np.asarray(took) if took else np.zeros(1)
    result = ModeResult(
        spec=spec,
        run=run,
        per_query=per_query,
        means=mean_metrics(per_query),
        modes_used=dict(used),
        latency_ms_p50=float(np.percentile(lat, 50)),
        latency_ms_p99=float(np.percentile(lat, 99)),
    )
    logger.info("%s: ndcg@10 %.4f", spec.name, result.means["ndcg@10"])
    return result


def significance(
    results: Sequence[ModeResult],
    *,
    baseline: str = "lexical",
    metrics: Sequence[str] = ("ndcg@10", "ndcg@10_judged", "recall@100", "mrr@10"),
    samples: int = 10_000,
) -> dict[str, dict[str, Comparison]]:
    """Each mode against the baseline mode, per metric (paired randomisation + bootstrap CI).

    Raises:
        ValueError: no mode is named ``baseline``.
    """
    by_name = {r.spec.name: r for r in results}
    if baseline not in by_name:
        msg = f"baseline mode {baseline!r} is not among the modes run: {sorted(by_name)}"
        raise ValueError(msg)
    base = by_name[baseline]
    out: dict[str, dict[str, Comparison]] = {}
    for r in results:
        if r.spec.name == baseline:
            continue
        out[r.spec.name] = {
            m: compare(base.per_query[m], r.per_query[m], metric=m, samples=samples)
            for m in metrics
            if m in r.per_query
        }
    return out
