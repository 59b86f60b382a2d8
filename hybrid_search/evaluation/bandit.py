"""Offline Thompson sampling over a grid of commercial coefficients, replayed on logged clicks.

Retail teams tune the commercial stage (margin, freshness, popularity weights) by A/B tests or
bandits, not by relevance judgments. This replays a click log instead of live traffic: each
logged impression holds the candidate window (fused score and commercial fields per candidate),
which candidate was shown first, and which were clicked. For every impression Thompson sampling
(Thompson, Biometrika 1933; Chapelle & Li, NeurIPS 2011) draws one value per arm from its
Beta posterior and picks the best arm; the arm's own top candidate is computed with the same
``commercial_terms`` as the Searcher. With the replay method (Li, Chu, Langford & Wang, WSDM 2011)
the impression counts only when that top candidate is the one the log showed first, and its
reward is whether it was clicked; otherwise it is skipped. The estimate is unbiased when the
logged first slot was chosen at random (uniform exploration traffic), and biased towards the
logging policy otherwise.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from hybrid_search.errors import InvalidRequestError
from hybrid_search.jsonl import read_objects
from hybrid_search.ranking.commercial import CommercialParams, commercial_terms

__all__ = ["BanditResult", "Impression", "arm_grid", "load_click_log", "replay_thompson"]


@dataclass(frozen=True)
class Impression:
    """One logged search: the candidate window, the first slot shown, and the clicks."""

    fused: np.ndarray
    margin: np.ndarray
    age_days: np.ndarray
    popularity: np.ndarray
    shown_first: int
    clicked: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class BanditResult:
    """Posterior of each arm after the replay, and the arm with the highest posterior mean."""

    arms: list[CommercialParams]
    successes: list[int]
    pulls: list[int]
    matched: int
    best: int

    def posterior_means(self) -> list[float]:
        """Mean of each arm's Beta(1 + successes, 1 + failures) posterior."""
        return [(1 + s) / (2 + n) for s, n in zip(self.successes, self.pulls, strict=True)]


def _top(imp: Impression, params: CommercialParams) -> int:
    terms = commercial_terms(imp.fused, imp.margin, imp.age_days, imp.popularity, params)
    return int(terms.order()[0])


def replay_thompson(
    impressions: Sequence[Impression], arms: Sequence[CommercialParams], *, seed: int = 0
) -> BanditResult:
    """Replay the log once with Thompson sampling over ``arms``.

    Raises:
        ValueError: no arms, or an impression whose arrays differ in length.
    """
    if not arms:
        msg = "arms: give at least one CommercialParams setting"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    wins = np.zeros(len(arms))
    pulls = np.zeros(len(arms))
    matched = 0
    for i, imp in enumerate(impressions):
        n = len(imp.fused)
        if not (len(imp.margin) == len(imp.age_days) == len(imp.popularity) == n):
            msg = f"impression {i}: fused, margin, age_days and popularity differ in length"
            raise ValueError(msg)
        if n == 0:
            continue
        draws = rng.beta(1.0 + wins, 1.0 + pulls - wins)
        arm = int(np.argmax(draws))
        if _top(imp, arms[arm]) != imp.shown_first:
            continue  # replay: only impressions where the arm agrees with the log count
        matched += 1
        pulls[arm] += 1
        wins[arm] += float(imp.shown_first in imp.clicked)
    means = (1.0 + wins) / (2.0 + pulls)
    return BanditResult(
        arms=list(arms),
        successes=[int(w) for w in wins],
        pulls=[int(p) for p in pulls],
        matched=matched,
        best=int(np.argmax(means)),
    )


def _impression(obj: Any, where: str) -> Impression:
    if not isinstance(obj, dict) or not isinstance(obj.get("candidates"), list):
        msg = f"{where}: expected an object with a 'candidates' list"
        raise InvalidRequestError(msg)
    cands = obj["candidates"]
    try:
        cols = {
            name: np.array([float(c.get(name, np.nan)) for c in cands], dtype=np.float64)
            for name in ("fused", "margin", "age_days", "popularity")
        }
        shown = int(obj["shown_first"])
        clicked = frozenset(int(i) for i in obj.get("clicked", []))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        msg = (
            f"{where}: {type(exc).__name__}: {exc} (candidates need numbers, shown_first an index)"
        )
        raise InvalidRequestError(msg) from exc
    if not 0 <= shown < len(cands):
        msg = f"{where}: shown_first {shown} is not a candidate index (0..{len(cands) - 1})"
        raise InvalidRequestError(msg)
    return Impression(shown_first=shown, clicked=clicked, **cols)


def load_click_log(path: Path) -> list[Impression]:
    """Read a JSONL click log, one impression a line.

    Each line: ``{"candidates": [{"fused", "margin", "age_days", "popularity"}, ...],
    "shown_first": index, "clicked": [indices]}`` (a missing field is NaN, i.e. contributes 0).

    Raises:
        InvalidRequestError: the file cannot be read or a line is malformed (named by number).
    """
    return [_impression(obj, f"{path} line {number}") for number, obj in read_objects(path)]


def arm_grid(base: CommercialParams) -> list[CommercialParams]:
    """The default grid: margin 0-0.4, freshness 0-0.1, popularity 0-0.1 around ``base``."""
    return [
        replace(base, margin_weight=b, freshness_weight=c, popularity_weight=d)
        for b, c, d in itertools.product(
            (0.0, 0.05, 0.1, 0.2, 0.4), (0.0, 0.05, 0.1), (0.0, 0.05, 0.1)
        )
    ]
