"""Diagnostics of a magnitude-aware model: does document length carry relevance, or popularity?

Feng & Watanabe (arXiv 2602.09229) §5: Cohen's d of document norms between relevant and
non-relevant documents (eq. 8, d = (mu_rel - mu_irrel) / sigma_pooled; d ~ 0 means magnitude is
unused, d > 0.5 a real signal), the coefficient of variation of the norms, and the gap between
ranking by the dot product and by the cosine (their Table 18 "magnitude collapse" check). We add
the Spearman correlation of the norm with the document's length and with its popularity: a norm
that only learns popularity is a governance problem (a popularity prior hidden in the index),
not relevance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "NormStats",
    "cohens_d",
    "diagnose_model",
    "dot_cosine_gap",
    "norm_stats",
    "spearman",
]


@dataclass(frozen=True)
class NormStats:
    """Summary of document-vector norms."""

    count: int
    mean: float
    std: float
    cv: float
    min: float
    p50: float
    max: float


def norm_stats(norms: np.ndarray) -> NormStats:
    """Mean, spread and range of ``norms`` (CV = std / mean; ~0.05 noise, >= 0.1 used)."""
    x = np.asarray(norms, dtype=np.float64)
    if x.size == 0:
        nan = math.nan
        return NormStats(0, nan, nan, nan, nan, nan, nan)
    mean, std = float(x.mean()), float(x.std())
    return NormStats(
        count=int(x.size),
        mean=mean,
        std=std,
        cv=std / mean if mean else math.nan,
        min=float(x.min()),
        p50=float(np.median(x)),
        max=float(x.max()),
    )


def cohens_d(relevant: np.ndarray, other: np.ndarray) -> float:
    """``(mean_rel - mean_other) / pooled std``; NaN when undefined (group < 2, no spread)."""
    a = np.asarray(relevant, dtype=np.float64)
    b = np.asarray(other, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        return math.nan
    pooled = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2)
    scale = max(abs(float(a.mean())), abs(float(b.mean())), 1e-12)
    if math.sqrt(pooled) <= 1e-5 * scale:  # float noise of unit vectors is no signal
        return math.nan
    return float((a.mean() - b.mean()) / math.sqrt(pooled))


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Spearman rank correlation (ties averaged); NaN when either side is constant."""
    from scipy.stats import spearmanr

    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(spearmanr(a, b).statistic)


def dot_cosine_gap(
    queries: np.ndarray,
    docs: np.ndarray,
    doc_ids: Sequence[str],
    qrels: Sequence[Mapping[str, int]],
    *,
    k: int = 10,
) -> dict[str, Any]:
    """Mean nDCG@k when the same vectors rank by the dot product vs by the cosine.

    ``queries`` are query-side vectors, ``docs`` document-side vectors (as indexed), ``qrels``
    the judgments of each query row. A positive gap means the lengths help the ranking.
    """
    q = np.asarray(queries, dtype=np.float32)
    d = np.asarray(docs, dtype=np.float32)
    norms = np.maximum(np.linalg.norm(d, axis=1), 1e-12)
    from hybrid_search.evaluation.metrics import evaluate

    ids = np.asarray(doc_ids)
    judged = {str(i): dict(rels) for i, rels in enumerate(qrels)}
    out = {}
    for name, matrix in (("dot", d), ("cosine", d / norms[:, None])):
        scores = q @ matrix.T
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        run = {str(i): [str(x) for x in ids[row]] for i, row in enumerate(top)}
        per_query = evaluate(judged, run)["ndcg@10"]
        out[f"ndcg@{k}_{name}"] = float(np.mean(list(per_query.values()))) if per_query else 0.0
    out["gap"] = out[f"ndcg@{k}_dot"] - out[f"ndcg@{k}_cosine"]
    return out


def _sample(
    dataset: Any, max_queries: int, max_docs: int, seed: int
) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    qids = sorted(q for q, rels in dataset.qrels.items() if q in dataset.queries and rels)
    if len(qids) > max_queries:
        qids = sorted(rng.choice(qids, size=max_queries, replace=False).tolist())
    judged = sorted({d for q in qids for d in dataset.qrels[q] if d in dataset.corpus})
    rest = sorted(set(dataset.corpus) - set(judged))
    extra = max(0, max_docs - len(judged))
    if extra and rest:
        judged += rng.choice(rest, size=min(extra, len(rest)), replace=False).tolist()
    return qids, judged


def diagnose_model(
    embedder: Any,
    dataset: Any,
    *,
    max_queries: int = 500,
    max_docs: int = 5000,
    popularity_field: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Embed a sample of a BEIR dataset and report the magnitude diagnostics.

    ``dataset`` is an ``evaluation.datasets.EvalDataset``. The sample is ``max_queries`` judged
    queries and every document judged for them, topped up with random documents to
    ``max_docs``. Relevant = the highest grade of the qrels; non-relevant = judged grade 0, or,
    when the qrels have no grade 0, the sampled documents not judged for any sampled query.
    Popularity is ``popularity_field`` of the corpus, else the number of queries (all of the
    qrels) that judge the document relevant.

    Raises:
        ValueError: the dataset has no judged query, or the popularity field is not numeric.
    """
    qids, doc_ids = _sample(dataset, max_queries, max_docs, seed)
    if not qids:
        msg = f"dataset {dataset.name!r} has no judged query to diagnose"
        raise ValueError(msg)
    docs = embedder.encode_documents([dataset.text(d) for d in doc_ids])
    queries = np.stack([embedder.encode_query(dataset.queries[q]) for q in qids])
    norms = np.linalg.norm(np.asarray(docs, dtype=np.float64), axis=1)
    row = {d: i for i, d in enumerate(doc_ids)}
    top = max(g for q in qids for g in dataset.qrels[q].values())
    graded = any(g == 0 for q in qids for g in dataset.qrels[q].values())
    rel = [norms[row[d]] for q in qids for d, g in dataset.qrels[q].items() if g == top]
    if graded:
        non = [norms[row[d]] for q in qids for d, g in dataset.qrels[q].items() if g == 0]
    else:
        seen = {d for q in qids for d in dataset.qrels[q]}
        non = [norms[i] for d, i in row.items() if d not in seen]
    if popularity_field:
        try:
            popularity = [float(dataset.corpus[d].get(popularity_field) or 0) for d in doc_ids]
        except (TypeError, ValueError) as exc:
            msg = f"corpus field {popularity_field!r} is not numeric: {exc}"
            raise ValueError(msg) from exc
        source = popularity_field
    else:
        counts: dict[str, int] = {}
        for rels in dataset.qrels.values():
            for d, g in rels.items():
                if g >= 1:
                    counts[d] = counts.get(d, 0) + 1
        popularity = [float(counts.get(d, 0)) for d in doc_ids]
        source = "queries judging it relevant"
    lengths = [len(dataset.text(d).split()) for d in doc_ids]
    stats = norm_stats(norms)
    report: dict[str, Any] = {
        "model": getattr(embedder, "model_id", "?"),
        "policy": getattr(getattr(embedder, "spec", None), "policy", "none (plain model)"),
        "documents": len(doc_ids),
        "queries": len(qids),
        "document_norms": vars(stats),
        "cohens_d": cohens_d(np.array(rel), np.array(non)),
        "relevant_pairs": len(rel),
        "nonrelevant_pairs": len(non),
        "spearman_norm_length": spearman(norms, lengths),
        "spearman_norm_popularity": spearman(norms, popularity),
        "popularity_source": source,
        "dot_vs_cosine": dot_cosine_gap(queries, docs, doc_ids, [dataset.qrels[q] for q in qids]),
    }
    report["warnings"] = _warnings(report)
    return report


def _warnings(report: dict[str, Any]) -> list[str]:
    out = []
    cv = report["document_norms"]["cv"]
    if not cv >= 0.05:
        out.append(f"document norms barely vary (CV {cv:.3f} < 0.05): magnitude is not used")
    pop = report["spearman_norm_popularity"]
    if abs(pop) >= 0.3:
        out.append(
            f"norm follows popularity (rho {pop:.2f}): the length may be a popularity prior, "
            "not relevance; check before shipping"
        )
    length = report["spearman_norm_length"]
    if abs(length) >= 0.5:
        out.append(f"norm follows document length (rho {length:.2f})")
    if report["dot_vs_cosine"]["gap"] < 0 and cv >= 0.05:
        out.append("ranking by dot is worse than by cosine here: the lengths hurt this ranking")
    return out
