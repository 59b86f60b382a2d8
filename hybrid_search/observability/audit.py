"""Relevance audit from the query log joined with the storefront's clicks and purchases.

Two samples, each result shown with its three nearest lexical neighbours as an explanation:

- **engaged, low similarity**: results with a vector cosine below ``low`` that were clicked or
  bought. The vector leg would not have found them; lexical matching (or the commercial stage)
  did. Many of these mean the model misses the catalogue's vocabulary.
- **not engaged, high similarity** (false-positive audit): results with a cosine at or above
  ``high`` that got no event, in searches where the shopper engaged with something else (an
  abandoned search says nothing about any one result).

The similarity is the hit's logged ``vector_cosine`` when the vector leg found it, else the
cosine between the logged query vector and the product's stored vector.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hybrid_search.errors import InvalidRequestError
from hybrid_search.jsonl import read_objects
from hybrid_search.observability.querylog import decode_vector

__all__ = ["AuditItem", "AuditReport", "audit", "read_events", "render_markdown"]

EVENTS = ("click", "purchase")


@dataclass
class AuditItem:
    """One sampled result of one logged search."""

    request_id: str
    query: str
    rank: int
    id: str
    similarity: float
    events: list[str]
    neighbours: list[tuple[str, str, float]] = field(default_factory=list)


@dataclass
class AuditReport:
    """Both samples, with the counts they were drawn from."""

    searches: int
    events: int
    joined_searches: int
    low: float
    high: float
    engaged_low: list[AuditItem]
    ignored_high: list[AuditItem]
    engaged_low_total: int
    ignored_high_total: int
    unscored: int


def read_events(path: Path) -> dict[str, dict[str, set[str]]]:
    """``request_id -> product id -> {"click", "purchase"}`` from a JSONL events file.

    Each line: ``{"request_id": ..., "id": ..., "event": "click" | "purchase"}``.

    Raises:
        InvalidRequestError: unreadable file or a bad line (names the line, the field and what
            is allowed).
    """
    out: dict[str, dict[str, set[str]]] = {}
    for number, event in read_objects(path, what="events file"):
        for key in ("request_id", "id"):
            if not isinstance(event.get(key), str) or not event[key]:
                msg = f"{path} line {number}: field {key!r} must be a non-empty string"
                raise InvalidRequestError(msg)
        if event.get("event") not in EVENTS:
            msg = f"{path} line {number}: field 'event' is {event.get('event')!r}; allowed {EVENTS}"
            raise InvalidRequestError(msg)
        out.setdefault(event["request_id"], {}).setdefault(event["id"], set()).add(event["event"])
    return out


def _similarity(
    hit: dict[str, Any], query_vec: np.ndarray | None, vector_of: Callable[[str], Any] | None
) -> float | None:
    if hit.get("vector_cosine") is not None:
        return float(hit["vector_cosine"])
    if query_vec is None or vector_of is None:
        return None
    doc = vector_of(str(hit["id"]))
    if doc is None:
        return None
    doc = np.asarray(doc, dtype=np.float64)
    denom = float(np.linalg.norm(doc) * np.linalg.norm(query_vec))
    return float(doc @ query_vec) / denom if denom > 0 else None


def audit(
    records: Iterable[dict[str, Any]],
    events: dict[str, dict[str, set[str]]],
    *,
    low: float = 0.3,
    high: float = 0.6,
    sample: int = 20,
    seed: int = 0,
    vector_of: Callable[[str], Any] | None = None,
    neighbours: Callable[[str], list[tuple[str, str, float]]] | None = None,
) -> AuditReport:
    """Draw both samples (seeded, so a report can be reproduced).

    Args:
        records: query-log records (``read_query_log``).
        events: ``read_events`` output.
        low: cosine below which an engaged result counts as low-similarity.
        high: cosine at or above which an ignored result counts as high-similarity.
        sample: at most this many items per sample.
        seed: the sampling seed.
        vector_of: a product's stored vector, for hits the vector leg did not score.
        neighbours: a product's three nearest lexical neighbours ``(id, title, bm25)``.

    Raises:
        InvalidRequestError: ``low`` > ``high``.
    """
    if low > high:
        msg = f"low={low} is above high={high}; the low-similarity bound must be <= the high one"
        raise InvalidRequestError(msg)
    engaged_low: list[AuditItem] = []
    ignored_high: list[AuditItem] = []
    searches = joined = unscored = 0
    for record in records:
        searches += 1
        got = events.get(str(record.get("request_id")), {})
        if got:
            joined += 1
        vec = decode_vector(record.get("vector"))
        query_vec = None if vec is None or not vec.size else vec.astype(np.float64)
        query = str(record.get("query") or record.get("query_sha256", "")[:12])
        for hit in record.get("hits", []):
            sim = _similarity(hit, query_vec, vector_of)
            if sim is None:
                unscored += 1
                continue
            done = sorted(got.get(str(hit["id"]), set()))
            item = AuditItem(
                str(record.get("request_id")), query, int(hit["rank"]), str(hit["id"]), sim, done
            )
            if done and sim < low:
                engaged_low.append(item)
            elif not done and got and sim >= high:
                ignored_high.append(item)
    rng = random.Random(seed)
    picks = []
    for items in (engaged_low, ignored_high):
        chosen = rng.sample(items, min(sample, len(items)))
        chosen.sort(key=lambda it: (it.request_id, it.rank))
        picks.append(chosen)
    if neighbours is not None:
        for item in picks[0] + picks[1]:
            item.neighbours = neighbours(item.id)[:3]
    return AuditReport(
        searches=searches,
        events=sum(len(v) for v in events.values()),
        joined_searches=joined,
        low=low,
        high=high,
        engaged_low=picks[0],
        ignored_high=picks[1],
        engaged_low_total=len(engaged_low),
        ignored_high_total=len(ignored_high),
        unscored=unscored,
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(items: list[AuditItem], titles: dict[str, str]) -> list[str]:
    if not items:
        return ["(none)", ""]
    rows = [
        "| search | query | rank | product | cosine | events | nearest lexical neighbours |",
        "|---|---|---:|---|---:|---|---|",
    ]
    for it in items:
        product = _cell(f"{it.id} {titles.get(it.id, '')}".strip())
        near = "; ".join(
            _cell(f"{nid} {title} ({score:.2f})") for nid, title, score in it.neighbours
        )
        rows.append(
            f"| {_cell(it.request_id)} | {_cell(it.query)} | {it.rank} | {product} | "
            f"{it.similarity:.3f} | {', '.join(it.events) or '-'} | {near or '-'} |"
        )
    return [*rows, ""]


def render_markdown(report: AuditReport, titles: dict[str, str] | None = None) -> str:
    """The report as markdown (``titles``: product id -> title, for readability)."""
    titles = titles or {}
    lines = [
        "# Relevance audit",
        "",
        f"- searches in the query log: {report.searches}; with at least one event: "
        f"{report.joined_searches}; events: {report.events}",
        f"- results without a similarity (no vector logged or product gone): {report.unscored}",
        "",
        f"## Engaged results with low vector similarity (cosine < {report.low})",
        "",
        f"{report.engaged_low_total} found, {len(report.engaged_low)} shown. The vector leg would "
        "not have retrieved these; what was bought is explained by its lexical neighbours.",
        "",
        *_table(report.engaged_low, titles),
        f"## Ignored results with high vector similarity (cosine >= {report.high})",
        "",
        f"{report.ignored_high_total} found, {len(report.ignored_high)} shown: candidates for "
        "false positives of the model (searches where the shopper engaged with another result).",
        "",
        *_table(report.ignored_high, titles),
    ]
    return "\n".join(lines)
