"""Vector confidence: recover the similarity from an engine score, and the fallback gate.

OpenSearch's k-NN ``_score`` per space type (``reference/opensearch.md`` §1.3), inverted here:

- ``cosinesimil``: ``score = (1 + cos) / 2``  ->  ``cos = 2 score - 1``
- ``innerproduct``: ``score = dot + 1`` if ``dot >= 0`` else ``1 / (1 - dot)``
- ``l2``: ``score = 1 / (1 + d^2)``  ->  for unit vectors ``cos = 1 - d^2 / 2``

Never judge confidence from a normalised hybrid score: min_max maps the best vector hit to 1.0
whatever its absolute similarity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "GateDecision",
    "cosine_from_score",
    "gate",
    "score_from_similarity",
    "scores_from_similarities",
]


def score_from_similarity(similarity: float, space_type: str) -> float:
    """The OpenSearch ``_score`` for a raw similarity (cosine, dot product or squared L2).

    Raises:
        ValueError: unknown space type.
    """
    if space_type == "cosinesimil":
        return max((1.0 + similarity) / 2.0, 0.0)
    if space_type == "innerproduct":
        return similarity + 1.0 if similarity >= 0 else 1.0 / (1.0 - similarity)
    if space_type == "l2":
        return 1.0 / (1.0 + similarity)
    msg = f"space_type {space_type!r} is not one of ['cosinesimil', 'innerproduct', 'l2']"
    raise ValueError(msg)


def scores_from_similarities(similarities: np.ndarray, space_type: str) -> np.ndarray:
    """Vectorised ``score_from_similarity`` for a whole candidate list.

    Raises:
        ValueError: unknown space type.
    """
    s = np.asarray(similarities, dtype=np.float64)
    if space_type == "cosinesimil":
        out = np.maximum((1.0 + s) / 2.0, 0.0)
    elif space_type == "innerproduct":
        out = np.where(s >= 0, s + 1.0, 1.0 / (1.0 - np.minimum(s, 0.0)))
    elif space_type == "l2":
        out = 1.0 / (1.0 + s)
    else:
        msg = f"space_type {space_type!r} is not one of ['cosinesimil', 'innerproduct', 'l2']"
        raise ValueError(msg)
    result: np.ndarray = out
    return result


def cosine_from_score(score: float, space_type: str) -> float:
    """Invert an engine score to a similarity comparable with a cosine threshold.

    For ``innerproduct`` this is the dot product (equal to the cosine for unit vectors); for
    ``l2`` it assumes unit vectors.

    Raises:
        ValueError: unknown space type.
    """
    if space_type == "cosinesimil":
        return 2.0 * score - 1.0
    if space_type == "innerproduct":
        return score - 1.0 if score >= 1.0 else 1.0 - 1.0 / score
    if space_type == "l2":
        d2 = 1.0 / score - 1.0 if score > 0 else math.inf
        return 1.0 - d2 / 2.0
    msg = f"space_type {space_type!r} is not one of ['cosinesimil', 'innerproduct', 'l2']"
    raise ValueError(msg)


@dataclass(frozen=True)
class GateDecision:
    """Whether the vector leg is trusted, with the reason when it is not."""

    use_vector: bool
    top_cosine: float | None
    reason: str | None


def gate(top_cosine: float | None, tau: float) -> GateDecision:
    """Trust the vector leg only when its best hit is at least ``tau`` similar to the query."""
    if top_cosine is None:
        return GateDecision(False, None, "vector leg returned no candidates")
    if top_cosine < tau:
        reason = f"low vector confidence: top cosine {top_cosine:.3f} < threshold {tau:.3f}"
        return GateDecision(False, top_cosine, reason)
    return GateDecision(True, top_cosine, None)
