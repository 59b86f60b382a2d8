"""Every request the OpenSearch backend would send for one query, built without a cluster.

``build_plan`` uses the backend's own request builders (no copy of them), so what a search team
reviews is what runs. ``write_plan`` writes one JSON file per request:
``{"method": "PUT", "path": "/_index_template/products", "body": {...}}``; an ``_msearch`` or
``_bulk`` body is the list of its NDJSON lines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from hybrid_search.backends.opensearch.backend import OpenSearchBackend
from hybrid_search.backends.opensearch.bootstrap import object_name
from hybrid_search.backends.opensearch.client import Request
from hybrid_search.config import Settings
from hybrid_search.documents import parse_filters
from hybrid_search.ranking.commercial import CommercialParams
from hybrid_search.templates import IndexTemplate

__all__ = ["EXAMPLE_CANDIDATES", "PlannedRequest", "build_plan", "write_plan"]

# The commercial stage runs over the fused window of a live search; without a cluster the plan
# shows its shape over two illustrative candidates (ids and fused scores are placeholders).
EXAMPLE_CANDIDATES = (("example-candidate-1", 1.0), ("example-candidate-2", 0.5))


@dataclass(frozen=True)
class PlannedRequest:
    """One request of the plan: a file name stem, the body kind for spec validation, the request."""

    name: str
    kind: str
    request: Request


def build_plan(
    settings: Settings,
    template: IndexTemplate,
    *,
    query: str,
    embedding: np.ndarray,
    model_id: str,
    filters: dict[str, Any] | None = None,
    k: int | None = None,
    page: int = 0,
    now: datetime | None = None,
) -> list[PlannedRequest]:
    """The bootstrap writes, both legs, the commercial stage and the native hybrid query.

    Raises:
        InvalidRequestError: a bad filter (names the field and what is allowed).
        TemplateError: the painless script is missing a field it needs.
    """
    backend = OpenSearchBackend(settings, template)  # no I/O: the client is never used
    cfg = settings.search
    clauses = parse_filters(filters, template, max_filters=cfg.max_filters)
    k = k or cfg.k
    window = max(cfg.candidates, (page + 1) * k)
    plan: list[PlannedRequest] = []
    for kind, req in backend.bootstrapper.requests(
        model_id=model_id, dimension=template.vector.dimension
    ):
        plan.append(PlannedRequest(f"{kind}-{object_name(req)}", kind, req))
    fuzzy = cfg.fuzzy == "always"  # the Searcher's typo tolerance on the first try
    legs = backend.legs_request(query, embedding, k=window, filters=clauses, fuzzy=fuzzy)
    plan.append(PlannedRequest("msearch-legs", "msearch", legs))
    ids = [doc_id for doc_id, _ in EXAMPLE_CANDIDATES]
    scores = [score for _, score in EXAMPLE_CANDIDATES]
    stats, stage = backend.rerank_requests(
        ids,
        scores,
        CommercialParams.from_settings(settings.commercial),
        now=now or datetime.now(timezone.utc),
        max_margin=0.45,
        max_popularity=120.0,
    )
    plan.append(PlannedRequest("commercial-window-stats", "search", stats))
    plan.append(PlannedRequest("commercial-script-score", "search", stage))
    native = backend.native_request(
        query,
        embedding,
        size=k,
        from_=page * k,
        window=window,
        filters=clauses,
        min_vector_cosine=cfg.min_vector_cosine if cfg.mode == "auto" else None,
        rrf=cfg.combination == "rrf",
        fuzzy=fuzzy,
    )
    plan.append(PlannedRequest("native-hybrid", "search", native))
    return plan


def write_plan(plan: list[PlannedRequest], out: Path) -> list[Path]:
    """Write ``NN-<name>.json`` per request into ``out`` (created); returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, item in enumerate(plan, start=1):
        path = out / f"{number:02d}-{item.name}.json"
        path.write_text(json.dumps(item.request.plan(), indent=2, ensure_ascii=False) + "\n")
        paths.append(path)
    return paths
