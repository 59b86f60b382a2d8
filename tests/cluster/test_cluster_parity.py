"""Parity: the same 300 storefront queries over the same 5,000 products, on the embedded engine
and on the real cluster (real MiniLM vectors, the shipped default settings, no commercial stage).

What differs, and why (measured by this test; README "With OpenSearch"):
- BM25: Lucene drops BM25's constant ``(k1 + 1)`` factor (tantivy keeps it) and both quantise
  field lengths into one byte, slightly differently: near-ties can swap.
- Typo tolerance: Lucene's ``fuzziness`` also expands terms the index knows, the embedded
  engine only unknown ones, so codes and short words gain neighbours on OpenSearch.
- Vectors: Lucene's HNSW against faiss's (both ef 192 at k=200); the window can differ at
  its tail.
Measured on 3.6.0 (``pytest tests/cluster/test_cluster_parity.py -s`` prints it), typo tolerance
off: brand, colour/material and feature queries share all 10 hits; paraphrases 0.937 (24 of 34
differing hits not ties: the two HNSW graphs); SKU lookups 0.418, every difference a tie on the
house prefix after the one exact hit. Default settings: 0.826 overall, 0.306 for SKUs. The test
pins these bounds, so a regression on either side shows.
"""

from __future__ import annotations

# ruff: noqa: T201 (the test prints its parity report: pytest -s)
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from benchmarks.corpus import generate_documents, generate_queries
from hybrid_search.documents import embedding_text

pytestmark = pytest.mark.model

N_DOCS, N_QUERIES = 5000, 300


class _Memo:
    """The real model, each text embedded once for both backends (queries too, embedded before
    any search: a query embedding past ``embedding.timeout_s`` on a loaded machine would send one
    backend's search to the lexical fallback and fail the comparison for a reason of timing)."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.model_id = model.model_id
        self.dimension = model.dimension
        self.normalized = getattr(model, "normalized", True)
        self.runtime = getattr(model, "runtime", "onnx")
        self._memo: dict[str, np.ndarray] = {}
        self._queries: dict[str, np.ndarray] = {}

    def encode_query(self, text: str) -> np.ndarray:
        if text not in self._queries:
            self._queries[text] = self._model.encode_query(text)
        return self._queries[text]

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            vecs = self._model.encode_documents(missing, batch_size=batch_size)
            self._memo.update(zip(missing, vecs))
        return np.stack([self._memo[t] for t in texts])


def _compare(mine: Any, theirs: Any) -> tuple[int, int, int]:
    """(shared hits, hits of one side missing from the other, of those how many tie on the
    fused score with the other side's last hit: the same set up to the order of equal scores)."""
    a = {h["id"]: h["breakdown"]["fused"] for h in mine.hits}
    b = {h["id"]: h["breakdown"]["fused"] for h in theirs.hits}
    last = min(b.values(), default=0.0)
    missing = [score for doc_id, score in a.items() if doc_id not in b]
    tied = sum(1 for score in missing if abs(score - last) <= 2e-3)
    return len(a.keys() & b.keys()), len(missing), tied


def test_embedded_and_cluster_rank_alike(make_searcher, make_opensearch_searcher, minilm):
    docs = generate_documents(N_DOCS)
    queries = generate_queries(N_QUERIES, sku_pool=N_DOCS)
    emb = _Memo(minilm)
    emb.encode_documents([embedding_text(d, make_searcher().template) for d in docs])
    for query in queries:
        emb.encode_query(query["text"])
    embedded = make_searcher(docs, embedder=emb)
    remote = make_opensearch_searcher(docs, embedder=emb)
    rows: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
    for query in queries:
        for name, extra in (("default", {}), ("fuzzy off", {"fuzzy": "off"})):
            req = {"query": query["text"], "k": 10, "commercial": {"enabled": False}, **extra}
            got = _compare(embedded.search(req), remote.search(req))
            rows.setdefault((name, query["kind"]), []).append(got)
            rows.setdefault((name, "all"), []).append(got)
    print(f"parity, {N_QUERIES} queries x {N_DOCS} products, top 10:")
    totals = {}
    for (name, kind), got in sorted(rows.items()):
        shared, missing, tied = (sum(col) for col in zip(*got))
        totals[name, kind] = shared, missing, tied
        print(
            f"  {name:9} {kind:20} {shared / (10 * len(got)):.3f} shared, {missing} missing, "
            f"{tied} of them tied"
        )
    # Without typo tolerance every difference but a handful is an order among equal scores
    # (SKU lookups: one exact hit, then a tie on the house prefix; Lucene and tantivy break
    # ties by their own document order).
    shared, missing, tied = totals["fuzzy off", "all"]
    assert missing - tied <= 0.01 * (shared + missing)
    legacy = remote.backend.bootstrapper.cluster_version() < (3, 0, 0)
    for kind in ("color_material_item", "brand_item", "feature_item"):
        shared, missing, tied = totals["fuzzy off", kind]
        if legacy:
            # 2.19.1 differs from run to run on the same documents (SKU windows 0.224 shared in
            # one run, 0.998 in the next): one run had two brand hits of 600 beyond a tie, the
            # next one feature hit (the windows' min_max bounds differ; the cause is not
            # established), so the bound of "all" applies there; 3.x is held to ties only.
            assert missing - tied <= 0.01 * (shared + missing), (kind, missing, tied)
            continue
        # colour and material are text too (issue 19): a window can end on a tie there
        assert missing == tied <= 1, (kind, missing, tied)
    # With it, Lucene's expansion of known terms moves a share of the windows.
    shared, missing, tied = totals["default", "all"]
    assert shared >= 0.75 * (shared + missing)
