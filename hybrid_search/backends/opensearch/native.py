"""The native mode of the OpenSearch backend: one ``hybrid`` query normalised by the search
pipeline bootstrap installed, its knn sub-query gated by a radial ``min_score``."""

from __future__ import annotations

from typing import Any

import numpy as np

from hybrid_search.backends.opensearch import admin, queries
from hybrid_search.backends.opensearch.client import Request
from hybrid_search.documents import FilterClause
from hybrid_search.errors import BackendError, InvalidRequestError
from hybrid_search.hits import Hit
from hybrid_search.ranking.fusion import FusionResult

__all__ = ["SENTINEL_SCORE_LIMIT", "NativeMode", "PipelineMissingError"]

SENTINEL_SCORE_LIMIT = 0.0  # hybrid without a pipeline returns -9549511920.48 / -4422440593.98


class PipelineMissingError(BackendError):
    """A ``hybrid`` query came back un-normalised: no search pipeline was applied."""


class NativeMode(admin.BackendParts):
    """``native_fused`` and the query helpers of ``OpenSearchBackend`` (a mixin)."""

    @staticmethod
    def _hits(resp: Any, leg: str) -> list[Hit]:
        hits = resp.get("hits", {}).get("hits", [])
        return [Hit(h["_id"], float(h["_score"]), leg) for h in hits]  # type: ignore[arg-type]

    def _query_vector(self, embedding: np.ndarray) -> np.ndarray | None:
        """The query as float32, unit length for cosinesimil; None for a zero vector."""
        vec = np.asarray(embedding, dtype=np.float32).ravel()
        if self.template.vector.space_type == "cosinesimil":
            norm = float(np.linalg.norm(vec))
            if norm == 0 or not np.isfinite(norm):
                return None
            vec = vec / norm
        return vec

    def _ef(self, k: int) -> int:
        """knn ``ef_search``: the configured one, else max(k, the template's)."""
        return self.cfg.ef_search or max(k, self.template.vector.ef_search or 100)

    def native_request(
        self,
        text: str,
        embedding: np.ndarray,
        *,
        size: int,
        from_: int,
        window: int,
        filters: list[FilterClause],
        min_vector_cosine: float | None,
        rrf: bool = False,
        fuzzy: bool = False,
    ) -> Request:
        """One ``hybrid`` query against the bootstrapped pipeline (``search_pipeline`` param)."""
        vec = self._query_vector(embedding)
        if vec is None:
            msg = "field 'query': the query embedding is all zeros; no vector leg is possible"
            raise InvalidRequestError(msg)
        body = queries.hybrid_body(
            text,
            vec,
            self.template,
            size=size,
            from_=from_,
            window=window,
            filters=filters,
            fuzzy=fuzzy,
            ef_search=self._ef(window),
            min_vector_cosine=min_vector_cosine,
        )
        pipeline = self.names.rrf_pipeline if rrf else self.names.minmax_pipeline
        return Request("POST", f"/{self.alias}/_search", body, {"search_pipeline": pipeline})

    def native_search(self, request: Request) -> list[Hit]:
        """Run a ``native_request``; hits carry the pipeline's combined score.

        Raises:
            PipelineMissingError: a negative score came back (neural-search's un-normalised
                per-shard format): the pipeline is missing; run ``opensearch bootstrap``.
        """
        resp = self.client.send(request, what="native hybrid query")
        hits = self._hits(resp, "lexical")
        if any(h.score < SENTINEL_SCORE_LIMIT for h in hits):
            pipeline = request.params.get("search_pipeline", "(none)")
            msg = (
                f"the hybrid query on {self.alias} returned negative sentinel scores: search "
                f"pipeline {pipeline!r} is missing or was not applied; run `hybrid-search "
                "opensearch bootstrap` (reference/opensearch.md §0)"
            )
            raise PipelineMissingError(msg, status=200, reason="hybrid without pipeline")
        return hits

    def native_fused(
        self,
        text: str,
        embedding: np.ndarray,
        *,
        window: int,
        filters: list[FilterClause],
        min_vector_cosine: float | None,
        rrf: bool = False,
        fuzzy: bool = False,
    ) -> FusionResult:
        """The native mode for the Searcher: the pipeline's fused window, best first.

        Per-leg raw scores are not returned by a ``hybrid`` query (NaN in the result).

        Raises:
            PipelineMissingError: the search pipeline is missing.
        """
        req = self.native_request(
            text,
            embedding,
            size=window,
            from_=0,
            window=window,
            filters=filters,
            min_vector_cosine=min_vector_cosine,
            rrf=rrf,
            fuzzy=fuzzy,
        )
        hits = self.native_search(req)
        nan = np.full((len(hits), 2), np.nan)
        scores = np.array([h.score for h in hits], dtype=np.float64)
        return FusionResult([h.key for h in hits], scores, nan, nan.copy())
