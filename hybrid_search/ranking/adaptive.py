"""Query-adaptive fusion: the vector leg's weight from signals of this query's own legs.

One fixed weight pair treats every query alike, yet the legs' reliability varies per query: a
query whose nearest product is very close in embedding space (high top cosine) is one the model
understands, while a query with a model number or SKU is one only exact tokens can answer.
The weight is a clipped linear function of the signals, as in query-performance-prediction
based fusion (Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval",
ACM TOIS 2023, on convex combination; Arabzadeh et al., "Predicting Efficiency/Effectiveness
Trade-offs for Dense vs Sparse Retrieval Strategy Selection", CIKM 2021, on per-query signals):

``w_vector = clip(w0 + cosine_slope * (top_cosine - cosine_pivot)
                  + spread_slope * (lexical_spread - spread_pivot), min, max)``

then ``min(w_vector, code_vector_weight)`` when the query carries a code-like token. The lexical
weight is ``1 - w_vector``. ``lexical_spread`` is ``1 - s_k / s_1`` over the lexical leg's raw
BM25 scores (top score against the k-th): near 1 when a few documents match far better than the
rest, near 0 when BM25 cannot tell its candidates apart. All inputs are available before fusion
on both backends, and the result feeds the unchanged OpenSearch-compatible fusion.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from hybrid_search.config import SearchSettings

__all__ = ["AdaptiveParams", "adaptive_vector_weight", "has_code_token", "lexical_spread"]

# Model numbers, SKUs, part codes ("jgb750sefss", "LX-WAT-00042", "wd1680"): tokens
# that mix letters and digits, but not measurements ("2x4", "12in", "3.5gal", "20inx50in") nor a
# word glued to a number ("hampton30", "12pack").
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_.]*[A-Za-z0-9]")
_RUN = re.compile(r"[A-Za-z]+|[0-9]+")
_UNITS = frozenset(
    {"in", "inch", "ft", "mm", "cm", "m", "gal", "oz", "lb", "lbs", "v", "w", "amp", "amps"}
    | {"btu", "psi", "qt", "pc", "pk", "sq", "yd", "cu", "ga", "mil", "watt", "volt", "ah", "x"}
)


def has_code_token(query: str, *, min_length: int = 4) -> bool:
    """Whether the query holds a model-number / SKU-like token.

    A token (letters, digits, ``-_.`` inside) of at least ``min_length`` letters and digits
    counts when it is 6+ digits (an item number; 5 digits is often a BTU or watt figure), or
    mixes letters and digits such that no letter run is a unit (``in``, ``ft``, ``gal``, ``x``
    ...) and either letters and digits alternate more than once or the one letter run is at
    most 3 letters.
    """
    for tok in _TOKEN.findall(query):
        runs = _RUN.findall(tok)
        core = "".join(runs)
        if len(core) < min_length:
            continue
        letters = [r for r in runs if r.isalpha()]
        digits = [r for r in runs if r.isdigit()]
        if not letters:
            if len(core) >= 6:
                return True
            continue
        if not digits or any(r.lower() in _UNITS for r in letters):
            continue
        if len(runs) >= 3 or len(letters[0]) <= 3:
            return True
    return False


def lexical_spread(scores: Sequence[float], k: int = 10) -> float | None:
    """``1 - s_k / s_1`` over raw BM25 scores, best first (the last one if fewer than ``k``).

    None when there are no scores or the top score is not positive.
    """
    if not scores or scores[0] <= 0:
        return None
    kth = scores[min(k, len(scores)) - 1]
    return max(0.0, 1.0 - kth / scores[0])


_S = {name: field.default for name, field in SearchSettings.model_fields.items()}


@dataclass(frozen=True)
class AdaptiveParams:
    """Coefficients of the weight function (see the module docstring); tuned on train queries.

    The defaults are the ``search.adaptive_*`` settings' (config.py is their one source); the
    base ``vector_weight`` is the configured vector weight's share of the two weights.
    """

    vector_weight: float = _S["vector_weight"] / (_S["lexical_weight"] + _S["vector_weight"])
    cosine_pivot: float = _S["adaptive_cosine_pivot"]
    cosine_slope: float = _S["adaptive_cosine_slope"]
    spread_pivot: float = _S["adaptive_spread_pivot"]
    spread_slope: float = _S["adaptive_spread_slope"]
    code_vector_weight: float = _S["adaptive_code_vector_weight"]
    min_vector_weight: float = _S["adaptive_min_vector_weight"]
    max_vector_weight: float = _S["adaptive_max_vector_weight"]


def adaptive_vector_weight(
    params: AdaptiveParams,
    *,
    top_cosine: float | None,
    spread: float | None,
    code_like: bool,
) -> float:
    """The vector leg's weight for one query, in ``[min_vector_weight, max_vector_weight]``.

    A missing signal (no vector hit, no lexical hit) contributes its pivot, i.e. nothing.
    """
    w = params.vector_weight
    if top_cosine is not None:
        w += params.cosine_slope * (top_cosine - params.cosine_pivot)
    if spread is not None:
        w += params.spread_slope * (spread - params.spread_pivot)
    w = min(max(w, params.min_vector_weight), params.max_vector_weight)
    if code_like:
        w = min(w, params.code_vector_weight)
    return w
