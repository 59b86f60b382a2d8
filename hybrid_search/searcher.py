"""The request path: legs, confidence gate, fusion, commercial stage, paging, breakdown.

The Searcher owns the order of the stages and the fallback policy; backends only answer simple
questions with raw scores, which keeps the embedded engine and OpenSearch ranking alike.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hybrid_search.backends import SearchBackend, create_backend
from hybrid_search.config import Settings
from hybrid_search.documents import FilterClause, parse_filters
from hybrid_search.embedding import Embedder, QueryEncoder, create_embedder
from hybrid_search.errors import (
    BackendUnavailableError,
    EmbedderError,
    HybridSearchError,
    InvalidRequestError,
    ModelMismatchError,
)
from hybrid_search.hits import Hit
from hybrid_search.ranking.commercial import CommercialParams, CommercialTerms, explore
from hybrid_search.ranking.confidence import cosine_from_score, gate
from hybrid_search.ranking.fusion import FusionResult, fuse
from hybrid_search.templates import IndexTemplate, load_template

__all__ = ["CommercialOverrides", "SearchRequest", "SearchResponse", "Searcher"]

logger = logging.getLogger(__name__)


class CommercialOverrides(BaseModel):
    """Per-request overrides of the commercial coefficients (bounded like the settings)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    relevance_weight: float | None = Field(None, ge=0.0, le=10.0)
    margin_weight: float | None = Field(None, ge=0.0, le=10.0)
    freshness_weight: float | None = Field(None, ge=0.0, le=10.0)
    freshness_tau_days: float | None = Field(None, gt=0.0, le=3650.0)
    popularity_weight: float | None = Field(None, ge=-10.0, le=10.0)
    popularity_damping: float | None = Field(None, ge=0.0, le=1000.0)
    exploration_rate: float | None = Field(None, ge=0.0, le=0.5)
    exploration_seed: int | None = None
    max_margin: float | None = Field(None, gt=0.0)


class SearchRequest(BaseModel):
    """A storefront query. Unset fields take the configured defaults."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(..., min_length=1)
    filters: dict[str, Any] | None = None
    k: int | None = Field(None, ge=1)
    page: int = Field(0, ge=0)
    mode: Literal["auto", "hybrid", "lexical", "vector"] | None = None
    normalization: Literal["min_max", "l2", "z_score"] | None = None
    combination: Literal["arithmetic_mean", "geometric_mean", "harmonic_mean", "rrf"] | None = None
    lexical_weight: float | None = Field(None, ge=0.0, le=1.0)
    vector_weight: float | None = Field(None, ge=0.0, le=1.0)
    rank_constant: int | None = Field(None, ge=1, le=10000)
    min_vector_cosine: float | None = Field(None, ge=-1.0, le=1.0)
    candidates: int | None = Field(None, ge=10, le=10000)
    commercial: CommercialOverrides | None = None
    explain: bool = False


class SearchResponse(BaseModel):
    """What a search returns: hits with their score breakdown, and how they were found."""

    hits: list[dict[str, Any]]
    mode_used: Literal["hybrid", "lexical", "vector"]
    fallback_reason: str | None = None
    degraded: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    page: int = 0
    k: int = 10
    candidates: dict[str, int] = Field(default_factory=dict)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    top_vector_cosine: float | None = None
    embedder: str | None = None


def _validate(raw: SearchRequest | dict[str, Any]) -> SearchRequest:
    if isinstance(raw, SearchRequest):
        return raw
    try:
        return SearchRequest.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "request"
        msg = f"field '{where}': {err.get('input')!r} is invalid: {err['msg']}"
        raise InvalidRequestError(msg) from exc


class Searcher:
    """Runs searches over one backend with one embedder (loaded on first use)."""

    def __init__(
        self,
        settings: Settings,
        template: IndexTemplate,
        backend: SearchBackend,
        embedder_factory: Callable[[], Embedder] | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.template = template
        self.backend = backend
        self._embedder_factory = embedder_factory or (lambda: create_embedder(settings.embedding))
        self._encoder: QueryEncoder | None = None
        self._model_checked = False
        self._lock = threading.Lock()
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._legs = ThreadPoolExecutor(max_workers=8, thread_name_prefix="search-leg")
        base = settings.commercial.model_dump()
        self._commercial_enabled = bool(base.pop("enabled"))
        self._commercial_params = CommercialParams(**base)

    @classmethod
    def from_settings(cls, settings: Settings) -> Searcher:
        """Template, backend and embedder as configured (nothing is opened yet)."""
        template = load_template(settings.template, settings.templates_dir)
        return cls(settings, template, create_backend(settings, template))

    @property
    def embedder(self) -> Embedder:
        """The embedder, loaded once.

        Raises:
            EmbedderError: the model could not be loaded.
        """
        return self.encoder.embedder

    @property
    def encoder(self) -> QueryEncoder:
        """The query-side wrapper (cache + timeout), built once.

        Raises:
            EmbedderError: the model could not be loaded.
        """
        if self._encoder is None:
            with self._lock:
                if self._encoder is None:
                    try:
                        embedder = self._embedder_factory()
                    except HybridSearchError:
                        raise
                    except Exception as exc:
                        msg = f"loading the embedding model failed: {type(exc).__name__}: {exc}"
                        raise EmbedderError(msg) from exc
                    cfg = self.settings.embedding
                    self._encoder = QueryEncoder(
                        embedder, cache_size=cfg.query_cache_size, timeout_s=cfg.timeout_s
                    )
        return self._encoder

    def check_model(self) -> None:
        """Refuse an index embedded with another model than the configured one.

        Raises:
            ModelMismatchError: the index's model id differs from the embedder's.
        """
        info_fn = getattr(self.backend, "info", None)
        if info_fn is None:
            return
        stored = info_fn().model_id
        current = self.embedder.model_id
        if stored != current:
            msg = (
                f"the index was embedded with {stored!r} but the configured model is "
                f"{current!r}; queries with another model are refused "
                "(set HYBRID_SEARCH_EMBEDDING__MODEL or rebuild the index)"
            )
            raise ModelMismatchError(msg)

    def _commercial(self, req: SearchRequest) -> tuple[bool, CommercialParams]:
        if req.commercial is None:
            return self._commercial_enabled, self._commercial_params
        overrides = req.commercial.model_dump(exclude_none=True)
        enabled = bool(overrides.pop("enabled", self._commercial_enabled))
        return enabled, replace(self._commercial_params, **overrides)

    def _timed_lexical(
        self, query: str, k: int, clauses: list[FilterClause]
    ) -> tuple[list[Hit], float]:
        t = time.perf_counter()
        hits = self.backend.lexical(query, k=k, filters=clauses)
        return hits, (time.perf_counter() - t) * 1000

    def _embed(self, text: str) -> tuple[Any, str | None]:
        try:
            encoder = self.encoder
            if not self._model_checked:
                self.check_model()
                self._model_checked = True
            return encoder.encode(text), None
        except ModelMismatchError:
            raise
        except EmbedderError as exc:
            return None, str(exc)

    def search(self, request: SearchRequest | dict[str, Any]) -> SearchResponse:
        """Run one search.

        Raises:
            InvalidRequestError: bad input (the message names field, value and what is allowed).
            ModelMismatchError: the index was embedded with another model.
            BackendUnavailableError: the embedder failed and ``search.fallback`` is ``off``.
        """
        t_start = time.perf_counter()
        req = _validate(request)
        cfg = self.settings.search
        query = req.query.strip()
        if not query:
            msg = "field 'query': the query is empty or only whitespace"
            raise InvalidRequestError(msg)
        if len(query) > cfg.max_query_chars:
            msg = f"field 'query': {len(query)} characters, at most {cfg.max_query_chars} allowed"
            raise InvalidRequestError(msg)
        k = req.k or cfg.k
        if k > cfg.max_k:
            msg = f"field 'k': {k} is out of range; allowed 1..{cfg.max_k}"
            raise InvalidRequestError(msg)
        if req.page > cfg.max_page:
            msg = f"field 'page': {req.page} is out of range; allowed 0..{cfg.max_page}"
            raise InvalidRequestError(msg)
        clauses = parse_filters(req.filters, self.template, max_filters=cfg.max_filters)
        mode = req.mode or cfg.mode
        window = max(req.candidates or cfg.candidates, (req.page + 1) * k)
        combination = req.combination or cfg.combination
        normalization = req.normalization or cfg.normalization
        weights = (
            cfg.lexical_weight if req.lexical_weight is None else req.lexical_weight,
            cfg.vector_weight if req.vector_weight is None else req.vector_weight,
        )
        if sum(weights) <= 0:
            msg = "fields 'lexical_weight' and 'vector_weight' are both 0; at least one must be > 0"
            raise InvalidRequestError(msg)
        tau = cfg.min_vector_cosine if req.min_vector_cosine is None else req.min_vector_cosine
        timings: dict[str, float] = {}
        degraded: list[str] = []
        warnings: list[str] = []
        fallback_reason: str | None = None

        lexical: list[Hit] = []
        vector: list[Hit] = []
        use_vector = mode != "lexical"
        pending: Future[tuple[list[Hit], float]] | None = None
        if mode != "vector":
            # Both legs at once (the embedded engines release the GIL; OpenSearch would answer
            # both in one _msearch): the lexical leg runs beside query embedding + k-NN.
            pending = self._legs.submit(self._timed_lexical, query, window, clauses)
        if use_vector:
            t = time.perf_counter()
            vec, error = self._embed(query)
            timings["embed"] = (time.perf_counter() - t) * 1000
            if error is not None:
                if cfg.fallback == "off":
                    msg = f"vector leg unavailable and fallback is off: {error}"
                    raise BackendUnavailableError(msg)
                logger.warning("vector leg degraded, answering lexically: %s", error)
                degraded.append("vector")
                warnings.append(f"embedder unavailable: {error}")
                fallback_reason = f"embedder unavailable: {error}"
                use_vector = False
                if mode == "vector":
                    pending = self._legs.submit(self._timed_lexical, query, window, clauses)
            else:
                t = time.perf_counter()
                vector = self.backend.vector(vec, k=window, filters=clauses)
                timings["vector"] = (time.perf_counter() - t) * 1000
        if pending is not None:
            lexical, timings["lexical"] = pending.result()

        top_cosine = None
        if vector:
            top_cosine = cosine_from_score(vector[0].score, self.template.vector.space_type)
        if use_vector and mode == "auto":
            decision = gate(top_cosine, tau)
            if not decision.use_vector and lexical:
                fallback_reason = decision.reason
                use_vector = False
            elif not decision.use_vector:
                warnings.append(f"{decision.reason}; kept because the lexical leg found nothing")

        t = time.perf_counter()
        mode_used: Literal["hybrid", "lexical", "vector"]
        if use_vector and lexical and vector:
            legs, mode_used = [lexical, vector], "hybrid"
        elif use_vector and (vector or not lexical):
            legs, mode_used = [vector], "vector"
        else:
            legs, mode_used = [lexical], "lexical"
        leg_names: list[str] = ["lexical", "vector"] if mode_used == "hybrid" else [mode_used]
        fused = fuse(
            [[(h.key, h.score) for h in leg] for leg in legs],
            normalization=normalization,
            combination=combination,
            weights=weights if mode_used == "hybrid" else (1.0,),
            rank_constant=req.rank_constant or cfg.rank_constant,
        ).head(window)
        timings["fusion"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        enabled, params = self._commercial(req)
        terms = self.backend.rerank(fused, params, now=self._clock()) if enabled else None
        order, explored = self._order(fused, terms, params, query)
        timings["commercial"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        page_rows = order[req.page * k : (req.page + 1) * k]
        sources = self.backend.fetch([fused.keys[i] for i in page_rows])
        timings["fetch"] = (time.perf_counter() - t) * 1000
        hits = self._render(
            page_rows, sources, fused, terms, explored, leg_names, req.page * k, req.explain
        )
        timings["total"] = (time.perf_counter() - t_start) * 1000
        encoder = self._encoder
        return SearchResponse(
            hits=hits,
            mode_used=mode_used,
            fallback_reason=fallback_reason,
            degraded=degraded,
            warnings=warnings,
            page=req.page,
            k=k,
            candidates={"lexical": len(lexical), "vector": len(vector), "fused": len(fused)},
            timings_ms={name: round(v, 3) for name, v in timings.items()},
            top_vector_cosine=top_cosine,
            embedder=(
                f"{encoder.embedder.model_id} ({encoder.embedder.runtime})" if encoder else None
            ),
        )

    @staticmethod
    def _order(
        fused: FusionResult,
        terms: CommercialTerms | None,
        params: CommercialParams,
        query: str,
    ) -> tuple[list[int], set[int]]:
        if terms is None:
            return list(range(len(fused))), set()
        order: list[int] = terms.order().tolist()
        if params.exploration_rate <= 0 or not order:
            return order, set()
        return explore(
            order,
            terms.popularity_value,
            fused.scores,
            rate=params.exploration_rate,
            seed=params.exploration_seed,
            query=query,
        )

    def _render(
        self,
        page_rows: list[int],
        sources: dict[Any, tuple[str, dict[str, Any]]],
        fused: FusionResult,
        terms: CommercialTerms | None,
        explored: set[int],
        leg_names: list[str],
        offset: int,
        explain: bool,
    ) -> list[dict[str, Any]]:
        space = self.template.vector.space_type
        out = []
        rank = offset
        for i in page_rows:
            key = fused.keys[i]
            if key not in sources:
                continue  # deleted between retrieval and fetch
            rank += 1
            doc_id, source = sources[key]
            breakdown: dict[str, Any] = {}
            for j, name in enumerate(leg_names):
                raw = fused.raw[i, j]
                breakdown[name] = None if np.isnan(raw) else float(raw)
                norm = fused.normalized[i, j]
                breakdown[f"{name}_normalized"] = None if np.isnan(norm) else float(norm)
            if breakdown.get("vector") is not None:
                breakdown["vector_cosine"] = cosine_from_score(breakdown["vector"], space)
            breakdown["fused"] = float(fused.scores[i])
            score = float(fused.scores[i])
            if terms is not None:
                score = float(terms.total[i])
                breakdown.update(
                    relevance=float(terms.relevance[i]),
                    margin=float(terms.margin[i]),
                    freshness=float(terms.freshness[i]),
                    popularity=float(terms.popularity[i]),
                    exploration=i in explored,
                )
            item: dict[str, Any] = {
                "id": doc_id,
                "rank": rank,
                "score": score,
                "breakdown": breakdown,
                "source": source,
            }
            if explain:
                item["explain"] = {
                    "fused_position": i + 1,
                    "legs": leg_names,
                    "window": len(fused),
                    "max_margin": terms.max_margin if terms is not None else None,
                    "max_popularity": terms.max_popularity if terms is not None else None,
                }
            out.append(item)
        return out

    def close(self) -> None:
        """Release the backend and the embedder's threads."""
        if self._encoder is not None:
            self._encoder.close()
        self._legs.shutdown(wait=True)
        self.backend.close()
