"""The decisions of a search, as pure functions: the request path's plan.

``Searcher.search`` is the I/O around these (run the legs, probe, re-rank, fetch, render);
``evaluation/tuning.py`` replays stored legs through the same ``decide``. In request order:

1. ``resolve``: the request against the ``search`` settings and their bounds (defaults, the
   window, weights, gate threshold, typo policy), or InvalidRequestError naming the field.
2. ``choose_legs``: which legs to run for the mode and what the backend offers (one leg, both
   side by side, both in one round trip, or the engine's own fusion).
3. ``retry_typos``: whether an empty lexical leg is asked again with typo tolerance.
4. ``decide``: from the legs' results, the mode used, the fallback reason and warnings (the
   degraded vector leg, filters no document passes, the confidence gate) and the fusion weights
   (query-adaptive when enabled).
5. ``fuse_legs``: the fusion the decision calls for.

No I/O and no backend imports here (ARCHITECTURE.md: ``ranking/`` is pure).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from hybrid_search.documents import FilterClause, parse_filters
from hybrid_search.errors import InvalidRequestError
from hybrid_search.ranking.adaptive import (
    AdaptiveParams,
    adaptive_vector_weight,
    has_code_token,
    lexical_spread,
)
from hybrid_search.ranking.confidence import gate
from hybrid_search.ranking.fusion import FusionResult, fuse

if TYPE_CHECKING:
    from hybrid_search.config import SearchSettings
    from hybrid_search.schemas import SearchRequest
    from hybrid_search.templates import IndexTemplate

__all__ = [
    "NO_MATCH",
    "Decision",
    "LegRun",
    "Resolved",
    "adaptive_params",
    "choose_legs",
    "decide",
    "fuse_legs",
    "resolve",
    "retry_typos",
]

#: The warning of an answer whose filters no document passes (then followed by the filters).
NO_MATCH = "no document matches the filters"

Mode = Literal["auto", "hybrid", "lexical", "vector"]
ModeUsed = Literal["hybrid", "lexical", "vector"]
Fuzzy = Literal["off", "on_empty", "always"]
#: How the legs run: ``lexical`` alone (inline); ``vector`` alone (the lexical leg only as its
#: fallback); ``parallel`` (lexical beside embedding + kNN); ``both`` (one round trip);
#: ``native`` (the engine fuses).
LegRun = Literal["lexical", "vector", "parallel", "both", "native"]


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


@dataclass(frozen=True)
class Resolved:
    """A request with every setting decided.

    Attributes:
        weights: ``(lexical, vector)`` as asked (not normalised; fusion normalises them).
        vector_share: the vector weight's share of the two, the adaptive weight's base.
        adaptive: the adaptive coefficients, or None when adaptive fusion is off.
        tau: the confidence gate's threshold (``min_vector_cosine``; used in ``auto``).
        typo: the first lexical leg runs typo-tolerant (``fuzzy=always``).
        filters: the request's filter object as sent (quoted back in warnings).
    """

    query: str
    k: int
    page: int
    clauses: list[FilterClause]
    mode: Mode
    window: int
    normalization: str
    combination: str
    weights: tuple[float, float]
    vector_share: float
    adaptive: AdaptiveParams | None
    tau: float
    fuzzy: Fuzzy
    rank_constant: int
    filters: dict[str, Any] | None = None

    @property
    def typo(self) -> bool:
        """Whether the first lexical leg is typo-tolerant."""
        return self.fuzzy == "always"


def resolve(
    req: SearchRequest,
    cfg: SearchSettings,
    template: IndexTemplate,
    *,
    adaptive: AdaptiveParams | None = None,
) -> Resolved:
    """The request against the settings and their bounds.

    ``adaptive`` is the configured coefficients (``adaptive_params(cfg)``, built once by the
    caller); they apply when ``adaptive_fusion`` is on for this request.

    Raises:
        InvalidRequestError: empty or too long query, ``k`` or ``page`` out of range, a bad
            filter, or both weights 0 (the message names the field, value and what is allowed).
    """
    query = req.query.strip()
    k = req.k or cfg.k
    _check_bounds(query, k, req.page, cfg)
    clauses = parse_filters(req.filters, template, max_filters=cfg.max_filters)
    weights = (
        cfg.lexical_weight if req.lexical_weight is None else req.lexical_weight,
        cfg.vector_weight if req.vector_weight is None else req.vector_weight,
    )
    if sum(weights) <= 0:
        msg = "fields 'lexical_weight' and 'vector_weight' are both 0; at least one must be > 0"
        raise InvalidRequestError(msg)
    on = cfg.adaptive_fusion if req.adaptive_fusion is None else req.adaptive_fusion
    return Resolved(
        query=query,
        k=k,
        page=req.page,
        clauses=clauses,
        mode=req.mode or cfg.mode,
        window=max(req.candidates or cfg.candidates, (req.page + 1) * k),
        normalization=req.normalization or cfg.normalization,
        combination=req.combination or cfg.combination,
        weights=weights,
        vector_share=weights[1] / sum(weights),
        adaptive=(adaptive or adaptive_params(cfg)) if on else None,
        tau=cfg.min_vector_cosine if req.min_vector_cosine is None else req.min_vector_cosine,
        fuzzy=req.fuzzy or cfg.fuzzy,
        rank_constant=req.rank_constant or cfg.rank_constant,
        filters=req.filters,
    )


def _check_bounds(query: str, k: int, page: int, cfg: SearchSettings) -> None:
    if not query:
        msg = "field 'query': the query is empty or only whitespace"
        raise InvalidRequestError(msg)
    if len(query) > cfg.max_query_chars:
        msg = f"field 'query': {len(query)} characters, at most {cfg.max_query_chars} allowed"
        raise InvalidRequestError(msg)
    if k > cfg.max_k:
        msg = f"field 'k': {k} is out of range; allowed 1..{cfg.max_k}"
        raise InvalidRequestError(msg)
    if page > cfg.max_page:
        msg = f"field 'page': {page} is out of range; allowed 0..{cfg.max_page}"
        raise InvalidRequestError(msg)


def choose_legs(mode: Mode, *, both_legs: bool, native_fusion: bool) -> LegRun:
    """How to run the legs for ``mode`` with what the backend offers.

    Native fusion is used only where both legs travel together (``auto``/``hybrid``).
    """
    if mode == "lexical":
        return "lexical"
    if mode == "vector":
        return "vector"
    if not both_legs:
        return "parallel"
    return "native" if native_fusion else "both"


def retry_typos(r: Resolved, *, lexical_found: bool, vector_used: bool) -> bool:
    """Typo tolerance only where exact terms found nothing (``fuzzy=on_empty``), and not when
    the vector leg answers a ``vector`` search on its own."""
    return not lexical_found and r.fuzzy == "on_empty" and (r.mode != "vector" or not vector_used)


@dataclass(frozen=True)
class Decision:
    """What the legs' results decide.

    Attributes:
        mode_used: the legs fused (``hybrid``) or the one leg answering.
        leg_names: the legs in the fused result, in fusion order.
        weights: the fusion weights (adaptive ones for ``hybrid`` when enabled).
        fallback_reason: why the vector leg was not used, if it was asked for and dropped.
        degraded: ``["vector"]`` when the vector leg was unavailable.
        warnings: for the response, in order.
    """

    mode_used: ModeUsed
    leg_names: list[str]
    weights: tuple[float, ...]
    fallback_reason: str | None
    degraded: list[str]
    warnings: list[str]


def decide(
    r: Resolved,
    *,
    lexical_found: bool,
    vector_found: bool,
    lexical_top: Sequence[float],
    top_cosine: float | None,
    degraded: str | None = None,
    native: bool = False,
    unmatched: bool = False,
) -> Decision:
    """Mode, fallback, warnings and weights from the legs' results.

    Args:
        r: the resolved request.
        lexical_found: the lexical leg returned candidates.
        vector_found: the vector leg returned candidates.
        lexical_top: the lexical leg's first raw scores (ten suffice), for the adaptive weight.
        top_cosine: the vector leg's top similarity as a cosine (the gate's input), or None.
        degraded: why the vector leg was unavailable (embedder or leg failure), else None.
        native: the engine fused (its radial ``min_score`` was the gate).
        unmatched: no document passes the filters.
    """
    use_vector = r.mode != "lexical" and degraded is None
    warnings = [degraded] if degraded is not None else []
    fallback_reason = degraded
    if unmatched:
        warnings.append(f"{NO_MATCH} {json.dumps(r.filters, ensure_ascii=False)}")
    if use_vector and r.mode == "auto" and not native and not unmatched:
        verdict = gate(top_cosine, r.tau)
        if not verdict.use_vector and lexical_found:
            fallback_reason = verdict.reason
            use_vector = False
        elif not verdict.use_vector:
            warnings.append(f"{verdict.reason}; kept because the lexical leg found nothing")
    mode_used = _mode_used(
        r.mode, use_vector, lexical_found, vector_found, native=native, unmatched=unmatched
    )
    weights: tuple[float, ...] = (1.0,)
    if mode_used == "hybrid":
        weights = r.weights if native else _hybrid_weights(r, top_cosine, lexical_top)
    return Decision(
        mode_used=mode_used,
        leg_names=["lexical", "vector"] if mode_used == "hybrid" else [mode_used],
        weights=weights,
        fallback_reason=fallback_reason,
        degraded=["vector"] if degraded is not None else [],
        warnings=warnings,
    )


def _mode_used(
    mode: Mode,
    use_vector: bool,
    lexical_found: bool,
    vector_found: bool,
    *,
    native: bool,
    unmatched: bool,
) -> ModeUsed:
    """Both legs when both answered (or nothing passes the filters, so the mode asked is
    reported), else the one leg that did; the vector leg stands when the lexical one is empty."""
    if native:
        return "hybrid"
    if use_vector and mode != "vector" and ((lexical_found and vector_found) or unmatched):
        return "hybrid"
    if use_vector and (vector_found or not lexical_found):
        return "vector"
    return "lexical"


def _hybrid_weights(
    r: Resolved, top_cosine: float | None, lexical_top: Sequence[float]
) -> tuple[float, float]:
    """The request's weights, or the query-adaptive pair when adaptive fusion is on."""
    base = r.adaptive
    if base is None:
        return r.weights
    share = r.vector_share  # dataclasses.replace costs ~5 us: only for other weights
    w_vector = adaptive_vector_weight(
        base if share == base.vector_weight else replace(base, vector_weight=share),
        top_cosine=top_cosine,
        spread=lexical_spread(lexical_top),
        code_like=has_code_token(r.query),
    )
    return (1.0 - w_vector, w_vector)


def fuse_legs(
    r: Resolved,
    decision: Decision,
    lexical: Sequence[tuple[Any, ...]],
    vector: Sequence[tuple[Any, ...]],
    *,
    limit: int | None = -1,
) -> FusionResult:
    """The fusion the decision calls for: both legs, or the one answering (``limit``: the best
    this many; the request's window by default, None for all)."""
    if decision.mode_used == "hybrid":
        legs = [lexical, vector]
    else:
        legs = [vector] if decision.mode_used == "vector" else [lexical]
    return fuse(
        legs,
        normalization=r.normalization,
        combination=r.combination,
        weights=decision.weights,
        rank_constant=r.rank_constant,
        limit=r.window if limit == -1 else limit,
    )
