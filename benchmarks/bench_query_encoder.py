#!/usr/bin/env python
"""Query encoder candidates (issue 18 item 4): speed against fidelity to the fp32 model.

Every candidate is the project's ``OnnxEmbedder`` on the bundled all-MiniLM-L6-v2 with one thing
changed: the query graph (ORT graph optimisations online / saved offline / onnxruntime's
transformer fusions; int8 dynamic per-channel; 8-bit block-wise weights), the session options
(2 intra-op threads, no memory arena, parallel execution mode), the query token cap, or how
concurrent queries are run (one call each through ``QueryEncoder``, or micro-batched). One run:

* **token lengths** of the Home Depot queries (all, and the 1,000 held-out) and the demo's
  storefront queries (``benchmarks/corpus.py`` + the ``hybrid-search demo`` queries);
* **single-query latency**, one caller: ``encode_query`` of the held-out Home Depot queries,
  rounds of 200 per candidate with the candidate order shuffled each round (interleaved, so
  drift from other jobs hits every candidate alike), p50/p99 and CPU ms per query;
* **8 concurrent callers**, closed loop, model run per call (no cache): per-call p50/p99 and
  queries/s, through ``QueryEncoder`` (the request path: a pool of 2 workers) or through a
  micro-batcher (one worker takes every queued query, up to 8, and runs them as one batch);
* **fidelity and relevance** on the 1,000 held-out Home Depot queries against fp32: cosine to
  the fp32 query vector, top-10 overlap and identical top-10 lists, nDCG@10 with a paired
  randomisation test, in vector-only mode and the shipped hybrid default, every query through
  ``Searcher.search`` over the evaluation index (document vectors fp32 from the reference
  model, cached in ``benchmarks/.cache``, as ``hybrid-search eval`` builds it).

Run (under the benchmark lock)::

    flock /tmp/hybrid-bench.lock python benchmarks/bench_query_encoder.py \\
        --dataset ../shared/datasets/homedepot
    python benchmarks/bench_query_encoder.py --dataset DIR --quick   # smoke test, no results
    python benchmarks/bench_query_encoder.py --tables benchmarks/results/query-encoder.json
"""

from __future__ import annotations

import os

os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # before anything imports onnxruntime

import argparse
import contextlib
import datetime as dt
import json
import platform
import queue
import random
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from benchutil import write_json  # noqa: E402

CACHE = HERE / ".cache"
RESULTS = HERE / "results"
MICRO_BATCH = 8


def say(msg: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def load1() -> float:
    return round(os.getloadavg()[0], 2)


# --------------------------------------------------------------------------- candidates
@dataclass
class Candidate:
    name: str
    graph: str  # key of the graph it runs
    label: str
    options: dict[str, Any]
    relevance: bool = True  # scored through the Searcher (else: vectors compared only)


CANDIDATES = [
    Candidate("fp32", "fp32", "fp32, ORT_ENABLE_ALL online (shipped before)", {}),
    Candidate("fp32-noopt", "fp32", "fp32, ORT_DISABLE_ALL", {"opt": "disable"}, False),
    Candidate(
        "fp32-offline", "fp32-offline", "fp32, ORT_ENABLE_ALL saved once", {"opt": "disable"}
    ),
    Candidate("fp32-fused", "fp32-fused", "fp32, onnxruntime.transformers bert fusions", {}),
    Candidate("fp32-t2", "fp32", "fp32, 2 intra-op threads", {"threads": 2}, False),
    Candidate("fp32-noarena", "fp32", "fp32, CPU memory arena off", {"arena": False}, False),
    Candidate("fp32-parallel", "fp32", "fp32, ORT_PARALLEL, 2 inter-op", {"parallel": True}, False),
    Candidate("int8", "int8", "int8 dynamic, per-channel MatMul (`onnx-int8`)", {}),
    Candidate("w8", "w8", "8-bit block-32 weights, int8 compute (`onnx-w8`)", {}),
    Candidate("w8-t2", "w8", "same, 2 intra-op threads", {"threads": 2}, False),
    Candidate("w8-b128", "w8-b128", "8-bit block-128 weights, int8 compute", {}),
]


def build_graphs(files: Any, cache_dir: Path) -> dict[str, Path]:
    """The project's graphs from ``export_onnx``, and the bench-only ones derived once."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    from onnxruntime.transformers.optimizer import optimize_model

    from hybrid_search.embedding.onnx import export_onnx

    graphs = {q: export_onnx(files, cache_dir, quant=q) for q in ("fp32", "int8", "w8")}
    extra = CACHE / "query-encoder" / files.fingerprint()
    extra.mkdir(parents=True, exist_ok=True)
    offline = extra / "fp32-ort-all.onnx"
    if not offline.exists():
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.optimized_model_filepath = str(offline)
        ort.InferenceSession(str(graphs["fp32"]), opts, providers=["CPUExecutionProvider"])
    fused = extra / "fp32-bert-fused.onnx"
    if not fused.exists():
        model = optimize_model(
            str(graphs["fp32"]), model_type="bert", num_heads=12, hidden_size=384, opt_level=1
        )
        say(f"bert fusions: {model.get_fused_operator_statistics()}")
        model.save_model_to_file(str(fused))
    b128 = extra / "w8-b128.onnx"
    if not b128.exists():
        q = MatMulNBitsQuantizer(
            onnx.load(str(graphs["fp32"])),
            bits=8,
            block_size=128,
            is_symmetric=True,
            accuracy_level=4,
        )
        q.process()
        q.model.save_model_to_file(str(b128), use_external_data_format=False)
    return {**graphs, "fp32-offline": offline, "fp32-fused": fused, "w8-b128": b128}


def make_embedder(files: Any, graph: Path, options: dict[str, Any], cap: int | None = None) -> Any:
    """An ``OnnxEmbedder`` whose query session is built with ``options``."""
    import onnxruntime as ort

    from hybrid_search.embedding.onnx import OnnxEmbedder

    emb = OnnxEmbedder(files, graph, query_max_tokens=cap)
    if options:
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(options.get("threads", 1))
        so.inter_op_num_threads = 2 if options.get("parallel") else 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if options.get("opt") == "disable":
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        if options.get("arena") is False:
            so.enable_cpu_mem_arena = False
        if options.get("parallel"):
            so.execution_mode = ort.ExecutionMode.ORT_PARALLEL
        emb._session = ort.InferenceSession(str(graph), so, providers=["CPUExecutionProvider"])
    return emb


def encode_batch(emb: Any, texts: Sequence[str]) -> np.ndarray:
    """Several queries as one padded batch (what a micro-batcher runs)."""
    out: np.ndarray = emb._run([emb._query_tokenizer.encode(emb.query_prefix + t) for t in texts])
    return out


# --------------------------------------------------------------------------- timing
@contextlib.contextmanager
def gc_off() -> Iterator[None]:
    import gc

    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def single_latency(
    embedders: dict[str, Any], texts: Sequence[str], rounds: int, per_round: int
) -> dict[str, dict[str, float]]:
    rng = random.Random(0)
    samples: dict[str, list[float]] = {k: [] for k in embedders}
    cpu: dict[str, float] = dict.fromkeys(embedders, 0.0)
    for emb in embedders.values():
        for t in texts[:30]:
            emb.encode_query(t)
    loads = []
    for r in range(rounds):
        order = list(embedders)
        rng.shuffle(order)
        chunk = [texts[(r * per_round + i) % len(texts)] for i in range(per_round)]
        for name in order:
            emb = embedders[name]
            with gc_off():
                c0 = time.process_time()
                for t in chunk:
                    t0 = time.perf_counter()
                    emb.encode_query(t)
                    samples[name].append((time.perf_counter() - t0) * 1000)
                cpu[name] += time.process_time() - c0
        loads.append(load1())
        say(f"latency round {r + 1}/{rounds} (load {loads[-1]})")
    out = {}
    for name, s in samples.items():
        a = np.asarray(s)
        out[name] = {
            "p50_ms": float(np.percentile(a, 50)),
            "p99_ms": float(np.percentile(a, 99)),
            "cpu_ms_per_query": cpu[name] * 1000 / len(a),
            "n": len(a),
        }
    out["_load1"] = {"per_round": loads}  # type: ignore[dict-item]
    return out


class MicroBatcher:
    """Bench prototype: one worker runs every queued query (up to ``size``) as one batch."""

    def __init__(self, emb: Any, size: int = MICRO_BATCH) -> None:
        self.emb = emb
        self.size = size
        self.q: queue.Queue[tuple[str, Future[np.ndarray]] | None] = queue.Queue()
        self.batches: list[int] = []
        self.worker = threading.Thread(target=self._loop, daemon=True)
        self.worker.start()

    def _loop(self) -> None:
        while True:
            item = self.q.get()
            if item is None:
                return
            items = [item]
            while len(items) < self.size:
                try:
                    nxt = self.q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self.q.put(None)
                    break
                items.append(nxt)
            self.batches.append(len(items))
            vecs = encode_batch(self.emb, [t for t, _ in items])
            for (_, fut), v in zip(items, vecs, strict=True):
                fut.set_result(v)

    def encode(self, text: str) -> np.ndarray:
        fut: Future[np.ndarray] = Future()
        self.q.put((text, fut))
        return fut.result()

    def close(self) -> None:
        self.q.put(None)
        self.worker.join()


def concurrent_run(
    call: Callable[[str], Any], texts: Sequence[str], callers: int, seconds: float
) -> dict[str, float]:
    stop = time.perf_counter() + seconds
    lat: list[list[float]] = [[] for _ in range(callers)]

    def client(i: int) -> None:
        j = i * 97
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            call(texts[j % len(texts)])
            lat[i].append((time.perf_counter() - t0) * 1000)
            j += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(callers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - t0
    a = np.concatenate([np.asarray(x) for x in lat])
    return {
        "p50_ms": float(np.percentile(a, 50)),
        "p99_ms": float(np.percentile(a, 99)),
        "qps": len(a) / took,
        "n": len(a),
    }


def concurrency(
    embedders: dict[str, Any], texts: Sequence[str], rounds: int, seconds: float
) -> dict[str, Any]:
    from hybrid_search.embedding import QueryEncoder

    configs: dict[str, Callable[[], tuple[Callable[[str], Any], Callable[[], Any]]]] = {}
    for name in ("fp32", "int8", "w8"):
        emb = embedders[name]

        def pooled(emb: Any = emb) -> tuple[Callable[[str], Any], Callable[[], Any]]:
            enc = QueryEncoder(emb, cache_size=0, timeout_s=10.0)
            return enc.encode, enc.close

        configs[f"{name} QueryEncoder"] = pooled
    for name in ("fp32", "w8"):
        emb = embedders[name]

        def batched(emb: Any = emb) -> tuple[Callable[[str], Any], Callable[[], Any]]:
            mb = MicroBatcher(emb)
            batchers.append(mb)
            return mb.encode, mb.close

        configs[f"{name} micro-batch {MICRO_BATCH}"] = batched
    batchers: list[MicroBatcher] = []
    rng = random.Random(1)
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in configs}
    sizes: dict[str, list[int]] = {}
    for r in range(rounds):
        order = list(configs)
        rng.shuffle(order)
        for name in order:
            call, close = configs[name]()
            with gc_off():
                res = concurrent_run(call, texts, 8, seconds)
            res["load1"] = load1()
            close()
            runs[name].append(res)
            if batchers:
                sizes.setdefault(name, []).extend(batchers.pop().batches)
        say(f"concurrency round {r + 1}/{rounds} (load {load1()})")
    out: dict[str, Any] = {}
    for name, rs in runs.items():
        out[name] = {
            "p50_ms": float(np.median([x["p50_ms"] for x in rs])),
            "p99_ms": float(np.median([x["p99_ms"] for x in rs])),
            "qps": float(np.median([x["qps"] for x in rs])),
            "rounds": rs,
        }
        if name in sizes:
            out[name]["mean_batch"] = float(np.mean(sizes[name]))
    return out


# --------------------------------------------------------------------------- lengths
def token_lengths(emb: Any, sets: dict[str, Sequence[str]]) -> dict[str, Any]:
    out = {}
    for name, texts in sets.items():
        n = np.asarray([len(emb._tokenizer.encode(t).ids) for t in texts])
        out[name] = {
            "queries": len(n),
            "mean": float(n.mean()),
            "p50": float(np.percentile(n, 50)),
            "p90": float(np.percentile(n, 90)),
            "p99": float(np.percentile(n, 99)),
            "max": int(n.max()),
            "over": {str(c): int((n > c).sum()) for c in (16, 24, 32, 64)},
            "longest": [texts[i] for i in np.argsort(-n, kind="stable")[:3]],
        }
    return out


def long_query_latency(files: Any, graph: Path, text: str, caps: Sequence[int]) -> dict[str, Any]:
    out = {}
    for cap in caps:
        emb = make_embedder(files, graph, {}, cap)
        for _ in range(5):
            emb.encode_query(text)
        t = []
        with gc_off():
            for _ in range(40):
                t0 = time.perf_counter()
                emb.encode_query(text)
                t.append((time.perf_counter() - t0) * 1000)
        out[str(cap)] = {"tokens": emb.query_tokens(text), "p50_ms": float(np.median(t))}
    return out


# --------------------------------------------------------------------------- relevance
class TableEmbedder:
    """Serves precomputed query vectors to the Searcher (the candidate's, computed before)."""

    def __init__(self, base: Any, table: dict[str, np.ndarray], runtime: str) -> None:
        self.model_id = base.model_id
        self.dimension = base.dimension
        self.normalized = base.normalized
        self.runtime = runtime
        self._table = table

    def encode_query(self, text: str) -> np.ndarray:
        return self._table[text]

    def encode_documents(self, texts: Sequence[str], **_: Any) -> np.ndarray:
        raise NotImplementedError


def relevance(
    session: Any, qids: Sequence[str], vectors: dict[str, np.ndarray]
) -> dict[str, dict[str, Any]]:
    from hybrid_search.evaluation.metrics import compare
    from hybrid_search.evaluation.runner import BASELINE_MODES, ModeSpec, run_mode
    from hybrid_search.searcher import Searcher

    base = session.searcher
    fp32_emb = base.embedder
    vector = next(m for m in BASELINE_MODES if m.name == "vector")
    modes = [
        ModeSpec("vector", {**vector.request, "candidates": 100}),
        ModeSpec("default", {"commercial": {"enabled": False}}),
    ]
    texts = {q: session.dataset.queries[q] for q in qids}
    results: dict[str, dict[str, Any]] = {}
    for name, vecs in vectors.items():
        table = {texts[q]: v for q, v in zip(qids, vecs, strict=True)}
        searcher = Searcher(
            session.settings,
            base.template,
            base.backend,
            lambda t=table, n=name: TableEmbedder(fp32_emb, t, n),
        )
        results[name] = {
            m.name: run_mode(searcher, m, texts, session.dataset.qrels, k=100) for m in modes
        }
        say(
            f"{name}: ndcg@10 vector {results[name]['vector'].means['ndcg@10']:.4f}, "
            f"default {results[name]['default'].means['ndcg@10']:.4f}"
        )
    out: dict[str, dict[str, Any]] = {}
    ref = results["fp32"]
    for name, res in results.items():
        out[name] = {}
        for mode, r in res.items():
            a, b = ref[mode], r
            overlap = [
                len(set(a.run[q][:10]) & set(b.run[q][:10])) / max(len(a.run[q][:10]), 1)
                for q in qids
            ]
            same = sum(a.run[q][:10] == b.run[q][:10] for q in qids)
            c = compare(a.per_query["ndcg@10"], b.per_query["ndcg@10"], metric="ndcg@10")
            out[name][mode] = {
                "ndcg@10": b.means["ndcg@10"],
                "delta": c.delta,
                "ci": [c.ci_low, c.ci_high],
                "p": c.p_value,
                "top10_overlap": float(np.mean(overlap)),
                "top10_identical": int(same),
                "queries": len(qids),
            }
    return out


# --------------------------------------------------------------------------- report
def render_tables(d: dict[str, Any]) -> str:
    """The measured tables of ``results/query-encoder.md`` from the JSON (the reading is prose)."""
    lat, fid, rel, cands = d["latency"], d["fidelity"], d["relevance"], d["candidates"]
    base = lat["fp32"]["p50_ms"]
    rows = [
        "| candidate | p50 ms | p99 ms | CPU ms/q | speed vs fp32 | cos mean (min) | "
        "exact vector top-10 overlap (identical lists) | vector-only nDCG@10 (delta, 95% CI) | "
        "hybrid default nDCG@10 (delta, 95% CI) | default top-10 overlap (identical) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def nd(x: dict[str, Any]) -> str:
        return f"{x['ndcg@10']:.4f} ({x['delta']:+.4f}, {x['ci'][0]:+.4f} … {x['ci'][1]:+.4f})"

    for name, c in cands.items():
        t, f = lat[name], fid[name]
        r = rel.get(name)
        rv = nd(r["vector"]) if r else "= its graph"
        rd = nd(r["default"]) if r else "= its graph"
        ov = (
            f"{r['default']['top10_overlap']:.4f} ({r['default']['top10_identical']})" if r else "-"
        )
        rows.append(
            f"| `{name}`: {c['label']} | {t['p50_ms']:.2f} | {t['p99_ms']:.1f} | "
            f"{t['cpu_ms_per_query']:.2f} | {base / t['p50_ms']:.2f}x | "
            f"{f['cos_mean']:.6f} ({f['cos_min']:.4f}) | "
            f"{f['exact_top10_overlap']:.4f} ({f['exact_top10_identical']}) | {rv} | {rd} | {ov} |"
        )
    rows += [
        "",
        "| 8 concurrent callers | p50 ms | p99 ms | queries/s | mean batch | q/s per round |",
        "|---|---|---|---|---|---|",
    ]
    for name, c in d["concurrency"].items():
        mb = f"{c['mean_batch']:.1f}" if "mean_batch" in c else "1"
        per = ", ".join(f"{r['qps']:.0f}" for r in c["rounds"])
        rows.append(
            f"| {name} | {c['p50_ms']:.1f} | {c['p99_ms']:.1f} | {c['qps']:.0f} | {mb} | {per} |"
        )
    rows += [
        "",
        "| queries | n | mean tokens | p50 | p90 | p99 | max | over 16 / 24 / 32 / 64 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, t in d["token_lengths"].items():
        o = t["over"]
        rows.append(
            f"| {name} | {t['queries']:,} | {t['mean']:.1f} | {t['p50']:.0f} | {t['p90']:.0f} | "
            f"{t['p99']:.0f} | {t['max']} | {o['16']} / {o['24']} / {o['32']} / {o['64']} |"
        )
    lq = d["long_query"]
    caps = ", ".join(
        f"cap {k}: {v['tokens']} tokens, {v['p50_ms']:.1f} ms" for k, v in lq["by_cap"].items()
    )
    rows += ["", f"A {lq['chars']}-character query (fp32, p50 of 40): {caps}."]
    return "\n".join(rows) + "\n"


# --------------------------------------------------------------------------- main
def machine() -> dict[str, Any]:
    import onnxruntime

    flags = ""
    with contextlib.suppress(OSError):
        info = Path("/proc/cpuinfo").read_text()
        wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
        have = next((ln for ln in info.splitlines() if ln.startswith("flags")), "").split()
        flags = ",".join(f for f in wanted if f in have)
    return {
        "cpu": platform.processor() or platform.machine(),
        "cpu_flags": flags,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, help="Home Depot in BEIR layout (required to run)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--per-round", type=int, default=200)
    ap.add_argument("--conc-rounds", type=int, default=3)
    ap.add_argument("--conc-seconds", type=float, default=6.0)
    ap.add_argument("--quick", action="store_true", help="tiny run, nothing written to results/")
    ap.add_argument("--out", type=Path, default=RESULTS / "query-encoder.json")
    ap.add_argument("--tables", type=Path, help="print the tables of a results JSON and exit")
    args = ap.parse_args(argv)
    if args.tables is not None:
        print(render_tables(json.loads(args.tables.read_text())))
        return 0
    if args.quick:
        args.rounds, args.per_round, args.conc_rounds, args.conc_seconds = 1, 30, 1, 1.0

    if args.dataset is None:
        ap.error("--dataset is required")
    from hybrid_search.commands.demo import DEMO_QUERIES
    from hybrid_search.config import load_settings
    from hybrid_search.embedding import create_embedder, resolve_model
    from hybrid_search.embedding.models import default_cache_dir
    from hybrid_search.evaluation.session import QuerySplit, open_session

    started = dt.datetime.now().isoformat(timespec="seconds")
    load_start = load1()
    settings = load_settings(
        backend="embedded", embedding={"backend": "onnx", "query_cache_size": 0}
    )
    files = resolve_model(settings.embedding.model)
    graphs = build_graphs(files, settings.embedding.cache_dir or default_cache_dir())
    session = open_session(
        settings,
        args.dataset,
        text_fields=["title"],
        cache_dir=CACHE,
        embedder_factory=lambda: create_embedder(settings.embedding),
    )
    split = QuerySplit(min_judgments=5, sample=1000, train_sample=1000, seed=0)
    qids = split.ids(session.dataset, "heldout")
    held = [session.dataset.queries[q] for q in qids]
    if args.quick:
        qids, held = qids[:60], held[:60]

    import corpus

    demo = [q["text"] for q in corpus.generate_queries(300)] + [
        q for _, q in DEMO_QUERIES if q is not None
    ]
    embedders = {c.name: make_embedder(files, graphs[c.graph], c.options) for c in CANDIDATES}
    lengths = token_lengths(
        embedders["fp32"],
        {
            "homedepot all": list(session.dataset.queries.values()),
            "homedepot held-out": held,
            "demo storefront": demo,
        },
    )
    say(f"token lengths: {json.dumps({k: v['max'] for k, v in lengths.items()})}")
    words = " ".join(held).split()
    long_text = " ".join(words)[: settings.search.max_query_chars]
    long_q = long_query_latency(files, graphs["fp32"], long_text, (256, 64, 32))

    # Fidelity: cosine to fp32 of every held-out query, alone and micro-batched.
    vectors = {
        c.name: np.stack([embedders[c.name].encode_query(t) for t in held]) for c in CANDIDATES
    }
    for name in ("fp32", "w8", "int8"):
        batched = np.concatenate(
            [
                encode_batch(embedders[name], held[i : i + MICRO_BATCH])
                for i in range(0, len(held), MICRO_BATCH)
            ]
        )
        vectors[f"{name}-batched"] = batched
    ref = vectors["fp32"]
    doc_vectors = np.load(next(CACHE.glob(f"vectors-*-onnx-{session.dataset.digest}.npy")))
    ref_top = np.argsort(-(ref @ doc_vectors.T), axis=1)[:, :10]
    fidelity = {}
    for name, v in vectors.items():
        cos = (v * ref).sum(axis=1)
        top = np.argsort(-(v @ doc_vectors.T), axis=1)[:, :10]
        fidelity[name] = {
            "cos_mean": float(cos.mean()),
            "cos_min": float(cos.min()),
            "max_abs_diff": float(np.abs(v - ref).max()),
            "exact_top10_overlap": float(
                np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ref_top, top, strict=True)])
            ),
            "exact_top10_identical": int(
                sum((a == b).all() for a, b in zip(ref_top, top, strict=True))
            ),
        }
    say("fidelity done")

    scored = [c.name for c in CANDIDATES if c.relevance] + ["fp32-batched", "w8-batched"]
    rel = relevance(session, qids, {n: vectors[n] for n in scored})
    latency = single_latency(embedders, held, args.rounds, args.per_round)
    conc = concurrency(embedders, held, args.conc_rounds, args.conc_seconds)
    session.close()

    result = {
        "started": started,
        "finished": dt.datetime.now().isoformat(timespec="seconds"),
        "load1_start": load_start,
        "load1_end": load1(),
        "machine": machine(),
        "command": "flock /tmp/hybrid-bench.lock python benchmarks/bench_query_encoder.py "
        + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "candidates": {
            c.name: {"label": c.label, "graph": c.graph, "options": c.options} for c in CANDIDATES
        },
        "graph_mb": {k: round(p.stat().st_size / 1e6, 1) for k, p in graphs.items()},
        "token_lengths": lengths,
        "long_query": {"chars": len(long_text), "by_cap": long_q},
        "fidelity": fidelity,
        "relevance": rel,
        "latency": latency,
        "concurrency": conc,
    }
    out = CACHE / "query-encoder-quick.json" if args.quick else args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, result)
    say(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
