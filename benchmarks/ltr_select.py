"""Feature and LightGBM-parameter choice for the learned re-rank, by CV on train queries only.

``capture`` runs each query of a split through ``Searcher.search`` (the shipped settings,
``rerank: ltr`` answered by a recorder, as ``ltr train`` collects its rows) and keeps what the
features are built from: the fused window, the legs, the backend's ``candidate_scores``, and the
default's ranking. ``cv`` rebuilds the features from that (so a feature or parameter variant
costs a CV, not a second pass through the engine) and reports 5-fold cross-validated nDCG@10
by query (``training.ltr.cross_validate``, the folds ``ltr train`` uses) for each variant
(``drop``: feature columns left out; ``params``/``rounds``: LightGBM's). ``completion``
replays score completion (every candidate of the window scored on both legs: BM25 / its max,
min-max cosine; ``(1 - w) lexical + w vector``) against the default's ranking.

Only the train split is used for choosing; ``completion`` on the held-out capture is reporting.

    python benchmarks/ltr_select.py capture --split train --out benchmarks/.cache/train-windows.pkl
    python benchmarks/ltr_select.py cv benchmarks/.cache/train-windows.pkl '[{"name": "v2"}]'
    python benchmarks/ltr_select.py completion benchmarks/.cache/train-windows.pkl
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np

from hybrid_search.config import load_settings
from hybrid_search.evaluation.datasets import load_beir
from hybrid_search.evaluation.metrics import compare, evaluate, mean_metrics
from hybrid_search.evaluation.session import QuerySplit, open_session
from hybrid_search.ranking.ltr_features import build_features, feature_names
from hybrid_search.training.ltr import QueryRows, cross_validate

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "homedepot"


def capture(split: str, out: Path, dataset: Path, cache_dir: Path) -> None:
    """Pickle each query's window inputs and the default's ranking."""
    settings = load_settings()
    settings.search.rerank = "none"
    session = open_session(settings, dataset, text_fields=["title"], cache_dir=cache_dir)
    qids = QuerySplit(5, 1000, None, 0).ids(session.dataset, split)  # type: ignore[arg-type]
    searcher = session.searcher
    seen: dict[str, Any] = {}

    class Recorder:
        def check_embedding(self, model_id: str) -> None:
            del model_id

        def rerank(self, backend, query, fused, leg_names, embedding, *, fuzzy):  # type: ignore[no-untyped-def]
            scores = backend.candidate_scores(query, embedding, list(fused.keys), fuzzy=fuzzy)
            seen["w"] = (query, fused, list(leg_names), scores, fuzzy)

    searcher.ltr = Recorder()  # type: ignore[assignment]
    data = {}
    started = time.time()
    for n, qid in enumerate(qids):
        seen.clear()
        request = {"query": session.dataset.queries[qid], "k": 100, "rerank": "ltr"}
        response = searcher.search({**request, "commercial": {"enabled": False}})
        data[qid] = {"window": seen.get("w"), "default": [str(h["id"]) for h in response.hits]}
        if n % 1000 == 0:
            print(n, round(time.time() - started), "s", flush=True)
    with out.open("wb") as f:
        pickle.dump({"qids": qids, "data": data}, f)
    session.close()


def cv(path: Path, configs: list[dict[str, Any]], dataset: Path) -> None:
    """5-fold CV nDCG@10 of each variant on the captured queries."""
    with path.open("rb") as f:
        cap = pickle.load(f)
    ds = load_beir(dataset, text_fields=["title"])
    qids = cap["qids"]
    names = feature_names(["title"])
    full = {}
    for q in qids:
        window = cap["data"][q]["window"]
        if window is None:
            continue
        query, fused, legs, scores, fuzzy = window
        x = build_features(query, fused, legs, scores, fuzzy=fuzzy)
        grades = ds.qrels.get(q, {})
        labels = np.array([max(grades.get(d, 0), 0) for d in scores.ids], dtype=float)
        full[q] = QueryRows(q, scores.ids, x, labels)
    judged = {q: ds.qrels[q] for q in qids}
    default = evaluate(judged, {q: cap["data"][q]["default"] for q in qids})
    print("default", round(mean_metrics(default)["ndcg@10"], 4), flush=True)
    for c in configs:
        keep = [i for i, n in enumerate(names) if n not in set(c.get("drop", []))]
        rows = {q: QueryRows(r.qid, r.ids, r.features[:, keep], r.labels) for q, r in full.items()}
        started = time.time()
        run, _ = cross_validate(
            rows,
            qids,
            [names[i] for i in keep],
            folds=5,
            seed=0,
            params=c.get("params"),
            rounds=c.get("rounds", 200),
        )
        pq = evaluate(judged, run)
        m = mean_metrics(pq)
        d = float(np.mean([pq["ndcg@10"][q] - default["ndcg@10"][q] for q in qids]))
        line = {"name": c["name"], "ndcg@10": round(m["ndcg@10"], 4)}
        line |= {"judged": round(m["ndcg@10_judged"], 4), "vs_default": round(d, 4)}
        print(json.dumps(line | {"s": round(time.time() - started)}), flush=True)


def _min_max(x: np.ndarray) -> np.ndarray:
    lo, hi = np.nanmin(x), np.nanmax(x)
    if hi == lo:
        return np.ones_like(x)
    out = (x - lo) / (hi - lo)
    out[out == 0] = 0.001
    return out


def completion(path: Path, dataset: Path, weights: list[float]) -> None:
    """Score completion replayed over the captured windows, against the default."""
    with path.open("rb") as f:
        cap = pickle.load(f)
    ds = load_beir(dataset, text_fields=["title"])
    qids = cap["qids"]
    judged = {q: ds.qrels[q] for q in qids}
    default = evaluate(judged, {q: cap["data"][q]["default"] for q in qids})
    print("default", round(mean_metrics(default)["ndcg@10"], 4))
    for w in weights:
        run = {}
        for q in qids:
            d = cap["data"][q]
            if d["window"] is None or d["window"][2] != ["lexical", "vector"]:
                run[q] = d["default"]  # one leg ran (gate, or nothing found): unchanged
                continue
            _, _, _, scores, _ = d["window"]
            bm = np.asarray(scores.field_scores, float).max(axis=1)
            lex = bm / bm.max() if bm.max() > 0 else np.zeros_like(bm)
            cos = np.asarray(scores.cosines, float)
            vec = _min_max(np.where(np.isnan(cos), np.nanmin(cos), cos))
            order = np.argsort(-((1 - w) * lex + w * vec), kind="stable")
            run[q] = [scores.ids[i] for i in order[:100]]
        pq = evaluate(judged, run)
        c = compare(default["ndcg@10"], pq["ndcg@10"])
        m = mean_metrics(pq)
        line = {"w": w, "ndcg@10": round(m["ndcg@10"], 4), "judged": round(m["ndcg@10_judged"], 4)}
        print(json.dumps(line | {"delta_vs_default": round(c.delta, 4), "p": c.p_value}))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", type=Path, default=DATASET)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture")
    c.add_argument("--split", choices=["train", "heldout"], required=True)
    c.add_argument("--cache-dir", type=Path, default=Path("benchmarks/.cache"))
    c.add_argument("--out", type=Path, required=True)
    v = sub.add_parser("cv")
    v.add_argument("windows", type=Path)
    v.add_argument("configs", help='JSON list: [{"name", "drop": [...], "params", "rounds"}]')
    s = sub.add_parser("completion")
    s.add_argument("windows", type=Path)
    s.add_argument("--weights", default="0.2,0.25,0.3,0.35,0.4")
    args = p.parse_args()
    if args.cmd == "capture":
        capture(args.split, args.out, args.dataset, args.cache_dir)
    elif args.cmd == "cv":
        cv(args.windows, json.loads(args.configs), args.dataset)
    else:
        completion(args.windows, args.dataset, [float(w) for w in args.weights.split(",")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
