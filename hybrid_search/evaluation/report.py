"""Write an evaluation: ``results.json``, a markdown table and a PNG chart.

``results.json`` is shaped ``{"modes": {"lexical": {"ndcg@10": ...}, ...}, "significance":
{mode: {metric: {"delta", "p_value", "ci95", ...}}}, ...}`` so other tools can read one number
with one lookup.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hybrid_search.evaluation.metrics import Comparison
from hybrid_search.evaluation.runner import ModeResult
from hybrid_search.plotting import pyplot

__all__ = ["markdown_table", "results_dict", "write_chart", "write_report"]

logger = logging.getLogger(__name__)

TABLE_METRICS = (
    "ndcg@10",
    "ndcg@10_judged",
    "recall@10",
    "recall@100",
    "mrr@10",
    "judged@10",
    "zero_result",
    "serendipity@10",
)


def _num(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


def results_dict(
    results: Sequence[ModeResult],
    comparisons: Mapping[str, Mapping[str, Comparison]],
    *,
    baseline: str,
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON document: means per mode, how each ran, and significance against the baseline."""
    return {
        "meta": dict(meta),
        "baseline": baseline,
        "modes": {r.spec.name: {m: _num(v) for m, v in r.means.items()} for r in results},
        "requests": {r.spec.name: dict(r.spec.request) for r in results},
        "modes_used": {r.spec.name: r.modes_used for r in results},
        "latency_ms": {
            r.spec.name: {"p50": round(r.latency_ms_p50, 3), "p99": round(r.latency_ms_p99, 3)}
            for r in results
        },
        "significance": {
            mode: {
                metric: {
                    "baseline": _num(c.baseline),
                    "system": _num(c.system),
                    "delta": _num(c.delta),
                    "p_value": round(c.p_value, 6),
                    "ci95": [_num(c.ci_low), _num(c.ci_high)],
                    "queries": c.queries,
                }
                for metric, c in per_metric.items()
            }
            for mode, per_metric in comparisons.items()
        },
    }


def _cell(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.4f}"


def markdown_table(
    results: Sequence[ModeResult],
    comparisons: Mapping[str, Mapping[str, Comparison]],
    *,
    baseline: str,
) -> str:
    """One row per mode; nDCG@10 and judged-only nDCG@10 with their change and p-value."""
    head = [
        "mode",
        *TABLE_METRICS,
        f"Δ ndcg@10 vs {baseline}",
        "p",
        f"Δ judged-only vs {baseline}",
        "p (judged)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = [f"`{r.spec.name}`", *(_cell(r.means.get(m, math.nan)) for m in TABLE_METRICS)]
        comp = comparisons.get(r.spec.name, {})
        for metric in ("ndcg@10", "ndcg@10_judged"):
            c = comp.get(metric)
            if c is None:
                cells += ["", ""]
            else:
                mark = " *" if c.significant else ""
                cells += [
                    f"{c.delta:+.4f} [{c.ci_low:+.4f}, {c.ci_high:+.4f}]",
                    f"{c.p_value:.4f}{mark}",
                ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"Δ: mean paired difference against `{baseline}` with its 95 % bootstrap interval; "
        "p: two-sided paired randomisation test (10,000 sign flips), * = p < 0.05."
    )
    return "\n".join(lines) + "\n"


def write_chart(results: Sequence[ModeResult], path: Path, *, title: str) -> None:
    """A bar chart of nDCG@10 and judged-only nDCG@10 per mode.

    Raises:
        MissingDependencyError: matplotlib is not installed.
    """
    plt = pyplot("the chart")
    names = [r.spec.name for r in results]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(names) + 2), 4.5))
    width = 0.4
    xs = range(len(names))
    for offset, metric in ((-width / 2, "ndcg@10"), (width / 2, "ndcg@10_judged")):
        ax.bar([x + offset for x in xs], [r.means[metric] for r in results], width, label=metric)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("score")
    ax.set_ylim(0.0, 1.0)  # room above the bars for the legend
    ax.set_title(title, fontsize=10)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _versus_table(
    others: Mapping[str, Mapping[str, Mapping[str, Comparison]]], metric: str = "ndcg@10"
) -> str:
    names = list(others)
    modes = list(dict.fromkeys(m for per_mode in others.values() for m in per_mode))
    head = ["mode", *(f"Δ {metric} vs `{b}` (p)" for b in names)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for mode in modes:
        cells = [f"`{mode}`"]
        for b in names:
            c = others[b].get(mode, {}).get(metric)
            cells.append("" if c is None else f"{c.delta:+.4f} ({c.p_value:.4f})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(
    out_dir: Path,
    results: Sequence[ModeResult],
    comparisons: Mapping[str, Mapping[str, Comparison]],
    *,
    baseline: str,
    meta: Mapping[str, Any],
    chart: bool = True,
    others: Mapping[str, Mapping[str, Mapping[str, Comparison]]] | None = None,
) -> dict[str, Path]:
    """Write ``results.json``, ``results.md``, ``per_query.json`` and ``ndcg.png`` to ``out_dir``.

    ``others``: comparisons against further baselines (``{baseline: {mode: {metric: ...}}}``),
    written to ``significance_vs`` in the JSON and as a second table.

    Raises:
        MissingDependencyError: ``chart`` is set and matplotlib is missing.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "results.json", "markdown": out_dir / "results.md"}
    doc = results_dict(results, comparisons, baseline=baseline, meta=meta)
    if others:
        doc["significance_vs"] = {
            b: results_dict(results, per_mode, baseline=b, meta={})["significance"]
            for b, per_mode in others.items()
        }
    paths["per_query"] = out_dir / "per_query.json"
    qids = sorted(results[0].per_query["ndcg@10"]) if results else []
    per_query = {
        "queries": qids,
        "modes": {
            r.spec.name: {
                m: [round(r.per_query[m][q], 4) for q in qids]
                for m in ("ndcg@10", "ndcg@10_judged", "recall@100")
            }
            for r in results
        },
    }
    paths["per_query"].write_text(json.dumps(per_query) + "\n", encoding="utf-8")
    paths["json"].write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    header = f"# Evaluation: {meta.get('dataset', '')}\n\n"
    details = "".join(f"- {k}: {v}\n" for k, v in meta.items())
    table = markdown_table(results, comparisons, baseline=baseline)
    if others:
        table += "\nPaired against further baselines (nDCG@10):\n\n" + _versus_table(others)
    paths["markdown"].write_text(header + details + "\n" + table, encoding="utf-8")
    if chart:
        paths["chart"] = out_dir / "ndcg.png"
        write_chart(results, paths["chart"], title=str(meta.get("dataset", "evaluation")))
    return paths
