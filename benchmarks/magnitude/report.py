"""Markdown tables of the magnitude experiment's ``results.json``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def _p(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def split_table(name: str, block: dict[str, Any]) -> list[str]:
    """One split: dense and hybrid per model, with p-values against cosine and off-the-shelf."""
    rows = block["systems"]
    bm25 = rows["bm25"]
    lines = [
        f"### {name.replace('_', '-')} ({block['queries']} queries)",
        "",
        f"BM25: nDCG@10 {_f(bm25['ndcg@10'])}, recall@10 {_f(bm25['recall@10'])}.",
        "",
        "| model | dense nDCG@10 | p vs cosine | p vs off-the-shelf | dense recall@10 "
        "| p vs cosine | dense scored as cosine nDCG@10 | hybrid 0.7/0.3 nDCG@10 | p vs BM25 "
        "| hybrid 0.5/0.5 nDCG@10 | p vs BM25 | p vs cosine |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model, row in rows.items():
        if model == "bm25":
            continue
        lines.append(
            "| "
            + " | ".join(
                [
                    model,
                    _f(row["dense ndcg@10"]),
                    _p(row.get("dense ndcg@10 p_vs_cosine")),
                    _p(row.get("dense ndcg@10 p_vs_off_the_shelf")),
                    _f(row["dense recall@10"]),
                    _p(row.get("dense recall@10 p_vs_cosine")),
                    _f(row["dense-as-cosine ndcg@10"]),
                    _f(row["hybrid-0.7/0.3 ndcg@10"]),
                    _p(row.get("hybrid-0.7/0.3 ndcg@10 p_vs_bm25")),
                    _f(row["hybrid-0.5/0.5 ndcg@10"]),
                    _p(row.get("hybrid-0.5/0.5 ndcg@10 p_vs_bm25")),
                    _p(row.get("hybrid-0.5/0.5 ndcg@10 p_vs_cosine")),
                ]
            )
            + " |"
        )
    return [*lines, ""]


def per_seed_table(results: dict[str, Any]) -> list[str]:
    """Dense and hybrid nDCG@10 of each training seed (how much a seed moves the numbers)."""
    seeds = [str(s) for s in results["train_seeds"]]
    lines = ["### Per training seed: dense / hybrid 0.5/0.5 nDCG@10", ""]
    head = " | ".join(f"{split} seed {s}" for split in results["splits"] for s in seeds)
    lines += [f"| model | {head} |", "|---|" + "---|" * (len(seeds) * len(results["splits"]))]
    models = [m for m in next(iter(results["splits"].values()))["systems"] if m != "bm25"]
    for model in models:
        cells = []
        for block in results["splits"].values():
            per = block["systems"][model]["per_seed"]
            for s in seeds:
                one = per.get(s) or next(iter(per.values()))
                cells.append(f"{_f(one['dense ndcg@10'])} / {_f(one['hybrid-0.5/0.5 ndcg@10'])}")
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def diagnostics_table(results: dict[str, Any]) -> list[str]:
    """Norm statistics and correlations per model."""
    lines = [
        "| model | mean norm | CV | Cohen's d (grade 2 vs 0) | rho(norm, length) "
        "| rho(norm, popularity) | gamma_q / gamma_d | train s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model, diag in results["diagnostics"].items():
        seeds = results["training"].get(model, {})
        info: dict[str, Any] = {}
        if seeds:
            info = {
                k: sum(s[k] for s in seeds.values()) / len(seeds)
                for k in ("gamma_q", "gamma_d", "seconds")
            }
        gammas = f"{_f(info.get('gamma_q'))} / {_f(info.get('gamma_d'))}" if info else "-"
        lines.append(
            f"| {model} | {_f(diag['norm']['mean'])} | {_f(diag['norm']['cv'])} "
            f"| {_f(diag.get('cohens_d_rel_vs_nonrel'))} | {_f(diag.get('spearman_norm_length'))} "
            f"| {_f(diag.get('spearman_norm_popularity'))} | {gammas} "
            f"| {_f(info.get('seconds'), 0)} |"
        )
    return [*lines, ""]


def write_markdown(results: dict[str, Any], path: Path, reading: str = "") -> None:
    """Write the tables, then ``reading.md`` from this folder (method and reading) if present."""
    if not reading and (Path(__file__).parent / "reading.md").exists():
        reading = (Path(__file__).parent / "reading.md").read_text(encoding="utf-8")
    setup = results["setup"]
    lines = [
        "# Magnitude-aware fine-tuning on Home Depot (Feng & Watanabe, arXiv 2602.09229)",
        "",
        f"Run {results['started']} - {results['finished']} on {results['machine']}.",
        "",
        "```",
        results["command"],
        "```",
        "",
        f"Corpus {setup['corpus']} titles; {setup['train_pairs']} training pairs; test queries "
        f"{setup['test']}; out-of-domain families {setup['ood_families']}; training seeds "
        f"{results['train_seeds']} (per-query scores averaged over seeds, then a paired "
        "randomisation test over queries, 10,000 sign flips).",
        "",
    ]
    for name, block in results["splits"].items():
        lines += split_table(name, block)
    lines += per_seed_table(results)
    lines += ["### Magnitude diagnostics (document side, retrieval corpus, mean over seeds)", ""]
    lines += diagnostics_table(results)
    if reading:
        lines += [reading, ""]
    path.write_text("\n".join(lines), encoding="utf-8")
