"""Magnitude-aware fine-tuning on Home Depot: every policy against the cosine baseline.

For each policy (cosine, qnorm, dnorm, dot, learnable, head) the same base model
(all-MiniLM-L6-v2), the same training pairs and the same seed; then, on held-out queries of
seen families (in-domain) and of families never seen in training (out-of-domain, see
``split.py``): the dense leg (exact inner product over the policy's query/document sides) and the
hybrid (tantivy BM25 + dense, min_max + arithmetic mean: the shipped 0.7/0.3 and 0.5/0.5),
nDCG@10 and recall@10, each against the cosine baseline and the off-the-shelf model with a paired
randomisation test over queries; plus the magnitude diagnostics of each model.

    flock /tmp/hybrid-bench.lock python benchmarks/magnitude/run.py

Models and vectors are cached in ``benchmarks/.cache/magnitude/`` (delete it to retrain).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import write_markdown
from split import OOD_FAMILIES, Split, load_split

from hybrid_search.config import EmbeddingSettings
from hybrid_search.embedding import create_embedder
from hybrid_search.embedding.magnitude import POLICIES
from hybrid_search.evaluation.metrics import evaluate, randomization_test
from hybrid_search.ranking.fusion import fuse
from hybrid_search.training import Pair, TrainConfig, train
from hybrid_search.training.diagnose import cohens_d, norm_stats, spearman

ROOT = Path(__file__).resolve().parents[2]
TOP = 100


def bm25_runs(split: Split, qids: list[str]) -> dict[str, list[tuple[str, float]]]:
    """tantivy BM25 over the titles (english stemming), top 100 per query."""
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=False, tokenizer_name="en_stem")
    schema = builder.build()
    index = tantivy.Index(schema)
    writer = index.writer(50_000_000, 1)
    for pid, title in split.corpus.items():
        writer.add_document(tantivy.Document(id=pid, title=title))
    writer.commit()
    index.reload()
    searcher = index.searcher()
    runs = {}
    for qid in qids:
        text = re.sub(r"[^\w\s]", " ", split.queries[qid]).strip()
        if not text:
            runs[qid] = []
            continue
        hits = searcher.search(index.parse_query(text, ["title"]), TOP).hits
        runs[qid] = [(searcher.doc(addr)["id"][0], float(score)) for score, addr in hits]
    return runs


def encode(model: str, split: Split, qids: list[str], cache: Path) -> dict[str, np.ndarray]:
    """Query-side and document-side vectors of a model, through the shipped embedder."""
    if (cache / "docs.npy").exists():
        return {"q": np.load(cache / "queries.npy"), "d": np.load(cache / "docs.npy")}
    embedder = create_embedder(EmbeddingSettings(model=model, backend="torch"))
    t = time.perf_counter()
    q = np.stack([embedder.encode_query(split.queries[qid]) for qid in qids])
    d = embedder.encode_documents(list(split.corpus.values()), batch_size=64)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(cache / "queries.npy", q)
    np.save(cache / "docs.npy", d)
    (cache / "encode.json").write_text(json.dumps({"seconds": time.perf_counter() - t}))
    return {"q": q, "d": d}


def dense_runs(
    vecs: dict[str, np.ndarray], doc_ids: list[str], qids: list[str], *, cosine: bool = False
) -> dict[str, list[tuple[str, float]]]:
    """Exact top 100 by inner product (what an innerproduct index returns), or by cosine."""
    d = vecs["d"]
    if cosine:
        d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    scores = vecs["q"] @ d.T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :TOP]
    return {qid: [(doc_ids[j], float(scores[i, j])) for j in top[i]] for i, qid in enumerate(qids)}


def hybrid(lex: list[tuple[str, float]], vec: list[tuple[str, float]], w: float) -> list[str]:
    """The shipped fusion: min_max + arithmetic mean, lexical weight ``w``."""
    fused = fuse([lex, vec], weights=[w, 1.0 - w])
    return [str(k) for k in fused.keys]


def per_query(runs: dict[str, list[str]], split: Split, qids: list[str]) -> dict[str, np.ndarray]:
    """Per-query nDCG@10 and recall@10 (pytrec_eval, through hybrid_search.evaluation)."""
    scores = evaluate({q: split.qrels[q] for q in qids}, {q: runs[q] for q in qids})
    return {m: np.array([scores[m][q] for q in qids]) for m in ("ndcg@10", "recall@10")}


def paired_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided paired randomisation test over queries (10,000 sign flips, seed 0)."""
    return randomization_test(a, b)


def diagnostics(vecs: dict[str, np.ndarray], split: Split, doc_ids: list[str]) -> dict[str, Any]:
    """Document-norm statistics, Cohen's d (judged grade 2 vs grade 0), correlations."""
    norms = np.linalg.norm(vecs["d"], axis=1)
    row = {pid: i for i, pid in enumerate(doc_ids)}
    rel, non = [], []
    for judged in split.qrels.values():
        for pid, grade in judged.items():
            if pid in row and grade == 2:
                rel.append(norms[row[pid]])
            elif pid in row and grade == 0:
                non.append(norms[row[pid]])
    lengths = [len(t.split()) for t in split.corpus.values()]
    popularity = [split.popularity.get(pid, 0) for pid in doc_ids]
    stats = norm_stats(norms)
    if not stats.cv > 1e-5:  # unit vectors: their norms are float noise, no signal to correlate
        return {"norm": vars(stats), "cohens_d_rel_vs_nonrel": None, "pairs_rel_nonrel": []}
    return {
        "norm": vars(stats),
        "cohens_d_rel_vs_nonrel": cohens_d(np.array(rel), np.array(non)),
        "pairs_rel_nonrel": [len(rel), len(non)],
        "spearman_norm_length": spearman(norms, lengths),
        "spearman_norm_popularity": spearman(norms, popularity),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/datasets/homedepot")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/magnitude")
    parser.add_argument("--cache", type=Path, default=ROOT / "benchmarks/.cache/magnitude")
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--seed", type=int, default=0, help="split seed (and default train seed)")
    parser.add_argument("--train-seeds", help="comma-separated training seeds (default: --seed)")
    parser.add_argument("--train-pairs", type=int, default=1500)
    parser.add_argument("--test-queries", type=int, default=300)
    parser.add_argument("--corpus-size", type=int, default=5000)
    parser.add_argument("--train-layers", type=int, default=2)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=32)
    args = parser.parse_args(argv)
    if not (args.data / "qrels.tsv").exists():
        print(f"no Home Depot data in {args.data}", file=sys.stderr)
        return 2
    started = datetime.now(timezone.utc)
    split = load_split(
        args.data,
        seed=args.seed,
        test_queries=args.test_queries,
        train_pairs=args.train_pairs,
        corpus_size=args.corpus_size,
    )
    qids = split.test["in_domain"] + split.test["out_of_domain"]
    doc_ids = list(split.corpus)
    pairs = [Pair(q, t, p) for q, t, p in split.train_pairs]
    tag = f"s{args.seed}-p{args.train_pairs}-q{args.test_queries}-c{args.corpus_size}"
    t = time.perf_counter()
    lexical = bm25_runs(split, qids)
    print(f"BM25 over {len(doc_ids)} titles: {time.perf_counter() - t:.1f} s", flush=True)

    seeds = [int(x) for x in args.train_seeds.split(",")] if args.train_seeds else [args.seed]
    training: dict[str, Any] = {}
    models: dict[tuple[str, int], str] = {
        ("off-the-shelf", seeds[0]): "sentence-transformers/all-MiniLM-L6-v2"
    }
    for seed in seeds:
        suffix = "" if seed == args.seed else f"-t{seed}"
        for policy in args.policies.split(","):
            folder = args.cache / tag / f"model-{policy}{suffix}"
            if not (folder / "magnitude.json").exists():
                config = TrainConfig(
                    policy=policy,
                    seed=seed,
                    batch_size=args.batch_size,
                    learning_rate=args.learning_rate,
                    max_length=args.max_length,
                    train_layers=args.train_layers,
                    calibration_texts=64,
                )
                result = train(pairs, folder, config)
                print(
                    f"{policy} seed {seed}: {result.steps} steps in {result.seconds:.0f} s, "
                    f"loss {result.loss_first:.3f} -> {result.loss_last:.3f}",
                    flush=True,
                )
            spec = json.loads((folder / "magnitude.json").read_text())
            keys = ("gamma_q", "gamma_d", "query_scale", "document_scale", "head_bias")
            training.setdefault(policy, {})[str(seed)] = {k: spec[k] for k in keys} | {
                "seconds": spec["training"]["seconds"],
                "steps": spec["training"]["steps"],
            }
            models[(policy, seed)] = str(folder)
    systems: dict[tuple[str, int], dict[str, Any]] = {}
    for (name, seed), model in models.items():
        t = time.perf_counter()
        suffix = "" if seed == args.seed or name == "off-the-shelf" else f"-t{seed}"
        vecs = encode(model, split, qids, args.cache / tag / f"vectors-{name}{suffix}")
        dense = dense_runs(vecs, doc_ids, qids)
        as_cos = dense_runs(vecs, doc_ids, qids, cosine=True)
        runs = {
            "dense": {q: [d for d, _ in dense[q]] for q in qids},
            "dense-as-cosine": {q: [d for d, _ in as_cos[q]] for q in qids},
            "hybrid-0.7/0.3": {q: hybrid(lexical[q], dense[q], 0.7) for q in qids},
            "hybrid-0.5/0.5": {q: hybrid(lexical[q], dense[q], 0.5) for q in qids},
        }
        systems[(name, seed)] = {"runs": runs, "diagnostics": diagnostics(vecs, split, doc_ids)}
        print(f"{name} seed {seed}: scored in {time.perf_counter() - t:.0f} s", flush=True)
    bm25_run = {q: [d for d, _ in lexical[q]] for q in qids}
    names = list(dict.fromkeys(name for name, _ in systems))

    results: dict[str, Any] = {"splits": {}}
    for split_name, split_q in split.test.items():
        bm25 = per_query(bm25_run, split, split_q)
        rows: dict[str, Any] = {"bm25": {m: float(v.mean()) for m, v in bm25.items()}}
        by_seed = {
            key: {leg: per_query(r, split, split_q) for leg, r in s["runs"].items()}
            for key, s in systems.items()
        }
        # per-query values averaged over the training seeds, then tested query by query
        scores: dict[str, dict[str, dict[str, np.ndarray]]] = {}
        for name in names:
            keys = [k for k in by_seed if k[0] == name]
            scores[name] = {
                leg: {
                    m: np.mean([by_seed[k][leg][m] for k in keys], axis=0)
                    for m in by_seed[keys[0]][leg]
                }
                for leg in by_seed[keys[0]]
            }
        for name, legs in scores.items():
            row: dict[str, Any] = {}
            for leg, metrics in legs.items():
                for metric, values in metrics.items():
                    row[f"{leg} {metric}"] = float(values.mean())
                    base = scores["cosine"][leg][metric] if "cosine" in scores else None
                    if base is not None and name != "cosine":
                        row[f"{leg} {metric} p_vs_cosine"] = paired_p(values, base)
                    shelf = scores["off-the-shelf"][leg][metric]
                    if name != "off-the-shelf":
                        row[f"{leg} {metric} p_vs_off_the_shelf"] = paired_p(values, shelf)
                    if leg.startswith("hybrid"):
                        row[f"{leg} {metric} p_vs_bm25"] = paired_p(values, bm25[metric])
            row["per_seed"] = {
                str(k[1]): {
                    f"{leg} ndcg@10": float(by_seed[k][leg]["ndcg@10"].mean())
                    for leg in ("dense", "hybrid-0.7/0.3", "hybrid-0.5/0.5")
                }
                for k in by_seed
                if k[0] == name
            }
            rows[name] = row
        results["splits"][split_name] = {"queries": len(split_q), "systems": rows}
    diag: dict[str, Any] = {}
    for name in names:
        per = {str(k[1]): s["diagnostics"] for k, s in systems.items() if k[0] == name}
        first = next(iter(per.values()))
        mean: dict[str, Any] = {
            key: float(np.mean([d[key] for d in per.values()]))
            for key in first
            if isinstance(first[key], float)
        }
        for key in ("cohens_d_rel_vs_nonrel", "spearman_norm_length", "spearman_norm_popularity"):
            if mean.get(key) is None or np.isnan(mean[key]):
                mean[key] = None
        mean["norm"] = {
            key: float(np.mean([d["norm"][key] for d in per.values()])) for key in first["norm"]
        }
        diag[name] = {**mean, "seeds": per}
    results.update(
        {
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": "flock /tmp/hybrid-bench.lock python benchmarks/magnitude/run.py "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": f"{platform.processor() or platform.machine()}, "
            f"{__import__('os').cpu_count()} cores, {platform.platform()}",
            "setup": {
                **{k: str(v) for k, v in vars(args).items()},
                "ood_families": list(OOD_FAMILIES),
                "corpus": len(doc_ids),
                "train_pairs": len(pairs),
                "test": {k: len(v) for k, v in split.test.items()},
            },
            "train_seeds": seeds,
            "training": training,
            "diagnostics": diag,
        }
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2, allow_nan=False))
    write_markdown(results, args.out.with_suffix(".md"))
    print(f"wrote {args.out.with_suffix('.json')} and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
