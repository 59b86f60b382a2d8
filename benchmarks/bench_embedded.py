#!/usr/bin/env python
"""Benchmark of the embedded engine on real all-MiniLM-L6-v2 embeddings.

For each corpus size it measures, in one run on one machine:

* the hybrid search through ``Searcher.search`` (mode ``hybrid``, default fusion, commercial
  stage on, k=10, default candidate window) **without** the query embedding (query-vector LRU
  warmed: every query is run once first) and **with** it (a Searcher whose
  ``embedding.query_cache_size`` is 0), single query at a time from one thread, after warm-up;
* the Searcher's own ``timings_ms`` stage medians (lexical, embed, vector, fusion, commercial,
  fetch, total);
* the exact numpy scan of the same vectors (``V @ q``, argpartition + sort) in the same process;
* recall@10 of the backend's vector leg against that exact top-10;
* index build time (``backend.index`` in batches, then ``backend.optimize()``), embedding
  throughput of the corpus, process RSS after loading the index, and on-disk size.

Each size is built in one subprocess and searched in a fresh one, so the RSS is that of a
process that opened the index from disk, not of the one that built it.

Run::

    python benchmarks/bench_embedded.py --quick                      # smoke test, ~5k docs
    python benchmarks/bench_embedded.py --sizes 50000 200000 --queries 300 \\
        --out benchmarks/results/embedded.json                       # writes .json and .md

Document and query vectors are cached in ``benchmarks/.cache/`` (git-ignored), keyed by the
corpus hash and N; the corpus is prefix-stable, so one 200k embedding run serves the 50k size.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from benchutil import command_lines, save_npy, write_json  # noqa: E402
from corpus import (  # noqa: E402
    DEFAULT_SEED,
    corpus_key,
    generate_queries,
    iter_documents,
    queries_key,
)

CACHE_DIR = HERE / ".cache"
DIM = 384
STAGES = ("lexical", "embed", "vector", "fusion", "commercial", "fetch", "total")
BLOCK_PAUSE_S = 0.5
"""Pause before each timed block. After a call, OpenBLAS's worker threads spin for about 0.1 s
(measured: 0.105 s of CPU during a 0.5 s sleep after one exact scan at 200k), which took one of
this machine's two cores from whichever block came next; the pause lets them sleep first."""

log = logging.getLogger("bench_embedded")


# --------------------------------------------------------------------------- small helpers
def _now() -> str:
    return dt.datetime.now().strftime("%H:%M:%S")


def say(msg: str) -> None:
    print(f"[{_now()}] {msg}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    """Resident set size of this process in MiB (psutil, else /proc)."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def dir_size_mb(path: Path) -> float:
    total = 0
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            total += p.stat().st_size
    return total / 2**20


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


def summary(values_ms: list[float]) -> dict[str, float]:
    return {
        "n": len(values_ms),
        "p50": pct(values_ms, 50),
        "p90": pct(values_ms, 90),
        "p99": pct(values_ms, 99),
        "mean": float(np.mean(values_ms)) if values_ms else float("nan"),
        "max": float(np.max(values_ms)) if values_ms else float("nan"),
    }


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    flags = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                f = line.split(":", 1)[1].split()
                flags = ",".join(
                    x for x in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if x in f
                )
                break
    ram_gb = float("nan")
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = int(line.split()[1]) / 2**20
    versions: dict[str, str] = {}
    for mod in ("numpy", "faiss", "tantivy", "onnxruntime", "tokenizers", "pydantic", "psutil"):
        try:
            m = __import__(mod)
            versions[mod] = str(getattr(m, "__version__", "?"))
        except ImportError:
            versions[mod] = "not installed"
    if versions.get("tantivy") != "not installed":
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions["tantivy"] = version("tantivy")
    blas: list[dict[str, Any]] = []
    with contextlib.suppress(Exception):
        from threadpoolctl import threadpool_info

        blas = [
            {k: i.get(k) for k in ("internal_api", "num_threads", "architecture", "version")}
            for i in threadpool_info()
        ]
    return {
        "cpu": cpu,
        "cpu_flags": flags,
        "cores": os.cpu_count(),
        "ram_gib": round(ram_gb, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "threadpools": blas,
        "env": {
            k: v
            for k, v in sorted(os.environ.items())
            if k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE")
            or k.startswith("HYBRID_SEARCH_")
        },
    }


# --------------------------------------------------------------------------- vector caches
def _embedder(threads: int | None = None) -> Any:
    from hybrid_search.config import load_settings
    from hybrid_search.embedding import create_embedder

    overrides = {} if threads is None else {"embedding": {"threads": threads}}
    return create_embedder(load_settings(**overrides).embedding)


def _find_doc_vectors(n: int, key: str) -> tuple[Path, dict[str, Any]] | None:
    """A cached matrix with at least ``n`` rows of this corpus (final file, else first part)."""
    best: tuple[int, Path] | None = None
    for p in CACHE_DIR.glob(f"docs-{key}-*.npy"):
        stem = p.name[: -len(".npy")]
        tail = stem.split("-")[-1]
        if tail.isdigit() and int(tail) >= n and (best is None or int(tail) < best[0]):
            best = (int(tail), p)
    if best is not None:
        meta_path = best[1].with_suffix(".json")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        return best[1], meta
    for p in sorted(CACHE_DIR.glob(f"parts-{key}/part-0000000-*.npy")):
        end = int(p.name[: -len(".npy")].split("-")[-1])
        if end >= n:
            meta_path = p.with_suffix(".json")
            meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
            return p, meta
    return None


def ensure_doc_vectors(
    n: int, key: str, *, seed: int, threads: int, chunk: int = 10_000
) -> tuple[Path, dict[str, Any]]:
    """Embed the first ``n`` documents once (resumable, in chunks) and cache the matrix."""
    found = _find_doc_vectors(n, key)
    if found is not None:
        say(f"document vectors: cached {found[0].relative_to(HERE)}")
        return found
    from hybrid_search.documents import embedding_text, validate_document
    from hybrid_search.templates import load_template

    template = load_template()
    parts_dir = CACHE_DIR / f"parts-{key}"
    parts_dir.mkdir(parents=True, exist_ok=True)
    emb = None
    metas: list[dict[str, Any]] = []
    # Resume from the largest cached matrix of this corpus that is smaller than n.
    prefix: tuple[int, Path] | None = None
    for p in CACHE_DIR.glob(f"docs-{key}-*.npy"):
        tail = p.name[: -len(".npy")].split("-")[-1]
        m = int(tail) if tail.isdigit() else 0
        usable = 0 < m < n and m % chunk == 0 and p.with_suffix(".json").exists()
        if usable and (prefix is None or m > prefix[0]):
            prefix = (m, p)
    if prefix is not None:
        metas.extend(json.loads(prefix[1].with_suffix(".json").read_text())["chunks"])
        say(f"resuming after the {prefix[0]:,} cached rows of {prefix[1].name}")
    for start in range(prefix[0] if prefix else 0, n, chunk):
        end = min(n, start + chunk)
        part = parts_dir / f"part-{start:07d}-{end:07d}.npy"
        meta_path = part.with_suffix(".json")
        if part.exists() and meta_path.exists():
            metas.append(json.loads(meta_path.read_text()))
            continue
        if emb is None:
            t = time.perf_counter()
            emb = _embedder(threads)
            say(
                f"embedder {emb.model_id} ({emb.runtime}, {threads} threads) loaded in "
                f"{time.perf_counter() - t:.1f} s"
            )
        docs = [validate_document(d, template) for d in iter_documents(end, seed, start)]
        texts = [embedding_text(d, template) for d in docs]
        say(f"embedding documents {start:,}..{end:,} of {n:,}")
        t = time.perf_counter()
        vecs = emb.encode_documents(texts, batch_size=64, progress=True)
        secs = time.perf_counter() - t
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if vecs.shape != (end - start, DIM):
            raise RuntimeError(f"embedder returned shape {vecs.shape}")
        meta = {
            "start": start,
            "end": end,
            "seconds": secs,
            "docs_per_s": (end - start) / secs,
            "words_mean": float(np.mean([len(t.split()) for t in texts])),
            "model_id": emb.model_id,
            "runtime": emb.runtime,
            "threads": threads,
            "finished_at": dt.datetime.now().isoformat(timespec="seconds"),
            "load_1m": os.getloadavg()[0],
        }
        save_npy(part, vecs)
        write_json(meta_path, meta)
        metas.append(meta)
        say(f"  {end - start:,} docs in {secs:.1f} s = {meta['docs_per_s']:.1f} docs/s")
    first = prefix[0] if prefix else 0
    parts = sorted(parts_dir.glob("part-*.npy"))
    parts = [p for p in parts if first <= int(p.name.split("-")[1]) < n]
    pieces = ([np.load(prefix[1])] if prefix else []) + [np.load(p) for p in parts]
    matrix = np.concatenate(pieces)[:n]
    if matrix.shape != (n, DIM):
        raise RuntimeError(f"assembled {matrix.shape}, expected ({n}, {DIM})")
    final = CACHE_DIR / f"docs-{key}-{n}.npy"
    save_npy(final, matrix)
    secs = sum(m["seconds"] for m in metas)
    meta = {
        "n": n,
        "corpus_key": key,
        "seed": seed,
        "model_id": metas[0]["model_id"],
        "runtime": metas[0]["runtime"],
        "threads": threads,
        "batch_size": 64,
        "embed_seconds": secs,
        "docs_per_s": n / secs,
        "words_mean": float(
            np.average(
                [m["words_mean"] for m in metas], weights=[m["end"] - m["start"] for m in metas]
            )
        ),
        "chunks": metas,
    }
    write_json(final.with_suffix(".json"), meta)
    if emb is not None:  # only the process that embedded cleans up (others may be reading)
        shutil.rmtree(parts_dir, ignore_errors=True)
    say(f"document vectors: {n:,} x {DIM} in {secs:.0f} s ({n / secs:.1f} docs/s) -> {final}")
    return final, meta


def ensure_query_vectors(queries: list[dict[str, str]]) -> tuple[Path, dict[str, Any]]:
    """Query vectors from ``encode_query`` (the Searcher's own call), cached by the texts' hash."""
    qkey = queries_key(queries)
    path = CACHE_DIR / f"queries-{qkey}-{len(queries)}.npy"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        return path, json.loads(meta_path.read_text())
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    emb = _embedder()  # the query-path settings (1 intra-op thread)
    times, vecs = [], []
    for q in queries:
        t = time.perf_counter()
        vecs.append(np.asarray(emb.encode_query(q["text"]), dtype=np.float32))
        times.append((time.perf_counter() - t) * 1000)
    save_npy(path, np.stack(vecs))
    meta = {
        "n": len(queries),
        "key": qkey,
        "model_id": emb.model_id,
        "encode_query_ms_p50": pct(times, 50),
    }
    write_json(meta_path, meta)
    return path, meta


def _health(backend: Any) -> dict[str, Any]:
    h = backend.health()
    return dict(getattr(h, "detail", None) or getattr(h, "details", None) or {})


# --------------------------------------------------------------------------- build phase
class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[tuple[float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((time.perf_counter(), record.getMessage()))


def phase_build(job: dict[str, Any]) -> dict[str, Any]:
    from hybrid_search.backends import create_backend
    from hybrid_search.config import load_settings
    from hybrid_search.documents import validate_document
    from hybrid_search.templates import load_template

    n = job["size"]
    data_dir = Path(job["data_dir"])
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = load_settings(embedded={"data_dir": str(data_dir)})
    template = load_template(settings.template, settings.templates_dir)
    backend = create_backend(settings, template)
    capture = _Capture()
    logging.getLogger("hybrid_search").addHandler(capture)
    logging.getLogger("hybrid_search").setLevel(logging.INFO)

    t = time.perf_counter()
    docs = [validate_document(d, template) for d in iter_documents(n, job["seed"])]
    gen_s = time.perf_counter() - t
    vectors = np.load(job["vectors"], mmap_mode="r")
    if vectors.shape[0] < n:
        raise RuntimeError(f"{job['vectors']} has {vectors.shape[0]} rows, need {n}")

    t0 = time.perf_counter()
    backend.ensure_index(model_id=job["model_id"], dimension=DIM)
    batch_s: list[float] = []
    indexed = 0
    failed = 0
    bs = job["batch_size"]
    # bulk() (where the backend has it): no background HNSW rebuilds during the load, one build
    # after it, which optimize() waits for.
    bulk = getattr(backend, "bulk", None)
    with bulk() if bulk is not None else contextlib.nullcontext():
        for a in range(0, n, bs):
            b = min(n, a + bs)
            vecs = np.ascontiguousarray(vectors[a:b], dtype=np.float32)
            t = time.perf_counter()
            report = backend.index(docs[a:b], vecs)
            batch_s.append(time.perf_counter() - t)
            indexed += report.indexed
            failed += len(report.failed)
        index_wall_s = time.perf_counter() - t0
        t_load_end = time.perf_counter()
    bulk_exit_s = time.perf_counter() - t_load_end
    # A background HNSW build may be running (started by bulk()'s exit, or by the backend when
    # enough unindexed rows piled up); wait for it, then optimize(). Everything from the end of
    # the load to optimize()'s return is the HNSW build time after the load.
    t = time.perf_counter()
    th = getattr(backend, "_rebuild", None)
    inflight = bool(th is not None and th.is_alive())
    if inflight:
        th.join()
    wait_s = time.perf_counter() - t
    # The lexical merge into one segment (part of optimize()), timed on its own first.
    t = time.perf_counter()
    compact = getattr(backend, "compact_lexical", None)
    merged = bool(compact()) if compact is not None else False
    lexical_merge_s = time.perf_counter() - t
    t = time.perf_counter()
    backend.optimize()
    optimize_s = time.perf_counter() - t
    hnsw_after_load_s = time.perf_counter() - t_load_end - lexical_merge_s
    health = _health(backend)
    count = backend.count()
    t = time.perf_counter()
    backend.close()
    close_s = time.perf_counter() - t
    files = {
        p.name: round(dir_size_mb(p) if p.is_dir() else p.stat().st_size / 2**20, 2)
        for p in sorted(data_dir.iterdir())
    }
    graph_logs = [(ts, msg) for ts, msg in capture.records if "HNSW" in msg]
    rebuilds = [{"t_s": round(ts - t0, 2), "msg": msg} for ts, msg in graph_logs if ts < t_load_end]
    after_load_logs = [
        {"t_s": round(ts - t0, 2), "msg": msg} for ts, msg in graph_logs if ts >= t_load_end
    ]
    return {
        "size": n,
        "indexed": indexed,
        "failed": failed,
        "count": count,
        "health": health,
        "doc_generation_s": gen_s,
        "batch_size": bs,
        "index_s": sum(batch_s),
        "index_wall_s": index_wall_s,
        "index_docs_per_s": n / sum(batch_s),
        "batch_s": {
            "first": batch_s[0],
            "median": statistics.median(batch_s),
            "last": batch_s[-1],
            "max": max(batch_s),
        },
        "used_bulk": bulk is not None,
        "bulk_exit_s": bulk_exit_s,
        "hnsw_inflight_at_end": inflight,
        "hnsw_wait_inflight_s": wait_s,
        "optimize_s": optimize_s,
        "lexical_merge_s": lexical_merge_s if merged else None,
        "hnsw_after_load_s": hnsw_after_load_s,
        "close_s": close_s,
        "background_rebuilds": rebuilds,
        "after_load_logs": after_load_logs,
        "disk_mb": dir_size_mb(data_dir),
        "disk_files_mb": files,
        "build_process_rss_mb": rss_mb(),
    }


# --------------------------------------------------------------------------- query phase
def _time_ns(fn: Callable[[int], Any], idx: list[int]) -> tuple[list[float], list[Any]]:
    out_ms, results = [], []
    for i in idx:
        t = time.perf_counter_ns()
        r = fn(i)
        out_ms.append((time.perf_counter_ns() - t) / 1e6)
        results.append(r)
    return out_ms, results


def phase_query(job: dict[str, Any]) -> dict[str, Any]:
    import faiss  # imported before the first RSS reading, like the backend's dependencies
    import tantivy  # noqa: F401

    from hybrid_search.config import load_settings
    from hybrid_search.searcher import Searcher

    n = job["size"]
    data_dir = Path(job["data_dir"])
    queries = generate_queries(job["queries"], sku_pool=job["sku_pool"], seed=job["seed"])
    texts = [q["text"] for q in queries]
    kinds = [q["kind"] for q in queries]
    nq = len(texts)
    mem: dict[str, float] = {"after_imports": rss_mb()}

    settings = load_settings(embedded={"data_dir": str(data_dir)})
    searcher = Searcher.from_settings(settings)
    backend = searcher.backend
    t = time.perf_counter()
    count = backend.count()  # opens the index: tantivy, rows, cached HNSW graph
    open_s = time.perf_counter() - t
    mem["after_open_index"] = rss_mb()
    health = _health(backend)
    t = time.perf_counter()
    encoder = searcher.encoder
    model_load_s = time.perf_counter() - t
    mem["after_model_load"] = rss_mb()

    def request(i: int) -> dict[str, Any]:
        return {"query": texts[i], "mode": "hybrid", "k": 10}

    # Warm pass: every query once, so the QueryEncoder LRU holds every query vector.
    t = time.perf_counter()
    first = [searcher.search(request(i)) for i in range(nq)]
    warm_pass_s = time.perf_counter() - t
    mem["after_warm_pass"] = rss_mb()
    modes = {r.mode_used for r in first}
    empty = sum(1 for r in first if not r.hits)

    nocache_settings = load_settings(
        embedded={"data_dir": str(data_dir)}, embedding={"query_cache_size": 0}
    )
    # Same backend object (one opened index), own embedder with no query cache.
    nocache = Searcher(nocache_settings, searcher.template, backend)
    _ = nocache.encoder

    qvecs = np.load(job["queries_vectors"])
    vectors = np.ascontiguousarray(np.load(job["vectors"], mmap_mode="r")[:n], dtype=np.float32)
    cached = [encoder._cache.get(t) for t in texts] if hasattr(encoder, "_cache") else []
    qdiff = max(
        (float(np.max(np.abs(c - qvecs[i]))) for i, c in enumerate(cached) if c is not None),
        default=float("nan"),
    )

    def exact(i: int) -> np.ndarray:
        scores = vectors @ qvecs[i]
        top = np.argpartition(scores, -10)[-10:]
        return top[np.argsort(-scores[top])]

    def hybrid_cached(i: int) -> Any:
        return searcher.search(request(i))

    def hybrid_embed(i: int) -> Any:
        return nocache.search(request(i))

    methods: dict[str, Callable[[int], Any]] = {
        "exact_numpy": exact,
        "hybrid_cached": hybrid_cached,
        "hybrid_embed": hybrid_embed,
        # Diagnostics: the same calls with every native thread pool (numpy's OpenBLAS, faiss's
        # OpenMP and OpenBLAS) limited to one thread, to show what thread wake-ups cost per query.
        "exact_numpy_1thread": exact,
        "hybrid_cached_1thread": hybrid_cached,
    }
    single = {"exact_numpy_1thread", "hybrid_cached_1thread"}

    @contextlib.contextmanager
    def limits(name: str) -> Any:
        if name not in single:
            yield
            return
        before = faiss.omp_get_max_threads()
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            threadpool_limits = None
        ctx = threadpool_limits(1) if threadpool_limits else contextlib.nullcontext()
        with ctx:
            faiss.omp_set_num_threads(1)
            try:
                yield
            finally:
                faiss.omp_set_num_threads(before)

    warm = list(range(min(job["warmup"], nq)))
    for name, fn in methods.items():
        with limits(name):
            _time_ns(fn, warm)

    samples: dict[str, list[float]] = {m: [] for m in methods}
    hybrids = [m for m in methods if m.startswith("hybrid")]
    stage: dict[str, dict[str, list[float]]] = {m: {} for m in hybrids}
    overhead: dict[str, list[float]] = {m: [] for m in hybrids}
    by_kind: dict[str, dict[str, list[float]]] = {m: {} for m in methods}
    loads: list[float] = [os.getloadavg()[0]]
    order = list(methods)
    idx = list(range(nq))
    hits_before = encoder.hits
    for r in range(job["repeats"]):
        rot = order[r % len(order) :] + order[: r % len(order)]
        for name in rot:
            time.sleep(BLOCK_PAUSE_S)
            with limits(name):
                ms, results = _time_ns(methods[name], idx)
            loads.append(os.getloadavg()[0])
            samples[name].extend(ms)
            for i, (m, res) in enumerate(zip(ms, results, strict=True)):
                by_kind[name].setdefault(kinds[i], []).append(m)
                if name in stage:
                    for s, v in res.timings_ms.items():
                        stage[name].setdefault(s, []).append(v)
                    overhead[name].append(m - res.timings_ms.get("total", m))
    cache_hits = encoder.hits - hits_before

    # Recall@10 of the vector leg against the exact top-10 (rows = insertion order).
    window = settings.search.candidates

    def recall_pass(b: Any) -> dict[str, Any]:
        strict, tolerant, from_window, ms, ms_window = [], [], [], [], []
        for i in idx:
            scores = vectors @ qvecs[i]
            truth_rows = exact(i)
            truth = set(truth_rows.tolist())
            tenth = float(scores[truth_rows[-1]])
            got = [int(h.key) for h in b.vector(qvecs[i], k=10, filters=[])]
            strict.append(len(truth & set(got)) / 10)
            # near-ties: the catalogue has many near-duplicate products, so also count a row
            # whose exact cosine is within 1e-3 of the 10th best as found (diagnostic only)
            tolerant.append(min(10, sum(1 for r in got if scores[r] >= tenth - 1e-3)) / 10)
            wide = [int(h.key) for h in b.vector(qvecs[i], k=window, filters=[])]
            from_window.append(len(truth & set(wide[:10])) / 10)
        # Latency in separate loops, so no 300 MB exact scan evicts the caches in between.
        for i in warm:
            b.vector(qvecs[i], k=10, filters=[])
        for i in idx:
            t = time.perf_counter_ns()
            b.vector(qvecs[i], k=10, filters=[])
            ms.append((time.perf_counter_ns() - t) / 1e6)
        for i in idx:
            t = time.perf_counter_ns()
            b.vector(qvecs[i], k=window, filters=[])
            ms_window.append((time.perf_counter_ns() - t) / 1e6)
        return {
            "recall_at_10": float(np.mean(strict)),
            "recall_at_10_min": float(np.min(strict)),
            "recall_at_10_tolerant_1e-3": float(np.mean(tolerant)),
            "recall_at_10_of_window_call": float(np.mean(from_window)),
            "vector_k10_ms": summary(ms),
            "vector_window_ms": summary(ms_window),
        }

    rec = recall_pass(backend)
    vec_ms_summary, vec200_summary = rec["vector_k10_ms"], rec["vector_window_ms"]
    scores_10_11 = []
    for i in idx:
        top = np.sort(vectors @ qvecs[i])[-11:]
        scores_10_11.append(float(top[1] - top[0]))
    lex_ms = []
    for i in idx:
        t = time.perf_counter_ns()
        backend.lexical(texts[i], k=settings.search.candidates, filters=[])
        lex_ms.append((time.perf_counter_ns() - t) / 1e6)
    mem["end"] = rss_mb()

    # ef sweep: the same index opened by extra read-only backends with another ef_search.
    effective_ef = getattr(getattr(backend, "vsearch", None), "ef_search", None)
    ef_sweep: dict[str, Any] = {}
    if job.get("ef_sweep"):
        from hybrid_search.backends import create_backend

        for ef in job["ef_sweep"]:
            if ef == effective_ef:
                continue  # that is the default row
            other = create_backend(
                load_settings(embedded={"data_dir": str(data_dir), "hnsw_ef_search": ef}),
                searcher.template,
            )
            other.count()
            ef_sweep[str(ef)] = recall_pass(other)
            other.close()
            del other

    out = {
        "size": n,
        "count": count,
        "health": health,
        "open_index_s": open_s,
        "model_load_s": model_load_s,
        "warm_pass_s": warm_pass_s,
        "queries": nq,
        "repeats": job["repeats"],
        "warmup": len(warm),
        "modes_used": sorted(modes),
        "empty_results": empty,
        "query_vector_max_abs_diff": qdiff,
        "cache_hits_in_timed_runs": cache_hits,
        "load_avg_1m_during_timing": {"min": min(loads), "max": max(loads), "all": loads},
        "nocache_encoder_hits": nocache.encoder.hits,
        "latency_ms": {m: summary(v) for m, v in samples.items()},
        "latency_by_kind_p50_ms": {
            m: {k: pct(v, 50) for k, v in sorted(d.items())} for m, d in by_kind.items()
        },
        "stage_median_ms": {m: {s: pct(v, 50) for s, v in d.items()} for m, d in stage.items()},
        "stage_p99_ms": {m: {s: pct(v, 99) for s, v in d.items()} for m, d in stage.items()},
        "outside_timings_median_ms": {m: pct(v, 50) for m, v in overhead.items()},
        "vector_leg_k10_ms": vec_ms_summary,
        "vector_leg_window_ms": vec200_summary,
        "lexical_leg_window_ms": summary(lex_ms),
        "recall_at_10": rec["recall_at_10"],
        "recall_at_10_min": rec["recall_at_10_min"],
        "recall_at_10_tolerant_1e-3": rec["recall_at_10_tolerant_1e-3"],
        "recall_at_10_of_window_call": rec["recall_at_10_of_window_call"],
        "exact_gap_10th_11th_median": pct(scores_10_11, 50),
        "ef_sweep": ef_sweep,
        "rss_mb": mem,
        "settings": {
            "search": settings.search.model_dump(),
            "commercial_enabled": settings.commercial.enabled,
            "embedded": {k: str(v) for k, v in settings.embedded.model_dump().items()},
            "effective_hnsw_ef_search": effective_ef,
            "hnsw": {
                "m": searcher.template.vector.m,
                "template_ef_search": getattr(searcher.template.vector, "ef_search", None),
                "ef_construction": searcher.template.vector.ef_construction,
                "space_type": searcher.template.vector.space_type,
            },
            "embedder": first[0].embedder if first else None,
        },
        "machine_in_query_process": machine_info(),
    }
    nocache.encoder.close()
    searcher.close()
    return out


# --------------------------------------------------------------------------- orchestration
def _run_phase(phase: str, job: dict[str, Any], tmp: Path) -> dict[str, Any]:
    job_path = tmp / f"job-{phase}-{job['size']}.json"
    res_path = tmp / f"result-{phase}-{job['size']}.json"
    res_path.unlink(missing_ok=True)
    write_json(job_path, job)
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--phase",
        phase,
        "--job",
        str(job_path),
        "--result",
        str(res_path),
    ]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, check=False)
    if proc.returncode != 0 or not res_path.exists():
        raise RuntimeError(f"{phase} phase for {job['size']:,} docs failed (rc {proc.returncode})")
    res = json.loads(res_path.read_text())
    res["phase_wall_s"] = time.perf_counter() - t
    return res


def evaluate(results: list[dict[str, Any]], big: int) -> list[dict[str, Any]]:
    checks = []
    for r in results:
        n = r["size"]
        q = r["query"]
        hyb = q["latency_ms"]["hybrid_cached"]["p50"]
        exact = q["latency_ms"]["exact_numpy"]["p50"]
        checks.append(
            {
                "size": n,
                "target": "hybrid p50 (no query embedding) < exact numpy scan p50",
                "value": f"{hyb:.3f} ms vs {exact:.3f} ms",
                "pass": hyb < exact,
            }
        )
        if n >= big:
            ratio = exact / hyb
            checks.append(
                {
                    "size": n,
                    "target": f"at {big:,} docs: exact scan p50 / hybrid p50 >= 10",
                    "value": f"{ratio:.2f}x",
                    "pass": ratio >= 10,
                }
            )
        checks.append(
            {
                "size": n,
                "target": "vector-leg recall@10 >= 0.98",
                "value": f"{q['recall_at_10']:.4f}",
                "pass": q["recall_at_10"] >= 0.98,
            }
        )
    return checks


def _f(x: float, nd: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:,.{nd}f}"


def _load_range(chunks: list[dict[str, Any]]) -> str:
    loads = [c["load_1m"] for c in chunks if "load_1m" in c]
    return f"{min(loads):.1f}-{max(loads):.1f}" if loads else "not recorded"


def _rerank_depth() -> int:
    from hybrid_search.backends.embedded.vectors import RERANK_DEPTH

    return RERANK_DEPTH


def write_markdown(path: Path, data: dict[str, Any]) -> None:
    m = data["machine"]
    emb = data["embedding"]
    lines = [
        "# Embedded engine benchmark (real all-MiniLM-L6-v2 vectors)",
        "",
        f"Generated {data['finished_at']} by `benchmarks/bench_embedded.py`"
        + (" (**--quick smoke test, not a result**)" if data["quick"] else "")
        + ".",
        "",
        *command_lines(data["command"]),
        "## Machine",
        "",
        f"* CPU: {m['cpu']} ({m['cores']} logical cores; {m['cpu_flags'] or 'no AVX flags seen'})",
        f"* RAM: {m['ram_gib']} GiB; Python {m['python']}; {m['platform']}",
        "* versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        "* BLAS/OpenMP pools: "
        + (
            ", ".join(
                f"{p.get('internal_api')} {p.get('version') or ''} "
                f"({p.get('num_threads')} threads, {p.get('architecture')})"
                for p in m["threadpools"]
            )
            or "unknown"
        ),
        "* environment: "
        + (
            ", ".join(f"`{k}={v}`" for k, v in m.get("env", {}).items())
            or "no thread or HYBRID_SEARCH_* variables set (library defaults)"
        ),
        "* Noise: a 2-core virtual machine whose speed drifts by tens of percent from minute to "
        "minute (the 1-minute load average seen during the timed blocks is in the last table); "
        "single numbers are noisy, compare the ratios measured within the run.",
        "",
        "## Method",
        "",
        f"* **Corpus**: `benchmarks/corpus.py`, deterministic and prefix-stable (seed "
        f"{data['seed']}, corpus key `{data['corpus_key']}`): luxury products in 10 categories, "
        f"60 invented houses, every template field filled; the embedding text (title, brand, "
        f"category, colour, material, attributes, description) averages "
        f"{emb.get('words_mean', float('nan')):.0f} words. "
        + (
            f"The {min(data['sizes']):,}-doc corpus is the first {min(data['sizes']):,} docs of "
            f"the {max(data['sizes']):,}-doc one, embedded once."
            if len(data["sizes"]) > 1
            else ""
        ),
        f"* **Queries**: {data['queries']} unique storefront queries: "
        + ", ".join(f"{k} {v}" for k, v in data["query_kinds"].items())
        + " (SKU lookups only name documents present at every size).",
        f"* **Embeddings**: {emb['model_id']} via the project's embedder "
        f"(`create_embedder`, runtime {emb['runtime']}, {emb['threads']} intra-op threads, "
        "batch 64) over `hybrid_search.documents.embedding_text`. Query vectors come from "
        "`encode_query` (1 thread, the query-path setting).",
        "* **Build**: a fresh subprocess per size: `ensure_index`, then `backend.index(docs, "
        f"vectors)` in batches of {data['batch_size']:,} (one commit each) inside "
        "`backend.bulk()` where the backend has it (it defers background HNSW rebuilds to one "
        "build after the load), then `backend.optimize()`. *HNSW after load* is the time from "
        "the last `index` call to `optimize()`'s return (waiting for a background build "
        "included) less the *lexical merge*: `compact_lexical()`, the rewrite of the tantivy "
        "index into one segment that `optimize()` does, timed on its own after the HNSW wait; "
        "*rebuilds during load* counts HNSW builds that finished while indexing.",
        "* **Search**: a second fresh subprocess opens the index from disk (RSS measured here). "
        "`Searcher.search({'query': q, 'mode': 'hybrid', 'k': 10})`: default fusion "
        "(min_max + arithmetic_mean, weights 0.7/0.3, query-adaptive cap for code-like "
        "queries), typo-tolerant lexical leg (`search.fuzzy` always), commercial stage on, "
        "candidate window "
        f"{data['candidates']}. *No embedding*: every query was run once first so the "
        "QueryEncoder LRU returns cached vectors. *With embedding*: a Searcher built with "
        "`embedding.query_cache_size=0` over the same opened backend. "
        f"{data['warmup']} warm-up queries per method, then {data['repeats']} rounds over all "
        "queries, methods in rotating blocks, each block after a "
        f"{BLOCK_PAUSE_S:g} s pause (OpenBLAS's worker threads spin for ~0.1 s after the exact "
        "scan, which took a core from the block that followed); one query at a time, one "
        "thread, `perf_counter_ns` around the whole call. p50/p99 over all timed calls.",
        "* **Engine settings** (from the template and `EmbeddedSettings`, as configured): "
        + (
            "HNSW M={m}, ef_construction={efc}, ef_search {ef} (effective) over 8-bit "
            "scalar-quantised codes (faiss `IndexHNSWSQ`, stored in breadth-first walk order, "
            "codes and neighbour lists on 2 MiB pages where the kernel allows), at least {depth} "
            "graph candidates re-scored exactly against the float32 rows; exact search below "
            "{thr} vectors, background rebuild after {tail} unindexed rows.".format(
                depth=_rerank_depth(),
                m=data["results"][0]["query"]["settings"]["hnsw"]["m"],
                efc=data["results"][0]["query"]["settings"]["hnsw"]["ef_construction"],
                ef=data["results"][0]["query"]["settings"].get("effective_hnsw_ef_search"),
                thr=data["results"][0]["query"]["settings"]["embedded"]["exact_threshold"],
                tail=data["results"][0]["query"]["settings"]["embedded"]["rebuild_tail"],
            )
            if data["results"]
            else "-"
        ),
        "* **Exact scan**: `scores = V @ q; top = argpartition(scores, -10)[-10:]` + sort, "
        "V float32 n x 384 (unit vectors), in the same process and rounds.",
        "* **Recall@10**: `searcher.backend.vector(q, k=10, filters=[])` rows vs the exact top-10 "
        "rows (rows = insertion order; each doc indexed once).",
        "",
        "## Results",
        "",
        "| docs | hybrid p50 / p99 ms (no embed) | hybrid p50 / p99 ms (with embed) "
        "| exact numpy p50 / p99 ms | exact / hybrid p50 | recall@10 | vector leg k=10 p50 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        lat = r["query"]["latency_ms"]
        hc, he, ex = lat["hybrid_cached"], lat["hybrid_embed"], lat["exact_numpy"]
        lines.append(
            f"| {r['size']:,} | {_f(hc['p50'], 3)} / {_f(hc['p99'], 3)} "
            f"| {_f(he['p50'], 3)} / {_f(he['p99'], 3)} | {_f(ex['p50'], 3)} / {_f(ex['p99'], 3)} "
            f"| {_f(ex['p50'] / hc['p50'])}x | {r['query']['recall_at_10']:.4f} "
            f"| {_f(r['query']['vector_leg_k10_ms']['p50'], 3)} |"
        )
    lines += [
        "",
        "Stage medians from the responses' `timings_ms` (ms; hybrid without embedding / with "
        "embedding / without embedding with native pools at 1 thread). `outside total` is the "
        "wall time around `search()` minus its own `total` (request validation, response model):",
        "",
        "| docs | " + " | ".join(STAGES) + " | outside `total` |",
        "|---:|" + "---:|" * (len(STAGES) + 1),
    ]
    for r in data["results"]:
        sm = r["query"]["stage_median_ms"]
        cells = []
        names = ("hybrid_cached", "hybrid_embed", "hybrid_cached_1thread")
        variants = [v for v in names if v in sm]
        for s in STAGES:
            cells.append(" / ".join(_f(sm[v].get(s), 3) for v in variants))
        ov = r["query"]["outside_timings_median_ms"]
        cells.append(" / ".join(_f(ov.get(v), 3) for v in variants))
        lines.append(f"| {r['size']:,} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Vector-leg recall@10 in detail, and an `hnsw_ef_search` sweep (the same index opened by "
        "extra read-only backends; the default row is the configured value). *strict*: rows of "
        "`backend.vector(q, k=10)` that are in the exact top-10 (the target metric); *near-ties*: "
        "also counting a returned row whose exact cosine is within 1e-3 of the 10th best "
        "(diagnostic: the catalogue has many near-duplicate products); *top-10 of k=window*: "
        "the first 10 rows of the k=window call the hybrid actually makes:",
        "",
        "| docs | ef_search | recall@10 strict | near-ties | top-10 of k=window "
        "| vector k=10 p50 ms | vector k=window p50 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        q = r["query"]
        ef0 = q["settings"].get("effective_hnsw_ef_search") or q["settings"]["embedded"].get(
            "hnsw_ef_search", "?"
        )
        rows = [
            (
                f"{ef0} (default)",
                q["recall_at_10"],
                q["recall_at_10_tolerant_1e-3"],
                q["recall_at_10_of_window_call"],
                q["vector_leg_k10_ms"]["p50"],
                q["vector_leg_window_ms"]["p50"],
            )
        ]
        for ef, e in q.get("ef_sweep", {}).items():
            rows.append(
                (
                    ef,
                    e["recall_at_10"],
                    e["recall_at_10_tolerant_1e-3"],
                    e["recall_at_10_of_window_call"],
                    e["vector_k10_ms"]["p50"],
                    e["vector_window_ms"]["p50"],
                )
            )
        for ef, a, b, c, d, e2 in rows:
            lines.append(
                f"| {r['size']:,} | {ef} | {a:.4f} | {b:.4f} | {c:.4f} | {_f(d, 3)} | {_f(e2, 3)} |"
            )
    lines += [
        "",
        "Median gap between the exact 10th and 11th cosine: "
        + ", ".join(
            f"{r['size']:,} docs {r['query']['exact_gap_10th_11th_median']:.4f}"
            for r in data["results"]
        )
        + ".",
    ]
    lines += [
        "",
        "Diagnostic, same run: the same calls with every native thread pool limited to one "
        "thread (threadpoolctl for OpenBLAS and OpenMP, plus `faiss.omp_set_num_threads(1)`), "
        "p50 / p99 ms, and the 1-minute load average seen during the timed blocks:",
        "",
        "| docs | hybrid, no embed, 1 thread | exact numpy, 1 thread "
        "| exact / hybrid p50 (1 thread) | load avg min-max |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        q = r["query"]
        lat = q["latency_ms"]
        h1, e1 = lat.get("hybrid_cached_1thread"), lat.get("exact_numpy_1thread")
        if not h1 or not e1:
            continue
        la = q.get("load_avg_1m_during_timing", {})
        lines.append(
            f"| {r['size']:,} | {_f(h1['p50'], 3)} / {_f(h1['p99'], 3)} "
            f"| {_f(e1['p50'], 3)} / {_f(e1['p99'], 3)} | {_f(e1['p50'] / h1['p50'])}x "
            f"| {_f(la.get('min'), 1)}-{_f(la.get('max'), 1)} |"
        )
    lines += [
        "",
        "Legs called directly on the backend (p50 ms): vector k=10 / vector k=window / "
        "lexical k=window:",
        "",
    ]
    for r in data["results"]:
        q = r["query"]
        lines.append(
            f"* {r['size']:,}: {_f(q['vector_leg_k10_ms']['p50'], 3)} / "
            f"{_f(q['vector_leg_window_ms']['p50'], 3)} / "
            f"{_f(q['lexical_leg_window_ms']['p50'], 3)}"
        )
    lines += [
        "",
        "Hybrid p50 by query kind (ms, no embedding):",
        "",
    ]
    for r in data["results"]:
        bk = r["query"]["latency_by_kind_p50_ms"]["hybrid_cached"]
        lines.append(f"* {r['size']:,}: " + ", ".join(f"{k} {_f(v, 3)}" for k, v in bk.items()))
    lines += [
        "",
        "Build, memory and disk:",
        "",
        "| docs | embed docs/s | index s (docs/s) | HNSW after load s | lexical merge s "
        "| rebuilds during load | open index s | RSS after open MiB | RSS + model MiB "
        "| RSS end MiB | disk MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        b, q = r["build"], r["query"]
        lines.append(
            f"| {r['size']:,} | {_f(emb['docs_per_s'], 1)} | {_f(b['index_s'], 1)} "
            f"({_f(b['index_docs_per_s'], 0)}) | {_f(b.get('hnsw_after_load_s'), 1)} "
            f"| {_f(b.get('lexical_merge_s'), 1)} | {len(b['background_rebuilds'])} "
            f"| {_f(q['open_index_s'], 2)} | {_f(q['rss_mb']['after_open_index'], 0)} "
            f"| {_f(q['rss_mb']['after_model_load'], 0)} | {_f(q['rss_mb']['end'], 0)} "
            f"| {_f(b['disk_mb'], 0)} |"
        )
    lines += [
        "",
        f"Embedding the corpus: {emb['n']:,} documents in {_f(emb['embed_seconds'], 0)} s = "
        f"**{_f(emb['docs_per_s'], 1)} docs/s** ({emb['runtime']}, {emb['threads']} threads, "
        f"batch 64; 1-minute load average {_load_range(data['embedding_chunks'])} while it ran). "
        'RSS after open excludes the embedding model; "RSS + model" adds the '
        'ONNX session; "RSS end" also holds the numpy copy of V used for the exact scan.',
        "",
        "## Targets",
        "",
    ]
    for c in data["checks"]:
        lines.append(
            f"* **{'PASS' if c['pass'] else 'FAIL'}** ({c['size']:,} docs) {c['target']}: "
            f"{c['value']}"
        )
    lines.append("")
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[50_000, 200_000])
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument(
        "--out", type=Path, default=None, help="JSON output; the markdown goes beside it (.md)"
    )
    ap.add_argument("--quick", action="store_true", help="smoke test: 5k docs, 50 queries")
    ap.add_argument("--repeats", type=int, default=2, help="timed rounds over all queries")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=5_000)
    ap.add_argument(
        "--embed-threads",
        type=int,
        default=2,
        help="ONNX intra-op threads for embedding the corpus",
    )
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--data-root", type=Path, default=Path("/tmp/hybrid_bench"))
    ap.add_argument("--keep-data", action="store_true")
    ap.add_argument(
        "--ef-sweep",
        type=int,
        nargs="*",
        default=None,
        help="extra hnsw_ef_search values for a recall/latency sweep of the vector leg "
        "(default 64 128 256 512, the configured value skipped; none with --quick)",
    )
    ap.add_argument(
        "--embed-only", action="store_true", help="only fill the vector cache for max(--sizes)"
    )
    ap.add_argument("--phase", choices=["build", "query"], help=argparse.SUPPRESS)
    ap.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)  # the build phase captures INFO records itself

    if args.phase:
        job = json.loads(args.job.read_text())
        res = phase_build(job) if args.phase == "build" else phase_query(job)
        write_json(args.result, res)
        return 0

    if args.quick:
        sizes = [5_000]
        nq = min(args.queries, 50)
        repeats = 1
    else:
        sizes = sorted(set(args.sizes))
        nq = args.queries
        repeats = args.repeats
    ef_sweep = args.ef_sweep
    if ef_sweep is None:
        ef_sweep = [] if args.quick else [64, 128, 256, 512]
    out = args.out or (args.data_root / ("embedded-quick.json" if args.quick else "embedded.json"))
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    args.data_root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    key = corpus_key(args.seed)
    vec_path, emb_meta = ensure_doc_vectors(
        max(sizes), key, seed=args.seed, threads=args.embed_threads
    )
    if args.embed_only:
        return 0
    if "n" not in emb_meta:  # a part file (quick mode during a long embedding run)
        emb_meta = {
            "n": emb_meta["end"] - emb_meta["start"],
            "embed_seconds": emb_meta["seconds"],
            **emb_meta,
        }
    queries = generate_queries(nq, sku_pool=min(sizes), seed=args.seed)
    q_path, _q_meta = ensure_query_vectors(queries)
    from hybrid_search.config import load_settings

    defaults = load_settings()
    results = []
    for n in sizes:
        data_dir = args.data_root / f"embedded-{n}"
        job = {
            "size": n,
            "data_dir": str(data_dir),
            "vectors": str(vec_path),
            "queries_vectors": str(q_path),
            "model_id": emb_meta["model_id"],
            "seed": args.seed,
            "batch_size": args.batch_size,
            "queries": nq,
            "sku_pool": min(sizes),
            "repeats": repeats,
            "warmup": args.warmup,
            "ef_sweep": ef_sweep,
        }
        say(f"building {n:,} docs in {data_dir}")
        build = _run_phase("build", job, args.data_root)
        say(
            f"  index {build['index_s']:.1f} s, HNSW after load {build['hnsw_after_load_s']:.1f} s "
            f"(wait {build['hnsw_wait_inflight_s']:.1f} + optimize {build['optimize_s']:.1f}), "
            f"lexical merge {build.get('lexical_merge_s') or 0:.1f} s, "
            f"{len(build['background_rebuilds'])} rebuilds during load, "
            f"disk {build['disk_mb']:.0f} MiB"
        )
        say(f"searching {n:,} docs")
        query = _run_phase("query", job, args.data_root)
        lat = query["latency_ms"]
        say(
            f"  hybrid p50 {lat['hybrid_cached']['p50']:.3f} ms (with embed "
            f"{lat['hybrid_embed']['p50']:.3f}), exact {lat['exact_numpy']['p50']:.3f} ms, "
            f"recall@10 {query['recall_at_10']:.4f}"
        )
        results.append({"size": n, "build": build, "query": query})
        if not args.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)

    big = 200_000 if not args.quick else max(sizes)
    checks = evaluate(results, big)
    kinds: dict[str, int] = {}
    for q in queries:
        kinds[q["kind"]] = kinds.get(q["kind"], 0) + 1
    cmd_argv = sys.argv[1:] if argv is None else argv
    data = {
        "benchmark": "embedded",
        "quick": args.quick,
        "command": "python benchmarks/bench_embedded.py " + shlex.join(cmd_argv),
        "finished_at": dt.datetime.now().isoformat(timespec="seconds"),
        "wall_s": time.perf_counter() - started,
        "machine": results[0]["query"].pop("machine_in_query_process")
        if results
        else machine_info(),
        "seed": args.seed,
        "corpus_key": key,
        "sizes": sizes,
        "queries": nq,
        "query_kinds": kinds,
        "repeats": repeats,
        "warmup": args.warmup,
        "batch_size": args.batch_size,
        "candidates": defaults.search.candidates,
        "embedding": {k: v for k, v in emb_meta.items() if k != "chunks"},
        "embedding_chunks": emb_meta.get("chunks", []),
        "results": results,
        "checks": checks,
    }
    for r in results[1:]:
        r["query"].pop("machine_in_query_process", None)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, data)
    md = out.with_suffix(".md")
    write_markdown(md, data)
    say(f"wrote {out} and {md}")
    for c in checks:
        print(f"{'PASS' if c['pass'] else 'FAIL'}  [{c['size']:,}] {c['target']}: {c['value']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
