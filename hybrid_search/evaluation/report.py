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

from hybrid_search.evaluation.metrics import Comparison, holm
from hybrid_search.evaluation.runner import ModeResult
from hybrid_search.plotting import pyplot

__all__ = [
    "holm_adjusted",
    "markdown_table",
    "query_type_table",
    "results_dict",
    "write_chart",
    "write_report",
]

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


HolmKey = tuple[str, str, str]  # (baseline, mode, metric)


def holm_adjusted(
    comparisons: Mapping[str, Mapping[str, Mapping[str, Comparison]]],
) -> dict[HolmKey, float]:
    """Holm-adjusted p-values over every comparison of a report, as one family.

    ``comparisons`` is ``{baseline: {mode: {metric: Comparison}}}``; the answer is keyed by
    ``(baseline, mode, metric)``.
    """
    keys = [
        (b, mode, metric)
        for b, per_mode in comparisons.items()
        for mode, per_metric in per_mode.items()
        for metric in per_metric
    ]
    p = [comparisons[b][mode][metric].p_value for b, mode, metric in keys]
    return dict(zip(keys, holm(p), strict=True))


def results_dict(
    results: Sequence[ModeResult],
    comparisons: Mapping[str, Mapping[str, Comparison]],
    *,
    baseline: str,
    meta: Mapping[str, Any],
    p_holm: Mapping[HolmKey, float] | None = None,
) -> dict[str, Any]:
    """The JSON document: means per mode, how each ran, and significance against the baseline
    (with ``p_holm``, each comparison's Holm-adjusted p-value as ``p_holm``)."""
    adjusted = p_holm or {}
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
                    **(
                        {"p_holm": round(adjusted[(baseline, mode, metric)], 6)}
                        if (baseline, mode, metric) in adjusted
                        else {}
                    ),
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
    p_holm: Mapping[HolmKey, float] | None = None,
) -> str:
    """One row per mode; nDCG@10 and judged-only nDCG@10 with their change and p-value (and,
    with ``p_holm``, the Holm-adjusted p-values)."""
    adjusted = p_holm or {}
    head = [
        "mode",
        *TABLE_METRICS,
        f"Δ ndcg@10 vs {baseline}",
        "p",
        *(["p (Holm)"] if adjusted else []),
        f"Δ judged-only vs {baseline}",
        "p (judged)",
        *(["p (judged, Holm)"] if adjusted else []),
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = [f"`{r.spec.name}`", *(_cell(r.means.get(m, math.nan)) for m in TABLE_METRICS)]
        comp = comparisons.get(r.spec.name, {})
        for metric in ("ndcg@10", "ndcg@10_judged"):
            c = comp.get(metric)
            key = (baseline, r.spec.name, metric)
            if c is None:
                cells += ["", "", *([""] if adjusted else [])]
            else:
                mark = " *" if c.significant else ""
                cells += [
                    f"{c.delta:+.4f} [{c.ci_low:+.4f}, {c.ci_high:+.4f}]",
                    f"{c.p_value:.4f}{mark}",
                ]
                if adjusted:
                    cells.append(f"{adjusted[key]:.4f}" if key in adjusted else "")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"Δ: mean paired difference against `{baseline}` with its 95 % bootstrap interval; "
        "p: two-sided paired randomisation test (10,000 sign flips), * = p < 0.05."
        + (
            " p (Holm): Holm-adjusted over every comparison of this report (every metric, "
            "every baseline) as one family."
            if adjusted
            else ""
        )
    )
    return "\n".join(lines) + "\n"


def _type_rows(
    results: Sequence[ModeResult], types: Mapping[str, Sequence[str]], baseline: str
) -> dict[str, dict[str, Any]]:
    by_name = {r.spec.name: r for r in results}
    base = by_name.get(baseline)
    out: dict[str, dict[str, Any]] = {}
    for kind, qids in types.items():
        row: dict[str, Any] = {"queries": len(qids), "ndcg@10": {}, "delta_vs_baseline": {}}
        for r in results:
            values = [r.per_query["ndcg@10"][q] for q in qids]
            row["ndcg@10"][r.spec.name] = _num(float(sum(values) / len(values))) if qids else None
            if base is not None and qids and r is not base:
                diff = [r.per_query["ndcg@10"][q] - base.per_query["ndcg@10"][q] for q in qids]
                row["delta_vs_baseline"][r.spec.name] = _num(float(sum(diff) / len(diff)))
        out[kind] = row
    return out


def query_type_table(rows: Mapping[str, Mapping[str, Any]], *, baseline: str) -> str:
    """nDCG@10 per storefront query type and mode, with each mode's change against the
    baseline (rows from ``_type_rows``)."""
    modes = list(dict.fromkeys(m for row in rows.values() for m in row["ndcg@10"]))
    head = ["query type", "queries", *(f"`{m}`" for m in modes)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kind, row in rows.items():
        cells = [kind, str(row["queries"])]
        for m in modes:
            value = row["ndcg@10"].get(m)
            delta = row["delta_vs_baseline"].get(m)
            cell = "-" if value is None else f"{value:.4f}"
            if delta is not None:
                cell += f" ({delta:+.4f})"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"nDCG@10 per query type (`evaluation/query_types.py`; a query may be of several types), "
        f"in brackets the mean paired change against `{baseline}`."
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
    others: Mapping[str, Mapping[str, Mapping[str, Comparison]]],
    metric: str = "ndcg@10",
    *,
    p_holm: Mapping[HolmKey, float] | None = None,
) -> str:
    adjusted = p_holm or {}
    names = list(others)
    modes = list(dict.fromkeys(m for per_mode in others.values() for m in per_mode))
    head = ["mode", *(f"Δ {metric} vs `{b}` (p)" for b in names)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for mode in modes:
        cells = [f"`{mode}`"]
        for b in names:
            c = others[b].get(mode, {}).get(metric)
            holm_p = adjusted.get((b, mode, metric))
            extra = "" if holm_p is None else f"; Holm {holm_p:.4f}"
            cells.append("" if c is None else f"{c.delta:+.4f} ({c.p_value:.4f}{extra})")
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
    query_types: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Path]:
    """Write ``results.json``, ``results.md``, ``per_query.json`` and ``ndcg.png`` to ``out_dir``.

    ``others``: comparisons against further baselines (``{baseline: {mode: {metric: ...}}}``),
    written to ``significance_vs`` in the JSON and as a second table. Every p-value also gets
    its Holm adjustment over all of the report's comparisons (``p_holm``). ``query_types``
    (``{type: [query ids]}``) adds nDCG@10 per type and mode (``query_types`` in the JSON).

    Raises:
        MissingDependencyError: ``chart`` is set and matplotlib is missing.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "results.json", "markdown": out_dir / "results.md"}
    adjusted = holm_adjusted({baseline: comparisons, **(others or {})})
    doc = results_dict(results, comparisons, baseline=baseline, meta=meta, p_holm=adjusted)
    if others:
        doc["significance_vs"] = {
            b: results_dict(results, per_mode, baseline=b, meta={}, p_holm=adjusted)["significance"]
            for b, per_mode in others.items()
        }
    type_rows = _type_rows(results, query_types, baseline) if query_types else None
    if type_rows is not None:
        doc["query_types"] = type_rows
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
    table = markdown_table(results, comparisons, baseline=baseline, p_holm=adjusted)
    if others:
        table += "\nPaired against further baselines (nDCG@10):\n\n" + _versus_table(
            others, p_holm=adjusted
        )
    if type_rows is not None:
        table += "\n" + query_type_table(type_rows, baseline=baseline)
    paths["markdown"].write_text(header + details + "\n" + table, encoding="utf-8")
    if chart:
        paths["chart"] = out_dir / "ndcg.png"
        write_chart(results, paths["chart"], title=str(meta.get("dataset", "evaluation")))
    return paths
