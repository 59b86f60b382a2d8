#!/usr/bin/env python
"""Soak test of the HTTP sidecar on loopback: searches while documents are written and deleted.

It starts ``hybrid-search serve --demo`` in a subprocess (uvicorn, one process, the embedded
engine, the real all-MiniLM-L6-v2 model, the bundled 600-product catalogue, an API key for
writes), waits for ``/readyz``, then for ``--duration`` seconds runs at once:

* ``--searchers`` clients sending ``POST /v1/search`` back to back (mixed modes, filters, pages);
* ``--writers`` clients, each owning its own id range ``SOAK-<w>-<n>``, looping over: upsert a
  batch of new documents, re-upsert (replace) some live ones, delete some live ones. Each writer
  keeps the ground truth of its own ids (live, with the version last written; or deleted).

Every response is checked: any non-2xx, malformed body, transport error or a search page holding
the same id twice is an error. At the end, the server is checked against the ground truth:
``/v1/info`` document count == 600 + live soak ids; every live id answers ``GET`` with the
version last written; every deleted id answers 404; paging through a lexical search for the
token every soak document carries returns each live soak id exactly once (no lost, no
duplicated, no resurrected documents). The server's RSS is sampled every ``--sample-s`` seconds;
"memory flat" compares the median RSS of the last third of the run with the second third.

Run (serialised with the other benchmarks)::

    flock /tmp/hybrid-bench.lock python benchmarks/bench_soak.py --duration 300 \\
        --out benchmarks/results/soak.json
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_api_load import Server, say  # noqa: E402
from bench_embedded import machine_info, pct  # noqa: E402
from benchutil import command_lines, write_json  # noqa: E402

KEY = "soak-api-key"
MARK = "soakmarker"  # one token every soak document carries (the catalogue has none)
DEMO_DOCS = 600
QUERIES = [
    "black leather tote",
    "warm winter coat",
    "silk scarf",
    "running shoes",
    "wool sweater",
    "gold earrings",
    "trench coat",
    "travel bag",
    "linen shirt",
    "cashmere",
    MARK,
    "ankle boots",
]
COLORS = ["black", "navy", "stone", "red", "green", "ivory"]
CATEGORIES = ["outerwear", "bags", "knitwear", "shoes", "accessories"]


@dataclass
class Stats:
    """Latencies and errors of one kind of request."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        lat = self.latencies_ms
        return {
            "requests": len(lat) + len(self.errors),
            "errors": len(self.errors),
            "error_samples": self.errors[:5],
            "latency_ms": {
                "p50": pct(lat, 50),
                "p90": pct(lat, 90),
                "p99": pct(lat, 99),
                "max": max(lat) if lat else float("nan"),
            },
        }


@dataclass
class Truth:
    """One writer's ground truth: live ids with their version, and deleted ids."""

    live: dict[str, int] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)


def soak_doc(doc_id: str, version: int, rng: random.Random) -> dict[str, Any]:
    color, category = rng.choice(COLORS), rng.choice(CATEGORIES)
    return {
        "sku": doc_id,
        "title": f"{color} {category} item {MARK} v{version}",  # the version is last
        "brand": "Soak & Sons",
        "category": category,
        "color": color,
        "description": f"A {color} piece for the soak test, version {version}. {MARK}",
        "in_stock": rng.random() < 0.8,
        "price": round(rng.uniform(10, 900), 2),
        "margin": round(rng.uniform(0.1, 0.7), 3),
        "popularity": round(rng.uniform(0, 50), 2),
        "inventory_received_at": "2026-09-01",
    }


def search_body(rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = {"query": rng.choice(QUERIES), "k": rng.choice([10, 20])}
    r = rng.random()
    if r < 0.15:
        body["mode"] = "lexical"
    elif r < 0.25:
        body["mode"] = "hybrid"
    if rng.random() < 0.3:
        body["filters"] = {"in_stock": True}
    if rng.random() < 0.2:
        body["page"] = rng.randint(1, 3)
    return body


async def searcher_task(
    client: Any, rng: random.Random, deadline: float, stats: Stats, modes: dict[str, int]
) -> None:
    import httpx

    while time.perf_counter() < deadline:
        body = search_body(rng)
        t = time.perf_counter()
        try:
            r = await client.post("/v1/search", json=body)
            data = r.json()
            ids = [h["id"] for h in data.get("hits", [])] if r.status_code == 200 else []
            problem = None
            if r.status_code != 200 or not isinstance(data.get("hits"), list):
                problem = f"{r.status_code} {json.dumps(data)[:200]}"
            elif len(ids) != len(set(ids)):
                problem = f"duplicate ids in one page for {body}: {ids}"
        except (httpx.HTTPError, ValueError) as exc:
            problem, data = repr(exc), {}
        elapsed = (time.perf_counter() - t) * 1000
        if problem:
            stats.errors.append(problem)
            continue
        stats.latencies_ms.append(elapsed)
        modes[data["mode_used"]] = modes.get(data["mode_used"], 0) + 1


async def _timed(client: Any, stats: Stats, method: str, url: str, **kw: Any) -> Any:
    import httpx

    t = time.perf_counter()
    try:
        r = await client.request(method, url, headers={"x-api-key": KEY}, **kw)
        data = r.json()
    except (httpx.HTTPError, ValueError) as exc:
        stats.errors.append(f"{method} {url}: {exc!r}")
        return None
    if r.status_code != 200:
        stats.errors.append(f"{method} {url}: {r.status_code} {json.dumps(data)[:200]}")
        return None
    stats.latencies_ms.append((time.perf_counter() - t) * 1000)
    return data


async def writer_task(
    client: Any, w: int, rng: random.Random, deadline: float, truth: Truth, stats: Stats, batch: int
) -> None:
    n = 0
    while time.perf_counter() < deadline:
        # upsert a batch of new documents
        docs = []
        for _ in range(batch):
            doc_id = f"SOAK-{w}-{n:06d}"
            n += 1
            docs.append(soak_doc(doc_id, 1, rng))
        data = await _timed(client, stats, "POST", "/v1/documents", json={"documents": docs})
        if data is not None:
            if data["failed"]:
                stats.errors.append(f"upsert reported failures: {data['items'][:3]}")
            for item, doc in zip(data["items"], docs, strict=True):
                if item["status"] == "indexed":
                    truth.live[doc["sku"]] = 1
        # replace a few live documents with a new version
        live = sorted(truth.live)
        if len(live) > batch:
            chosen = rng.sample(live, max(1, batch // 2))
            versions = [truth.live[i] + 1 for i in chosen]
            docs = [soak_doc(i, v, rng) for i, v in zip(chosen, versions, strict=True)]
            data = await _timed(client, stats, "POST", "/v1/documents", json={"documents": docs})
            if data is not None:
                for item, doc, v in zip(data["items"], docs, versions, strict=True):
                    if item["status"] == "indexed":
                        truth.live[doc["sku"]] = v
        # delete a few live documents
        live = sorted(truth.live)
        if len(live) > 2 * batch:
            for doc_id in rng.sample(live, max(1, batch // 3)):
                data = await _timed(client, stats, "DELETE", f"/v1/documents/{doc_id}")
                if data is not None and data.get("deleted"):
                    del truth.live[doc_id]
                    truth.deleted.add(doc_id)


async def rss_task(server: Server, deadline: float, every_s: float, out: list[list[float]]) -> None:
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        out.append([round(time.perf_counter() - start, 1), round(server.rss_mb(), 1)])
        await asyncio.sleep(every_s)
    out.append([round(time.perf_counter() - start, 1), round(server.rss_mb(), 1)])


async def verify(client: Any, truths: list[Truth]) -> dict[str, Any]:
    """Check the index against the writers' ground truth; every mismatch is listed."""
    live = {i: v for t in truths for i, v in t.live.items()}
    deleted = set().union(*(t.deleted for t in truths))
    problems: list[str] = []
    info = (await client.get("/v1/info")).json()
    backend = (await client.get("/healthz")).json()["backend"]
    if info["documents"] != DEMO_DOCS + len(live):
        problems.append(f"count {info['documents']} != {DEMO_DOCS} + {len(live)} live soak docs")
    wrong_version = missing = 0
    for doc_id, version in live.items():
        r = await client.get(f"/v1/documents/{doc_id}")
        if r.status_code != 200:
            missing += 1
        elif not r.json()["source"]["title"].endswith(f" v{version}"):
            wrong_version += 1
    resurrected = 0
    for doc_id in deleted:
        if (await client.get(f"/v1/documents/{doc_id}")).status_code != 404:
            resurrected += 1
    # Page through a lexical search for the marker every soak document carries.
    seen: list[str] = []
    page = 0
    while True:
        body = {"query": MARK, "mode": "lexical", "k": 100, "page": page, "candidates": 10000}
        body["commercial"] = {"enabled": False}
        r = await client.post("/v1/search", json=body)
        if r.status_code != 200:
            problems.append(f"marker search page {page}: {r.status_code} {r.text[:200]}")
            break
        hits = r.json()["hits"]
        seen += [h["id"] for h in hits]
        if len(hits) < 100:
            break
        page += 1
    duplicated = len(seen) - len(set(seen))
    found = set(seen)
    lost_in_search = len(set(live) - found)
    extra_in_search = len(found - set(live))
    for name, value in (
        ("missing by GET", missing),
        ("wrong version by GET", wrong_version),
        ("deleted but still found by GET", resurrected),
        ("duplicated in the marker search", duplicated),
        ("live but not found by the marker search", lost_in_search),
        ("found by the marker search but not live", extra_in_search),
    ):
        if value:
            problems.append(f"{value} documents {name}")
    return {
        "backend": backend,
        "index_documents": info["documents"],
        "expected_documents": DEMO_DOCS + len(live),
        "live_soak_documents": len(live),
        "deleted_soak_documents": len(deleted),
        "marker_search_hits": len(seen),
        "missing": missing,
        "wrong_version": wrong_version,
        "resurrected": resurrected,
        "duplicated": duplicated,
        "lost_in_search": lost_in_search,
        "extra_in_search": extra_in_search,
        "problems": problems,
    }


async def read_only_phase(client: Any, server: Server, args: argparse.Namespace) -> dict[str, Any]:
    """Searches only, on the final index: with no writes, memory must not grow (a leak per
    request would show here, where the mixed phase's growth is the index growing)."""
    if args.read_only_s <= 0:
        return {"duration_s": 0, "errors": 0}
    say(f"read-only phase: {args.read_only_s:.0f} s of searches, no writes")
    stats = Stats()
    modes: dict[str, int] = {}
    rss: list[list[float]] = []
    deadline = time.perf_counter() + args.read_only_s
    await asyncio.gather(
        rss_task(server, deadline, args.sample_s, rss),
        *(
            searcher_task(client, random.Random(args.seed + 500 + i), deadline, stats, modes)
            for i in range(args.searchers)
        ),
    )
    values = [r for _, r in rss]
    half = max(1, len(values) // 2)
    return {
        "duration_s": args.read_only_s,
        **stats.summary(),
        "rss_mb": {
            "samples": rss,
            "median_first_half": float(np.median(values[:half])),
            "median_second_half": float(np.median(values[half:] or values)),
            "growth_mb": float(np.median(values[half:] or values) - np.median(values[:half])),
        },
    }


async def soak(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    conns = args.searchers + args.writers + 1
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    search_stats, write_stats = Stats(), Stats()
    modes: dict[str, int] = {}
    truths = [Truth() for _ in range(args.writers)]
    rss: list[list[float]] = []
    async with httpx.AsyncClient(base_url=server.base, limits=limits, timeout=60.0) as client:
        for q in QUERIES:  # fill the query-vector cache once, like a warmed storefront
            await client.post("/v1/search", json={"query": q})
        cpu0, wall0 = server.cpu_s(), time.perf_counter()
        deadline = wall0 + args.duration
        await asyncio.gather(
            rss_task(server, deadline, args.sample_s, rss),
            *(
                searcher_task(client, random.Random(args.seed + i), deadline, search_stats, modes)
                for i in range(args.searchers)
            ),
            *(
                writer_task(
                    client,
                    w,
                    random.Random(args.seed + 1000 + w),
                    deadline,
                    truths[w],
                    write_stats,
                    args.batch,
                )
                for w in range(args.writers)
            ),
        )
        wall = time.perf_counter() - wall0
        server_cpu = server.cpu_s() - cpu0
        say("load done; verifying the index against the writers' ground truth")
        checks = await verify(client, truths)
        read_only = await read_only_phase(client, server, args)
    values = [r for _, r in rss]
    third = max(1, len(values) // 3)
    middle, last = values[third : 2 * third] or values, values[2 * third :] or values
    growth = float(np.median(last) - np.median(middle))
    searches = search_stats.summary()
    writes = write_stats.summary()
    return {
        "read_only": read_only,
        "duration_s": wall,
        "server_cpu_s": server_cpu,
        "search": {**searches, "throughput_rps": searches["requests"] / wall, "modes": modes},
        "writes": {**writes, "throughput_rps": writes["requests"] / wall},
        "verify": checks,
        "rss_mb": {
            "samples": rss,
            "first": values[0],
            "median_second_third": float(np.median(middle)),
            "median_last_third": float(np.median(last)),
            "growth_last_vs_second_third_mb": growth,
            "max": max(values),
        },
        "ok": not search_stats.errors
        and not write_stats.errors
        and not checks["problems"]
        and not read_only["errors"],
    }


def _read_only_lines(ro: dict[str, Any]) -> list[str]:
    if not ro.get("duration_s"):
        return []
    lat, mem = ro["latency_ms"], ro["rss_mb"]
    return [
        f"Read-only phase ({ro['duration_s']:.0f} s of searches on the final index, no writes): "
        f"{ro['requests']} searches, {ro['errors']} errors, p50 {lat['p50']:.1f} ms, "
        f"p99 {lat['p99']:.1f} ms; RSS median {mem['median_first_half']:.0f} MB in the first "
        f"half, {mem['median_second_half']:.0f} MB in the second ({mem['growth_mb']:+.1f} MB).",
        "",
    ]


def to_markdown(result: dict[str, Any]) -> str:
    m, r = result["machine"], result["result"]
    s, w, v, mem = r["search"], r["writes"], r["verify"], r["rss_mb"]
    lines = [
        "# Soak test: searches while documents are written and deleted",
        "",
        f"Run {result['date']} on {m.get('cpu')} ({m.get('cores')} cores shared with other "
        "jobs), Python " + str(m.get("python")) + ".",
        "",
        *command_lines(result["command"]),
        "Method: `hybrid-search serve --demo` (embedded engine, all-MiniLM-L6-v2, the 600-product "
        "catalogue, API key on writes"
        + (
            f"; HNSW above {result['args']['hnsw_above']} vectors, rebuilt in the background every "
            "100 new rows, so searches run across graph rebuilds and tombstones"
            if result["args"]["hnsw_above"] is not None
            else ""
        )
        + f") on loopback; {result['args']['searchers']} search clients "
        f"and {result['args']['writers']} writers (batches of {result['args']['batch']}: upsert "
        "new, replace some, delete some; each writer keeps the ground truth of its own ids) for "
        f"{r['duration_s']:.0f} s; then the index is checked against the ground truth "
        "(count, GET of every live and deleted id with its version, and paging a lexical search "
        "for the token every soak document carries). See `benchmarks/bench_soak.py`.",
        "",
        "| | requests | errors | req/s | p50 ms | p90 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, x in (("search", s), ("writes (upsert/delete)", w)):
        lat = x["latency_ms"]
        lines.append(
            f"| {name} | {x['requests']} | {x['errors']} | {x['throughput_rps']:.1f} | "
            f"{lat['p50']:.1f} | {lat['p90']:.1f} | {lat['p99']:.1f} | {lat['max']:.1f} |"
        )
    lines += [
        "",
        f"Search modes used: {s['modes']}.",
        "",
        "Integrity at the end:",
        "",
        f"- documents in the index: {v['index_documents']} (expected {v['expected_documents']}: "
        f"600 catalogue + {v['live_soak_documents']} live soak documents; "
        f"{v['deleted_soak_documents']} soak documents deleted)",
        f"- lost (GET 404): {v['missing']}; wrong version: {v['wrong_version']}; deleted but "
        f"still there: {v['resurrected']}",
        f"- marker search: {v['marker_search_hits']} hits, duplicated {v['duplicated']}, live "
        f"not found {v['lost_in_search']}, found but not live {v['extra_in_search']}",
        f"- problems: {v['problems'] or 'none'}",
        f"- engine at the end: {v['backend'].get('rows')} rows written (upserts and replacements; "
        f"deleted and replaced rows are tombstones), HNSW graph over "
        f"{v['backend'].get('hnsw_rows')} of them (the rest searched exactly)",
        "",
        f"Server memory (RSS): {mem['first']:.0f} MB at the start of the load, median "
        f"{mem['median_second_third']:.0f} MB in the second third and "
        f"{mem['median_last_third']:.0f} MB in the last third "
        f"({mem['growth_last_vs_second_third_mb']:+.1f} MB), max {mem['max']:.0f} MB.",
        "",
        f"Server CPU: {r['server_cpu_s']:.0f} s over {r['duration_s']:.0f} s of wall time.",
        "",
        *_read_only_lines(r.get("read_only") or {}),
        "",
        f"Verdict: {'PASS' if r['ok'] else 'FAIL'} (zero errors and an exact index required).",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=300.0, help="seconds of load")
    ap.add_argument("--searchers", type=int, default=4)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=6, help="documents per upsert")
    ap.add_argument("--sample-s", type=float, default=5.0, help="RSS sampling period")
    ap.add_argument(
        "--read-only-s", type=float, default=120.0, help="then searches only, to see memory flat"
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--hnsw-above",
        type=int,
        default=300,
        help="EXACT_THRESHOLD for the server (HNSW + background rebuilds above it); "
        "-1: the default settings",
    )
    ap.add_argument("--out", type=Path, default=None, help="JSON result (and .md beside it)")
    args = ap.parse_args()
    if args.hnsw_above is not None and args.hnsw_above < 0:
        args.hnsw_above = None
    with tempfile.TemporaryDirectory(prefix="hybrid-soak-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HYBRID_SEARCH_")}
        env["HYBRID_SEARCH_API__API_KEY"] = KEY
        if args.hnsw_above is not None:
            # Past this many vectors the engine uses an HNSW graph, rebuilt in the background
            # every 100 new rows (or 10% tombstones): the soak then runs through rebuilds.
            env["HYBRID_SEARCH_EMBEDDED__EXACT_THRESHOLD"] = str(args.hnsw_above)
            env["HYBRID_SEARCH_EMBEDDED__REBUILD_TAIL"] = "100"
        serve_args = ["--data-dir", str(Path(tmp) / "data"), "serve", "--demo"]
        with Server(serve_args, env, Path(tmp) / "serve.log") as server:
            say(f"serving on {server.base}; soaking for {args.duration:.0f} s")
            result = asyncio.run(soak(server, args))
    out = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "command": "flock /tmp/hybrid-bench.lock python " + shlex.join(sys.argv),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "result": result,
    }
    s, v = result["search"], result["verify"]
    say(
        f"search p99 {s['latency_ms']['p99']:.1f} ms over {s['requests']} requests, "
        f"errors {s['errors']} + {result['writes']['errors']}; problems {v['problems']}"
    )
    if args.out is not None:
        write_json(args.out, out)
        args.out.with_suffix(".md").write_text(to_markdown(out))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
