"""What the HTTP stack adds to one storefront search (issue 18), variants interleaved in one run.

Every variant serves the same app (``create_app``) over its own copy of the demo index, in its
own process, on uvicorn; one keep-alive client (``http.client``, the leanest Python client)
alternates between them request by request (order flipped every other request), so machine
drift hits them alike. Latency is client-side (send to parsed JSON); the server's own
``timings_ms.total`` is read from each answer, and the gap between the two is the HTTP stack.

- ``asyncio+h11``: uvicorn's pure-Python loop and parser (what ``serve`` ran before uvloop and
  httptools were dependencies);
- ``uvloop+httptools``: what ``serve`` runs now (uvicorn's ``auto`` picks them);
- ``bare-route`` (reference, not shipped): the same search behind a plain Starlette route on the
  event loop, with no FastAPI dependency solving, response model or threadpool hop, and no API
  key check or metrics: a floor for what the FastAPI layer could still give back.

    python benchmarks/bench_http_stack.py --requests 3000 --out benchmarks/results/http-stack.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import command_lines, free_port, write_json
from corpus import generate_queries

VARIANTS = ("asyncio+h11", "uvloop+httptools", "bare-route")

_CLI = "import sys; from hybrid_search.cli import main; sys.exit(main(sys.argv[1:]))"

# The server process of one variant: argv = port, variant, data dir.
_SERVER = r"""
import sys
import uvicorn
from hybrid_search.api import create_app
from hybrid_search.cli import _parser, settings_from_args
from hybrid_search.demo import demo_settings, open_demo_index

port, variant, data = int(sys.argv[1]), sys.argv[2], sys.argv[3]
args = _parser().parse_args(["--data-dir", data, "serve", "--demo"])
settings = demo_settings(settings_from_args(args))
searcher, _ = open_demo_index(settings, rebuild=False, announce=lambda m: None)
app = create_app(settings, searcher=searcher)
loop, http = ("asyncio", "h11") if variant == "asyncio+h11" else ("uvloop", "httptools")
if variant == "bare-route":
    from starlette.responses import Response
    from starlette.routing import Route
    from hybrid_search.schemas import SearchRequest

    async def bare(request):
        body = SearchRequest.model_validate_json(await request.body())
        return Response(searcher.search(body).model_dump_json(), media_type="application/json")

    app.router.routes.insert(0, Route("/v1/search", bare, methods=["POST"]))
uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, loop=loop, http=http,
            log_level="warning")
"""


def _wait_ready(port: int, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"server on port {port} not ready after {timeout_s:.0f} s")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=3000, help="timed requests per variant")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/http-stack.json"))
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hybrid-bench-http-"))
    base = work / "demo-root"
    subprocess.run(
        [sys.executable, "-c", _CLI, "--data-dir", str(base), "demo"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    servers: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
    try:
        for variant in VARIANTS:
            data = work / variant
            shutil.copytree(base, data)
            port = free_port()
            proc = subprocess.Popen(
                [sys.executable, "-c", _SERVER, str(port), variant, str(data)],
                env={**os.environ, "ORT_DISABLE_TELEMETRY": "1"},
            )
            servers[variant] = (port, proc)
        for port, _ in servers.values():
            _wait_ready(port)
        queries = [q["text"] for q in generate_queries(300, sku_pool=600)]
        conns = {
            v: http.client.HTTPConnection("127.0.0.1", port) for v, (port, _) in servers.items()
        }

        def call(variant: str, query: str) -> dict[str, Any]:
            body = json.dumps({"query": query, "k": 10}).encode()
            conn = conns[variant]
            conn.request("POST", "/v1/search", body, {"content-type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                raise SystemExit(f"{variant}: HTTP {resp.status}: {data[:300]!r}")
            out: dict[str, Any] = json.loads(data)
            return out

        # Every query vector cached, every code path warm; interleaved like the timed part, so
        # no connection idles past uvicorn's 5 s keep-alive.
        for query in queries:
            for variant in VARIANTS:
                call(variant, query)
        client: dict[str, list[float]] = {v: [] for v in VARIANTS}
        server: dict[str, list[float]] = {v: [] for v in VARIANTS}
        load_before = os.getloadavg()[0]
        for i in range(args.requests):
            query = queries[i % len(queries)]
            for variant in VARIANTS if i % 2 == 0 else VARIANTS[::-1]:
                t = time.perf_counter()
                answer = call(variant, query)
                client[variant].append((time.perf_counter() - t) * 1000)
                server[variant].append(float(answer["timings_ms"]["total"]))
        load_after = os.getloadavg()[0]
    finally:
        for _, proc in servers.values():
            proc.terminate()
        for _, proc in servers.values():
            proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

    rows = []
    for variant in VARIANTS:
        c, s = client[variant], server[variant]
        rows.append(
            {
                "variant": variant,
                "client_p50_ms": statistics.median(c),
                "client_p90_ms": _percentile(c, 0.9),
                "client_p99_ms": _percentile(c, 0.99),
                "server_total_p50_ms": statistics.median(s),
                "gap_p50_ms": statistics.median(c) - statistics.median(s),
            }
        )
    command = "python benchmarks/bench_http_stack.py " + " ".join(sys.argv[1:])
    result = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "command": command,
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "load_1min_before": load_before,
            "load_1min_after": load_after,
        },
        "requests_per_variant": args.requests,
        "rows": rows,
    }
    write_json(args.out, result)
    lines = [
        "# HTTP stack: one search through uvicorn and FastAPI, variants interleaved",
        "",
        f"Generated {result['generated']} by `benchmarks/bench_http_stack.py` (method in its "
        "docstring): demo catalogue (600 products), query vectors cached, one keep-alive "
        f"`http.client` client, {args.requests} requests per variant alternating between them.",
        "",
        *command_lines(command),
        f"Machine: {os.cpu_count()} cores shared with other work (1-minute load "
        f"{load_before:.1f} before, {load_after:.1f} after); read the differences, not the "
        "absolute numbers.",
        "",
        "| variant | client p50 ms | p90 | p99 | server total p50 ms | HTTP gap p50 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| `{row['variant']}` | {row['client_p50_ms']:.3f} | {row['client_p90_ms']:.2f} | "
            f"{row['client_p99_ms']:.2f} | {row['server_total_p50_ms']:.3f} | "
            f"{row['gap_p50_ms']:.3f} |"
        )
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
