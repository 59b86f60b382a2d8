"""The request and response models of a search, and how a page of hits is rendered.

The Searcher (``searcher.py``) runs the stages; this module holds what goes in and out, so the
API, the evaluation and the tests share one definition.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hybrid_search.config import SearchSettings
from hybrid_search.errors import InvalidRequestError
from hybrid_search.ranking.adaptive import AdaptiveParams
from hybrid_search.ranking.commercial import CommercialTerms
from hybrid_search.ranking.confidence import cosine_from_score
from hybrid_search.ranking.fusion import FusionResult

__all__ = [
    "CommercialOverrides",
    "SearchRequest",
    "SearchResponse",
    "adaptive_params",
    "render_hits",
    "validate_request",
]


class CommercialOverrides(BaseModel):
    """Per-request overrides of the commercial coefficients (bounded like the settings)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    relevance_weight: float | None = Field(None, ge=0.0, le=10.0)
    margin_weight: float | None = Field(None, ge=0.0, le=10.0)
    freshness_weight: float | None = Field(None, ge=0.0, le=10.0)
    freshness_tau_days: float | None = Field(None, gt=0.0, le=3650.0)
    popularity_weight: float | None = Field(None, ge=-10.0, le=10.0)
    popularity_damping: float | None = Field(None, ge=0.0, le=1000.0)
    exploration_rate: float | None = Field(None, ge=0.0, le=0.5)
    exploration_seed: int | None = None
    max_margin: float | None = Field(None, gt=0.0)


class SearchRequest(BaseModel):
    """A storefront query. Unset fields take the configured defaults."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(..., min_length=1)
    filters: dict[str, Any] | None = None
    k: int | None = Field(None, ge=1)
    page: int = Field(0, ge=0)
    mode: Literal["auto", "hybrid", "lexical", "vector"] | None = None
    normalization: Literal["min_max", "l2", "z_score"] | None = None
    combination: Literal["arithmetic_mean", "geometric_mean", "harmonic_mean", "rrf"] | None = None
    lexical_weight: float | None = Field(None, ge=0.0, le=1.0)
    vector_weight: float | None = Field(None, ge=0.0, le=1.0)
    rank_constant: int | None = Field(None, ge=1, le=10000)
    min_vector_cosine: float | None = Field(None, ge=-1.0, le=1.0)
    candidates: int | None = Field(None, ge=10, le=10000)
    fuzzy: Literal["off", "on_empty", "always"] | None = None
    adaptive_fusion: bool | None = None
    commercial: CommercialOverrides | None = None
    explain: bool = False


class SearchResponse(BaseModel):
    """What a search returns: hits with their score breakdown, and how they were found."""

    hits: list[dict[str, Any]]
    mode_used: Literal["hybrid", "lexical", "vector"]
    fallback_reason: str | None = None
    degraded: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    page: int = 0
    k: int = 10
    candidates: dict[str, int] = Field(default_factory=dict)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    top_vector_cosine: float | None = None
    embedder: str | None = None


def validate_request(raw: SearchRequest | dict[str, Any]) -> SearchRequest:
    """A request model from a dict, or InvalidRequestError naming the field and the value."""
    if isinstance(raw, SearchRequest):
        return raw
    try:
        return SearchRequest.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "request"
        msg = f"field '{where}': {err.get('input')!r} is invalid: {err['msg']}"
        raise InvalidRequestError(msg) from exc


def adaptive_params(cfg: SearchSettings) -> AdaptiveParams:
    """The query-adaptive fusion coefficients of the ``search.adaptive_*`` settings."""
    return AdaptiveParams(
        vector_weight=cfg.vector_weight / (cfg.lexical_weight + cfg.vector_weight),
        cosine_pivot=cfg.adaptive_cosine_pivot,
        cosine_slope=cfg.adaptive_cosine_slope,
        spread_pivot=cfg.adaptive_spread_pivot,
        spread_slope=cfg.adaptive_spread_slope,
        code_vector_weight=cfg.adaptive_code_vector_weight,
        min_vector_weight=cfg.adaptive_min_vector_weight,
        max_vector_weight=cfg.adaptive_max_vector_weight,
    )


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
) -> list[dict[str, Any]]:
    """The page's hits as the API returns them: id, rank, score, source and the per-stage
    breakdown (raw and normalised leg scores, the cosine, fused and commercial terms).
    ``cosine_scale`` is divided out of the recovered similarity (``vector_blocks``: the text
    block's weight)."""
    out = []
    rank = offset
    rows = np.asarray(page_rows, dtype=np.int64)
    # One gather and one tolist per column: numpy scalars one by one cost ~2 us a hit.
    raw_rows, norm_rows = fused.raw[rows].tolist(), fused.normalized[rows].tolist()
    fused_scores = fused.scores[rows].tolist()
    term_rows: list[Any] = [None] * len(page_rows)
    if terms is not None:
        columns = (terms.total, terms.relevance, terms.margin, terms.freshness, terms.popularity)
        term_rows = list(zip(*(column[rows].tolist() for column in columns), strict=True))
    for i, raw_row, norm_row, fused_score, term_row in zip(
        page_rows, raw_rows, norm_rows, fused_scores, term_rows, strict=True
    ):
        key = fused.keys[i]
        if key not in sources:
            continue  # deleted between retrieval and fetch
        rank += 1
        doc_id, source = sources[key]
        breakdown: dict[str, Any] = {}
        for j, name in enumerate(leg_names):
            raw, norm = raw_row[j], norm_row[j]
            breakdown[name] = None if math.isnan(raw) else raw
            breakdown[f"{name}_normalized"] = None if math.isnan(norm) else norm
        if breakdown.get("vector") is not None:
            cosine = cosine_from_score(breakdown["vector"], space) / cosine_scale
            breakdown["vector_cosine"] = cosine
        breakdown["fused"] = fused_score
        score = fused_score
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
            item["explain"] = {
                "fused_position": i + 1,
                "legs": leg_names,
                "window": len(fused),
                "max_margin": terms.max_margin if terms is not None else None,
                "max_popularity": terms.max_popularity if terms is not None else None,
            }
        out.append(item)
    return out
