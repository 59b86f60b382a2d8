"""Score fusion with the semantics of OpenSearch's normalization and score-ranker processors.

Normalization (per leg, over that leg's candidate window):

- ``min_max``: ``(s - min) / (max - min)``; an exact 0 becomes 0.001; a single score or
  ``max == min`` gives 1.0.
- ``l2``: ``s / sqrt(sum s^2)``; a zero norm gives 0.001.
- ``z_score``: ``(s - mean) / std`` with the sample standard deviation; values <= 0 become
  0.001; a score equal to the mean gives the leg's max raw score and ``std == 0`` its min
  (both exactly as neural-search's ``ZScoreNormalizationTechnique`` does).

Combination (weights by leg position, normalised here to sum to 1, as OpenSearch requires):

- ``arithmetic_mean``: ``sum w_i s_i / sum w_i`` over **all** legs; a document missing from a leg
  counts 0 there, with that leg's weight still in the denominator.
- ``geometric_mean``: ``exp(sum w_i ln s_i / sum w_i)`` over the legs where ``s_i > 0``.
- ``harmonic_mean``: ``sum w_i / sum (w_i / s_i)`` over the legs where ``s_i > 0``.
- ``rrf``: ``sum w_i / (rank_constant + rank_i)``, 1-based ranks, not divided by the weights
  (Cormack, Clarke & Buettcher, "Reciprocal Rank Fusion outperforms Condorcet and individual
  rank learning methods", SIGIR 2009).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "COMBINATIONS",
    "NORMALIZATIONS",
    "FusionResult",
    "combine",
    "fuse",
    "normalize",
]

NORMALIZATIONS = ("min_max", "l2", "z_score")
COMBINATIONS = ("arithmetic_mean", "geometric_mean", "harmonic_mean", "rrf")
MIN_SCORE = 0.001
SINGLE_RESULT_SCORE = 1.0


@dataclass(frozen=True)
class FusionResult:
    """Fused candidates, best first, as columns (no per-hit objects on the hot path).

    ``raw`` and ``normalized`` are ``(n, legs)`` matrices with NaN where a document was not
    returned by a leg.
    """

    keys: list[Hashable]
    scores: np.ndarray
    raw: np.ndarray
    normalized: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    def head(self, n: int) -> FusionResult:
        """The best ``n`` candidates."""
        return FusionResult(self.keys[:n], self.scores[:n], self.raw[:n], self.normalized[:n])


def normalize(scores: Sequence[float] | np.ndarray, technique: str) -> np.ndarray:
    """Normalise one leg's scores (OpenSearch semantics, see the module docstring).

    Raises:
        ValueError: unknown technique.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return s
    if technique == "min_max":
        lo, hi = float(s.min()), float(s.max())
        if hi == lo:
            return np.full_like(s, SINGLE_RESULT_SCORE)
        out = (s - lo) / (hi - lo)
        out[out == 0.0] = MIN_SCORE
        return out
    if technique == "l2":
        norm = float(np.sqrt(np.sum(s * s)))
        if norm == 0.0:
            return np.full_like(s, MIN_SCORE)
        return s / norm
    if technique == "z_score":
        mean = float(s.mean())
        std = float(s.std(ddof=1)) if s.size > 1 else 0.0
        if std == 0.0:
            z = np.full_like(s, float(s.min()))
        else:
            z = (s - mean) / std
            z = np.where(z <= 0.0, MIN_SCORE, z)
        return np.where(s == mean, float(s.max()), z)
    msg = f"normalization {technique!r} is not one of {list(NORMALIZATIONS)}"
    raise ValueError(msg)


def combine(scores: np.ndarray, weights: np.ndarray, technique: str) -> np.ndarray:
    """Combine a ``(docs, legs)`` matrix of normalised scores (0 = missing) into one score each.

    Raises:
        ValueError: unknown technique, or a weight/leg count mismatch.
    """
    if scores.ndim != 2 or scores.shape[1] != weights.shape[0]:
        msg = f"{weights.shape[0]} weights for a score matrix of shape {scores.shape}"
        raise ValueError(msg)
    if technique == "arithmetic_mean":
        total = float(weights.sum())
        return (scores @ weights) / total if total > 0 else np.zeros(scores.shape[0])
    present = scores > 0
    w = np.where(present, weights[None, :], 0.0)
    wsum = w.sum(axis=1)
    safe = np.where(present, scores, 1.0)
    # over: w / s for a subnormal s is inf, whose harmonic mean is the right limit, 0.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if technique == "geometric_mean":
            out = np.exp((w * np.log(safe)).sum(axis=1) / wsum)
        elif technique == "harmonic_mean":
            out = wsum / (w / safe).sum(axis=1)
        else:
            msg = f"combination {technique!r} is not one of {list(COMBINATIONS)}"
            raise ValueError(msg)
    return np.where(wsum > 0, out, 0.0)


def _weights(weights: Sequence[float], legs: int) -> np.ndarray:
    if len(weights) != legs:
        msg = f"{len(weights)} weights given for {legs} legs; give one weight per leg"
        raise ValueError(msg)
    w = [float(x) for x in weights]  # a handful of numbers: plain floats beat numpy here
    total = sum(w)
    if any(x < 0 or not math.isfinite(x) for x in w) or not total > 0:
        msg = f"weights {list(weights)} must be finite, >= 0, and not all 0"
        raise ValueError(msg)
    return np.array([x / total for x in w])


def fuse(
    legs: Sequence[Sequence[tuple[Any, ...]]],
    *,
    normalization: str = "min_max",
    combination: str = "arithmetic_mean",
    weights: Sequence[float] | None = None,
    rank_constant: int = 60,
    limit: int | None = None,
) -> FusionResult:
    """Fuse ranked legs of ``(key, raw_score)`` (each sorted best first) into one ranking,
    its best ``limit`` (all by default).

    Items may carry more fields after those two (a ``Hit`` is accepted as it is).

    Ties keep the order in which documents were first seen (leg by leg), so results are
    deterministic. The inputs are not modified.

    Raises:
        ValueError: unknown technique, bad weights, or z_score with a non-arithmetic combination
            (OpenSearch refuses that pair too).
    """
    n_legs = len(legs)
    w = _weights(weights if weights is not None else [1.0] * max(n_legs, 1), max(n_legs, 1))
    if combination not in COMBINATIONS:
        msg = f"combination {combination!r} is not one of {list(COMBINATIONS)}"
        raise ValueError(msg)
    if combination != "rrf" and normalization not in NORMALIZATIONS:
        msg = f"normalization {normalization!r} is not one of {list(NORMALIZATIONS)}"
        raise ValueError(msg)
    if normalization == "z_score" and combination not in ("arithmetic_mean", "rrf"):
        msg = f"z_score normalization only combines with arithmetic_mean, not {combination!r}"
        raise ValueError(msg)
    columns = [_columns(leg) for leg in legs]
    key_list, first_seen, leg_rows = _join([leg_keys for leg_keys, _ in columns])
    n = len(key_list)
    raw = np.full((n, n_legs), np.nan)
    norm = raw.copy()
    filled = np.zeros((n, n_legs))  # norm with 0 for a missing document
    for j, ((leg_keys, leg_scores), rows) in enumerate(zip(columns, leg_rows, strict=True)):
        if not len(leg_keys):
            continue
        values = np.asarray(leg_scores, dtype=np.float64)
        raw[rows, j] = values
        if combination == "rrf":
            leg_norm = 1.0 / (rank_constant + np.arange(1, len(leg_keys) + 1))
        else:
            leg_norm = normalize(values, normalization)
        norm[rows, j] = leg_norm
        filled[rows, j] = leg_norm
    fused = filled @ w if combination == "rrf" else combine(filled, w, combination)
    order = np.lexsort((first_seen, -fused))[:limit]  # ties: the document seen first
    return FusionResult(_take(key_list, order), fused[order], raw[order], norm[order])


def _columns(
    leg: Sequence[tuple[Any, ...]],
) -> tuple[Sequence[Hashable] | np.ndarray, Sequence[float] | np.ndarray]:
    """A leg's keys and scores: the columns of a ``HitColumns``, else unzipped from its items."""
    keys, scores = getattr(leg, "keys", None), getattr(leg, "scores", None)
    if isinstance(keys, np.ndarray) and isinstance(scores, np.ndarray):
        return keys, scores
    if not leg:
        return (), ()
    unzipped = tuple(zip(*leg, strict=False))
    return unzipped[0], unzipped[1]


def _join(
    legs: Sequence[Sequence[Hashable] | np.ndarray],
) -> tuple[Sequence[Hashable] | np.ndarray, np.ndarray, list[np.ndarray]]:
    """Distinct keys, the position where each was first seen (over the legs in order), and
    each leg's row in the key list.

    Integer keys (the embedded engine's row numbers) are joined in numpy, in key order; any
    other key type through a dict, in first-seen order. This runs on every search over ~2N
    candidates.
    """
    arrays = [np.asarray(keys) for keys in legs]
    if all(a.dtype.kind in "iu" for a in arrays if a.size) and any(a.size for a in arrays):
        every = np.concatenate([a.astype(np.int64, copy=False) for a in arrays])
        order = np.argsort(every, kind="stable")
        ordered = every[order]
        starts = np.empty(every.size, dtype=bool)  # where a new key begins in sorted order
        starts[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
        rows = np.empty(every.size, dtype=np.int64)
        rows[order] = np.cumsum(starts) - 1
        bounds = itertools.accumulate((a.size for a in arrays), initial=0)
        # the sort is stable: a key's first position in sorted order is its first sighting
        return ordered[starts], order[starts], [rows[a:b] for a, b in itertools.pairwise(bounds)]
    key_list = list(dict.fromkeys(k for keys in legs for k in keys))
    index = dict(zip(key_list, range(len(key_list)), strict=True))
    leg_rows = [
        np.fromiter(map(index.__getitem__, keys), dtype=np.int64, count=len(keys)) for keys in legs
    ]
    return key_list, np.arange(len(key_list)), leg_rows


def _take(keys: Sequence[Hashable] | np.ndarray, order: np.ndarray) -> list[Hashable]:
    if isinstance(keys, np.ndarray):
        taken: list[Hashable] = keys[order].tolist()
        return taken
    return [keys[i] for i in order]
