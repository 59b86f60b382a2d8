"""A page of hits as the API returns them: id, rank, score, source and the score breakdown
of every stage (legs raw and normalised, the cosine, fusion, the learned re-rank, commercial)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from hybrid_search.ranking.commercial import CommercialTerms
from hybrid_search.ranking.confidence import cosine_from_score
from hybrid_search.ranking.fusion import FusionResult

if TYPE_CHECKING:
    from hybrid_search.ltr.stage import LtrResult

__all__ = ["render_hits"]


def render_hits(
    space: str,
    page_rows: list[int],
    sources: dict[Any, tuple[str, dict[str, Any]]],
    fused: FusionResult,
    terms: CommercialTerms | None,
    explored: set[int],
    leg_names: list[str],
    offset: int,
    explain: bool,
    *,
    cosine_scale: float = 1.0,
    ltr: LtrResult | None = None,
) -> list[dict[str, Any]]:
    """The page's hits as the API returns them: id, rank, score, source and the per-stage
    breakdown (raw and normalised leg scores, the cosine, fused and commercial terms).
    ``cosine_scale`` is divided out of the recovered similarity (``vector_blocks``: the text
    block's weight). With ``ltr`` (the learned re-rank ran, ``fused`` is its re-ordered window)
    the breakdown adds the model's raw score ``ltr`` and its normalised ``ltr_normalized``
    (what the commercial stage reads), ``fused`` stays the fusion's own score, and ``explain``
    adds the top feature contributions (``ltr_contributions``)."""
    out = []
    rank = offset
    rows = np.asarray(page_rows, dtype=np.int64)
    # One gather and one tolist per column: numpy scalars one by one cost ~2 us a hit.
    raw_rows, norm_rows = fused.raw[rows].tolist(), fused.normalized[rows].tolist()
    fused_scores = fused.scores[rows].tolist()
    term_rows: list[Any] = [None] * len(page_rows)
    ltr_rows = _ltr_rows(ltr, page_rows, rows, explain)
    ltr_name = ltr.model.name if ltr is not None else None
    if terms is not None:
        columns = (terms.total, terms.relevance, terms.margin, terms.freshness, terms.popularity)
        term_rows = list(zip(*(column[rows].tolist() for column in columns), strict=True))
    for i, raw_row, norm_row, fused_score, term_row, ltr_row in zip(
        page_rows, raw_rows, norm_rows, fused_scores, term_rows, ltr_rows, strict=True
    ):
        key = fused.keys[i]
        if key not in sources:
            continue  # deleted between retrieval and fetch
        rank += 1
        doc_id, source = sources[key]
        breakdown = _leg_breakdown(leg_names, raw_row, norm_row, space, cosine_scale)
        breakdown["fused"] = fused_score
        score = fused_score
        if ltr_row is not None:
            breakdown.update(ltr=ltr_row[0], ltr_normalized=fused_score, fused=ltr_row[1])
            if ltr_row[3] is not None:
                breakdown["ltr_contributions"] = ltr_row[3]
        if term_row is not None:
            score, relevance, margin, freshness, popularity = term_row
            breakdown.update(
                relevance=relevance,
                margin=margin,
                freshness=freshness,
                popularity=popularity,
                exploration=i in explored,
            )
        item: dict[str, Any] = {
            "id": doc_id,
            "rank": rank,
            "score": score,
            "breakdown": breakdown,
            "source": source,
        }
        if explain:
            item["explain"] = _explain(i, leg_names, len(fused), terms)
            if ltr_row is not None:
                item["explain"]["ltr"] = {"model": ltr_name, "fused_position": ltr_row[2]}
        out.append(item)
    return out


def _ltr_rows(
    ltr: LtrResult | None, page_rows: list[int], rows: np.ndarray, explain: bool
) -> list[Any]:
    """Per page row: (model score, fusion's score, fused position, contributions), or None."""
    if ltr is None:
        return [None] * len(page_rows)
    explained = ltr.contributions(page_rows) if explain else [None] * len(page_rows)
    return list(
        zip(
            ltr.model_scores[rows].tolist(),
            ltr.fused_scores[rows].tolist(),
            ltr.fused_positions[rows].tolist(),
            explained,
            strict=True,
        )
    )


def _leg_breakdown(
    leg_names: list[str], raw_row: list[float], norm_row: list[float], space: str, scale: float
) -> dict[str, Any]:
    """Each leg's raw and normalised score (None where the leg did not find the document) and
    the cosine recovered from the vector score."""
    breakdown: dict[str, Any] = {}
    for j, name in enumerate(leg_names):
        raw, norm = raw_row[j], norm_row[j]
        breakdown[name] = None if math.isnan(raw) else raw
        breakdown[f"{name}_normalized"] = None if math.isnan(norm) else norm
    if breakdown.get("vector") is not None:
        breakdown["vector_cosine"] = cosine_from_score(breakdown["vector"], space) / scale
    return breakdown


def _explain(
    row: int, leg_names: list[str], window: int, terms: CommercialTerms | None
) -> dict[str, Any]:
    return {
        "fused_position": row + 1,
        "legs": leg_names,
        "window": window,
        "max_margin": terms.max_margin if terms is not None else None,
        "max_popularity": terms.max_popularity if terms is not None else None,
    }
