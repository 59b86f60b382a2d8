"""``hybrid-search demo``: index the bundled luxury catalogue and show the modes side by side.

The demo is a new user's first contact, so its output is meant to be read: whole product titles
(wrapped inside their column, never cut), the commercial breakdown named by product, and one
line instead of the exporter's chatter while the model is exported to ONNX on the first run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

__all__ = ["DEMO_QUERIES", "register"]

DEMO_QUERIES = (
    ("a plain query", "black leather ankle boots"),
    ("no words in common with its best match", "tiny sparkly purse"),
    ("a product code: the vector leg is not confident, lexical answers", None),
    ("hybrid + commercial stage, in stock under 3000", "evening bag for a gala"),
)
_GAP = " | "


def _out(text: str, *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``demo`` to the top-level parser."""
    p = sub.add_parser("demo", help="index the bundled luxury catalogue and compare modes")
    p.add_argument("--rebuild", action="store_true", help="rebuild the demo index")
    p.add_argument(
        "--template",
        help="index template (HYBRID_SEARCH_TEMPLATE); products-behaviour adds behaviour vectors "
        "and compares similar items with and without them",
    )
    p.set_defaults(handler=_demo)


def column_width(columns: int, *, minimum: int = 24, maximum: int = 60) -> int:
    """The width of each of ``columns`` side-by-side columns in this terminal (132 when stdout
    is not one)."""
    total = shutil.get_terminal_size((132, 24)).columns
    return max(minimum, min(maximum, (total - len(_GAP) * (columns - 1)) // columns))


def side_by_side(columns: Sequence[tuple[str, Sequence[str]]], width: int) -> list[str]:
    """Columns of numbered entries, each entry wrapped within its column (continuation lines
    indented) and the entries of one rank starting on the same line."""
    heads = [title[:width].ljust(width) for title, _ in columns]
    rules = [("-" * len(title))[:width].ljust(width) for title, _ in columns]
    out = [_GAP.join(heads).rstrip(), _GAP.join(rules).rstrip()]
    depth = max(len(entries) for _, entries in columns)
    for i in range(depth):
        cells = [
            textwrap.wrap(entries[i], width, subsequent_indent="   ", break_on_hyphens=False)
            if i < len(entries)
            else []
            for _, entries in columns
        ]
        for j in range(max(len(c) for c in cells)):
            row = [(c[j] if j < len(c) else "").ljust(width) for c in cells]
            out.append(_GAP.join(row).rstrip())
    return out


def breakdown_lines(hit: dict[str, Any]) -> list[str]:
    """One hit of the commercial breakdown: its rank, title and id, then how its score adds up."""
    b = hit["breakdown"]
    title = hit["source"].get("title") or hit["id"]
    terms = " + ".join(
        f"{name} {b[name]:.3f}"
        for name in ("relevance", "margin", "freshness", "popularity")
        if b.get(name) is not None
    )
    legs = ", ".join(
        f"{label} {b[key]:.3f}"
        for key, label in (("lexical", "lexical"), ("vector_cosine", "cosine"), ("fused", "fused"))
        if b.get(key) is not None
    )
    slot = "  (exploration slot)" if b.get("exploration") else ""
    return [
        f"  {hit['rank']}. {title} ({hit['id']}){slot}",
        f"     {hit['score']:.3f} = {terms}" + (f"   [{legs}]" if legs else ""),
    ]


def _demo(args: argparse.Namespace) -> int:
    from hybrid_search.commands.common import EXIT_OK, EXIT_PARTIAL, settings_from_args
    from hybrid_search.demo import demo_settings, load_catalogue, open_demo_index

    extra = {"template": args.template} if args.template else {}
    settings = demo_settings(settings_from_args(args, **extra))
    data_dir = settings.embedded.data_dir
    searcher, report = open_demo_index(settings, rebuild=args.rebuild, announce=_out)
    try:
        if report is not None and report.failed:
            _out(f"rejected: {report.failed}", err=True)
            return EXIT_PARTIAL
        sku_query = load_catalogue()[41]["sku"]
        width = column_width(3)
        _out(f"embedder: {searcher.embedder.model_id} ({searcher.embedder.runtime})")
        for label, query in DEMO_QUERIES:
            query = query or sku_query
            filters = {"in_stock": True, "price": {"lte": 3000}} if "commercial" in label else None
            _out(f"\n=== {query!r}: {label}")
            columns = []
            for mode in ("lexical", "vector", "auto"):
                resp = searcher.search(
                    {
                        "query": query,
                        "mode": mode,
                        "k": 5,
                        "filters": filters,
                        "commercial": {"enabled": mode == "auto"},
                    }
                )
                lines = [f"{h['rank']}. {h['source'].get('title', '')}" for h in resp.hits]
                title = "hybrid (auto)" if mode == "auto" else mode
                if mode == "auto":
                    title += f" -> {resp.mode_used}"
                columns.append((title, lines or ["(no results)"]))
                last = resp
            for row in side_by_side(columns, width):
                _out(row)
            if last.hits:
                _out(f"hybrid #1: {last.hits[0]['id']}")
            if last.fallback_reason:
                _out(f"fallback: {last.fallback_reason}")
            elif last.top_vector_cosine is not None:
                _out(f"top vector cosine {last.top_vector_cosine:.3f}: vector leg trusted")
            if "commercial" in label:
                _out("commercial breakdown (score = relevance + margin + freshness + popularity):")
                for h in last.hits:
                    for line in breakdown_lines(h):
                        _out(line)
        if searcher.template.blocks is not None:
            _demo_similar(searcher)
        template = settings.template
        env = "" if template == "products" else f"HYBRID_SEARCH_TEMPLATE={template} "
        _out(f'\nTry: {env}hybrid-search --data-dir {data_dir} search "cashmere scarf"')
    finally:
        searcher.close()
    return EXIT_OK


def _demo_similar(searcher: Any) -> None:
    """Similar items with the text block only and with every block (vector_blocks templates)."""
    from hybrid_search.demo import load_catalogue
    from hybrid_search.demo.behaviour import similar_comparison

    _out("\n=== similar items: text only vs text + behaviour (generated interaction log)")
    width = column_width(2)
    for label, text_only, fused in similar_comparison(searcher, load_catalogue()):
        _out(f"\n{label}")
        for row in side_by_side([("text only", text_only), ("text + behaviour", fused)], width):
            _out(row)
