"""``Observer``: what the API calls after each request, feeding the metrics and the query log.

Kept here so the routes stay thin: one call per answered search, ingest or failure.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

from hybrid_search.errors import HybridSearchError
from hybrid_search.observability.metrics import Metrics
from hybrid_search.observability.querylog import QueryLog, search_record

if TYPE_CHECKING:
    import numpy as np

    from hybrid_search.config import ObservabilitySettings
    from hybrid_search.hits import IngestReport
    from hybrid_search.searcher import Searcher, SearchResponse

__all__ = ["Observer"]

logger = logging.getLogger(__name__)


class Observer:
    """The app's metrics registry and, when enabled, its query log."""

    def __init__(self, cfg: ObservabilitySettings, *, searcher: Searcher | None = None) -> None:
        self.cfg = cfg
        self.metrics = Metrics(document_count=searcher.backend.count if searcher else None)
        self.query_log = QueryLog.from_settings(cfg) if cfg.query_log_enabled else None
        self._salt = cfg.hash_salt.get_secret_value() if cfg.hash_salt is not None else ""
        if self.query_log is not None and cfg.hash_queries and not self._salt:
            # An unsalted SHA-256 of a short query (an e-mail address, a name) is reversed by
            # guessing: without a configured salt, use a random one for this process.
            self._salt = secrets.token_hex(16)
            logger.warning(
                "query log: no observability.hash_salt configured; query hashes use a random "
                "salt for this process and will not match across restarts "
                "(set HYBRID_SEARCH_OBSERVABILITY__HASH_SALT to keep them comparable)"
            )

    def _query_vector(self, searcher: Searcher, query: str, response: SearchResponse) -> Any:
        if not self.cfg.log_vectors or "embed" not in response.timings_ms:
            return None  # the search did not embed the query: do not run the model for the log
        if "vector" in response.degraded:
            return None
        try:
            # The search just encoded this text: the query cache answers without the model.
            vec: np.ndarray = searcher.encoder.encode(query)
        except HybridSearchError as exc:
            logger.debug("query log: no vector for the record: %s", exc)
            return None
        return vec

    def searched(
        self,
        response: SearchResponse,
        *,
        seconds: float,
        route: str,
        searcher: Searcher | None = None,
        query: str | None = None,
        filters: dict[str, Any] | None = None,
        mode: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """Record one answered search: metrics always, the query log when enabled."""
        self.metrics.observe_search(response, seconds, route=route)
        if self.query_log is None or query is None or searcher is None:
            return
        text = query.strip()
        record = search_record(
            response,
            query=text,
            filters=filters,
            mode_requested=mode,
            request_id=request_id,
            route=route,
            vector=self._query_vector(searcher, text, response),
            hash_queries=self.cfg.hash_queries,
            salt=self._salt,
        )
        self.query_log.write(record)

    def ingested(self, report: IngestReport) -> None:
        """Record one ingest call's indexed and rejected counts."""
        self.metrics.observe_ingest(report)

    def failed(self, error_type: str) -> None:
        """Record a request that failed with a 5xx error type."""
        self.metrics.observe_error(error_type)
