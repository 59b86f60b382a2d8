"""The commercial stage of the OpenSearch backend, two ways (``opensearch.commercial_stage``):

- ``sidecar`` (default): one ``ids`` search for the window's commercial fields, then the numpy
  formula of ``ranking/commercial.py`` here, exactly as the embedded engine computes it;
- ``painless``: window statistics, then a painless ``script_score`` over the fused window
  (bodies in ``stage.py``), totals read back in fused order: two round trips, the formula run
  by the cluster (equal to the numpy one to float32 precision).

``benchmarks/results/opensearch.md`` measures both on a real node.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from hybrid_search.backends.opensearch import admin, queries, stage
from hybrid_search.backends.opensearch.client import Request, root_cause
from hybrid_search.errors import BackendError
from hybrid_search.ranking.commercial import CommercialParams, CommercialTerms, commercial_terms
from hybrid_search.ranking.fusion import FusionResult

__all__ = ["STAGE_CHUNK", "CommercialStage"]

logger = logging.getLogger(__name__)

STAGE_CHUNK = 1000  # candidates per script_score request (1024 bool clauses by default)


class CommercialStage(admin.BackendParts):
    """``rerank`` for ``OpenSearchBackend`` (a mixin: it uses the backend's client and names)."""

    _script_source: str | None

    def script_source(self) -> str:
        """The rendered painless commercial script (read once)."""
        if self._script_source is None:
            self._script_source = stage.commercial_script_source(self.template)
        return self._script_source

    def rerank_requests(
        self,
        ids: list[str],
        fused: Sequence[float],
        params: CommercialParams,
        *,
        now: datetime,
        max_margin: float,
        max_popularity: float,
    ) -> tuple[Request, Request]:
        """The window statistics request and the ``script_score`` stage request."""
        stats = Request(
            "POST", f"/{self.alias}/_search", stage.commercial_stats_body(ids, self.template)
        )
        script_params = stage.commercial_params(
            params, now=now, max_margin=max_margin, max_popularity=max_popularity
        )
        stored = self.cfg.commercial_script == "stored"
        bodies = [
            stage.commercial_stage_body(
                ids[start : start + STAGE_CHUNK],
                fused[start : start + STAGE_CHUNK],
                self.template,
                script_params,
                source=None if stored else self.script_source(),
                script_id=self.names.script if stored else None,
            )
            for start in range(0, len(ids), STAGE_CHUNK)
        ]
        if len(bodies) == 1:
            return stats, Request("POST", f"/{self.alias}/_search", bodies[0])
        # one constant_score clause per candidate: stay under indices.query.bool.max_clause_count
        return stats, Request("POST", "/_msearch", queries.msearch_body(self.alias, bodies))

    def rerank(
        self, fused: FusionResult, params: CommercialParams, *, now: datetime
    ) -> CommercialTerms:
        """The commercial stage as a painless ``script_score`` over the window, in fused order.

        The totals come from OpenSearch; the per-term breakdown is the same formula over the
        fields the stage returns (a drift between the two is logged).

        Raises:
            BackendError: the script failed on the cluster.
        """
        ids = queries.ids_of(fused.keys)
        empty = np.zeros(0)
        if not ids:
            return commercial_terms(empty, empty, empty, empty, params)
        if self.cfg.commercial_stage == "sidecar":
            return self._rerank_here(ids, fused.scores, params, now)
        stats_req, _ = self.rerank_requests(
            ids, fused.scores.tolist(), params, now=now, max_margin=0.0, max_popularity=0.0
        )
        aggs = self.client.send(stats_req, what="commercial window stats").get("aggregations", {})
        max_margin = params.max_margin
        if max_margin is None:
            max_margin = float((aggs.get("max_margin") or {}).get("value") or 0.0)
        max_pop = float((aggs.get("max_popularity") or {}).get("value") or 0.0)
        _, stage_req = self.rerank_requests(
            ids,
            fused.scores.tolist(),
            params,
            now=now,
            max_margin=max_margin,
            max_popularity=max_pop,
        )
        resp = self.client.send(stage_req, what="commercial script_score stage")
        shift = max(0.0, -params.popularity_weight)  # stage.commercial_params' "shift"
        totals: dict[str, float] = {}
        fields: dict[str, dict[str, Any]] = {}
        for part in resp.get("responses", [resp]):
            if "error" in part:
                reason = root_cause(part)
                msg = f"the commercial script_score stage failed: {reason}"
                raise BackendError(msg, status=part.get("status"), reason=reason)
            for hit in part.get("hits", {}).get("hits", []):
                totals[hit["_id"]] = float(hit["_score"]) - shift
                fields[hit["_id"]] = hit.get("_source") or {}
        return self._terms(ids, fused.scores, totals, fields, params, now)

    def fields_request(self, ids: list[str]) -> Request:
        """The window's commercial fields (the sidecar stage's one round trip): an ``ids``
        search with ``_source`` filtered to them. Not ``_mget``: its per-document realtime gets
        took about 4x as long for 200 ids on the real node, and a search sees the documents the
        legs saw (the same refresh)."""
        names = sorted(set(self.template.commercial_fields.values()))
        body = {
            "size": len(ids),
            "track_total_hits": False,
            "_source": names,
            "query": {"ids": {"values": ids}},
        }
        return Request("POST", f"/{self.alias}/_search", body)

    def _rerank_here(
        self, ids: list[str], scores: np.ndarray, params: CommercialParams, now: datetime
    ) -> CommercialTerms:
        """The numpy formula over the fields one search returns; a document deleted since
        fusion ranks last, as in the painless stage."""
        resp = self.client.send(self.fields_request(ids), what="commercial fields")
        fields = {h["_id"]: h.get("_source") or {} for h in resp.get("hits", {}).get("hits", [])}
        margin, age, popularity = self._columns(ids, fields, now)
        terms = commercial_terms(scores, margin, age, popularity, params)
        gone = np.array([doc_id not in fields for doc_id in ids])
        if not gone.any():
            return terms
        total = terms.total.copy()
        total[gone] = -np.inf
        return dataclasses.replace(terms, total=total)

    def _columns(
        self, ids: list[str], fields: dict[str, dict[str, Any]], now: datetime
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Margin, age in days and popularity per candidate from the exact JSON values (NaN
        where missing)."""
        from hybrid_search.documents import parse_date

        roles = self.template.commercial_fields

        def column(role: str) -> np.ndarray:
            out = np.full(len(ids), np.nan)
            name = roles.get(role)
            for i, doc_id in enumerate(ids):
                value = fields.get(doc_id, {}).get(name) if name else None
                if value is None:
                    continue
                if role == "received_at":
                    out[i] = (now.timestamp() - parse_date(value, name or role).timestamp()) / 86400
                else:
                    out[i] = float(value)
            return out

        return column("margin"), column("received_at"), column("popularity")

    def _terms(
        self,
        ids: list[str],
        scores: np.ndarray,
        totals: dict[str, float],
        fields: dict[str, dict[str, Any]],
        params: CommercialParams,
        now: datetime,
    ) -> CommercialTerms:
        # The breakdown reads the exact JSON values (doc values and aggregations are float32).
        terms = commercial_terms(scores, *self._columns(ids, fields, now), params)
        script_total = np.array([totals.get(i, np.nan) for i in ids])
        missing = np.isnan(script_total)
        if missing.any():  # deleted between fusion and the stage: rank them last
            script_total[missing] = -np.inf
        drift = np.abs(script_total[~missing] - terms.total[~missing])
        if drift.size and float(drift.max()) > 1e-4:
            logger.warning(
                "painless commercial stage and numpy formula differ by %.2g", float(drift.max())
            )
        return CommercialTerms(
            terms.relevance,
            terms.margin,
            terms.freshness,
            terms.popularity,
            script_total,
            terms.max_margin,
            terms.max_popularity,
            terms.popularity_value,
        )
