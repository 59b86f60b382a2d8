"""Prometheus metrics of the sidecar, observed from the outside of the ranking code.

The Searcher and the ingest path already return everything worth counting (``SearchResponse``
with ``mode_used``, ``fallback_reason``, ``candidates`` and ``timings_ms``; ``IngestReport``
with ``indexed`` and ``failed``), so the API calls :meth:`Metrics.observe_search` and
:meth:`Metrics.observe_ingest` on those results instead of threading counters through the
stages. Each app owns its own ``CollectorRegistry`` (no process-global state), rendered by
``GET /metrics`` in the Prometheus text format.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hybrid_search.errors import HybridSearchError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from prometheus_client.metrics_core import Metric

    from hybrid_search.hits import IngestReport
    from hybrid_search.searcher import SearchResponse

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "MetricsMiddleware", "fallback_kind"]

#: Seconds; searches on the embedded engine take ~2-30 ms, OpenSearch round trips up to ~1 s.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_CANDIDATE_BUCKETS = (0, 1, 5, 10, 25, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


def fallback_kind(reason: str | None) -> str | None:
    """A bounded label for a fallback reason (the reason text carries numbers and messages).

    Returns:
        ``low_confidence`` (the confidence gate), ``embedder_unavailable``,
        ``vector_leg_unavailable``, ``other``, or None when there was no fallback.
    """
    if not reason:
        return None
    for prefix, kind in (
        ("low vector confidence", "low_confidence"),
        ("embedder unavailable", "embedder_unavailable"),
        ("vector leg unavailable", "vector_leg_unavailable"),
    ):
        if reason.startswith(prefix):
            return kind
    return "other"


class _DocumentsCollector(Collector):
    """``hybrid_search_index_documents``: the live document count, read at scrape time."""

    def __init__(self, count: Callable[[], int]) -> None:
        self.count = count

    def collect(self) -> Iterable[Metric]:
        try:
            value = self.count()
        except HybridSearchError:  # no index yet, or the cluster is down: no sample
            return []
        gauge = GaugeMetricFamily(
            "hybrid_search_index_documents", "Live documents in the index (read at scrape time)"
        )
        gauge.add_metric([], float(value))
        return [gauge]


class Metrics:
    """The sidecar's collectors, in a registry of their own.

    ``document_count``, when given, is called at each scrape for the index size gauge.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        document_count: Callable[[], int] | None = None,
    ) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        if document_count is not None:
            r.register(_DocumentsCollector(document_count))
        self.http_seconds = Histogram(
            "hybrid_search_http_request_duration_seconds",
            "HTTP request latency by route template, method and status",
            ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.search_seconds = Histogram(
            "hybrid_search_search_duration_seconds",
            "Search latency (route handler, model included) by route and mode_used",
            ["route", "mode"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.stage_seconds = Histogram(
            "hybrid_search_search_stage_duration_seconds",
            "Per-stage search latency from SearchResponse.timings_ms",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.embedding_seconds = Histogram(
            "hybrid_search_query_embedding_duration_seconds",
            "Query embedding latency (cache hits included)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.candidates = Histogram(
            "hybrid_search_candidates",
            "Candidates per search and leg (lexical, vector, fused)",
            ["leg"],
            buckets=_CANDIDATE_BUCKETS,
            registry=r,
        )
        self.fallbacks = Counter(
            "hybrid_search_fallbacks",
            "Searches answered by a fallback, by reason",
            ["reason"],
            registry=r,
        )
        self.zero_results = Counter(
            "hybrid_search_zero_result_searches",
            "Searches that returned no hit, by route and mode_used",
            ["route", "mode"],
            registry=r,
        )
        self.backend_errors = Counter(
            "hybrid_search_backend_errors",
            "Requests that failed on the backend or the model, by error type",
            ["type"],
            registry=r,
        )
        self.documents_ingested = Counter(
            "hybrid_search_documents_ingested",
            "Documents indexed through the ingest path",
            registry=r,
        )
        self.documents_rejected = Counter(
            "hybrid_search_documents_rejected",
            "Documents rejected by the ingest path (validation, embedding or backend)",
            registry=r,
        )

    def observe_search(self, response: SearchResponse, seconds: float, *, route: str) -> None:
        """Record one answered search or similar-items request."""
        mode = response.mode_used
        self.search_seconds.labels(route=route, mode=mode).observe(seconds)
        for stage, ms in response.timings_ms.items():
            if stage != "total":
                self.stage_seconds.labels(stage=stage).observe(ms / 1000.0)
        if "embed" in response.timings_ms:
            self.embedding_seconds.observe(response.timings_ms["embed"] / 1000.0)
        for leg, count in response.candidates.items():
            self.candidates.labels(leg=leg).observe(count)
        kind = fallback_kind(response.fallback_reason)
        if kind is not None:
            self.fallbacks.labels(reason=kind).inc()
        if not response.hits:
            self.zero_results.labels(route=route, mode=mode).inc()

    def observe_ingest(self, report: IngestReport) -> None:
        """Record the outcome of one ingest call."""
        self.documents_ingested.inc(report.indexed)
        self.documents_rejected.inc(len(report.failed))

    def observe_error(self, error_type: str) -> None:
        """Record a request that failed with a 5xx error type (``backend_unavailable``, ...)."""
        self.backend_errors.labels(type=error_type).inc()

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return bytes(generate_latest(self.registry))


class MetricsMiddleware:
    """Times every HTTP request, labelled by the matched route template (never the raw path,
    which would give one series per document id) and the response status."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.http_seconds.labels(
                route=route, method=scope["method"], status=str(status)
            ).observe(time.perf_counter() - start)
