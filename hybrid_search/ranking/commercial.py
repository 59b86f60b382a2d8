"""The commercial stage: business terms added to relevance over the candidate window.

``total = a * fused + b * clip(margin / max_margin, 0, 1) + c * exp(-age_days / tau_days)
          + d * log1p(g * popularity) / log1p(g * max_popularity)``

``max_margin`` and ``max_popularity`` are the window's maxima unless configured, so the margin
and popularity terms lie in [0, 1] like the fused score. The popularity term is log-damped (``g``
sets how fast it saturates) so bestsellers cannot take over the page; ``d`` may be negative to
push against popularity. A missing field contributes 0. The window maxima are explicit so an
OpenSearch ``script_score`` stage can receive them as scalar params and give the same numbers.

Exploration slots low-velocity items into the ranking at evenly spaced positions, chosen by a
random generator seeded with the configured seed and the query, so the same query gets the same
page (deterministic, cache- and test-friendly) while different queries explore different items.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from hybrid_search.config import CommercialSettings

__all__ = ["CommercialParams", "CommercialTerms", "commercial_terms", "explore"]


_DEFAULTS: dict[str, Any] = {
    name: field.default for name, field in CommercialSettings.model_fields.items()
}


@dataclass(frozen=True)
class CommercialParams:
    """Coefficients of the commercial formula (see the module docstring).

    The defaults are the ``commercial`` settings' (config.py is their one source).
    """

    relevance_weight: float = _DEFAULTS["relevance_weight"]
    margin_weight: float = _DEFAULTS["margin_weight"]
    freshness_weight: float = _DEFAULTS["freshness_weight"]
    freshness_tau_days: float = _DEFAULTS["freshness_tau_days"]
    popularity_weight: float = _DEFAULTS["popularity_weight"]
    popularity_damping: float = _DEFAULTS["popularity_damping"]
    max_margin: float | None = _DEFAULTS["max_margin"]
    exploration_rate: float = _DEFAULTS["exploration_rate"]
    exploration_seed: int = _DEFAULTS["exploration_seed"]

    @classmethod
    def from_settings(cls, cfg: CommercialSettings) -> CommercialParams:
        """The coefficients of the ``commercial`` settings (``enabled`` is the caller's)."""
        return cls(**cfg.model_dump(exclude={"enabled"}))


@dataclass(frozen=True)
class CommercialTerms:
    """Each term of the formula per candidate, and their sum."""

    relevance: np.ndarray
    margin: np.ndarray
    freshness: np.ndarray
    popularity: np.ndarray
    total: np.ndarray
    max_margin: float
    max_popularity: float
    popularity_value: np.ndarray

    def order(self) -> np.ndarray:
        """Candidate indices by total, best first (ties keep the fused order)."""
        return np.argsort(-self.total, kind="stable")


_BIG = float(np.finfo(np.float64).max)


def _finite_max(values: np.ndarray) -> float:
    """The largest finite value, or 0.0 when there is none."""
    if values.size:
        top = float(np.fmax.reduce(values))  # NaN skipped: one pass in the usual case
        if math.isfinite(top):
            return top
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else 0.0


def commercial_terms(
    fused: np.ndarray,
    margin: np.ndarray,
    age_days: np.ndarray,
    popularity: np.ndarray,
    params: CommercialParams,
) -> CommercialTerms:
    """Compute every term for the window. NaN marks a missing field (it contributes 0).

    Args:
        fused: fused relevance scores of the candidates.
        margin: gross margin fraction per candidate.
        age_days: days since the inventory was received (negative ages count as 0).
        popularity: sales velocity per candidate (>= 0).
        params: the coefficients.

    This runs on every search over the candidate window, so each term takes the fewest
    array passes that give the formula's values (NaN and +-inf included, as
    ``np.nan_to_num`` reads them; tested against that reading).
    """
    fused = np.asarray(fused, dtype=np.float64)
    margin = np.asarray(margin, dtype=np.float64)
    age_days = np.asarray(age_days, dtype=np.float64)
    popularity = np.asarray(popularity, dtype=np.float64)

    max_margin = params.max_margin if params.max_margin is not None else _finite_max(margin)
    if max_margin > 0:
        # clip(margin / max, 0, 1) without the overflow: fmax drops NaN (to 0), +inf caps.
        margin_norm = np.fmin(np.fmax(margin, 0.0), max_margin) / max_margin
    else:
        margin_norm = np.zeros_like(fused)
    # A missing (NaN) age counts as infinitely old; fmax turns exp's NaN into 0.
    freshness = np.fmax(np.exp(-np.maximum(age_days, 0.0) / params.freshness_tau_days), 0.0)

    pop = np.fmin(np.fmax(popularity, 0.0), _BIG)  # NaN and negatives to 0, +inf to the max
    max_pop = _finite_max(pop)
    g = params.popularity_damping
    # g * p can overflow to inf for a huge (finite) popularity (inf / inf = NaN), or underflow to
    # 0 for a tiny damping (0 / 0): cap at the largest float, and take the g -> 0 limit p / max p.
    scaled_max = g * max_pop
    denominator = math.log1p(min(scaled_max, _BIG))
    if max_pop > 0 and g > 0 and denominator > 0:
        if scaled_max <= _BIG:  # no candidate's g * p overflows
            pop_norm = np.log1p(g * pop) / denominator
        else:
            with np.errstate(over="ignore"):
                pop_norm = np.log1p(np.minimum(g * pop, _BIG)) / denominator
    elif max_pop > 0:
        pop_norm = pop / max_pop
    else:
        pop_norm = np.zeros_like(fused)

    relevance = params.relevance_weight * fused
    margin_t = params.margin_weight * margin_norm
    fresh_t = params.freshness_weight * freshness
    pop_t = params.popularity_weight * pop_norm
    total = relevance + margin_t + fresh_t + pop_t
    return CommercialTerms(
        relevance, margin_t, fresh_t, pop_t, total, max_margin, max_pop, popularity
    )


def _seed(seed: int, query: str) -> int:
    digest = hashlib.sha256(f"{seed}\x00{query}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def explore(
    order: list[int],
    popularity: np.ndarray,
    relevance: np.ndarray,
    *,
    rate: float,
    seed: int,
    query: str,
) -> tuple[list[int], set[int]]:
    """Move low-velocity candidates into evenly spaced slots of the ranking.

    Args:
        order: candidate indices, best first.
        popularity: velocity per candidate index (NaN = unknown, treated as 0).
        relevance: fused relevance per candidate index; explored items are drawn with
            probability proportional to it, so exploration stays on-topic.
        rate: share of positions given to exploration, in [0, 0.5].
        seed: the configured seed.
        query: the query text (mixed into the seed).

    Returns:
        The new order and the set of candidate indices that were slotted in.
    """
    n = len(order)
    slots = math.floor(rate * n)
    if rate <= 0 or slots == 0:
        return list(order), set()
    pop = np.nan_to_num(np.asarray(popularity, dtype=np.float64), nan=0.0)
    threshold = float(np.quantile(pop[order], 0.25))
    rng = random.Random(_seed(seed, query))
    spacing = 1.0 / rate
    offset = rng.random()
    positions = [min(int((i + offset) * spacing), n - 1) for i in range(slots)]
    chosen: list[int] = []
    for pos in positions:
        # Only items ranked below the slot can be promoted into it.
        pool = [c for c in order[pos + 1 :] if pop[c] <= threshold and c not in chosen]
        if not pool:
            break
        weights = [max(float(relevance[c]), 1e-6) for c in pool]
        chosen.append(rng.choices(pool, weights=weights, k=1)[0])
    if not chosen:
        return list(order), set()
    picked = set(chosen)
    rest = [c for c in order if c not in picked]
    # positions may outnumber the chosen items when the pool ran dry: zip stops early.
    for pos, item in zip(positions, chosen, strict=False):
        rest.insert(pos, item)
    return rest, picked
