"""One adapter per system: build, hybrid search, vector search, update. Same data for all.

Every adapter receives the same document ids, titles and MiniLM vectors (unit length, float32)
and, per query, the same text and precomputed query vector, so the query embedding (about 8 ms,
identical for every system) is left out of every latency. Each system uses its own BM25 and its
own hybrid fusion as documented: hybrid_search its shipped default, zvec and Milvus Lite RRF,
LanceDB its default RRF reranker, txtai its convex combination.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

HNSW_M = 16
HNSW_EF_CONSTRUCTION = 128
HNSW_EF = 128
WINDOW = 100


class Peer:
    """The interface the benchmark drives."""

    name = "?"
    fusion = "?"

    def build(self, ids: list[str], titles: list[str], vectors: np.ndarray) -> None:
        raise NotImplementedError

    def hybrid(self, text: str, vector: np.ndarray, k: int) -> list[str]:
        raise NotImplementedError

    def vector(self, vector: np.ndarray, k: int) -> list[str]:
        raise NotImplementedError

    def update(
        self, delete: list[str], ids: list[str], titles: list[str], vecs: np.ndarray
    ) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _StubEmbedder:
    """Hands the Searcher the precomputed query vectors (the model's cost is left out)."""

    model_id = "sentence-transformers/all-MiniLM-L6-v2"
    dimension = 384
    runtime = "precomputed"
    normalized = True

    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}

    def encode_query(self, text: str) -> np.ndarray:
        return self.vectors[text]

    def encode_documents(self, texts: Any, *, batch_size: int = 64, progress: bool = False) -> Any:
        raise NotImplementedError


class HybridSearchPeer(Peer):
    """hybrid_search's embedded backend (tantivy + faiss HNSW) through the real Searcher."""

    def __init__(self, root: Path, request: dict[str, Any] | None = None, label: str = "") -> None:
        self.root = root / "hybrid_search"
        self.request = request or {}
        self.name = "hybrid_search" + (f" ({label})" if label else "")
        self.fusion = label or "default (typo-tolerant BM25, min_max 0.7/0.3, gate, adaptive)"

    def build(self, ids: list[str], titles: list[str], vectors: np.ndarray) -> None:
        from hybrid_search.backends.embedded import EmbeddedBackend
        from hybrid_search.config import load_settings
        from hybrid_search.evaluation.datasets import eval_template
        from hybrid_search.searcher import Searcher

        shutil.rmtree(self.root, ignore_errors=True)
        settings = load_settings(embedded={"data_dir": self.root})
        self.template = eval_template(["title"], dimension=vectors.shape[1])
        self.backend = EmbeddedBackend(self.root, self.template, settings.embedded)
        self.embedder = _StubEmbedder()
        self.backend.ensure_index(model_id=self.embedder.model_id, dimension=vectors.shape[1])
        with self.backend.bulk():
            for s in range(0, len(ids), 5000):
                docs = [
                    {"doc_id": i, "title": t}
                    for i, t in zip(ids[s : s + 5000], titles[s : s + 5000], strict=True)
                ]
                self.backend.index(docs, vectors[s : s + 5000])
        self.backend.optimize()  # wait for the HNSW graph: part of the build
        self.searcher = Searcher(settings, self.template, self.backend, lambda: self.embedder)

    def hybrid(self, text: str, vector: np.ndarray, k: int) -> list[str]:
        self.embedder.vectors[text] = vector
        req = {"query": text, "k": k, "commercial": {"enabled": False}, **self.request}
        return [h["id"] for h in self.searcher.search(req).hits]

    def vector(self, vector: np.ndarray, k: int) -> list[str]:
        hits = self.backend.vector(vector, k=k, filters=[])
        src = self.backend.fetch([h.key for h in hits])
        return [src[h.key][0] for h in hits]

    def update(
        self, delete: list[str], ids: list[str], titles: list[str], vecs: np.ndarray
    ) -> None:
        self.backend.delete(delete)
        self.backend.index(
            [{"doc_id": i, "title": t} for i, t in zip(ids, titles, strict=True)], vecs
        )

    def close(self) -> None:
        self.searcher.close()


class ZvecPeer(Peer):
    """zvec: native FTS index + HNSW, ``multi``-query with its RRF reranker."""

    name = "zvec"
    fusion = "RRF (rank constant 60)"

    def __init__(self, root: Path) -> None:
        self.path = root / "zvec"

    def build(self, ids: list[str], titles: list[str], vectors: np.ndarray) -> None:
        import zvec

        shutil.rmtree(self.path, ignore_errors=True)
        schema = zvec.CollectionSchema(
            name="hd",
            fields=[
                zvec.FieldSchema(
                    "title",
                    zvec.DataType.STRING,
                    index_param=zvec.FtsIndexParam(filters=["lowercase", "stemmer"]),
                )
            ],
            vectors=[
                zvec.VectorSchema(
                    "embedding",
                    zvec.DataType.VECTOR_FP32,
                    dimension=vectors.shape[1],
                    index_param=zvec.HnswIndexParam(
                        metric_type=zvec.MetricType.IP,
                        m=HNSW_M,
                        ef_construction=HNSW_EF_CONSTRUCTION,
                    ),
                )
            ],
        )
        self.c = zvec.create_and_open(path=str(self.path), schema=schema)
        self._insert(ids, titles, vectors)
        self.c.optimize()

    def _insert(self, ids: list[str], titles: list[str], vectors: np.ndarray) -> None:
        import zvec

        for s in range(0, len(ids), 1000):  # zvec's write batch limit is 1,024
            self.c.insert(
                [
                    zvec.Doc(id=i, fields={"title": t}, vectors={"embedding": v})
                    for i, t, v in zip(
                        ids[s : s + 1000], titles[s : s + 1000], vectors[s : s + 1000], strict=True
                    )
                ]
            )

    def hybrid(self, text: str, vector: np.ndarray, k: int) -> list[str]:
        import zvec

        res = self.c.query(
            queries=[
                zvec.Query(
                    field_name="embedding", vector=vector, param=zvec.HnswQueryParam(ef=HNSW_EF)
                ),
                zvec.Query(field_name="title", fts=zvec.Fts(match_string=text)),
            ],
            topk=k,
            reranker=zvec.RrfReRanker(rank_constant=60),
            output_fields=[],
        )
        return [d.id for d in res]

    def vector(self, vector: np.ndarray, k: int) -> list[str]:
        import zvec

        q = zvec.Query(field_name="embedding", vector=vector, param=zvec.HnswQueryParam(ef=HNSW_EF))
        return [d.id for d in self.c.query(queries=q, topk=k, output_fields=[])]

    def update(
        self, delete: list[str], ids: list[str], titles: list[str], vecs: np.ndarray
    ) -> None:
        self.c.delete(delete)
        self._insert(ids, titles, vecs)
        self.c.flush()


class LanceDBPeer(Peer):
    """LanceDB: native FTS + IVF_HNSW_SQ (one partition), hybrid query with its RRF reranker."""

    name = "LanceDB"
    fusion = "RRF reranker (default)"

    def __init__(self, root: Path) -> None:
        self.path = root / "lancedb"

    def _table(self, ids: list[str], titles: list[str], vectors: np.ndarray) -> Any:
        import pyarrow as pa

        flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel())
        return pa.table(
            {
                "id": pa.array(ids),
                "title": pa.array(titles),
                "vector": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1]),
            }
        )

    def build(self, ids: list[str], titles: list[str], vectors: np.ndarray) -> None:
        import lancedb

        shutil.rmtree(self.path, ignore_errors=True)
        self.db = lancedb.connect(str(self.path))
        self.t = self.db.create_table("hd", data=self._table(ids, titles, vectors))
        self.t.create_index(
            metric="cosine",
            index_type="IVF_HNSW_SQ",
            num_partitions=1,
            m=HNSW_M,
            ef_construction=HNSW_EF_CONSTRUCTION,
        )
        self.t.create_fts_index("title")

    def hybrid(self, text: str, vector: np.ndarray, k: int) -> list[str]:
        rows = (
            self.t.search(query_type="hybrid")
            .vector(vector)
            .text(text)
            .limit(k)
            .select(["id"])
            .to_list()
        )
        return [r["id"] for r in rows]

    def vector(self, vector: np.ndarray, k: int) -> list[str]:
        rows = self.t.search(vector).metric("cosine").ef(HNSW_EF).limit(k).select(["id"]).to_list()
        return [r["id"] for r in rows]

    def update(
        self, delete: list[str], ids: list[str], titles: list[str], vecs: np.ndarray
    ) -> None:
        quoted = ", ".join(f"'{i}'" for i in delete)
        self.t.delete(f"id IN ({quoted})")
        self.t.add(self._table(ids, titles, vecs))


class TxtaiPeer(Peer):
    """txtai: external vectors, hybrid (BM25 + faiss) with its convex combination."""

    name = "txtai"
    fusion = "convex combination (weights 0.5)"

    def __init__(self, root: Path) -> None:
        self.path = root / "txtai"
        self.vectors: dict[str, np.ndarray] = {}

    def build(self, ids: list[str], titles: list[str], vectors: np.ndarray) -> None:
        from txtai import Embeddings

        for t, v in zip(titles, vectors, strict=True):
            self.vectors.setdefault(t, v)
        table = self.vectors

        def transform(texts: list[str]) -> np.ndarray:  # txtai wants a plain function
            return np.stack([table[t] for t in texts])

        self.e = Embeddings(
            method="external",
            transform=transform,
            hybrid=True,
            content=False,
            backend="faiss",
            faiss={"components": f"IDMap,HNSW{HNSW_M}"},
        )
        self.e.index(list(zip(ids, titles, [None] * len(ids), strict=True)))
        self._ef()

    def _ef(self) -> None:
        # txtai's faiss settings cannot reach HNSW's ef (its factory keeps efConstruction 40);
        # set efSearch on the built graph so recall is comparable.
        import faiss

        faiss.downcast_index(self.e.ann.backend.index).hnsw.efSearch = HNSW_EF

    def hybrid(self, text: str, vector: np.ndarray, k: int) -> list[str]:
        self.vectors[text] = vector
        return [str(i) for i, _ in self.e.search(text, k)]

    def vector(self, vector: np.ndarray, k: int) -> list[str]:
        key = "\x00probe"
        self.vectors[key] = vector
        return [str(i) for i, _ in self.e.search(key, k, weights=1.0)]

    def update(
        self, delete: list[str], ids: list[str], titles: list[str], vecs: np.ndarray
    ) -> None:
        for t, v in zip(titles, vecs, strict=True):
            self.vectors.setdefault(t, v)
        self.e.delete(delete)
        self.e.upsert(list(zip(ids, titles, [None] * len(ids), strict=True)))
        self._ef()


class MilvusLitePeer(Peer):
    """Milvus Lite: BM25 function + HNSW, native ``hybrid_search`` with RRF."""

    name = "Milvus Lite"
    fusion = "RRFRanker(60)"

    def __init__(self, root: Path) -> None:
        self.path = root / "milvus"

    def build(self, ids: list[str], titles: list[str], vectors: np.ndarray) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True)
        self.c = MilvusClient(str(self.path / "m.db"))
        schema = self.c.create_schema()
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("title", DataType.VARCHAR, max_length=2000, enable_analyzer=True)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=vectors.shape[1])
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["title"],
                output_field_names=["sparse"],
            )
        )
        ip = self.c.prepare_index_params()
        ip.add_index(
            "dense",
            index_type="HNSW",
            metric_type="IP",
            params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION},
        )
        ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        self.c.create_collection("hd", schema=schema, index_params=ip)
        self._insert(ids, titles, vectors)
        self.c.flush("hd")

    def _insert(self, ids: list[str], titles: list[str], vectors: np.ndarray) -> None:
        for s in range(0, len(ids), 2000):
            rows = [
                {"id": i, "title": t, "dense": v.tolist()}
                for i, t, v in zip(
                    ids[s : s + 2000], titles[s : s + 2000], vectors[s : s + 2000], strict=True
                )
            ]
            self.c.insert("hd", rows)

    def hybrid(self, text: str, vector: np.ndarray, k: int) -> list[str]:
        from pymilvus import AnnSearchRequest, RRFRanker

        reqs = [
            AnnSearchRequest(
                [vector.tolist()], "dense", {"metric_type": "IP", "params": {"ef": HNSW_EF}}, WINDOW
            ),
            AnnSearchRequest([text], "sparse", {"metric_type": "BM25"}, WINDOW),
        ]
        res = self.c.hybrid_search("hd", reqs, ranker=RRFRanker(60), limit=k, output_fields=["id"])
        return [str(h["id"]) for h in res[0]]

    def vector(self, vector: np.ndarray, k: int) -> list[str]:
        res = self.c.search(
            "hd",
            [vector.tolist()],
            anns_field="dense",
            limit=k,
            search_params={"metric_type": "IP", "params": {"ef": HNSW_EF}},
            output_fields=["id"],
        )
        return [str(h["id"]) for h in res[0]]

    def update(
        self, delete: list[str], ids: list[str], titles: list[str], vecs: np.ndarray
    ) -> None:
        self.c.delete("hd", ids=delete)
        self._insert(ids, titles, vecs)
        self.c.flush("hd")

    def close(self) -> None:
        self.c.close()


def timed(fn: Any, *args: Any) -> tuple[Any, float]:
    """Call ``fn`` and return its result with the seconds it took."""
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t
