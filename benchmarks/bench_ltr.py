"""Latency of the learned re-rank of a 200-candidate window (issue 17: at most 2 ms p50).

On the Home Depot evaluation index (54,667 products, built by ``hybrid-search eval`` in
``--cache-dir``) and a model from ``hybrid-search ltr train``, for held-out queries:

- ``step``: the whole step as the Searcher runs it (``timings_ms["ltr"]`` of ``search`` with
  ``rerank: ltr``): the backend's ``candidate_scores`` (per-field BM25 over the window, cosines,
  field texts), the features, the model, the re-order;
- ``rerank``: what the step adds once the backend has answered: features + model + re-order
  (``rerank_cold``: the same on the first pass, before any text was tokenised and memoised);
- ``model``: ``LtrModel.predict`` alone on the 200 rows;
- ``candidate_scores``: the embedded backend's answer alone.

Each query's window is exactly 200 candidates (``ltr_window`` 200, windows with fewer are
skipped). One warm-up pass, then ``--repeat`` timed passes; percentiles over every timing.

    python benchmarks/bench_ltr.py --dataset ../shared/datasets/homedepot \
        --cache-dir benchmarks/.cache --model benchmarks/.cache/ltr-homedepot \
        --out benchmarks/results/ltr-homedepot/latency
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import command_lines, write_json

from hybrid_search.config import load_settings
from hybrid_search.evaluation.session import QuerySplit, open_session
from hybrid_search.ltr.model import load_model
from hybrid_search.ltr.stage import FeatureRecorder, rerank_with
from hybrid_search.ranking.ltr_features import build_features

WINDOW = 200


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--cache-dir", type=Path, required=True)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()

    settings = load_settings(search={"ltr_model": args.model, "ltr_window": WINDOW})
    session = open_session(settings, args.dataset, text_fields=["title"], cache_dir=args.cache_dir)
    searcher = session.searcher
    model = load_model(args.model)
    qids = QuerySplit(5, 1000, 3000, 0).ids(session.dataset, "heldout")[: args.queries]

    # The windows: the fused top 200 and the query vector, captured through the request path.
    windows = []
    recorder = FeatureRecorder(searcher.template)
    captured = {}

    def capture(_backend, _query, fused, leg_names, embedding, *, fuzzy):
        captured.update(fused=fused, legs=list(leg_names), vec=embedding, fuzzy=fuzzy)
        return None

    recorder.rerank = capture  # type: ignore[method-assign]
    stage = searcher.ltr  # the LtrStage built from search.ltr_model
    searcher.ltr = recorder
    for qid in qids:
        text = session.dataset.queries[qid]
        searcher.search({"query": text, "rerank": "ltr", "commercial": {"enabled": False}})
        if len(captured.get("fused", ())) == WINDOW:
            windows.append((text, dict(captured)))
        captured.clear()
    searcher.ltr = stage
    backend = searcher.backend

    timings: dict[str, list[float]] = {
        "step": [],
        "rerank": [],
        "rerank_cold": [],
        "model": [],
        "candidate_scores": [],
    }
    for rnd in range(args.repeat + 1):
        for text, w in windows:
            fused, legs, vec, fuzzy = w["fused"], w["legs"], w["vec"], w["fuzzy"]
            t0 = time.perf_counter()
            scores = backend.candidate_scores(text, vec, list(fused.keys), fuzzy=fuzzy)
            t1 = time.perf_counter()
            x = build_features(text, fused, legs, scores, fuzzy=fuzzy)
            result = rerank_with(model, fused, x)
            t2 = time.perf_counter()
            model.predict(x)
            t3 = time.perf_counter()
            resp = searcher.search(
                {"query": text, "rerank": "ltr", "commercial": {"enabled": False}}
            )
            if len(result.fused) != WINDOW:
                msg = f"{text!r}: the re-rank returned {len(result.fused)} of {WINDOW} candidates"
                raise SystemExit(msg)
            if rnd == 0:  # warm-up; the first pass also tokenises every text once (cold)
                timings["rerank_cold"].append((t2 - t1) * 1000)
                continue
            timings["candidate_scores"].append((t1 - t0) * 1000)
            timings["rerank"].append((t2 - t1) * 1000)
            timings["model"].append((t3 - t2) * 1000)
            timings["step"].append(resp.timings_ms["ltr"])
    searcher.close()

    stats = {
        name: {
            "p50_ms": float(np.percentile(v, 50)),
            "p90_ms": float(np.percentile(v, 90)),
            "p99_ms": float(np.percentile(v, 99)),
            "n": len(v),
        }
        for name, v in timings.items()
    }
    command = "python " + " ".join(sys.argv)
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "trees": model.booster.num_trees(),
        "features": len(model.features),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(
        args.out / "latency.json",
        {
            "stats": stats,
            "machine": machine,
            "command": command,
            "windows": len(windows),
            "window": WINDOW,
        },
    )
    lines = [
        f"# Learned re-rank latency: {WINDOW}-candidate windows, {len(windows)} queries",
        "",
        "| part | p50 ms | p90 ms | p99 ms | timings |",
        "|---|---|---|---|---|",
    ]
    for name, s in stats.items():
        lines.append(
            f"| `{name}` | {s['p50_ms']:.3f} | {s['p90_ms']:.3f} | {s['p99_ms']:.3f} | {s['n']} |"
        )
    lines += ["", f"Machine: {machine}", "", *command_lines(command)]
    (args.out / "latency.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
