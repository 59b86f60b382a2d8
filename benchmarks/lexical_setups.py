"""Which lexical field setup ranks best (issue 17 §2): best_fields over separate fields (today),
one combined all-text field (``copy_to``), ``cross_fields`` / ``combined_fields``, and both.

Home Depot is titles only (one text field), so every setup is the same query there; the
comparison needs a catalogue with several fields: the demo catalogue
(``hybrid_search/demo/catalogue.jsonl``, 600 invented products). It has no human judgments, so
this script derives graded ones from its structured fields (``demo_judgments``): each query
names an item ("ankle boots", "bucket bag": the title's words after the material) with a colour,
a material, a brand, or colour and material; a product of that item with every named
attribute is grade 2, the same item without them grade 1, anything else unjudged (0). These are
labels by construction, not shoppers' judgments: they reward finding the named attributes
wherever they are written, which is what the setups differ in.

Two measurements:

1. Embedded engine (tantivy BM25), every query through ``Searcher.search`` as ``hybrid-search
   eval`` runs it, modes ``lexical`` (BM25 alone, typo tolerance off) and ``default`` (the
   shipped hybrid), for three setups the embedded engine can run: ``best_fields`` (separate
   fields with the shipped template's boosts), ``combined`` (one ``all_text`` field, the
   ``copy_to`` of them all) and ``both`` (``all_text`` as one more field of the best_fields
   query). The vectors are the same in ``best_fields`` and ``combined`` (the same text is
   embedded); ``both`` embeds the text twice over (its embedding source is its text fields).
2. A real OpenSearch node (``--opensearch URL``; lexical only, no knn field is created): the
   same documents in a throwaway index with every field and a ``copy_to`` field, and the
   queries as ``multi_match`` ``best_fields`` and ``cross_fields``, ``combined_fields``,
   ``match`` on the copy_to field and best_fields with it, scored by the same metrics code.

Usage::

    flock /tmp/hybrid-bench.lock python benchmarks/lexical_setups.py \\
        --cache-dir benchmarks/.cache --opensearch http://127.0.0.1:9200 \\
        --out benchmarks/results/lexical-setups
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import command_lines, write_json

from hybrid_search.config import load_settings
from hybrid_search.demo import load_catalogue
from hybrid_search.evaluation.metrics import compare, evaluate, holm, mean_metrics
from hybrid_search.evaluation.runner import default_modes
from hybrid_search.evaluation.session import QuerySplit, open_session

FIELDS = ("title", "brand", "category", "color", "material", "attributes", "description")
# The shipped template's boosts (index_templates/products.json); the other fields 1.
BOOSTS = {"title": 3.0, "brand": 2.0, "category": 1.5}
SETUPS = {
    "best_fields": (list(FIELDS), BOOSTS),
    "combined": (["all_text"], {}),
    "both": ([*FIELDS, "all_text"], BOOSTS),
}
KINDS = ("colour_item", "material_item", "brand_item", "colour_material_item", "brand_category")
PER_KIND = 60
METRICS = ("ndcg@10", "ndcg@10_judged", "recall@100", "mrr@10")


def _item(product: Mapping[str, Any]) -> str | None:
    """The item words of a title: what follows the material ("... suede ankle boots")."""
    title, material = str(product["title"]), str(product["material"])
    if material not in title:
        return None
    return title[title.rindex(material) + len(material) :].strip() or None


def demo_judgments(
    products: Sequence[Mapping[str, Any]], *, seed: int = 0
) -> tuple[dict[str, str], dict[str, dict[str, int]], dict[str, str]]:
    """Queries, graded judgments and each query's kind, derived from the structured fields."""
    rng = random.Random(seed)
    items = [_item(p) for p in products]
    ids = [str(p["sku"]) for p in products]
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    kinds: dict[str, str] = {}
    for kind in KINDS:
        wants: dict[str, tuple[str, dict[str, str], str]] = {}
        for p, item in zip(products, items, strict=True):
            if item is None:
                continue
            if kind == "colour_item":
                named = {"color": p["color"]}
            elif kind == "material_item":
                named = {"material": p["material"]}
            elif kind in ("brand_item", "brand_category"):
                named = {"brand": p["brand"]}
            else:
                named = {"color": p["color"], "material": p["material"]}
            head = str(p["category"]) if kind == "brand_category" else item
            text = " ".join([*named.values(), head])
            wants.setdefault(text.lower(), (text, named, head.lower()))
        for key in sorted(rng.sample(sorted(wants), min(PER_KIND, len(wants)))):
            text, named, head = wants[key]
            qid = f"{kind}-{len(kinds):03d}"
            grades: dict[str, int] = {}
            for p, item, doc_id in zip(products, items, ids, strict=True):
                what = str(p["category"]) if kind == "brand_category" else item
                if what is None or what.lower() != head:
                    continue  # another item (or category): unjudged
                full = all(str(p[f]).lower() == str(v).lower() for f, v in named.items())
                grades[doc_id] = 2 if full else 1
            if any(g == 2 for g in grades.values()):
                queries[qid], qrels[qid], kinds[qid] = text, grades, kind
    return queries, qrels, kinds


def write_beir(directory: Path, products: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The catalogue as a BEIR directory (with ``all_text``); returns each query's kind."""
    directory.mkdir(parents=True, exist_ok=True)
    queries, qrels, kinds = demo_judgments(products)
    with (directory / "corpus.jsonl").open("w", encoding="utf-8") as f:
        for p in products:
            doc = {"_id": str(p["sku"]), **{k: str(p[k]) for k in FIELDS}}
            doc["all_text"] = ". ".join(doc[k] for k in FIELDS if doc[k])
            f.write(json.dumps(doc) + "\n")
    with (directory / "queries.jsonl").open("w", encoding="utf-8") as f:
        for qid, text in queries.items():
            f.write(json.dumps({"_id": qid, "text": text}) + "\n")
    with (directory / "qrels.tsv").open("w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid, grades in qrels.items():
            for doc_id, grade in sorted(grades.items()):
                f.write(f"{qid}\t{doc_id}\t{grade}\n")
    return kinds


def _tests(
    per: Mapping[str, Mapping[str, Mapping[str, float]]], baseline: str
) -> list[dict[str, Any]]:
    out = []
    for name, pq in per.items():
        if name == baseline:
            continue
        for metric in METRICS:
            c = compare(per[baseline][metric], pq[metric], metric=metric)
            out.append(
                {"system": name, "baseline": baseline, "metric": metric, "delta": c.delta}
                | {"ci95": [c.ci_low, c.ci_high], "p": c.p_value}
            )
    for t, adjusted in zip(out, holm([t["p"] for t in out]), strict=True):
        t["p_holm"] = adjusted
    return out


def embedded_runs(beir: Path, cache_dir: Path) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """``{setup: {mode: per-query metrics}}`` through the Searcher."""
    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    modes = [m for m in default_modes(candidates=100) if m.name in {"lexical", "default"}]
    for name, (fields, boosts) in SETUPS.items():
        settings = load_settings()
        session = open_session(
            settings, beir, text_fields=fields, cache_dir=cache_dir, boosts=dict(boosts)
        )
        try:
            qids = QuerySplit().ids(session.dataset, "all")
            results = session.run(modes, qids)
        finally:
            session.close()
        out[name] = {r.spec.name: r.per_query for r in results}
        print(name, {r.spec.name: round(r.means["ndcg@10"], 4) for r in results}, flush=True)
    return out


def _os_bodies(text: str) -> dict[str, dict[str, Any]]:
    boosted = [f"{f}^{BOOSTS[f]:g}" if f in BOOSTS else f for f in FIELDS]
    return {
        "best_fields": {"multi_match": {"query": text, "fields": boosted, "type": "best_fields"}},
        "cross_fields": {"multi_match": {"query": text, "fields": boosted, "type": "cross_fields"}},
        "combined_fields": {"combined_fields": {"query": text, "fields": boosted}},
        "copy_to": {"match": {"all_text": {"query": text}}},
        "best_fields+copy_to": {
            "multi_match": {
                "query": text,
                "fields": [*boosted, "all_text"],
                "type": "best_fields",
            }
        },
    }


def opensearch_runs(
    url: str, products: Sequence[Mapping[str, Any]], beir: Path
) -> tuple[dict[str, dict[str, dict[str, float]]], str]:
    """``{setup: per-query metrics}`` of the lexical query alone on a real node."""
    from opensearchpy import OpenSearch, helpers

    from hybrid_search.evaluation.datasets import load_beir

    client = OpenSearch(url, timeout=60)
    version = str(client.info()["version"]["number"])
    index = f"hs-lexical-setups-{uuid.uuid4().hex[:8]}"
    props: dict[str, Any] = {
        f: {"type": "text", "analyzer": "english", "copy_to": "all_text"} for f in FIELDS
    }
    props["all_text"] = {"type": "text", "analyzer": "english"}
    client.indices.create(
        index=index,
        body={
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {"dynamic": "strict", "properties": props},
        },
    )
    try:
        helpers.bulk(
            client,
            (
                {"_index": index, "_id": str(p["sku"]), **{k: str(p[k]) for k in FIELDS}}
                for p in products
            ),
            refresh=True,
        )
        dataset = load_beir(beir, text_fields=["title"])
        runs: dict[str, dict[str, list[str]]] = {}
        for qid, text in dataset.queries.items():
            for name, query in _os_bodies(text).items():
                hits = client.search(index=index, body={"query": query, "size": 100})
                runs.setdefault(name, {})[qid] = [h["_id"] for h in hits["hits"]["hits"]]
        judged = {q: dataset.qrels[q] for q in dataset.queries}
        return {name: evaluate(judged, run) for name, run in runs.items()}, version
    finally:
        client.indices.delete(index=index)


def _by_kind(
    per_query: Mapping[str, Mapping[str, float]], kinds: Mapping[str, str]
) -> dict[str, float]:
    return {
        kind: float(np.mean([per_query["ndcg@10"][q] for q in kinds if kinds[q] == kind]))
        for kind in KINDS
        if any(k == kind for k in kinds.values())
    }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--cache-dir", type=Path, required=True)
    p.add_argument("--opensearch", help="a real node's URL for the lexical-only comparison")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()

    products = load_catalogue()
    beir = args.cache_dir / "demo-beir"
    kinds = write_beir(beir, products)
    report: dict[str, Any] = {
        "queries": len(kinds),
        "kinds": {k: sum(v == k for v in kinds.values()) for k in KINDS},
        "command": "python " + " ".join(sys.argv),
        "machine": {"cpu": platform.processor() or platform.machine(), "python": sys.version},
    }
    emb = embedded_runs(beir, args.cache_dir)
    report["embedded"] = {
        setup: {
            mode: {**mean_metrics(pq), "by_kind": _by_kind(pq, kinds)} for mode, pq in per.items()
        }
        for setup, per in emb.items()
    }
    report["embedded_tests"] = {
        mode: _tests({s: emb[s][mode] for s in emb}, "best_fields")
        for mode in ("lexical", "default")
    }
    if args.opensearch:
        per_os, version = opensearch_runs(args.opensearch, products, beir)
        report["opensearch"] = {
            "version": version,
            "setups": {
                s: {**mean_metrics(pq), "by_kind": _by_kind(pq, kinds)} for s, pq in per_os.items()
            },
            "tests": _tests(per_os, "best_fields"),
        }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "lexical-setups.json", report)
    (args.out / "lexical-setups.md").write_text(_markdown(report), encoding="utf-8")
    print(_markdown(report))
    return 0


def _markdown(report: Mapping[str, Any]) -> str:
    lines = [
        f"# Lexical field setups on the demo catalogue ({report['queries']} derived queries)",
        "",
        "Query kinds: " + ", ".join(f"{k} {n}" for k, n in report["kinds"].items()),
        "",
        "## Embedded engine, through the Searcher",
        "",
        "| setup | mode | " + " | ".join(METRICS) + " | " + " | ".join(KINDS) + " |",
        "|---|---|" + "---|" * (len(METRICS) + len(KINDS)),
    ]
    for setup, per in report["embedded"].items():
        for mode, m in per.items():
            cells = [f"{m[x]:.4f}" for x in METRICS] + [
                f"{m['by_kind'].get(k, float('nan')):.4f}" for k in KINDS
            ]
            lines.append(f"| `{setup}` | `{mode}` | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| mode | setup vs best_fields | metric | Δ | p | p (Holm) |",
        "|---|---|---|---|---|---|",
    ]
    for mode, tests in report["embedded_tests"].items():
        for t in tests:
            lines.append(
                f"| `{mode}` | `{t['system']}` | {t['metric']} | {t['delta']:+.4f} | "
                f"{t['p']:.4f} | {t['p_holm']:.4f} |"
            )
    if "opensearch" in report:
        osr = report["opensearch"]
        lines += [
            "",
            f"## OpenSearch {osr['version']}, lexical query alone",
            "",
            "| setup | " + " | ".join(METRICS) + " | " + " | ".join(KINDS) + " |",
            "|---|" + "---|" * (len(METRICS) + len(KINDS)),
        ]
        for setup, m in osr["setups"].items():
            cells = [f"{m[x]:.4f}" for x in METRICS] + [
                f"{m['by_kind'].get(k, float('nan')):.4f}" for k in KINDS
            ]
            lines.append(f"| `{setup}` | " + " | ".join(cells) + " |")
        lines += [
            "",
            "| setup vs best_fields | metric | Δ | p | p (Holm) |",
            "|---|---|---|---|---|",
        ]
        for t in osr["tests"]:
            lines.append(
                f"| `{t['system']}` | {t['metric']} | {t['delta']:+.4f} | {t['p']:.4f} | "
                f"{t['p_holm']:.4f} |"
            )
    lines += ["", *command_lines(str(report["command"]))]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
