"""A generated interaction log for the demo catalogue, and the behaviour vectors it gives.

The log is a seeded model of shoppers written for the demo and its evaluation
(``benchmarks/behaviour_eval.py``), not data about real ones: shopping sessions of an
anchor product and up to 4 more, which mix outfit completion (another category, same house or
colour: 60 %), alternatives (same category, price within 30 %: 15 %) and popularity-driven
picks (25 %, the source of a popularity cascade). Sessions are shuffled and split 80/20; 30
products, the "new arrivals", are removed from the train sessions, so they have no behaviour
vector (cold start).
Behaviour vectors are the co-occurrence embeddings of the train sessions
(``embedding/cooccurrence.py``). Everything depends only on the seed: the demo index and the
committed evaluation (``benchmarks/results/behaviour-demo-vectors.npz``) hold the same vectors.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hybrid_search.embedding.cooccurrence import item_embeddings
from hybrid_search.templates import BLOCK_VECTORS_FIELD

if TYPE_CHECKING:
    from hybrid_search.searcher import Searcher

__all__ = [
    "BehaviourLog",
    "behaviour_vectors",
    "generate_sessions",
    "similar_comparison",
    "split_log",
    "with_behaviour",
]

SESSIONS = 6000
SEED = 0
NEW_ARRIVALS = 30
TRAIN_SHARE = 0.8


def generate_sessions(catalogue: Sequence[dict[str, Any]], n: int, seed: int) -> list[list[int]]:
    """``n`` seeded shopping sessions over catalogue indices (see the module docstring)."""
    rng = random.Random(seed)
    pop = np.array([d["popularity"] for d in catalogue]) + 0.5
    weights = (pop / pop.sum()).tolist()
    idx = list(range(len(catalogue)))
    by_key: dict[tuple[str, str], list[int]] = {}
    for i, d in enumerate(catalogue):
        by_key.setdefault(("brand", d["brand"]), []).append(i)
        by_key.setdefault(("color", d["color"]), []).append(i)
        by_key.setdefault(("category", d["category"]), []).append(i)
    sessions = []
    for _ in range(n):
        anchor = rng.choices(idx, weights)[0] if rng.random() < 0.5 else rng.choice(idx)
        session = [anchor]
        for _ in range(rng.randint(1, 4)):
            d = catalogue[anchor]
            r = rng.random()
            if r < 0.6:  # complete the look: same house or colour, another category
                key = ("brand", d["brand"]) if rng.random() < 0.6 else ("color", d["color"])
                pool = [j for j in by_key[key] if catalogue[j]["category"] != d["category"]]
            elif r < 0.75:  # an alternative: same category, price within 30 %
                pool = [
                    j
                    for j in by_key[("category", d["category"])]
                    if j != anchor and abs(catalogue[j]["price"] / d["price"] - 1) < 0.3
                ]
            else:  # what everyone buys
                pool = [rng.choices(idx, weights)[0]]
            if pool:
                session.append(rng.choice(pool))
        sessions.append(session)
    return sessions


@dataclass(frozen=True)
class BehaviourLog:
    """The shuffled sessions, their train/test split and the new arrivals."""

    sessions: list[list[int]]
    cut: int
    train: list[list[int]]
    test: list[list[int]]
    new_arrivals: list[int]


def split_log(
    catalogue: Sequence[dict[str, Any]],
    *,
    sessions: int = SESSIONS,
    seed: int = SEED,
    new_arrivals: int = NEW_ARRIVALS,
) -> BehaviourLog:
    """Generate, shuffle and split the log; the new arrivals are removed from train sessions."""
    log = generate_sessions(catalogue, sessions, seed)
    rng = random.Random(seed + 1)
    rng.shuffle(log)
    cut = int(TRAIN_SHARE * len(log))
    new = sorted(rng.sample(range(len(catalogue)), new_arrivals))
    new_set = set(new)
    train = [[i for i in s if i not in new_set] for s in log[:cut]]
    return BehaviourLog(log, cut, train, log[cut:], new)


def behaviour_vectors(
    catalogue: Sequence[dict[str, Any]], *, dimension: int = 32, seed: int = SEED
) -> tuple[np.ndarray, BehaviourLog]:
    """``(n, dimension)`` behaviour vectors from the train sessions (zeros: no behaviour)."""
    log = split_log(catalogue, seed=seed)
    return item_embeddings(log.train, len(catalogue), dimension), log


def with_behaviour(
    catalogue: Sequence[dict[str, Any]], vectors: np.ndarray, block: str = "behaviour"
) -> list[dict[str, Any]]:
    """Copies of the products carrying ``vectors.<block>`` where their vector is not zero
    (the others, the new arrivals, are indexed without: their behaviour block is empty)."""
    out = []
    for doc, vec in zip(catalogue, vectors, strict=True):
        if np.any(vec):
            doc = {**doc, BLOCK_VECTORS_FIELD: {block: [float(x) for x in vec]}}
        out.append(doc)
    return out


def similar_comparison(
    searcher: Searcher, catalogue: Sequence[dict[str, Any]], *, k: int = 5
) -> list[tuple[str, list[str], list[str]]]:
    """``(product, text-only neighbours, neighbours with every block)`` for the demo's first
    handbag and first watch (the evaluation's examples) and its first new arrival (no
    behaviour vector: under inner product it keeps exactly its text neighbours)."""
    log = split_log(catalogue)
    shown = [
        next(i for i, d in enumerate(catalogue) if d["category"] == c)
        for c in ("handbags", "watches")
    ]
    shown.append(log.new_arrivals[0])
    out = []
    for i in shown:
        doc = catalogue[i]
        label = f"{doc['title']} ({doc['category']})"
        if i in log.new_arrivals:
            label += ", a new arrival: no behaviour vector"
        lists = []
        for blocks in (["text"], None):
            resp = searcher.similar(doc["sku"], k=k, blocks=blocks)
            lists.append([f"{h['source']['title']} ({h['source']['category']})" for h in resp.hits])
        out.append((label, lists[0], lists[1]))
    return out
