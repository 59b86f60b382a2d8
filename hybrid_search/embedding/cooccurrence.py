"""Item-to-item co-occurrence embeddings from an interaction log (the behaviour block).

Items that appear in the same sessions get close vectors: the positive pointwise mutual
information of session co-occurrence, with the context distribution raised to 0.75
(Levy, Goldberg & Dagan, TACL 2015), factorised by its top positive eigenpairs into
``V_d * sqrt(lambda_d)``: the best positive semi-definite rank-d approximation, so
``e_i . e_j ~ PPMI_ij`` and items bought together are close (a plain SVD ``U sqrt(S)`` of the
zero-diagonal matrix would make two items that only co-occur with each other orthogonal).
An item seen in no session gets a zero vector:
its behaviour block is empty until shoppers find it (cold start falls back to text).

Dense numpy: fine for catalogues up to ~20k items; beyond that use a sparse SVD.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["cooccurrence_counts", "item_embeddings", "ppmi"]


def cooccurrence_counts(sessions: Iterable[Sequence[int]], n_items: int) -> np.ndarray:
    """Symmetric ``(n, n)`` counts of distinct item pairs per session (diagonal zero).

    Raises:
        ValueError: an item index outside ``0..n_items-1``.
    """
    counts = np.zeros((n_items, n_items), dtype=np.float64)
    for session in sessions:
        items = np.unique(np.asarray(session, dtype=np.int64))
        if items.size and (items[0] < 0 or items[-1] >= n_items):
            bad = items[0] if items[0] < 0 else items[-1]
            msg = f"session item {bad} is outside 0..{n_items - 1}"
            raise ValueError(msg)
        if items.size > 1:
            counts[np.ix_(items, items)] += 1.0
    np.fill_diagonal(counts, 0.0)
    return counts


def ppmi(counts: np.ndarray, *, cds: float = 0.75) -> np.ndarray:
    """Positive PMI of a co-occurrence matrix, context counts smoothed by ``** cds``."""
    total = counts.sum()
    if total == 0:
        return np.zeros_like(counts)
    row = counts.sum(axis=1)
    ctx = counts.sum(axis=0) ** cds
    p_ctx = ctx / ctx.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log((counts / total) / ((row / total)[:, None] * p_ctx[None, :]))
    out: np.ndarray = np.where(np.isfinite(pmi) & (pmi > 0), pmi, 0.0)
    return out


def item_embeddings(
    sessions: Iterable[Sequence[int]], n_items: int, dimension: int = 32, *, cds: float = 0.75
) -> np.ndarray:
    """``(n_items, dimension)`` float32 behaviour vectors (zeros for never-seen items)."""
    m = ppmi(cooccurrence_counts(sessions, n_items), cds=cds)
    values, vectors = np.linalg.eigh(m)  # ascending
    keep = np.argsort(-values)[:dimension]
    keep = keep[values[keep] > 0]
    out = np.zeros((n_items, dimension), dtype=np.float32)
    out[:, : keep.size] = vectors[:, keep] * np.sqrt(values[keep])
    out[~m.any(axis=1)] = 0.0
    return out
