"""The request path: legs, confidence gate, fusion, commercial stage, paging, breakdown.

The Searcher owns the order of the stages and the fallback policy; backends only answer simple
questions with raw scores, which keeps the embedded engine and OpenSearch ranking alike.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

import numpy as np

from hybrid_search.backends import Health, SearchBackend, create_backend
from hybrid_search.config import Settings
from hybrid_search.documents import FilterClause, parse_filters
from hybrid_search.embedding import Embedder, QueryEncoder, create_embedder
from hybrid_search.errors import (
    BackendUnavailableError,
    EmbedderError,
    HybridSearchError,
    IndexNotFoundError,
    InvalidRequestError,
    ModelMismatchError,
)
from hybrid_search.hits import Hit, HitColumns, IngestReport
from hybrid_search.ingest import index_documents
from hybrid_search.ltr.stage import LtrResult, LtrStage, RerankStep
from hybrid_search.ranking.commercial import CommercialParams, CommercialTerms, explore
from hybrid_search.ranking.confidence import cosine_from_score
from hybrid_search.ranking.fusion import FusionResult
from hybrid_search.ranking.plan import (
    NO_MATCH,
    LegRun,
    Resolved,
    adaptive_params,
    choose_legs,
    decide,
    fuse_legs,
    resolve,
    retry_typos,
)
from hybrid_search.render import render_hits
from hybrid_search.schemas import (
    CommercialOverrides,
    SearchRequest,
    SearchResponse,
    validate_request,
)
from hybrid_search.templates import IndexTemplate, load_template

__all__ = [
    "NO_MATCH",
    "CommercialOverrides",
    "SearchRequest",
    "SearchResponse",
    "Searcher",
    "adaptive_params",
]

logger = logging.getLogger(__name__)


def _top_scores(leg: Sequence[Hit], n: int) -> list[float]:
    """The first ``n`` raw scores of a leg (from a ``HitColumns``' array without building hits)."""
    if isinstance(leg, HitColumns):
        top: list[float] = leg.scores[:n].tolist()
        return top
    return [h.score for h in leg[:n]]


@dataclass(frozen=True)
class _LegResults:
    """What the legs returned (``degraded``: why the vector leg is missing, if it is)."""

    lexical: Sequence[Hit]
    vector: Sequence[Hit]
    vec: Any
    native: FusionResult | None
    degraded: str | None

    @property
    def vector_used(self) -> bool:
        """The vector leg was asked and answered (not degraded)."""
        return self.vec is not None and self.degraded is None


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
        self._commercial_enabled = settings.commercial.enabled
        self._commercial_params = CommercialParams.from_settings(settings.commercial)
        self._adaptive = adaptive_params(settings.search)
        model = settings.search.ltr_model
        self.ltr: RerankStep | None = LtrStage(model, template) if model is not None else None

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
        stored = self.backend.info().model_id
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

    def _matches_nothing(self, clauses: list[FilterClause], vec: Any, searched: bool) -> bool:
        """Whether no document passes the filters, asked when no leg found anything. The vector
        leg returns the nearest of the filtered documents, so when it answered (``searched``:
        not degraded, not native mode's radial search) it is empty only if none passes; else
        one k=1 probe tells."""
        if searched and vec is not None and np.any(vec):
            return True
        probe = np.zeros(self.template.vector.dimension, dtype=np.float32)
        probe[0] = 1.0
        try:
            return not self.backend.vector(probe, k=1, filters=clauses)
        except HybridSearchError:  # the vector leg is away: we cannot tell
            return False

    def _timed_lexical(
        self, query: str, k: int, clauses: list[FilterClause], fuzzy: bool = False
    ) -> tuple[Sequence[Hit], float]:
        t = time.perf_counter()
        hits = self.backend.lexical(query, k=k, filters=clauses, fuzzy=fuzzy)
        return hits, (time.perf_counter() - t) * 1000

    def _embed(self, text: str) -> tuple[Any, str | None]:
        try:
            encoder = self.encoder
            if not self._model_checked:
                self.check_model()
                self._model_checked = True
            # With vector_blocks: the text vector padded with zeros (templates.query_vector).
            return self.template.query_vector(encoder.encode(text)), None
        except ModelMismatchError:
            raise
        except EmbedderError as exc:
            return None, str(exc)

    def _top_cosine(self, vector: Sequence[Hit], query: Any) -> float:
        """The gate's similarity: the engine score's cosine, or for a model that keeps document
        magnitude (inner product ``|q| |d| cos``, unbounded) the best cosine once the stored
        lengths are divided out (embedding/magnitude.py). With vector_blocks the inner product
        is ``text_weight * cos``: the weight is divided out (a magnitude model is refused there).
        """
        space = self.template.vector.space_type
        keeps = getattr(self.encoder.embedder, "keeps_document_magnitude", False)
        if not keeps or self.template.blocks is not None:
            return cosine_from_score(vector[0].score, space) / self.template.text_similarity_scale
        dots = np.array([cosine_from_score(h.score, space) for h in vector])
        lengths = self.backend.vector_norms([h.key for h in vector]) * float(np.linalg.norm(query))
        return float(np.max(dots / np.maximum(lengths, 1e-12)))

    def search(self, request: SearchRequest | dict[str, Any]) -> SearchResponse:
        """Run one search: the plan's decisions (ranking/plan.py) with the I/O between them.

        Raises:
            InvalidRequestError: bad input (the message names field, value and what is allowed).
            ModelMismatchError: the index was embedded with another model.
            BackendUnavailableError: the embedder failed and ``search.fallback`` is ``off``.
        """
        t_start = time.perf_counter()
        req = validate_request(request)
        r = resolve(req, self.settings.search, self.template, adaptive=self._adaptive)
        timings: dict[str, float] = {}
        caps = self.backend.capabilities
        run = choose_legs(
            r.mode,
            both_legs=caps.both_legs is not None,
            native_fusion=caps.native_fusion is not None,
        )
        got = self._run_legs(r, run, timings)
        lexical, vector, native = got.lexical, got.vector, got.native
        if retry_typos(r, lexical_found=bool(lexical), vector_used=got.vector_used):
            lexical, timings["lexical_fuzzy"] = self._timed_lexical(
                r.query, r.window, r.clauses, True
            )
        top_cosine = self._top_cosine(vector, got.vec) if vector else None
        # Nothing passed the filters: say that, not a gate reason for an empty vector leg.
        unmatched = (
            not (lexical or vector or (native is not None and len(native)))
            and bool(r.clauses)
            and self._matches_nothing(
                r.clauses, got.vec, searched=got.vector_used and native is None
            )
        )
        decision = decide(
            r,
            lexical_found=bool(lexical),
            vector_found=bool(vector),
            lexical_top=_top_scores(lexical, 10),
            top_cosine=top_cosine,
            degraded=got.degraded,
            native=native is not None,
            unmatched=unmatched,
        )
        t = time.perf_counter()
        # Native mode: the pipeline fused (the radial min_score on the knn sub-query gated).
        fused = native if native is not None else fuse_legs(r, decision, lexical, vector)
        timings["fusion"] = (time.perf_counter() - t) * 1000

        fused, ltr = self._learned_rerank(
            req, r.query, fused, decision.leg_names, got.vec, r.typo, r.k, timings
        )

        t = time.perf_counter()
        enabled, params = self._commercial(req)
        terms = self.backend.rerank(fused, params, now=self._clock()) if enabled else None
        order, explored = self._order(fused, terms, params, r.query)
        timings["commercial"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        page_rows = order[r.page * r.k : (r.page + 1) * r.k]
        sources = self.backend.fetch([fused.keys[i] for i in page_rows])
        timings["fetch"] = (time.perf_counter() - t) * 1000
        hits = render_hits(
            self.template.vector.space_type,
            page_rows,
            sources,
            fused,
            terms,
            explored,
            decision.leg_names,
            r.page * r.k,
            req.explain,
            cosine_scale=self.template.text_similarity_scale,
            ltr=ltr,
        )
        timings["total"] = (time.perf_counter() - t_start) * 1000
        encoder = self._encoder
        return SearchResponse(
            hits=hits,
            mode_used=decision.mode_used,
            fallback_reason=decision.fallback_reason,
            degraded=decision.degraded,
            warnings=decision.warnings,
            page=r.page,
            k=r.k,
            candidates={"lexical": len(lexical), "vector": len(vector), "fused": len(fused)},
            timings_ms={name: round(v, 3) for name, v in timings.items()},
            top_vector_cosine=top_cosine,
            embedder=(
                f"{encoder.embedder.model_id} ({encoder.embedder.runtime})" if encoder else None
            ),
        )

    def _run_legs(self, r: Resolved, run: LegRun, timings: dict[str, float]) -> _LegResults:
        """Run the legs as ``choose_legs`` said, degrading to the lexical leg where the
        embedder or the vector leg is unavailable (unless ``search.fallback`` is ``off``).

        Raises:
            BackendUnavailableError: the embedder failed and ``search.fallback`` is ``off``.
            BackendError: the vector leg failed and ``search.fallback`` is ``off``.
        """
        args = (r.query, r.window, r.clauses, r.typo)
        if run == "lexical":
            # One leg: no thread hand-off (it cost ~0.25 ms a search at 200k docs).
            alone, timings["lexical"] = self._timed_lexical(*args)
            return _LegResults(alone, [], None, None, None)
        strict = self.settings.search.fallback == "off"
        # Both legs at once (the embedded engines release the GIL): the lexical leg runs beside
        # query embedding + k-NN.
        pending = self._legs.submit(self._timed_lexical, *args) if run == "parallel" else None
        lexical: Sequence[Hit] = []
        vector: Sequence[Hit] = []
        native: FusionResult | None = None
        degraded: str | None = None
        t = time.perf_counter()
        vec, error = self._embed(r.query)
        timings["embed"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        if error is not None:
            if strict:
                msg = f"vector leg unavailable and fallback is off: {error}"
                raise BackendUnavailableError(msg)
            logger.warning("vector leg degraded, answering lexically: %s", error)
            degraded = f"embedder unavailable: {error}"
            if pending is None:
                pending = self._legs.submit(self._timed_lexical, *args)
        elif run == "native":
            engine = self.backend.capabilities.native_fusion
            assert engine is not None  # choose_legs said so
            native = engine.native_fused(
                r.query,
                vec,
                window=r.window,
                filters=r.clauses,
                min_vector_cosine=r.tau if r.mode == "auto" else None,
                rrf=r.combination == "rrf",
                fuzzy=r.typo,
            )
            timings["native"] = (time.perf_counter() - t) * 1000
        elif run == "both":
            both_legs = self.backend.capabilities.both_legs
            assert both_legs is not None  # choose_legs said so
            both = both_legs.legs(r.query, vec, k=r.window, filters=r.clauses, fuzzy=r.typo)
            lexical, vector, exc = both.lexical, both.vector, both.vector_error
            if exc is not None:  # only the vector leg failed
                if strict:
                    raise exc
                logger.warning("vector leg degraded, answering lexically: %s", exc)
                degraded = f"vector leg unavailable: {exc}"
            timings["legs"] = (time.perf_counter() - t) * 1000
        else:
            vector = self.backend.vector(vec, k=r.window, filters=r.clauses)
            timings["vector"] = (time.perf_counter() - t) * 1000
        if pending is not None:
            lexical, timings["lexical"] = pending.result()
        return _LegResults(lexical, vector, vec, native, degraded)

    def _learned_rerank(
        self,
        req: SearchRequest,
        query: str,
        fused: FusionResult,
        leg_names: list[str],
        vec: Any,
        fuzzy: bool,
        k: int,
        timings: dict[str, float],
    ) -> tuple[FusionResult, LtrResult | None]:
        """The learned re-rank (``search.rerank: ltr``): the top ``ltr_window`` of the fused
        window re-ordered by the model, before the commercial stage (ltr/stage.py).

        Raises:
            InvalidRequestError: ``rerank: ltr`` was asked for but no model is configured.
            ModelMismatchError: the model was trained with another embedding model.
        """
        if (req.rerank or self.settings.search.rerank) != "ltr" or not len(fused):
            return fused, None
        if self.ltr is None:
            msg = "field 'rerank': 'ltr' needs a model: set HYBRID_SEARCH_SEARCH__LTR_MODEL"
            raise InvalidRequestError(msg)
        t = time.perf_counter()
        if vec is not None:
            self.ltr.check_embedding(self.encoder.embedder.model_id)
        window = fused.head(max(self.settings.search.ltr_window, (req.page + 1) * k))
        result = self.ltr.rerank(self.backend, query, window, leg_names, vec, fuzzy=fuzzy)
        timings["ltr"] = (time.perf_counter() - t) * 1000
        return (fused, None) if result is None else (result.fused, result)

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

    def similar(
        self,
        doc_id: str,
        *,
        k: int | None = None,
        filters: dict[str, Any] | None = None,
        blocks: Sequence[str] | None = None,
    ) -> SearchResponse:
        """More like this: the nearest documents to one document's stored vector, itself excluded.

        With ``vector_blocks`` the stored vector holds every block (text, behaviour, ...), so
        neighbours share text and shoppers; ``blocks`` compares only those blocks (the others
        zeroed: ``["text"]`` gives the text-only neighbours). The score is then the inner
        product of fused vectors, the sum of the blocks' weighted cosines (``vector_similarity``
        in the breakdown), not a cosine.

        Raises:
            IndexNotFoundError: no document has this id.
            InvalidRequestError: ``k`` out of range, a bad filter, or unknown ``blocks``.
        """
        t_start = time.perf_counter()
        cfg = self.settings.search
        k = cfg.k if k is None else k
        if not 1 <= k <= cfg.max_k:
            msg = f"field 'k': {k} is out of range; allowed 1..{cfg.max_k}"
            raise InvalidRequestError(msg)
        clauses = parse_filters(filters, self.template, max_filters=cfg.max_filters)
        vec = self.backend.vector_of(doc_id)
        if vec is None:
            msg = f"document {doc_id!r} not found"
            raise IndexNotFoundError(msg)
        layout = self.template.blocks
        if blocks is not None:
            if layout is None:
                msg = f"field 'blocks': template '{self.template.name}' declares no vector_blocks"
                raise InvalidRequestError(msg)
            try:
                vec = layout.keep(vec, blocks)
            except ValueError as exc:
                msg = f"field 'blocks': {exc}"
                raise InvalidRequestError(msg) from exc
        found = self.backend.vector(vec, k=k + 1, filters=clauses) if np.any(vec) else []
        sources = self.backend.fetch([h.key for h in found])
        space = self.template.vector.space_type
        hits: list[dict[str, Any]] = []
        for h in found:
            if h.key not in sources or sources[h.key][0] == doc_id or len(hits) == k:
                continue
            cosine = cosine_from_score(h.score, space)
            breakdown = {"vector": h.score, "vector_cosine": cosine, "fused": h.score}
            if layout is not None:
                breakdown = {"vector": h.score, "vector_similarity": cosine, "fused": h.score}
            hits.append(
                {
                    "id": sources[h.key][0],
                    "rank": len(hits) + 1,
                    "score": h.score,
                    "breakdown": breakdown,
                    "source": sources[h.key][1],
                }
            )
        return SearchResponse(
            hits=hits,
            mode_used="vector",
            k=k,
            candidates={"vector": len(found)},
            timings_ms={"total": round((time.perf_counter() - t_start) * 1000, 3)},
            top_vector_cosine=hits[0]["breakdown"].get("vector_cosine") if hits else None,
        )

    # ---------------------------------------------------- the documents (what the API serves)
    @property
    def backend_name(self) -> str:
        """The backend's registry name (``embedded``, ``opensearch``)."""
        return self.backend.name

    def upsert(self, documents: Sequence[Any]) -> IngestReport:
        """The real-time write path (``POST /v1/documents``): validate, embed and index, each
        batch searchable when this returns; every document indexed or in ``failed``.

        Raises:
            ModelMismatchError: the index was built with another model.
        """
        return index_documents(
            ((f"item {i}", doc) for i, doc in enumerate(documents)),
            template=self.template,
            embedder=self.embedder,
            backend=self.backend,
            embed_batch_size=self.settings.embedding.batch_size,
            realtime=True,
            per_item=True,
        )

    def get(self, doc_id: str) -> dict[str, Any] | None:
        """One stored document's source by id, or None."""
        return self.backend.get(doc_id)

    def delete(self, ids: Sequence[str]) -> int:
        """Delete documents by id; how many existed."""
        return self.backend.delete(ids)

    def count(self) -> int:
        """Documents in the index."""
        return self.backend.count()

    def health(self) -> Health:
        """The backend's state (``/healthz``, ``/readyz``)."""
        return self.backend.health()

    def close(self) -> None:
        """Release the backend and the embedder's threads."""
        if self._encoder is not None:
            self._encoder.close()
        self._legs.shutdown(wait=True)
        self.backend.close()
