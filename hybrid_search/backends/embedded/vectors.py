"""Vector search for the embedded engine with faiss: exact below a size threshold and over
selective filters, HNSW above, with tombstones handled by an id selector.

The HNSW graph covers the rows that were alive when it was built; rows appended since (the
"tail") are searched exactly and merged, and deleted rows are excluded through an
``IDSelectorBitmap``. A rebuild (in the background) folds the tail in and drops tombstones.

The graph stores 8-bit scalar-quantised codes (``IndexHNSWSQ``), a quarter of the float32 bytes
the walk would otherwise pull through memory, and its candidates (at least ``RERANK_DEPTH``) are
re-scored exactly against the float32 rows, so returned scores are exact. Exact search over a
filtered subset keeps recall at 1.0 where HNSW's would collapse. The measurements behind both
choices (latency, recall, build time against ``IndexHNSWFlat``; recall under selective filters)
are in benchmarks/results/embedded.md and ``reference/peers.md`` §3.4.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from hybrid_search.backends.embedded.hugepages import collapse_faiss_vector

__all__ = [
    "RERANK_DEPTH",
    "HnswGraph",
    "VectorSearch",
    "build_hnsw",
    "huge_pages",
    "load_hnsw",
    "save_hnsw",
    "walk_order",
]

RERANK_DEPTH = 100
"""Fewest graph candidates re-scored exactly, whatever ``k`` (quantised scores reorder the
near-ties of a top 10; re-scoring 100 restores them)."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HnswGraph:
    """A built graph and the row count it covers (rows ``< rows`` alive at build time)."""

    index: faiss.Index
    rows: int


def _metric(space_type: str) -> int:
    return int(faiss.METRIC_L2 if space_type == "l2" else faiss.METRIC_INNER_PRODUCT)


def build_hnsw(
    vectors: np.ndarray, alive: np.ndarray, *, space_type: str, m: int, ef_construction: int
) -> HnswGraph:
    """Build an HNSW graph over the alive rows of ``vectors`` (ids = row numbers)."""
    dim = vectors.shape[1]
    qtype = faiss.ScalarQuantizer.QT_8bit
    inner = faiss.IndexHNSWSQ(dim, qtype, m, _metric(space_type))  # type: ignore[arg-type]
    inner.hnsw.efConstruction = ef_construction
    index = faiss.IndexIDMap(inner)
    rows = np.flatnonzero(alive).astype(np.int64)
    if rows.size:
        data = np.ascontiguousarray(vectors[rows])
        index.train(data)  # per-dimension ranges of the 8-bit codes
        index.add_with_ids(data, rows)
        order = walk_order(inner.hnsw, rows.size)
        inner.permute_entries(order)
        faiss.copy_array_to_vector(rows[order], index.id_map)
        huge_pages(index)
    return HnswGraph(index, int(vectors.shape[0]))


def huge_pages(index: faiss.Index) -> bool:
    """Back a graph's codes and bottom-layer neighbour lists, what a search walks, with 2 MiB
    pages (see hugepages.py). Returns whether both were; an index of another layout (not
    written by ``build_hnsw``) is left as it is."""
    inner: Any = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else index
    storage = getattr(inner, "storage", None)
    codes = getattr(faiss.downcast_index(storage), "codes", None) if storage is not None else None
    neighbors = getattr(getattr(inner, "hnsw", None), "neighbors", None)
    if codes is None or neighbors is None:
        return False
    done = collapse_faiss_vector(codes, 1)
    return collapse_faiss_vector(neighbors, 4) and done


def walk_order(hnsw: Any, n: int) -> np.ndarray:
    """The nodes in breadth-first order over the bottom layer, from the entry point.

    Stored in this order, a node's neighbours mostly sit near it in memory, so a search's
    walk touches fewer distant cache lines: 0.63 against 0.73 ms p50 for k=200, ef 256 over
    200k MiniLM vectors (the same graph both ways, queries alternated), with the same recall.
    Nodes the walk cannot reach from the entry point follow in id order.
    """
    if n == 0:
        return np.empty(0, dtype=np.int64)
    neighbors = faiss.vector_to_array(hnsw.neighbors)
    offsets = faiss.vector_to_array(hnsw.offsets)[:n].astype(np.int64)
    width = int(faiss.vector_to_array(hnsw.cum_nneighbor_per_level)[1])  # bottom layer slots
    adjacency = neighbors[offsets[:, None] + np.arange(width)[None, :]]  # -1 pads
    seen = np.zeros(n, dtype=bool)
    entry = int(hnsw.entry_point)
    seen[entry] = True
    levels = [np.array([entry], dtype=np.int64)]
    frontier = levels[0]
    while frontier.size:
        reached = adjacency[frontier].ravel()
        reached = reached[reached >= 0]
        _, first = np.unique(reached, return_index=True)
        reached = reached[np.sort(first)]  # discovery order, each node once
        frontier = reached[~seen[reached]].astype(np.int64)
        seen[frontier] = True
        levels.append(frontier)
    levels.append(np.flatnonzero(~seen))
    return np.concatenate(levels)


def save_hnsw(graph: HnswGraph, directory: Path, index_uuid: str) -> None:
    """Write the graph atomically, with the row count and the index's uuid beside it."""
    tmp = directory / "hnsw.faiss.tmp"
    faiss.write_index(graph.index, str(tmp))
    os.replace(tmp, directory / "hnsw.faiss")
    meta_tmp = directory / "hnsw.json.tmp"
    meta_tmp.write_text(json.dumps({"rows": graph.rows, "index_uuid": index_uuid}))
    os.replace(meta_tmp, directory / "hnsw.json")


def load_hnsw(directory: Path, index_uuid: str, committed_rows: int) -> HnswGraph | None:
    """Load a cached graph if it belongs to this index and covers only committed rows."""
    meta_path = directory / "hnsw.json"
    graph_path = directory / "hnsw.faiss"
    if not meta_path.exists() or not graph_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("index_uuid") != index_uuid or int(meta["rows"]) > committed_rows:
            logger.warning("ignoring stale HNSW cache in %s", directory)
            return None
        index = faiss.read_index(str(graph_path))
        huge_pages(index)
        return HnswGraph(index, int(meta["rows"]))
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        logger.warning("ignoring unreadable HNSW cache in %s: %s", directory, exc)
        return None


_QUERY_THREAD = threading.local()


def _one_omp_thread() -> None:
    """Run this thread's faiss searches on one OpenMP thread.

    A single query gains nothing from a thread team, and on a busy machine waking one costs
    milliseconds (benchmarks/results/embedded.md: the vector stage 2.4 ms with the default
    pool vs 1.5 ms pinned, at 200k). OpenMP keeps this setting per calling thread, so the
    background HNSW build, started from its own thread, still uses every core.
    """
    if not getattr(_QUERY_THREAD, "pinned", False):
        faiss.omp_set_num_threads(1)
        _QUERY_THREAD.pinned = True


def _bitmap(mask: np.ndarray) -> tuple[faiss.IDSelectorBitmap, np.ndarray]:
    packed = np.packbits(mask.astype(np.uint8), bitorder="little")
    return faiss.IDSelectorBitmap(mask.shape[0], faiss.swig_ptr(packed)), packed


class VectorSearch:
    """Top-k over a row view: exact, filtered exact, or HNSW + exact tail."""

    def __init__(
        self, space_type: str, *, exact_threshold: int, selective_ratio: float, ef_search: int
    ) -> None:
        self.space_type = space_type
        self.exact_threshold = exact_threshold
        self.selective_ratio = selective_ratio
        self.ef_search = ef_search
        self._plain_params: dict[int, Any] = {}  # ef -> SearchParametersHNSW without a selector

    def _similarity(self, vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
        if self.space_type == "l2":
            diff = vectors - query[None, :]
            distances: np.ndarray = np.einsum("ij,ij->i", diff, diff)
            return distances
        dots: np.ndarray = vectors @ query
        return dots

    def _rescore(self, vectors: np.ndarray, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``_similarity(vectors[rows], query)`` in faiss, reading the rows in place: no copy
        of the candidates' rows, and the GIL is released throughout, so the lexical leg's
        Python runs meanwhile (47 against 100 us for 200 rows at 200k). Same values up to
        float32 summation order."""
        in_place = vectors.flags.c_contiguous and vectors.dtype == np.float32
        # faiss reads rows unchecked: an id past the rows (a damaged graph file) goes to numpy,
        # which raises instead of reading foreign memory.
        if not in_place or not rows.size or int(np.maximum.reduce(rows)) >= vectors.shape[0]:
            return self._similarity(vectors[rows], query)
        ids = np.ascontiguousarray(rows, dtype=np.int64)
        q = np.ascontiguousarray(query, dtype=np.float32)
        out = np.empty(ids.shape[0], dtype=np.float32)
        name = "fvec_L2sqr_by_idx" if self.space_type == "l2" else "fvec_inner_products_by_idx"
        by_idx = getattr(faiss, name)  # not in faiss's type stubs
        by_idx(
            faiss.swig_ptr(out),
            faiss.swig_ptr(q),
            faiss.swig_ptr(vectors),
            faiss.swig_ptr(ids),
            vectors.shape[1],
            1,
            ids.shape[0],
        )
        return out

    def _exact(
        self,
        vectors: np.ndarray,
        query: np.ndarray,
        rows: np.ndarray | None,
        mask: np.ndarray,
        k: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        if rows is None:
            sims = self._similarity(vectors, query)
            candidates = np.flatnonzero(mask) if not mask.all() else None
            if candidates is not None:
                sims = sims[candidates]
        else:
            candidates = rows
            sims = self._similarity(vectors[rows], query)
        if sims.size == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        kk = min(k, sims.size)
        order = -sims if self.space_type != "l2" else sims
        top = np.argpartition(order, kk - 1)[:kk]
        top = top[np.argsort(order[top], kind="stable")]
        ids = top if candidates is None else candidates[top]
        return ids.astype(np.int64), sims[top].astype(np.float32)

    def search(
        self,
        vectors: np.ndarray,
        allowed: np.ndarray,
        query: np.ndarray,
        k: int,
        graph: HnswGraph | None,
        *,
        filtered: bool,
        allowed_count: int | None = None,
        graph_clean: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(rows, raw similarity)`` of the top ``k`` allowed rows, best first.

        ``raw similarity`` is the dot product (cosine for unit vectors) or the squared L2
        distance for the ``l2`` space. ``allowed_count`` saves a pass over ``allowed``;
        ``graph_clean`` (no graph row deleted since the build) lets an unfiltered search skip
        the id selector, which costs a bitmap per query and slows the graph walk.
        """
        n = vectors.shape[0]
        count = int(allowed.sum()) if allowed_count is None else allowed_count
        if count == 0 or k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        small = count <= self.exact_threshold
        selective = filtered and count <= self.selective_ratio * n
        if graph is None or small or selective:
            rows = np.flatnonzero(allowed) if (filtered and count < n // 2) else None
            return self._exact(vectors, query, rows, allowed, k)
        _one_omp_thread()
        ratio = count / max(n, 1)
        depth = max(k, RERANK_DEPTH)
        ef = max(self.ef_search, depth)
        if filtered:
            ef = min(max(ef, int(ef / max(ratio, 1e-3))), 4096)
        if graph_clean and not filtered:
            # Built once per ef (a SWIG object costs ~10 us); faiss only reads it.
            params = self._plain_params.get(ef)
            if params is None:
                params = faiss.SearchParametersHNSW(efSearch=ef)  # type: ignore[attr-defined]
                self._plain_params[ef] = params
        else:
            sel, _keep = _bitmap(allowed[: graph.rows])
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=ef)  # type: ignore[attr-defined]
        _dist, ids = graph.index.search(query[None, :].astype(np.float32), depth, params=params)
        rows = ids[0][ids[0] >= 0]
        sims = self._rescore(vectors, query, rows)  # exact scores for the quantised walk
        if graph.rows < n:
            tail_mask = allowed[graph.rows :]
            tail_rows = np.flatnonzero(tail_mask) + graph.rows
            if tail_rows.size:
                t_rows, t_sims = self._exact(vectors, query, tail_rows, allowed, k)
                rows = np.concatenate([rows, t_rows])
                sims = np.concatenate([sims, t_sims])
        order = np.argsort(sims if self.space_type == "l2" else -sims, kind="stable")[:k]
        rows, sims = rows[order], sims[order]
        if rows.size < min(k, count):
            # HNSW under a filter can come back short; exact search never does.
            return self._exact(vectors, query, np.flatnonzero(allowed), allowed, k)
        return rows.astype(np.int64), sims.astype(np.float32)
