"""hybrid_search side by side with zvec, LanceDB, txtai and Milvus Lite on the Home Depot titles.

Same corpus (54,667 titles), same held-out queries (1,000 with >= 5 judgments, seed 0) and the
same MiniLM vectors (cached by ``hybrid-search eval``) for every system. Per system: build time
(index + vectors, HNSW M=16 / ef_construction=128 where the system takes them; hybrid_search's
graph as its template pins it), hybrid latency p50/p99 over the queries one at a time from one
thread with the query vector precomputed, recall@10 of the vector leg against exact numpy,
nDCG@10 of the hybrid ranking, and the cost of deleting 1,000 documents and adding 1,000.

    pip install -e ".[bench]"
    flock /tmp/hybrid-bench.lock python benchmarks/peers/bench_peers.py \\
        --dataset ../shared/datasets/homedepot --out benchmarks/results/peers-homedepot
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from adapters import (
    HybridSearchPeer,
    LanceDBPeer,
    MilvusLitePeer,
    Peer,
    TxtaiPeer,
    ZvecPeer,
    timed,
)

from hybrid_search.config import load_settings
from hybrid_search.embedding import create_embedder
from hybrid_search.evaluation.datasets import load_beir
from hybrid_search.evaluation.index import corpus_vectors
from hybrid_search.evaluation.metrics import compare, evaluate, mean_metrics
from hybrid_search.evaluation.session import QuerySplit

PEERS = {
    "hybrid_search": lambda root: HybridSearchPeer(root),
    "hybrid_search-rrf": lambda root: HybridSearchPeer(
        root,
        {
            "mode": "hybrid",
            "combination": "rrf",
            "fuzzy": "off",
            "adaptive_fusion": False,
            "lexical_weight": 0.5,
            "vector_weight": 0.5,
        },
        "plain BM25 + RRF, like the peers",
    ),
    "zvec": ZvecPeer,
    "lancedb": LanceDBPeer,
    "txtai": TxtaiPeer,
    "milvus": MilvusLitePeer,
}


def _machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{platform.machine()}, {os.cpu_count()} CPUs, {model or platform.processor()}"


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def run_peer(peer: Peer, data: dict, *, warmup: int = 20, relevance_only: bool = False) -> dict:
    ids, titles, X = data["ids"], data["titles"], data["X"]
    _, build_s = timed(peer.build, ids, titles, X)
    qids, texts, Q = data["qids"], data["texts"], data["Q"]
    for i in range(min(warmup, len(qids))):
        peer.hybrid(texts[i], Q[i], 10)
    took, run = [], {}
    for i, q in enumerate(qids):
        t = time.perf_counter()
        run[q] = peer.hybrid(texts[i], Q[i], 10)
        took.append(time.perf_counter() - t)
    recall = []
    for i in range(len(qids)):
        got = set(peer.vector(Q[i], 10))
        recall.append(len(got & data["exact"][i]) / 10)
    per_query = evaluate({q: data["qrels"][q] for q in qids}, run)
    relevance = {
        "system": peer.name,
        "fusion": peer.fusion,
        "vector_recall@10": round(float(np.mean(recall)), 4),
        "ndcg@10": round(mean_metrics(per_query)["ndcg@10"], 4),
        "_per_query": per_query["ndcg@10"],
    }
    if relevance_only:
        return relevance
    rng = np.random.default_rng(0)
    gone = sorted(rng.choice(len(ids), size=min(1000, len(ids) // 2), replace=False).tolist())
    try:
        _, seconds = timed(
            peer.update,
            [ids[j] for j in gone],
            [f"new-{ids[j]}" for j in gone],
            [titles[j] for j in gone],
            X[gone],
        )
        update: float | str = round(seconds, 3)
    except Exception as exc:
        update = f"unsupported ({type(exc).__name__}: {str(exc)[:80]})"
    return {
        **relevance,
        "build_s": round(build_s, 2),
        "hybrid_p50_ms": round(_pct(took, 50), 3),
        "hybrid_p99_ms": round(_pct(took, 99), 3),
        "update_1k_delete_1k_add_s": update,
    }


def load(dataset: Path, cache: Path, queries: int | None, docs: int | None) -> dict:
    ds = load_beir(dataset, text_fields=["title"])
    emb = create_embedder(load_settings().embedding)
    X = corpus_vectors(ds, emb, cache)[:docs]
    ids = sorted(ds.corpus)[:docs]
    qids = QuerySplit(min_judgments=5, sample=1000, seed=0).ids(ds, "heldout")[:queries]
    texts = [ds.queries[q].strip() for q in qids]
    Q = np.stack([emb.encode_query(t) for t in texts]).astype(np.float32)
    sims = Q @ X.T
    exact = [set(np.asarray(ids)[np.argsort(-row)[:10]]) for row in sims]
    return {
        "ids": ids,
        "titles": [ds.corpus[d]["title"] for d in ids],
        "X": X,
        "qids": qids,
        "texts": texts,
        "Q": Q,
        "exact": exact,
        "qrels": ds.qrels,
    }


def write_results(rows: list[dict], meta: dict, out: Path, *, relevance_only: bool) -> None:
    """Paired p-values against the first row, then ``out``.json and ``out``.md."""
    base = next((r for r in rows if "_per_query" in r), None)
    for r in rows:
        if base is not None and "_per_query" in r and r is not base:
            c = compare(base["_per_query"], r["_per_query"])
            r["ndcg@10_delta_vs_first"] = round(c.delta, 4)
            r["ndcg@10_p_vs_first"] = round(c.p_value, 4)
    for r in rows:
        r.pop("_per_query", None)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    cols = [
        "system",
        "fusion",
        "build_s",
        "hybrid_p50_ms",
        "hybrid_p99_ms",
        "vector_recall@10",
        "ndcg@10",
        "ndcg@10_p_vs_first",
        "update_1k_delete_1k_add_s",
    ]
    if relevance_only:
        cols = ["system", "fusion", "vector_recall@10", "ndcg@10"]
        cols += ["ndcg@10_delta_vs_first", "ndcg@10_p_vs_first"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['system']} | failed: {r['error']} |" + " |" * (len(cols) - 2))
        else:
            lines.append("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    header = [
        "# hybrid_search and its peers on Home Depot (benchmarks/peers/bench_peers.py)",
        "",
        *(f"- {k}: {v}" for k, v in meta.items()),
        "- method: benchmarks/peers/README.md; p: paired randomisation test on per-query nDCG@10",
        "  against the first row (10,000 sign flips)",
        "",
    ]
    out.with_suffix(".md").write_text("\n".join(header + lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--cache-dir", type=Path, default=Path("benchmarks/.cache"))
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--queries", type=int, help="first N held-out queries (default: all 1,000)")
    ap.add_argument("--docs", type=int, help="first N documents only (smoke tests)")
    ap.add_argument(
        "--relevance-only",
        action="store_true",
        help="nDCG@10 and recall@10 only (no timings: for runs outside the benchmark lock)",
    )
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    data = load(args.dataset, args.cache_dir, args.queries, args.docs)
    rows = []
    with tempfile.TemporaryDirectory(prefix="peers-", ignore_cleanup_errors=True) as tmp:
        for name in args.peers.split(","):
            peer = PEERS[name](Path(tmp))
            print(f"== {name}", flush=True)
            try:
                row = run_peer(peer, data, relevance_only=args.relevance_only)
            except Exception as exc:  # a peer failing is a result, not a crash
                traceback.print_exc()
                row = {
                    "system": getattr(peer, "name", name),
                    "error": f"{type(exc).__name__}: {exc}",
                }
            finally:
                with contextlib.suppress(Exception):
                    peer.close()
            print(json.dumps(row), flush=True)
            rows.append(row)
    meta = {
        "machine": _machine(),
        "python": platform.python_version(),
        "documents": len(data["ids"]),
        "queries": len(data["qids"]),
        "command": "python " + " ".join(sys.argv),
    }
    write_results(rows, meta, args.out, relevance_only=args.relevance_only)
    print(args.out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
