"""The embedded engine's HNSW path: recall against exact numpy, the exact tail, tombstones, the
cached graph after reopen, and a damaged cache.

Vectors are seeded Gaussian noise written straight through ``backend.index`` so that the exact
top-10 has no ties and row numbers are the keys.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import hybrid_search.backends.embedded.writes as writes_module
from hybrid_search.backends.embedded.vectors import VectorSearch, build_hnsw
from hybrid_search.documents import parse_filters
from hybrid_search.searcher import Searcher
from tests.conftest import HashEmbedder

pytestmark = pytest.mark.slow

EMBEDDED = {"exact_threshold": 50, "rebuild_tail": 100}
N, DIM, K = 600, 384, 10


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _docs(corpus: list[dict[str, Any]], start: int, n: int) -> list[dict[str, Any]]:
    return [
        {**corpus[i % len(corpus)], "sku": f"H-{i:05d}", "title": f"variant {i}"}
        for i in range(start, start + n)
    ]


class Index:
    """The docs and vectors written so far, with a brute-force reference."""

    def __init__(self, searcher: Searcher, corpus: list[dict[str, Any]]) -> None:
        self.searcher, self.backend, self.corpus = searcher, searcher.backend, corpus
        self.rng = np.random.default_rng(7)
        self.docs: dict[int, dict[str, Any]] = {}  # row -> doc (alive rows only)
        self.vectors: dict[int, np.ndarray] = {}

    def add(self, docs: list[dict[str, Any]], vecs: np.ndarray | None = None) -> None:
        vecs = _unit(self.rng.standard_normal((len(docs), DIM))) if vecs is None else vecs
        start = self.backend.health().detail["rows"]
        report = self.backend.index(docs, vecs)
        assert report.indexed == len(docs) and report.failed == []
        by_sku = {d["sku"]: row for row, d in self.docs.items()}
        for offset, (doc, vec) in enumerate(zip(docs, vecs)):
            if doc["sku"] in by_sku:
                del self.docs[by_sku[doc["sku"]]]
            self.docs[start + offset], self.vectors[start + offset] = doc, vec

    def delete(self, rows: list[int]) -> None:
        assert self.backend.delete([self.docs[r]["sku"] for r in rows]) == len(rows)
        for r in rows:
            del self.docs[r]

    def exact(self, q: np.ndarray, k: int, filters: dict[str, Any] | None = None) -> list[int]:
        rows = [r for r, d in self.docs.items() if _passes(d, filters or {})]
        sims = np.array([self.vectors[r] @ q for r in rows])
        return [rows[i] for i in np.argsort(-sims)[:k]]

    def recall(self, queries: np.ndarray, filters: dict[str, Any] | None = None) -> float:
        clauses = parse_filters(filters, self.searcher.template)
        found = 0
        for q in queries:
            got = [h.key for h in self.backend.vector(q, k=K, filters=clauses)]
            assert all(r in self.docs and _passes(self.docs[r], filters or {}) for r in got)
            found += len(set(got) & set(self.exact(q, K, filters)))
        return found / (K * len(queries))


def _passes(doc: dict[str, Any], filters: dict[str, Any]) -> bool:
    return all(doc.get(f) == v for f, v in filters.items())


@pytest.fixture
def hnsw(make_searcher, corpus) -> Index:
    searcher = make_searcher(embedded=EMBEDDED)
    searcher.backend.ensure_index(model_id=HashEmbedder.model_id, dimension=DIM)
    index = Index(searcher, corpus)
    index.add(_docs(corpus, 0, 400))  # starts a background build
    index.add(_docs(corpus, 400, N - 400))
    searcher.backend.optimize()
    return index


def _queries(index: Index, n: int) -> np.ndarray:
    """Half near stored vectors, half random directions."""
    rows = list(index.docs)
    near = np.stack([index.vectors[rows[i * 7 % len(rows)]] for i in range(n // 2)])
    near = near + 0.05 * index.rng.standard_normal(near.shape)
    return _unit(np.vstack([near, index.rng.standard_normal((n - n // 2, DIM))]))


def test_graph_is_built_and_used(hnsw, monkeypatch):
    assert hnsw.backend.health().detail["hnsw_rows"] == N
    assert (hnsw.backend.data_dir / "hnsw.faiss").exists()
    queries = _queries(hnsw, 40)

    def no_exact(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("exact search used where the graph should answer")

    with monkeypatch.context() as m:  # the graph answers alone: no tail, no filter
        m.setattr(hnsw.backend.vsearch, "_exact", no_exact)
        assert hnsw.recall(queries) >= 0.95
    # a broad filter is still answered on the graph; a selective one exactly
    assert hnsw.recall(queries, {"in_stock": True}) >= 0.95
    assert hnsw.recall(queries, {"color": "camel", "category": "shoes"}) == 1.0


def test_vector_scores_are_cosine_scores(hnsw):
    q = _queries(hnsw, 2)[0]
    hits = hnsw.backend.vector(q, k=K, filters=[])
    for h in hits:
        assert h.score == pytest.approx((1.0 + float(hnsw.vectors[h.key] @ q)) / 2.0, abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_tail_upserts_and_deletes_after_the_graph(hnsw):
    backend = hnsw.backend
    hnsw.add(_docs(hnsw.corpus, N, 30))  # the tail: below rebuild_tail, searched exactly
    moved_row = 3
    moved = hnsw.docs[moved_row]
    old_vec = hnsw.vectors[moved_row]
    hnsw.add([{**moved, "title": "moved"}])  # an upsert: its graph row becomes a tombstone
    gone = [10, 20, 30, 40, 50, N + 1, N + 2]  # in the graph and in the tail
    gone_vecs = [hnsw.vectors[r] for r in gone]
    hnsw.delete(gone)
    assert backend.health().detail["hnsw_rows"] == N  # no rebuild hid the tombstones
    assert backend.count() == N + 30 - len(gone)

    for row in range(N, N + 30):
        if row in hnsw.docs:
            top = backend.vector(hnsw.vectors[row], k=K, filters=[])
            assert top[0].key == row
    dead = {moved_row, *gone}
    for vec in [old_vec, *gone_vecs]:
        for filters in ([], parse_filters({"in_stock": True}, hnsw.searcher.template)):
            keys = [h.key for h in backend.vector(vec, k=50, filters=filters)]
            assert not set(keys) & dead
            assert len(keys) == len(set(keys)) == 50
    skus = [
        sku
        for sku, _ in backend.fetch(
            [h.key for h in backend.vector(old_vec, k=700, filters=[])]
        ).values()
    ]
    assert skus.count(moved["sku"]) == 1
    assert hnsw.recall(_queries(hnsw, 40)) >= 0.95


def test_cached_graph_is_reused_after_reopen(hnsw, make_settings, monkeypatch):
    hnsw.delete([5, 6, 7])
    queries = _queries(hnsw, 10)
    before = [[(h.key, h.score) for h in hnsw.backend.vector(q, k=K, filters=[])] for q in queries]
    hnsw.searcher.close()
    assert (hnsw.backend.data_dir / "hnsw.faiss").exists()

    def no_build(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the cached graph should have been loaded, not rebuilt")

    monkeypatch.setattr(writes_module, "build_hnsw", no_build)
    again = Searcher.from_settings(make_settings(embedded=EMBEDDED))
    try:
        assert again.backend.health().detail["hnsw_rows"] == N
        after = [
            [(h.key, h.score) for h in again.backend.vector(q, k=K, filters=[])] for q in queries
        ]
        assert [[k for k, _ in a] for a in after] == [[k for k, _ in b] for b in before]
        for a, b in zip(after, before):
            assert [s for _, s in a] == pytest.approx([s for _, s in b], abs=1e-6)
        for row in (5, 6, 7):
            keys = {h.key for h in again.backend.vector(hnsw.vectors[row], k=K, filters=[])}
            assert row not in keys
    finally:
        again.close()


@pytest.mark.parametrize("damage", ["garbage", "other-index"])
def test_damaged_graph_cache_is_ignored(hnsw, make_settings, damage):
    queries = _queries(hnsw, 10)
    hnsw.searcher.close()
    data_dir = hnsw.backend.data_dir
    if damage == "garbage":
        (data_dir / "hnsw.faiss").write_bytes(b"\0not a faiss index" * 10)
    else:
        (data_dir / "hnsw.json").write_text('{"rows": 600, "index_uuid": "someone-else"}')
    again = Searcher.from_settings(make_settings(embedded=EMBEDDED))
    try:
        assert again.backend.health().detail["hnsw_rows"] == 0
        for q in queries:
            got = [h.key for h in again.backend.vector(q, k=K, filters=[])]
            assert got == hnsw.exact(q, K)
    finally:
        again.close()


def test_short_graph_answer_falls_back_to_exact():
    """A graph that cannot supply k allowed rows must not shorten the answer."""
    rng = np.random.default_rng(3)
    vectors = _unit(rng.standard_normal((200, DIM)))
    in_graph = np.zeros(200, dtype=bool)
    in_graph[:20] = True
    graph = build_hnsw(vectors, in_graph, space_type="cosinesimil", m=16, ef_construction=64)
    search = VectorSearch("cosinesimil", exact_threshold=10, selective_ratio=0.1, ef_search=64)
    q = _unit(rng.standard_normal(DIM))
    rows, sims = search.search(vectors, np.ones(200, dtype=bool), q, 50, graph, filtered=False)
    assert rows.tolist() == np.argsort(-(vectors @ q))[:50].tolist()
    np.testing.assert_allclose(sims, np.sort(vectors @ q)[::-1][:50], rtol=1e-5)


def test_graph_stored_in_walk_order_keeps_every_row_id():
    """build_hnsw re-stores the graph in breadth-first order: the ids must follow the codes."""
    import faiss

    from hybrid_search.backends.embedded.vectors import walk_order

    rng = np.random.default_rng(5)
    vectors = _unit(rng.standard_normal((1500, 48)))
    alive = np.ones(1500, dtype=bool)
    alive[::7] = False  # ids are row numbers, not graph positions
    graph = build_hnsw(vectors, alive, space_type="innerproduct", m=8, ef_construction=64)
    # Stored in walk order, the graph's own walk visits its nodes in storage order.
    order = walk_order(faiss.downcast_index(graph.index.index).hnsw, int(alive.sum()))
    assert order.tolist() == list(range(int(alive.sum())))
    rows = np.flatnonzero(alive)
    params = faiss.SearchParametersHNSW(efSearch=64)
    _, ids = graph.index.search(vectors[rows], 1, params=params)
    assert (ids[:, 0] == rows).mean() > 0.99  # each live row finds itself
    _, ids = graph.index.search(vectors[~alive], 1, params=params)
    assert set(ids[:, 0].tolist()) <= set(rows.tolist())


def test_huge_pages_keep_the_data_and_the_answers():
    """MADV_COLLAPSE moves memory into 2 MiB pages; contents and search answers must not change."""
    import sys
    from pathlib import Path

    import faiss

    from hybrid_search.backends.embedded.hugepages import collapse
    from hybrid_search.backends.embedded.vectors import huge_pages

    data = np.random.default_rng(8).random(3 << 20)  # 24 MiB of float64
    before = data.copy()
    done = collapse(data.ctypes.data, data.nbytes)
    np.testing.assert_array_equal(data, before)
    if sys.platform.startswith("linux") and done:
        rollup = Path("/proc/self/smaps_rollup").read_text()
        huge_kib = int(rollup.split("AnonHugePages:")[1].split()[0])
        assert huge_kib >= 2048
    assert collapse(data.ctypes.data + 1, 100) is False  # no whole 2 MiB page inside

    rng = np.random.default_rng(9)
    vectors = _unit(rng.standard_normal((4000, 96)))
    graph = build_hnsw(
        vectors, np.ones(4000, dtype=bool), space_type="innerproduct", m=8, ef_construction=32
    )
    params = faiss.SearchParametersHNSW(efSearch=32)
    first = graph.index.search(vectors[:50], 10, params=params)[1]
    huge_pages(graph.index)
    np.testing.assert_array_equal(graph.index.search(vectors[:50], 10, params=params)[1], first)


def test_huge_pages_leave_another_index_layout_alone():
    import faiss

    from hybrid_search.backends.embedded.vectors import huge_pages

    flat = faiss.IndexFlatIP(8)
    flat.add(np.ones((4, 8), dtype=np.float32))
    assert huge_pages(flat) is False
    assert huge_pages(faiss.IndexIDMap(faiss.IndexFlatIP(8))) is False


def test_rescoring_checks_row_ids_before_faiss_reads_them():
    search = VectorSearch("innerproduct", exact_threshold=10, selective_ratio=0.1, ef_search=16)
    vectors = _unit(np.random.default_rng(4).standard_normal((50, 16)))
    q = vectors[3]
    rows = np.array([3, 7, 49])
    np.testing.assert_allclose(search._rescore(vectors, q, rows), vectors[rows] @ q, rtol=1e-5)
    with pytest.raises(IndexError):
        search._rescore(vectors, q, np.array([3, 50]))
