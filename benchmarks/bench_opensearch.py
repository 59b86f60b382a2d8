"""The OpenSearch backend on a real single node, beside the embedded engine on the same corpus.

Method: the benchmark corpus (``corpus.py``) with its cached all-MiniLM-L6-v2 document and query
vectors (``bench_embedded.py`` makes them), ingested through the project's ingest path into a
fresh alias on the node at ``--url`` (the shipped template with its knn method on Lucene: the
Maven Central k-NN build has no faiss) and into an embedded index. Then each query of the set,
one at a time from one thread, after a warm-up, with the query vector given (no model in the
timed path), commercial stage on, through ``Searcher.search``:

- ``lexical`` (mode lexical), ``hybrid, sidecar`` (the shipped default: both legs in one
  ``_msearch``, fusion here, the commercial stage as configured), ``hybrid, sidecar, painless
  stage`` (the stage as a ``script_score`` on the cluster), ``hybrid, native`` (one ``hybrid``
  query with the min_max pipeline), and the embedded engine's default hybrid;
  ``lexical`` and ``hybrid`` again with typo tolerance off (``fuzzy: off``);
- the commercial stage alone over a 200-candidate window: ``sidecar`` (one ``ids`` search for
  the commercial fields and the numpy formula) against ``painless`` (window stats, then
  ``script_score``).

Blocks are interleaved: each query goes through every block in turn (the order rotated per
query), so the load of the shared machine falls on all alike; medians and p99 over the queries.
Bulk ingest reports documents/s with the vectors precomputed (the sidecar's own work plus
``_bulk``, refresh at the end). The node, its version, heap and engine are recorded with the
results.

Usage (a node from ``scripts/opensearch-local.sh start``)::

    python benchmarks/bench_opensearch.py --url http://127.0.0.1:9200 --docs 50000 --queries 300
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for path in (str(HERE), str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

from bench_embedded import (  # noqa: E402
    ensure_doc_vectors,
    ensure_query_vectors,
    machine_info,
    say,
    summary,
)
from benchutil import command_lines, write_json  # noqa: E402
from corpus import DEFAULT_SEED, corpus_key, generate_documents, generate_queries  # noqa: E402

BLOCK_PAUSE_S = 0.5


class Table:
    """An embedder that answers from the cached vectors (the model is not what is measured)."""

    def __init__(self, model_id: str, docs: dict[str, np.ndarray], queries: dict[str, np.ndarray]):
        self.model_id = model_id
        self.dimension = 384
        self.normalized = True
        self.runtime = "cached"
        self._docs = docs
        self._queries = queries

    def encode_query(self, text: str) -> np.ndarray:
        return self._queries[text]

    def encode_documents(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,  # noqa: ARG002 (the Embedder protocol)
        progress: bool = False,  # noqa: ARG002
    ) -> np.ndarray:
        return np.stack([self._docs[t] for t in texts])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.load(resp)


def _interleaved(fns: dict[str, Callable[[int], Any]], n: int, warm: int) -> dict[str, list[float]]:
    """Each query through every block in turn (the order rotated per query), so that the
    load of a shared machine falls on all blocks alike; ms per call per block."""
    names = list(fns)
    for i in range(min(warm, n)):
        for name in names:
            fns[name](i)
    time.sleep(BLOCK_PAUSE_S)
    out: dict[str, list[float]] = {name: [] for name in names}
    for i in range(n):
        for j in range(len(names)):
            name = names[(i + j) % len(names)]
            t = time.perf_counter_ns()
            fns[name](i)
            out[name].append((time.perf_counter_ns() - t) / 1e6)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "opensearch.json")
    args = parser.parse_args()

    from hybrid_search.config import load_settings
    from hybrid_search.documents import embedding_text
    from hybrid_search.ingest import index_documents
    from hybrid_search.ranking.commercial import CommercialParams
    from hybrid_search.ranking.fusion import FusionResult
    from hybrid_search.searcher import Searcher
    from hybrid_search.templates import default_templates_dir, load_template, with_knn_engine

    node = _get(args.url)
    stats = _get(f"{args.url}/_nodes/stats/jvm")
    heap_mb = next(iter(stats["nodes"].values()))["jvm"]["mem"]["heap_max_in_bytes"] / 2**20

    key = corpus_key(DEFAULT_SEED)
    vec_path, vec_meta = ensure_doc_vectors(args.docs, key, seed=DEFAULT_SEED, threads=2)
    vectors = np.load(vec_path, mmap_mode="r")[: args.docs]
    queries = generate_queries(args.queries, sku_pool=args.docs)
    qpath, qmeta = ensure_query_vectors(queries)
    qvecs = np.load(qpath)
    docs = generate_documents(args.docs)
    template = load_template()
    texts = [embedding_text(d, template) for d in docs]
    table = Table(
        str(vec_meta.get("model_id", qmeta["model_id"])),
        {t: np.asarray(vectors[i]) for i, t in enumerate(texts)},
        {q["text"]: qvecs[i] for i, q in enumerate(queries)},
    )

    work = Path(tempfile.mkdtemp(prefix="bench-opensearch-"))
    lucene_dir = work / "templates"
    lucene_dir.mkdir()
    for path in sorted(default_templates_dir().iterdir()):
        if path.suffix == ".json":
            body = with_knn_engine(load_template(path.stem, path.parent), "lucene").body
            (lucene_dir / path.name).write_text(json.dumps(body))
        elif path.is_file():
            (lucene_dir / path.name).write_bytes(path.read_bytes())
    alias = f"hs-bench-{uuid.uuid4().hex[:8]}"

    def opensearch_searcher(**opensearch: Any) -> Searcher:
        settings = load_settings(
            backend="opensearch",
            templates_dir=lucene_dir,
            opensearch={"url": args.url, "index_alias": alias, **opensearch},
        )
        searcher = Searcher.from_settings(settings)
        searcher._embedder_factory = lambda: table
        return searcher

    results: dict[str, Any] = {"ingest": {}, "search": {}, "commercial_stage": {}}
    load_start = os.getloadavg()
    remote = opensearch_searcher()
    remote.backend.bootstrapper.run(model_id=table.model_id, dimension=384)
    say(f"ingest {args.docs:,} documents into {args.url} ({node['version']['number']})")
    t = time.perf_counter()
    report = index_documents(
        ((d["sku"], d) for d in docs),
        template=remote.template,
        embedder=table,
        backend=remote.backend,
    )
    urllib.request.urlopen(
        urllib.request.Request(f"{args.url}/{alias}/_refresh", method="POST"), timeout=600
    ).read()
    secs = time.perf_counter() - t
    assert not report.failed, report.failed[:3]
    results["ingest"]["opensearch"] = {
        "docs": report.indexed,
        "s": secs,
        "docs_per_s": report.indexed / secs,
    }
    say(f"  {report.indexed / secs:.0f} docs/s")

    embedded_settings = load_settings(embedded={"data_dir": str(work / "embedded")})
    local = Searcher.from_settings(embedded_settings)
    local._embedder_factory = lambda: table
    t = time.perf_counter()
    report = index_documents(
        ((d["sku"], d) for d in docs),
        template=local.template,
        embedder=table,
        backend=local.backend,
    )
    secs = time.perf_counter() - t
    results["ingest"]["embedded"] = {
        "docs": report.indexed,
        "s": secs,
        "docs_per_s": report.indexed / secs,
    }

    native = opensearch_searcher(mode="native")
    painless = opensearch_searcher(commercial_stage="painless")
    texts_q = [q["text"] for q in queries]

    def run(searcher: Searcher, **extra: Any) -> Callable[[int], Any]:
        return lambda i: searcher.search({"query": texts_q[i], "k": 10, **extra})

    blocks = {
        "opensearch lexical": run(remote, mode="lexical"),
        "opensearch lexical, fuzzy off": run(remote, mode="lexical", fuzzy="off"),
        "opensearch hybrid, sidecar (default)": run(remote),
        "opensearch hybrid, sidecar, painless stage": run(painless),
        "opensearch hybrid, sidecar, fuzzy off": run(remote, fuzzy="off"),
        "opensearch hybrid, native": run(native),
        "embedded hybrid (default)": run(local),
    }
    say(f"search: {len(blocks)} blocks interleaved, {len(texts_q)} queries each")
    for name, ms in _interleaved(blocks, len(texts_q), args.warmup).items():
        results["search"][name] = summary(ms)

    window = 200
    now = datetime.now(timezone.utc)
    params = CommercialParams()
    windows = []
    for text in texts_q:
        hits = remote.backend.lexical(text, k=window, filters=[])
        keys = [h.key for h in hits][:window] or [docs[0]["sku"]]
        scores = np.linspace(1.0, 0.0, len(keys))
        nan = np.full((len(keys), 2), np.nan)
        windows.append(FusionResult(keys, scores, nan, nan))
    stages = {
        name: (lambda i, s=searcher: s.backend.rerank(windows[i], params, now=now))
        for name, searcher in (("sidecar", remote), ("painless", painless))
    }
    say("commercial stage: sidecar and painless interleaved")
    for name, ms in _interleaved(stages, len(windows), args.warmup).items():
        results["commercial_stage"][name] = summary(ms)
    results["commercial_stage"]["window"] = window
    results["commercial_stage"]["mean_window"] = statistics.mean(len(w) for w in windows)

    versions = list(_get(f"{args.url}/{alias}-v*/_alias"))  # deletes by name only
    for path in (*(f"/{name}" for name in versions), f"/_index_template/{alias}"):
        urllib.request.urlopen(
            urllib.request.Request(f"{args.url}{path}", method="DELETE"), timeout=60
        ).read()
    for searcher in (remote, native, painless, local):
        searcher.close()

    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    out = {
        "method": __doc__.split("Usage")[0].strip(),
        "command": command,
        "machine": machine_info(),
        "load_avg_1m": {"start": load_start[0], "end": os.getloadavg()[0]},
        "opensearch": {
            "version": node["version"]["number"],
            "heap_mb": heap_mb,
            "engine": "lucene",
            "url": args.url,
        },
        "docs": args.docs,
        "queries": len(texts_q),
        "model_id": table.model_id,
        "results": results,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, out)
    args.out.with_suffix(".md").write_text(render(out), encoding="utf-8")
    say(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


def render(out: dict[str, Any]) -> str:
    r = out["results"]
    os_ = out["opensearch"]
    lines = [
        "# OpenSearch backend on a real node",
        "",
        f"OpenSearch {os_['version']} (Maven Central build, single node on loopback, heap "
        f"{os_['heap_mb']:.0f} MiB, knn engine {os_['engine']}), {out['docs']:,} benchmark "
        f"products, {out['queries']} queries, {out['model_id']} vectors precomputed; "
        f"{out['machine'].get('cpu', '?')}, {out['machine'].get('cores', '?')} cores (load "
        f"average {out['load_avg_1m']['start']:.1f} at the start, "
        f"{out['load_avg_1m']['end']:.1f} at the end: the node shares them); {out['date']}.",
        "",
        out["method"],
        "",
        "## Bulk ingest",
        "",
        "| target | documents | seconds | documents/s |",
        "|---|---:|---:|---:|",
    ]
    for name, row in r["ingest"].items():
        lines.append(f"| {name} | {row['docs']:,} | {row['s']:.1f} | {row['docs_per_s']:.0f} |")
    lines += [
        "",
        "## Search (k=10, query vector given)",
        "",
        "| block | p50 ms | p90 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    for name, row in r["search"].items():
        lines.append(f"| {name} | {row['p50']:.2f} | {row['p90']:.2f} | {row['p99']:.2f} |")
    c = r["commercial_stage"]
    lines += [
        "",
        f"## Commercial stage alone (window of up to {c['window']}, mean {c['mean_window']:.0f})",
        "",
        "| stage | p50 ms | p99 ms |",
        "|---|---:|---:|",
    ]
    for name in ("sidecar", "painless"):
        lines.append(f"| {name} | {c[name]['p50']:.2f} | {c[name]['p99']:.2f} |")
    sr = r["search"]
    fuzzy_share = 1 - sr["opensearch lexical, fuzzy off"]["p50"] / sr["opensearch lexical"]["p50"]
    lines += [
        "",
        f"The painless stage takes {c['painless']['p50'] / c['sidecar']['p50']:.1f}x the sidecar "
        "stage's median (two round trips against one), so `opensearch.commercial_stage` "
        "defaults to `sidecar`. Typo tolerance (`fuzziness: AUTO` in the lexical leg, on by "
        f"default) is {fuzzy_share:.0%} of the lexical search's median on this node.",
        "",
    ]
    lines += ["", "## Command", "", *command_lines(out["command"]), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
