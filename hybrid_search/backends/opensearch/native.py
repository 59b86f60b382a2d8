"""The native mode of the OpenSearch backend: one ``hybrid`` query normalised by the search
pipeline bootstrap installed, its knn sub-query gated by a radial ``min_score``.

Where the cluster's radial search converts ``min_score`` wrongly (Faiss innerproduct before
k-NN 3.4; Faiss cosinesimil and innerproduct with an efficient filter before 3.6:
``versions.radial_gate_flaw``), the gate runs in the sidecar instead: a top-``window`` knn probe
gives the raw scores (reference/opensearch.md §1.3, §3 "Probe"), the documents at or above the
same ``min_score`` are kept, and the hybrid query's knn sub-query is a top-k over just those
(an ``ids`` efficient filter). One more round trip, the same documents as a correct server's.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from hybrid_search.backends.opensearch import admin, queries
from hybrid_search.backends.opensearch.client import Request
from hybrid_search.backends.opensearch.versions import radial_gate_flaw
from hybrid_search.documents import FilterClause
from hybrid_search.errors import BackendError, InvalidRequestError
from hybrid_search.hits import Hit
from hybrid_search.ranking.fusion import FusionResult

__all__ = ["SENTINEL_SCORE_LIMIT", "NativeMode", "PipelineMissingError"]

logger = logging.getLogger(__name__)

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
        gated_ids: list[str] | None = None,
    ) -> Request:
        """One ``hybrid`` query against the bootstrapped pipeline (``search_pipeline`` param).

        ``gated_ids``: the sidecar's gate (``gate_in_sidecar``) replaces the radial knn.
        """
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
            gated_ids=gated_ids,
        )
        pipeline = self.names.rrf_pipeline if rrf else self.names.minmax_pipeline
        return Request("POST", f"/{self.alias}/_search", body, {"search_pipeline": pipeline})

    def _min_score(self, min_vector_cosine: float) -> float:
        """The radial ``min_score`` of the gate (vector_blocks: the raw similarity is
        ``text_weight * cos``, templates.py)."""
        scaled = min_vector_cosine * self.template.text_similarity_scale
        return queries.min_score_for_cosine(scaled, self.template.vector.space_type)

    def radial_flaw(self, filters: list[FilterClause]) -> str | None:
        """Why this cluster's radial ``min_score`` would gate this field wrongly, else None
        (reads the cluster version once)."""
        vector = self.template.vector
        filtered = bool(filters)
        if radial_gate_flaw(vector.engine, vector.space_type, filtered=filtered, version=(0, 0, 0)):
            version = self.bootstrapper.cluster_version()
            return radial_gate_flaw(
                vector.engine, vector.space_type, filtered=filtered, version=version
            )
        return None  # right on every version (Lucene, l2, unfiltered cosine): no GET / needed

    def gate_probe_request(
        self, vec: np.ndarray, *, window: int, filters: list[FilterClause]
    ) -> Request:
        """The knn probe of the sidecar's gate: the top ``window`` with their raw scores."""
        k = min(window, queries.KNN_MAX_K)
        body = queries.knn_body(vec, self.template, k=k, filters=filters, ef_search=self._ef(k))
        return Request("POST", f"/{self.alias}/_search", body)

    def gate_in_sidecar(
        self, vec: np.ndarray, *, window: int, filters: list[FilterClause], min_vector_cosine: float
    ) -> list[str]:
        """The ids a correct radial ``min_score`` would keep, from a k-based knn probe."""
        req = self.gate_probe_request(vec, window=window, filters=filters)
        probe = self._hits(self.client.send(req, what="knn gate probe"), "vector")
        min_score = self._min_score(min_vector_cosine)
        return [str(h.key) for h in probe if h.score >= min_score]

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
        gated_ids = None
        flaw = self.radial_flaw(filters) if min_vector_cosine is not None else None
        if flaw is not None and min_vector_cosine is not None:
            vec = self._query_vector(embedding)
            if vec is not None:  # else native_request names the zero vector
                logger.debug("vector gate in the sidecar: %s", flaw)
                gated_ids = self.gate_in_sidecar(
                    vec, window=window, filters=filters, min_vector_cosine=min_vector_cosine
                )
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
            gated_ids=gated_ids,
        )
        hits = self.native_search(req)
        nan = np.full((len(hits), 2), np.nan)
        scores = np.array([h.score for h in hits], dtype=np.float64)
        return FusionResult([h.key for h in hits], scores, nan, nan.copy())
