"""Embedding drift between two snapshots of the catalogue (two model versions, or two dates).

A snapshot is an ``.npz`` of ``ids``, ``vectors`` and, when known, ``categories``,
``popularity`` and ``model_id`` (``hybrid-search snapshot`` writes one). Reported over the ids
both snapshots hold:

- **neighbour-overlap@k**: per product, the share of its k nearest neighbours (cosine, itself
  excluded) found in both snapshots. It compares rankings, so it is meaningful across models.
- **centroid shift** of the top-N products (by popularity) and of each category:
  ``1 - cos(centroid_a, centroid_b)``, and the mean per-product cosine ``cos(a_i, b_i)``.
  Two different models live in different spaces, so by default (``align="auto"``) snapshot b
  is first mapped onto a by orthogonal Procrustes (Schönemann, Psychometrika 1966), which
  removes rotations and keeps only real movement; two snapshots of one model are compared raw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hybrid_search.errors import InvalidRequestError
from hybrid_search.plotting import pyplot

__all__ = [
    "EmbeddingSnapshot",
    "drift_report",
    "load_snapshot",
    "nearest_neighbours",
    "neighbour_overlap",
    "plot_drift",
    "procrustes",
    "save_snapshot",
    "write_drift",
]


@dataclass
class EmbeddingSnapshot:
    """The catalogue's vectors at one moment, with what drift is broken down by."""

    ids: list[str]
    vectors: np.ndarray
    categories: list[str]
    popularity: np.ndarray
    model_id: str = ""
    created_at: str = ""


def save_snapshot(snap: EmbeddingSnapshot, path: Path) -> None:
    """Write a snapshot as a compressed ``.npz``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with Path(path).open("wb") as fh:
        np.savez_compressed(
            fh,
            ids=np.array(snap.ids, dtype=str),
            vectors=np.asarray(snap.vectors, dtype=np.float32),
            categories=np.array(snap.categories, dtype=str),
            popularity=np.asarray(snap.popularity, dtype=np.float64),
            model_id=np.array(snap.model_id),
            created_at=np.array(snap.created_at or datetime.now(timezone.utc).isoformat()),
        )


def load_snapshot(path: Path) -> EmbeddingSnapshot:
    """Read a snapshot written by :func:`save_snapshot`.

    Raises:
        InvalidRequestError: the file is missing, not an ``.npz``, or lacks ``ids``/``vectors``.
    """
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            fields = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        msg = f"snapshot {path}: cannot read it as .npz ({exc})"
        raise InvalidRequestError(msg) from exc
    missing = {"ids", "vectors"} - set(fields)
    if missing:
        msg = f"snapshot {path}: missing arrays {sorted(missing)}; expected ids and vectors"
        raise InvalidRequestError(msg)
    ids = [str(x) for x in fields["ids"]]
    vectors = np.asarray(fields["vectors"], dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(ids):
        msg = f"snapshot {path}: vectors {vectors.shape} do not match {len(ids)} ids"
        raise InvalidRequestError(msg)
    n = len(ids)
    cats = fields.get("categories")
    pop = fields.get("popularity")
    return EmbeddingSnapshot(
        ids=ids,
        vectors=vectors,
        categories=[str(c) for c in cats] if cats is not None and len(cats) == n else [""] * n,
        popularity=(
            np.asarray(pop, dtype=np.float64)
            if pop is not None and len(pop) == n
            else np.full(n, np.nan)
        ),
        model_id=str(fields.get("model_id", "")),
        created_at=str(fields.get("created_at", "")),
    )


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    out: np.ndarray = x / np.where(norms > 0, norms, 1.0)
    return out


def nearest_neighbours(vectors: np.ndarray, k: int, *, chunk: int = 1024) -> np.ndarray:
    """Row indices of each row's ``k`` nearest rows by cosine, itself excluded, best first.

    Ties break towards the lower index, so the answer is deterministic.
    """
    x = _unit(np.asarray(vectors, dtype=np.float32))
    n = x.shape[0]
    k = min(k, n - 1)
    out = np.zeros((n, max(k, 0)), dtype=np.int64)
    if k <= 0:
        return out
    for start in range(0, n, chunk):
        sims = x[start : start + chunk] @ x.T
        rows = np.arange(start, min(start + chunk, n))
        sims[rows - start, rows] = -np.inf
        # Stable sort on -sim rounded to 1e-5: equal similarities (float32 noise aside) keep
        # index order, so a rotation of the same space gives the same neighbours.
        order = np.argsort(-np.round(sims, 5), axis=1, kind="stable")[:, :k]
        out[rows] = order
    return out


def neighbour_overlap(a: np.ndarray, b: np.ndarray, k: int = 10) -> np.ndarray:
    """Per row, ``|NN_k(a) ∩ NN_k(b)| / k`` over the same rows in two embeddings."""
    na, nb = nearest_neighbours(a, k), nearest_neighbours(b, k)
    if na.shape[1] == 0:
        return np.ones(na.shape[0])
    return np.array(
        [
            len(set(ra.tolist()) & set(rb.tolist())) / na.shape[1]
            for ra, rb in zip(na, nb, strict=True)
        ]
    )


def procrustes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The orthogonal map ``R`` minimising ``||b R - a||`` (``b`` may have another dimension)."""
    u, _, vt = np.linalg.svd(b.T.astype(np.float64) @ a.astype(np.float64), full_matrices=False)
    r: np.ndarray = u @ vt
    return r


def _shift(a: np.ndarray, b: np.ndarray, overlap: np.ndarray) -> dict[str, float]:
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    denom = float(np.linalg.norm(ca) * np.linalg.norm(cb))
    centroid_cos = float(ca @ cb) / denom if denom > 0 else 0.0
    item_cos = np.sum(_unit(a) * _unit(b), axis=1)
    return {
        "count": int(a.shape[0]),
        "centroid_shift": round(1.0 - centroid_cos, 6),
        "mean_item_cosine": round(float(item_cos.mean()), 6),
        "neighbour_overlap": round(float(overlap.mean()), 6),
    }


def drift_report(
    a: EmbeddingSnapshot,
    b: EmbeddingSnapshot,
    *,
    top_n: int = 100,
    k: int = 10,
    align: Literal["auto", "always", "never"] = "auto",
    most_moved: int = 10,
) -> dict[str, Any]:
    """Compare two snapshots over their common ids (see the module docstring).

    Raises:
        InvalidRequestError: fewer than two common ids, or different dimensions without
            alignment.
    """
    index_b = {doc_id: i for i, doc_id in enumerate(b.ids)}
    pairs = [(i, index_b[doc_id]) for i, doc_id in enumerate(a.ids) if doc_id in index_b]
    if len(pairs) < 2:
        msg = f"the snapshots share {len(pairs)} ids; at least 2 are needed to compare them"
        raise InvalidRequestError(msg)
    ia = np.array([p[0] for p in pairs])
    ib = np.array([p[1] for p in pairs])
    va = _unit(a.vectors[ia].astype(np.float64))
    vb = _unit(b.vectors[ib].astype(np.float64))
    aligned = align == "always" or (align == "auto" and a.model_id != b.model_id)
    if va.shape[1] != vb.shape[1] and not aligned:
        msg = (
            f"snapshot dimensions differ ({va.shape[1]} vs {vb.shape[1]}): "
            "compare with align='auto' or 'always'"
        )
        raise InvalidRequestError(msg)
    vb_cmp = _unit(vb @ procrustes(va, vb)) if aligned else vb
    overlap = neighbour_overlap(va, vb, k)  # rankings: no alignment needed
    ids = [a.ids[i] for i in ia]
    cats = [a.categories[i] for i in ia]
    pop = a.popularity[ia]
    if np.isfinite(pop).any():
        ranked_by = "popularity"
        top = np.argsort(-np.nan_to_num(pop, nan=-np.inf), kind="stable")[:top_n]
    else:
        ranked_by = "snapshot order"
        top = np.arange(min(top_n, len(ids)))
    categories = {}
    for cat in sorted(set(cats)):
        rows = np.array([i for i, c in enumerate(cats) if c == cat])
        categories[cat or "(none)"] = _shift(va[rows], vb_cmp[rows], overlap[rows])
    item_cos = np.sum(va * vb_cmp, axis=1)
    moved = np.lexsort((overlap, item_cos))[:most_moved]
    return {
        "model_a": a.model_id,
        "model_b": b.model_id,
        "created_a": a.created_at,
        "created_b": b.created_at,
        "documents_a": len(a.ids),
        "documents_b": len(b.ids),
        "common": len(pairs),
        "only_a": len(a.ids) - len(pairs),
        "only_b": len(b.ids) - len(pairs),
        "k": k,
        "aligned": aligned,
        f"neighbour_overlap@{k}": round(float(overlap.mean()), 6),
        "all": _shift(va, vb_cmp, overlap),
        "top_n": {
            "n": int(top.size),
            "ranked_by": ranked_by,
            **_shift(va[top], vb_cmp[top], overlap[top]),
        },
        "categories": categories,
        "most_moved": [
            {
                "id": ids[i],
                "category": cats[i],
                "item_cosine": round(float(item_cos[i]), 6),
                f"neighbour_overlap@{k}": round(float(overlap[i]), 6),
            }
            for i in moved
        ],
        "overlap_histogram": np.histogram(overlap, bins=k + 1, range=(0, 1 + 1 / k))[0].tolist(),
    }


def plot_drift(report: dict[str, Any], path: Path) -> None:
    """Per-category centroid shift and neighbour overlap, and the overlap histogram, as a PNG.

    Raises:
        MissingDependencyError: matplotlib is not installed.
    """
    plt = pyplot("the drift plot")
    cats = list(report["categories"])
    k = report["k"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    shift = [report["categories"][c]["centroid_shift"] for c in cats]
    overlap = [report["categories"][c]["neighbour_overlap"] for c in cats]
    axes[0].barh(cats, shift, color="#c0504d")
    axes[0].set_title("centroid shift (1 - cos) per category")
    axes[1].barh(cats, overlap, color="#4f81bd")
    axes[1].set_xlim(0, 1)
    axes[1].set_title(f"neighbour overlap@{k} per category")
    hist = report["overlap_histogram"]
    axes[2].bar([i / k for i in range(len(hist))], hist, width=0.8 / k, color="#9bbb59")
    axes[2].set_title(f"products by neighbour overlap@{k}")
    axes[2].set_xlabel(f"overlap@{k}")
    title = f"{report['model_a'] or 'a'} -> {report['model_b'] or 'b'}"
    aligned = ", Procrustes-aligned" if report["aligned"] else ""
    title += f" ({report['common']} common products{aligned})"
    fig.suptitle(title)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_drift(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """``drift.json`` and ``drift.png`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out_dir / "drift.json", out_dir / "drift.png"
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    plot_drift(report, png_path)
    return json_path, png_path
