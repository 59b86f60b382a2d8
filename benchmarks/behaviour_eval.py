"""What a behaviour block changes for "similar items" on the demo catalogue.

1. A seeded interaction log is generated for the 600 demo products
   (``hybrid_search/demo/behaviour.py``, the generator the demo indexes with): shopping
   sessions of an anchor product and up to 4 more, which mix outfit completion (another
   category, same house or colour), alternatives (same category, near price) and
   popularity-driven picks (the cascade source).
   It is a model of shoppers written for this evaluation, so it shows what the mechanism does
   with a signal of known shape, not what real shoppers would give.
2. Sessions are split 80/20. Co-occurrence embeddings (``embedding/cooccurrence.py``) come from
   the train sessions; 30 random products are removed from them (new arrivals, no behaviour).
3. Text vectors are the demo index's stored MiniLM vectors. For each setting, the knn vectors
   are the weighted concatenation of normalised blocks (``hybrid_search/blocks.py``) and each
   product's 10 nearest products by cosine (itself excluded) are its similar items.
4. Reported per setting: recall@10 of the products it co-occurs with in test sessions, share of
   same-category neighbours, share of slots given to the 5% most popular products, catalogue
   coverage, overlap@10 with text-only, and for the new arrivals their overlap@10 with
   text-only and the share of their neighbours that are new arrivals too.

Usage: python benchmarks/behaviour_eval.py --data-dir DIR --out benchmarks/results/behaviour
(DIR holds, or receives, the demo index: ``<DIR>/demo``, built on first use like ``demo``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import write_json

from hybrid_search.blocks import parse_blocks
from hybrid_search.config import load_settings
from hybrid_search.demo import demo_settings, load_catalogue, open_demo_index
from hybrid_search.demo.behaviour import split_log
from hybrid_search.embedding.cooccurrence import item_embeddings
from hybrid_search.observability.drift import EmbeddingSnapshot, save_snapshot


def neighbours(vectors: np.ndarray, k: int, *, space: str = "cosine") -> np.ndarray:
    """Each row's k nearest rows by cosine (or inner product), itself excluded (ties by index)."""
    x = vectors
    if space == "cosine":
        x = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = np.round(x @ x.T, 6)
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


def evaluate(
    nn: np.ndarray,
    text_nn: np.ndarray,
    truth: dict[int, set[int]],
    catalogue: list[dict[str, Any]],
    top_popular: set[int],
    new: list[int],
) -> dict[str, float]:
    """The metrics of one setting (see the module docstring)."""
    k = nn.shape[1]
    recall = [len(set(nn[i].tolist()) & truth[i]) / min(len(truth[i]), k) for i in truth]
    cats = [d["category"] for d in catalogue]
    same_cat = np.mean([[cats[j] == cats[i] for j in row] for i, row in enumerate(nn)])
    popular = np.mean([[j in top_popular for j in row] for row in nn])
    overlap = [len(set(a.tolist()) & set(b.tolist())) / k for a, b in zip(nn, text_nn, strict=True)]
    return {
        f"co_purchase_recall@{k}": round(float(np.mean(recall)), 4),
        "same_category_share": round(float(same_cat), 4),
        "top5pct_popular_share": round(float(popular), 4),
        "coverage": round(len(set(nn.ravel().tolist())) / len(catalogue), 4),
        f"overlap@{k}_with_text": round(float(np.mean(overlap)), 4),
        f"new_arrivals_overlap@{k}_with_text": round(float(np.mean([overlap[i] for i in new])), 4),
        "new_arrivals_neighbours_new_share": round(
            float(np.mean([[j in set(new) for j in nn[i]] for i in new])), 4
        ),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="writes OUT.json")
    p.add_argument("--sessions", type=int, default=6000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dimension", type=int, default=32)
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--vectors-out", type=Path, help="the behaviour vectors as a snapshot .npz")
    p.add_argument("--log-out", type=Path, help="the generated sessions as JSONL (skus)")
    args = p.parse_args()
    t0 = time.perf_counter()
    catalogue = load_catalogue()
    settings = demo_settings(load_settings(embedded={"data_dir": args.data_dir}))
    searcher, _ = open_demo_index(settings, progress=False)
    try:
        text = np.stack([searcher.backend.vector_of(d["sku"]) for d in catalogue])
        model = searcher.backend.info().model_id
    finally:
        searcher.close()
    n = len(catalogue)
    log = split_log(catalogue, sessions=args.sessions, seed=args.seed)
    sessions, cut, train, test, new = log.sessions, log.cut, log.train, log.test, log.new_arrivals
    new_set = set(new)
    behaviour = item_embeddings(train, n, args.dimension)
    if args.vectors_out is not None:
        save_snapshot(
            EmbeddingSnapshot(
                ids=[d["sku"] for d in catalogue],
                vectors=behaviour,
                categories=[d["category"] for d in catalogue],
                popularity=np.array([d["popularity"] for d in catalogue]),
                model_id=f"cooccurrence-ppmi-{args.dimension} (generated log, seed {args.seed})",
            ),
            args.vectors_out,
        )
    if args.log_out is not None:
        with args.log_out.open("w", encoding="utf-8") as fh:
            for number, session in enumerate(sessions):
                split = "train" if number < cut else "test"
                skus = [catalogue[i]["sku"] for i in session]
                fh.write(json.dumps({"session": number, "split": split, "skus": skus}) + "\n")
    truth: dict[int, set[int]] = {}
    for s in test:
        for i in s:
            if i not in new_set:
                truth.setdefault(i, set()).update(j for j in s if j != i)
    truth = {i: t for i, t in truth.items() if t}
    popularity = np.array([d["popularity"] for d in catalogue])
    top_popular = set(np.argsort(-popularity)[: n // 20].tolist())
    text_nn = neighbours(text, args.k)
    settings_grid = [("text only", 0.0, 0.0, "cosine")]
    settings_grid += [(f"text + behaviour w={w}", w, 0.0, "cosine") for w in (0.25, 0.5, 1.0)]
    settings_grid += [
        (f"text + behaviour w={w}, inverse popularity a=1", w, 1.0, "cosine") for w in (0.5, 1.0)
    ]
    # Inner product over the fused vector (not re-normalised): doc-doc similarity is the sum
    # of the blocks' weighted cosines, so an empty block subtracts nothing.
    settings_grid += [
        (f"inner product: text + behaviour w={w}", w, 0.0, "innerproduct") for w in (0.5, 1.0)
    ]
    # The guard under inner product (the products-behaviour template's space), reference = the
    # median positive popularity, as the template pins it (popularity_reference).
    settings_grid += [
        (f"inner product: text + behaviour w=0.5, inverse popularity a={a}", 0.5, a, "innerproduct")
        for a in (0.25, 0.5, 1.0)
    ]
    rows = []
    shown = [
        next(i for i, d in enumerate(catalogue) if d["category"] == c)
        for c in ("handbags", "watches")
    ]
    examples: dict[str, dict[str, list[str]]] = {}
    for name, weight, alpha, space in settings_grid:
        layout = parse_blocks(
            [
                {"name": "text", "dimension": text.shape[1], "weight": 1.0},
                {
                    "name": "behaviour",
                    "dimension": args.dimension,
                    "weight": weight,
                    "inverse_popularity": alpha,
                },
            ]
        )
        fused = layout.documents({"text": text, "behaviour": behaviour}, popularity=popularity)
        nn = neighbours(fused, args.k, space=space)
        rows.append({"setting": name, **evaluate(nn, text_nn, truth, catalogue, top_popular, new)})
        if name in ("text only", "text + behaviour w=0.5"):
            for i in shown:
                label = f"{catalogue[i]['title']} ({catalogue[i]['category']})"
                examples.setdefault(label, {})[name] = [
                    f"{catalogue[j]['title']} ({catalogue[j]['category']})" for j in nn[i][:5]
                ]
    result = {
        "method": __doc__,
        "command": "python " + " ".join(sys.argv),
        "machine": f"{platform.processor() or platform.machine()}, {platform.system()}",
        "text_model": model,
        "products": n,
        "sessions": {"train": len(train), "test": len(test), "seed": args.seed},
        "evaluated_products": len(truth),
        "new_arrivals": len(new),
        "behaviour_dimension": args.dimension,
        "with_behaviour_vector": int(behaviour.any(axis=1).sum()),
        "results": rows,
        "examples": examples,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    write_json(args.out.with_suffix(".json"), result)
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
