#!/usr/bin/env python
"""Load benchmark of the HTTP sidecar: N concurrent clients on loopback for a fixed duration.

For each corpus it starts ``hybrid-search serve`` in a subprocess (uvicorn, one process, the
embedded engine, the real all-MiniLM-L6-v2 model), waits for ``/readyz``, then for each client
count keeps that many HTTP/1.1 keep-alive connections busy with ``POST /v1/search`` (default
request: mode ``auto``, k=10, commercial stage on) for ``--duration`` seconds after a warm-up,
and reports throughput, client-side latency p50/p90/p99/max, the server's own ``timings_ms.total``
median, errors (any non-200, malformed body or transport error), and the CPU seconds the server
and the load generator used (both share the machine's cores).

Corpora:

* ``demo``: ``hybrid-search serve --demo`` (the bundled 600-product catalogue, built on first use);
* ``N`` (e.g. 50000): the first N documents of ``benchmarks/corpus.py``, indexed once through
  the backend with the cached MiniLM vectors from ``benchmarks/.cache/docs-<key>-<M>.npy``
  (M >= N; made by ``bench_embedded.py``), then ``hybrid-search serve`` over that directory.

Query-vector cache: ``cached`` is the default server (the LRU holds each query's vector after its
first request, as for a storefront's popular queries); ``uncached`` starts the server with
``HYBRID_SEARCH_EMBEDDING__QUERY_CACHE_SIZE=0`` so every request runs the model.

Run (serialised with the other benchmarks)::

    flock /tmp/hybrid-bench.lock python benchmarks/bench_api_load.py \\
        --corpus demo 50000 --clients 1 8 --duration 30 --out benchmarks/results/api-load.json
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_embedded import machine_info, pct  # noqa: E402
from benchutil import command_lines, free_port, write_json  # noqa: E402
from corpus import DEFAULT_SEED, corpus_key, generate_queries, iter_documents  # noqa: E402

CACHE_DIR = HERE / ".cache"


def say(msg: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def _cached_vectors(n: int) -> tuple[Path, dict[str, Any]]:
    key = corpus_key(DEFAULT_SEED)
    best: tuple[int, Path] | None = None
    for p in CACHE_DIR.glob(f"docs-{key}-*.npy"):
        tail = p.name[: -len(".npy")].split("-")[-1]
        if tail.isdigit() and int(tail) >= n and (best is None or int(tail) < best[0]):
            best = (int(tail), p)
    if best is None:
        sys.exit(
            f"no cached vectors for {n} documents of corpus {key} in {CACHE_DIR}: run "
            f"`python benchmarks/bench_embedded.py --sizes {n}` once to embed them"
        )
    meta_path = best[1].with_suffix(".json")
    return best[1], json.loads(meta_path.read_text()) if meta_path.exists() else {}


def build_index(n: int, data_dir: Path) -> dict[str, Any]:
    """Index the first n benchmark documents with their cached vectors (skipped if done)."""
    from hybrid_search.backends import create_backend
    from hybrid_search.config import load_settings
    from hybrid_search.documents import validate_document
    from hybrid_search.templates import load_template

    vec_path, meta = _cached_vectors(n)
    marker = data_dir / "bench-corpus.json"
    want = {"corpus_key": corpus_key(DEFAULT_SEED), "n": n, "vectors": vec_path.name}
    if marker.exists() and json.loads(marker.read_text()) == want:
        say(f"index of {n:,} docs: reusing {data_dir}")
        return {**want, "reused": True}
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = load_settings(embedded={"data_dir": str(data_dir)})
    template = load_template(settings.template, settings.templates_dir)
    backend = create_backend(settings, template)
    vectors = np.load(vec_path, mmap_mode="r")
    say(f"indexing {n:,} docs with cached vectors {vec_path.name} into {data_dir}")
    t = time.perf_counter()
    docs = [validate_document(d, template) for d in iter_documents(n, DEFAULT_SEED)]
    backend.ensure_index(model_id=meta["model_id"], dimension=int(vectors.shape[1]))
    with backend.bulk():  # type: ignore[attr-defined]
        for a in range(0, n, 5000):
            b = min(n, a + 5000)
            report = backend.index(docs[a:b], np.ascontiguousarray(vectors[a:b], np.float32))
            if report.failed:
                sys.exit(f"indexing failed: {report.failed[:3]}")
    backend.optimize()  # type: ignore[attr-defined]
    count = backend.count()
    backend.close()
    seconds = time.perf_counter() - t
    marker.write_text(json.dumps(want))
    say(f"indexed {count:,} docs in {seconds:.1f} s (HNSW included)")
    return {**want, "reused": False, "build_s": seconds, "count": count}


class Server:
    """``hybrid-search serve`` in a subprocess, stopped with SIGINT like Ctrl-C."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        exe = Path(sys.executable).with_name("hybrid-search")
        self.cmd = [str(exe), *args, "--port", str(self.port), "--no-access-log"]
        self.env = env
        self.log_path = log
        self.base = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            self.cmd, stdout=self.log, stderr=subprocess.STDOUT, env=self.env
        )
        import urllib.request

        deadline = time.monotonic() + 600
        while True:
            if self.proc.poll() is not None:
                sys.exit(
                    f"server exited {self.proc.returncode}: {self.log_path.read_text()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=5) as r:
                    if r.status == 200:
                        self.ready = json.loads(r.read())
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit("server not ready in 600 s")
            time.sleep(0.5)

    def cpu_s(self) -> float:
        import psutil

        t = psutil.Process(self.proc.pid).cpu_times()
        return float(t.user + t.system)

    def rss_mb(self) -> float:
        import psutil

        return float(psutil.Process(self.proc.pid).memory_info().rss / 2**20)

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


async def _load(
    base: str, queries: list[str], clients: int, seconds: float, record: bool
) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    server_ms: list[float] = []
    errors: list[str] = []
    modes: dict[str, int] = {}
    degraded = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:
        deadline = time.perf_counter() + seconds

        async def worker(offset: int) -> None:
            nonlocal degraded
            i = offset
            while time.perf_counter() < deadline:
                q = queries[i % len(queries)]
                i += clients
                t = time.perf_counter()
                try:
                    r = await client.post("/v1/search", json={"query": q, "k": 10})
                    body = r.json()
                    ok = r.status_code == 200 and isinstance(body.get("hits"), list)
                except (httpx.HTTPError, ValueError) as exc:
                    ok, body = False, {"error": repr(exc)}
                elapsed = (time.perf_counter() - t) * 1000
                if not record:
                    continue
                if not ok:
                    errors.append(json.dumps(body)[:300])
                    continue
                latencies.append(elapsed)
                server_ms.append(float(body["timings_ms"].get("total", float("nan"))))
                modes[body["mode_used"]] = modes.get(body["mode_used"], 0) + 1
                degraded += bool(body.get("degraded"))

        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in range(clients)))
        wall = time.perf_counter() - started
    return {
        "clients": clients,
        "duration_s": wall,
        "requests": len(latencies) + len(errors),
        "errors": len(errors),
        "error_samples": errors[:5],
        "throughput_rps": (len(latencies) + len(errors)) / wall,
        "latency_ms": {
            "p50": pct(latencies, 50),
            "p90": pct(latencies, 90),
            "p99": pct(latencies, 99),
            "max": max(latencies) if latencies else float("nan"),
            "mean": float(np.mean(latencies)) if latencies else float("nan"),
        },
        "server_total_ms_p50": pct(server_ms, 50),
        "modes": modes,
        "degraded": degraded,
    }


def run_corpus(
    corpus: str, args: argparse.Namespace, queries: list[str], data_root: Path
) -> dict[str, Any]:
    out: dict[str, Any] = {"corpus": corpus, "variants": []}
    if corpus == "demo":
        serve_args = ["--data-dir", str(data_root / "demo-root"), "serve", "--demo"]
    else:
        data_dir = data_root / f"bench-{corpus}"
        out["build"] = build_index(int(corpus), data_dir)
        serve_args = ["--data-dir", str(data_dir), "serve"]
    for variant in args.variants:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HYBRID_SEARCH_")}
        if variant == "uncached":
            env["HYBRID_SEARCH_EMBEDDING__QUERY_CACHE_SIZE"] = "0"
        log = data_root / f"serve-{corpus}-{variant}.log"
        with Server(serve_args, env, log) as server:
            say(f"{corpus}/{variant}: serving on {server.base}: {shlex.join(server.cmd)}")
            row: dict[str, Any] = {
                "variant": variant,
                "command": shlex.join(
                    ["hybrid-search", *serve_args, "--port", "P", "--no-access-log"]
                ),
                "env": {k: v for k, v in env.items() if k.startswith("HYBRID_SEARCH_")},
                "ready": server.ready,
                "runs": [],
            }
            # Every query once, one at a time: the cached variant then starts warm.
            import urllib.request

            for q in queries:
                req = urllib.request.Request(
                    server.base + "/v1/search",
                    data=json.dumps({"query": q, "k": 10}).encode(),
                    headers={"content-type": "application/json"},
                )
                urllib.request.urlopen(req, timeout=30).read()
            for clients in args.clients:
                asyncio.run(_load(server.base, queries, clients, args.warmup, record=False))
                load_before = os.getloadavg()[0]
                cpu0, t0 = server.cpu_s(), time.process_time()
                res = asyncio.run(_load(server.base, queries, clients, args.duration, record=True))
                res["server_cpu_s"] = server.cpu_s() - cpu0
                res["client_cpu_s"] = time.process_time() - t0
                res["load_1m_before"] = load_before
                res["load_1m_after"] = os.getloadavg()[0]
                lat = res["latency_ms"]
                say(
                    f"{corpus}/{variant} clients={clients}: {res['throughput_rps']:.0f} req/s, "
                    f"p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, errors {res['errors']}"
                )
                row["runs"].append(res)
            row["server_rss_mb"] = server.rss_mb()
        out["variants"].append(row)
    return out


def to_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        "# Sidecar API load benchmark",
        "",
        f"Generated {result['generated']} by `benchmarks/bench_api_load.py`.",
        "",
        *command_lines(result["command"]),
        "## Machine",
        "",
        f"* CPU: {m['cpu']} ({m['cores']} logical cores); RAM {m['ram_gib']} GiB; "
        f"Python {m['python']}",
        "* Server and load generator share these cores; the table gives the CPU seconds of each.",
        "* The machine was shared with other people's work; the 1-minute load average before and "
        "after each run is recorded in the JSON.",
        "",
        "## Method",
        "",
        *[f"* {line}" for line in result["method"]],
        "",
        "## Results",
        "",
        "| corpus | query vectors | clients | req/s | p50 ms | p90 ms | p99 ms | max ms "
        "| server total p50 ms | errors / requests | degraded | server CPU s | client CPU s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in result["corpora"]:
        name = "demo (600)" if c["corpus"] == "demo" else f"{int(c['corpus']):,}"
        for v in c["variants"]:
            for r in v["runs"]:
                lat = r["latency_ms"]
                lines.append(
                    f"| {name} | {v['variant']} | {r['clients']} | {r['throughput_rps']:.0f} "
                    f"| {lat['p50']:.2f} | {lat['p90']:.2f} | {lat['p99']:.2f} | {lat['max']:.1f} "
                    f"| {r['server_total_ms_p50']:.2f} | {r['errors']} / {r['requests']:,} "
                    f"| {r['degraded']} "
                    f"| {r['server_cpu_s']:.1f} | {r['client_cpu_s']:.1f} |"
                )
    loads = [
        x
        for c in result["corpora"]
        for v in c["variants"]
        for r in v["runs"]
        for x in (r["load_1m_before"], r["load_1m_after"])
    ]
    lines += ["", "## Reading", ""]
    for c in result["corpora"]:
        name = "demo catalogue" if c["corpus"] == "demo" else f"{int(c['corpus']):,} documents"
        for v in c["variants"]:
            one = next((r for r in v["runs"] if r["clients"] == 1), None)
            if one is not None:
                lines.append(
                    f"* {name}, {v['variant']}: one client sees p50 "
                    f"{one['latency_ms']['p50']:.1f} ms end to end, of which the search itself "
                    f"(`timings_ms.total`) took {one['server_total_ms_p50']:.1f} ms; the rest is "
                    "HTTP, JSON, validation, the threadpool hop and the load generator."
                )
    total = sum(r["requests"] for c in result["corpora"] for v in c["variants"] for r in v["runs"])
    errors = sum(r["errors"] for c in result["corpora"] for v in c["variants"] for r in v["runs"])
    lines += [
        f"* {errors} errors in {total:,} requests.",
        "* With 8 closed-loop clients the throughput is what 2 cores give server, load generator "
        "and everything else on the machine together; latency then grows by queueing "
        "(p50 is about clients / throughput), not by errors.",
        f"* The 1-minute load average was {min(loads):.1f}-{max(loads):.1f} during the runs on "
        f"{result['machine']['cores']} cores: other work shared the machine, so absolute numbers "
        "are pessimistic, and differences below about 2x between rows are within that noise.",
    ]
    lines += ["", "Server commands (port chosen free per run):", ""]
    for c in result["corpora"]:
        for v in c["variants"]:
            env = " ".join(f"{k}={x}" for k, x in v["env"].items())
            lines.append(
                f"* {c['corpus']} / {v['variant']}: `{(env + ' ') if env else ''}{v['command']}`"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", nargs="+", default=["demo", "50000"])
    p.add_argument("--clients", nargs="+", type=int, default=[1, 8])
    p.add_argument("--variants", nargs="+", default=["cached", "uncached"])
    p.add_argument("--duration", type=float, default=30.0, help="seconds per measured run")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of load before each run")
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--data-root", type=Path, default=Path("/tmp/hybrid-bench-api"))
    p.add_argument("--out", type=Path, default=HERE / "results" / "api-load.json")
    p.add_argument("--render", type=Path, help="only rewrite the .md of this results JSON")
    args = p.parse_args()
    if args.render is not None:
        args.render.with_suffix(".md").write_text(to_markdown(json.loads(args.render.read_text())))
        return 0
    args.data_root.mkdir(parents=True, exist_ok=True)
    queries = [q["text"] for q in generate_queries(args.queries)]
    command = shlex.join(["python", "benchmarks/bench_api_load.py", *sys.argv[1:]])
    result: dict[str, Any] = {
        "generated": f"{dt.datetime.now():%Y-%m-%dT%H:%M:%S}",
        "command": f"flock /tmp/hybrid-bench.lock {command}",
        "machine": machine_info(),
        "method": [
            "Server: `hybrid-search serve` (uvicorn, 1 process, FastAPI, sync routes in the "
            "threadpool), embedded engine, all-MiniLM-L6-v2 (ONNX, 1 thread per query); "
            "access log off (`--no-access-log`).",
            f"Load: {args.queries} unique storefront queries from `benchmarks/corpus.py` "
            f"(colour/material/item, brand/item, feature/item, paraphrases, SKUs), each client "
            f"cycling through them from its own offset; `POST /v1/search` with "
            f'`{{"query": q, "k": 10}}` (mode auto, commercial stage on, window 200).',
            f"Clients: httpx.AsyncClient, one keep-alive HTTP/1.1 connection per client, each "
            f"sending its next request as soon as the previous answer arrived (closed loop); "
            f"{args.warmup:.0f} s warm-up at the same concurrency, then {args.duration:.0f} s "
            f"measured. Latency is client-side (send to parsed JSON body).",
            "Errors: any status other than 200, a body without `hits`, or a transport error. "
            "Degraded: 200 answers that fell back to lexical because the query embedding failed "
            "or exceeded `embedding.timeout_s` (2 s), counted apart.",
            "`cached`: default server; every query was sent once before the runs, so its vector "
            "comes from the query LRU. `uncached`: `HYBRID_SEARCH_EMBEDDING__QUERY_CACHE_SIZE=0`, "
            "every request runs the model.",
            "50,000 docs: the benchmark corpus indexed through the backend with the cached MiniLM "
            "document vectors (the ones `bench_embedded.py` made), HNSW graph built (M=32, "
            "ef_construction 256, ef_search 256).",
        ],
        "corpora": [],
    }
    for corpus in args.corpus:
        result["corpora"].append(run_corpus(corpus, args, queries, args.data_root))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, result)
    args.out.with_suffix(".md").write_text(to_markdown(result))
    say(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    total = sum(r["errors"] for c in result["corpora"] for v in c["variants"] for r in v["runs"])
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
