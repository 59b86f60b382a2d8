"""``OpenSearchBackend``: the ``SearchBackend`` protocol over an existing OpenSearch cluster.

Searches go to the alias (``products``), which points at one versioned index (``products-v3``).
Hit keys are ``_id`` strings. Both legs travel in one ``_msearch`` (``legs``); the commercial stage
runs in OpenSearch as a ``script_score`` (``commercial.py``); ``native.py`` is the optional
``hybrid`` query + search pipeline mode. The constructor does no I/O.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from hybrid_search.backends.base import Capabilities, Health, IndexInfo, Legs
from hybrid_search.backends.opensearch import admin, queries
from hybrid_search.backends.opensearch.bootstrap import Bootstrapper
from hybrid_search.backends.opensearch.client import OpenSearchClient, Request, root_cause
from hybrid_search.backends.opensearch.commercial import CommercialStage
from hybrid_search.backends.opensearch.native import (
    SENTINEL_SCORE_LIMIT,
    NativeMode,
    PipelineMissingError,
)
from hybrid_search.backends.opensearch.versions import bm25_scale
from hybrid_search.config import Settings
from hybrid_search.documents import FilterClause, restore_block_vectors
from hybrid_search.errors import BackendError, HybridSearchError, InvalidRequestError
from hybrid_search.hits import CandidateScores, Hit, IngestReport
from hybrid_search.ranking.confidence import cosine_from_score
from hybrid_search.ranking.ltr_features import source_text
from hybrid_search.templates import IndexTemplate

__all__ = ["SENTINEL_SCORE_LIMIT", "OpenSearchBackend", "PipelineMissingError"]

logger = logging.getLogger(__name__)


class OpenSearchBackend(CommercialStage, NativeMode):
    """Hybrid search over an OpenSearch alias.

    Args:
        settings: all settings (the ``opensearch`` and ``search`` sections are used).
        template: the index template this backend serves.
        client: an existing client (tests); built from the settings otherwise.
    """

    name = "opensearch"

    def __init__(
        self, settings: Settings, template: IndexTemplate, client: OpenSearchClient | None = None
    ) -> None:
        self.settings = settings
        self.cfg = settings.opensearch
        self.template = template
        self.names = admin.Names(self.cfg.index_alias)
        self.client = client or OpenSearchClient(self.cfg)
        self.bootstrapper = Bootstrapper(self.client, template, settings)
        self.capabilities = Capabilities(
            both_legs=self,
            native_fusion=self if self.cfg.mode == "native" else None,
            bulk_loading=self,
            candidate_scoring=self,
            index_versions=self.bootstrapper,
        )
        self._script_source: str | None = None
        self._ensured: tuple[str, int] | None = None
        self._loading = threading.local()  # bulk() depth, per thread: the API's writes keep theirs

    # ------------------------------------------------------------------ index
    def ensure_index(self, *, model_id: str, dimension: int) -> IndexInfo:
        """Install what writes and searches need (idempotent), then check the stored model.

        Raises:
            ModelMismatchError: the index was embedded with another model.
            InvalidRequestError: the model's dimension differs from the template's.
            BackendUnavailableError: the cluster cannot be reached.
        """
        if dimension != self.template.vector.dimension:
            msg = (
                f"model {model_id} gives {dimension}-d vectors but template "
                f"{self.template.path} declares dimension {self.template.vector.dimension}"
            )
            raise InvalidRequestError(msg)
        if self._ensured != (model_id, dimension):  # once per instance: writes call this often
            steps = self.bootstrapper.run(
                model_id=model_id, dimension=dimension, required_only=True
            )
            for step in steps:
                if step.action == "stale":
                    logger.warning("index %s is stale: %s", step.name, step.detail)
        info = self.bootstrapper.check_model(model_id)
        self._ensured = (model_id, dimension)
        return info

    def info(self) -> IndexInfo:
        """Model id, dimension and template digest from the index ``_meta``, and the count.

        Raises:
            IndexNotFoundError: the alias does not exist.
        """
        return self.bootstrapper.info()

    def _prepare(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        vecs = np.asarray(vectors, dtype=np.float32)
        ok: np.ndarray = np.asarray(np.isfinite(vecs).all(axis=1))
        vecs = np.where(ok[:, None], vecs, 0.0).astype(np.float32)
        if self.template.vector.space_type == "cosinesimil":
            norms = np.linalg.norm(vecs, axis=1)
            ok &= norms > 0  # OpenSearch refuses zero vectors for cosinesimil
            vecs = (vecs / np.where(norms > 0, norms, 1.0)[:, None]).astype(np.float32)
        return vecs, ok

    def index(self, docs: Sequence[dict[str, Any]], vectors: np.ndarray) -> IngestReport:
        """Upsert documents with their vectors through ``_bulk``; every item indexed or reported.

        Raises:
            InvalidRequestError: documents and vectors differ in number.
            BackendUnavailableError: the cluster cannot be reached.
        """
        if len(docs) != len(vectors):
            msg = f"{len(docs)} documents but {len(vectors)} vectors"
            raise InvalidRequestError(msg)
        report = IngestReport()
        if not docs:
            return report
        vecs, ok = self._prepare(vectors)
        good = [i for i in range(len(docs)) if ok[i]]
        for i in range(len(docs)):
            if not ok[i]:
                doc_id = str(docs[i].get(self.template.id_field))
                report.failed.append((doc_id, "embedding is not finite or is all zeros"))
        step = self.cfg.bulk_docs
        refresh = "false" if getattr(self._loading, "depth", 0) else self.cfg.refresh
        for start in range(0, len(good), step):
            rows = good[start : start + step]
            try:
                chunk = self.bootstrapper.bulk_index(
                    self.alias, [docs[i] for i in rows], vecs[rows], refresh=refresh
                )
            except HybridSearchError as exc:
                if start == 0:
                    raise  # nothing was written: the caller sees the cluster's error
                # Earlier _bulk requests were applied: keep them, report this one and the rest
                # (an upsert is idempotent, so resending them is safe).
                logger.warning("bulk failed after %d documents: %s", report.indexed, exc)
                id_field = self.template.id_field
                reason = f"not indexed, the bulk request failed: {exc}"
                report.failed += [(str(docs[i].get(id_field)), reason) for i in good[start:]]
                break
            report.merge(chunk)
        return report

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """A bulk load (the CLI's ingest): ``index()`` calls in this thread send ``_bulk`` with
        no refresh, and one ``_refresh`` of the alias follows the load.

        ``opensearch.refresh`` (``wait_for`` by default) makes every ``_bulk`` wait for a
        refresh, the real-time path's promise (``POST /v1/documents``); over a large load that
        wait costs more than the indexing. If the load raises, nothing is refreshed: the
        documents written become searchable at the index's next scheduled refresh.

        A failed final refresh (the node went down during the load) is logged, not raised: the
        load's ``IngestReport`` is the record of which documents were acknowledged and which
        failed, and raising here would discard it. Acknowledged documents are durable (the
        translog) and searchable at the index's next refresh.
        """
        self._loading.depth = getattr(self._loading, "depth", 0) + 1
        try:
            yield
        finally:
            self._loading.depth -= 1
        if not self._loading.depth:
            try:
                self.client.send(Request("POST", f"/{self.alias}/_refresh"), what="refresh")
            except HybridSearchError as exc:
                logger.warning(
                    "the refresh after the bulk load failed (%s); the documents written become "
                    "searchable at the index's next refresh",
                    exc,
                )

    def drop_index(self) -> None:
        """Delete every version of the index behind the alias (by name); the template,
        pipelines and script stay for the next ``ensure_index``."""
        dropped = self.bootstrapper.drop_indices()
        self._ensured = None
        logger.info("dropped %s (alias %s)", ", ".join(dropped) or "nothing", self.alias)

    def delete(self, ids: Sequence[str]) -> int:
        """Delete by id; returns how many existed.

        Raises:
            BackendError: an item failed for another reason than not being found.
        """
        unique = list(dict.fromkeys(str(i) for i in ids))
        if not unique:
            return 0
        lines = admin.bulk_delete_lines(self.alias, unique)
        resp = self.client.send(
            Request("POST", "/_bulk", lines, {"refresh": self.cfg.refresh}), what="bulk delete"
        )
        deleted = 0
        for item in resp.get("items", []):
            result = item.get("delete", {})
            if result.get("result") == "deleted":
                deleted += 1
            elif result.get("status") != 404:
                msg = f"deleting {result.get('_id')!r} failed: {root_cause(result)}"
                raise BackendError(msg, status=result.get("status"))
        return deleted

    # ------------------------------------------------------------------ reads
    def _search(self, body: dict[str, Any], what: str) -> Any:
        return self.client.send(Request("POST", f"/{self.alias}/_search", body), what=what)

    def lexical_request(
        self, text: str, *, k: int, filters: list[FilterClause], fuzzy: bool = False
    ) -> Request:
        """The lexical leg as a request (``plan`` writes it)."""
        body = queries.lexical_body(text, self.template, k=k, filters=filters, fuzzy=fuzzy)
        return Request("POST", f"/{self.alias}/_search", body)

    def lexical(
        self, text: str, *, k: int, filters: list[FilterClause], fuzzy: bool = False
    ) -> list[Hit]:
        """BM25 candidates (``multi_match`` best_fields), best first."""
        req = self.lexical_request(text, k=k, filters=filters, fuzzy=fuzzy)
        return self._hits(self.client.send(req, what="lexical leg"), "lexical")

    def vector(self, embedding: np.ndarray, *, k: int, filters: list[FilterClause]) -> list[Hit]:
        """``knn`` candidates with efficient filtering, raw ``_score`` (cosine recoverable)."""
        vec = self._query_vector(embedding)
        if vec is None:
            return []
        return self._hits(self._search(self._knn_body(vec, k, filters), "vector leg"), "vector")

    def _knn_body(self, vec: np.ndarray, k: int, filters: list[FilterClause]) -> dict[str, Any]:
        """The knn leg's search body: k capped at the engine's limit, ef_search for that k."""
        k = min(k, queries.KNN_MAX_K)
        return queries.knn_body(vec, self.template, k=k, filters=filters, ef_search=self._ef(k))

    def legs_request(
        self,
        text: str,
        embedding: np.ndarray,
        *,
        k: int,
        filters: list[FilterClause],
        fuzzy: bool = False,
    ) -> Request:
        """Both legs as one ``_msearch`` request."""
        vec = self._query_vector(embedding)
        bodies = [queries.lexical_body(text, self.template, k=k, filters=filters, fuzzy=fuzzy)]
        if vec is not None:
            bodies.append(self._knn_body(vec, k, filters))
        return Request("POST", "/_msearch", queries.msearch_body(self.alias, bodies))

    def legs(
        self,
        text: str,
        embedding: np.ndarray,
        *,
        k: int,
        filters: list[FilterClause],
        fuzzy: bool = False,
    ) -> Legs:
        """Lexical and vector candidates in one ``_msearch`` round trip.

        When only the knn leg failed, the lexical hits come back with the knn leg's error as
        ``vector_error`` (the Searcher may answer lexically, degraded).

        Raises:
            BackendError: the lexical leg failed on the cluster (root cause in the message).
        """
        req = self.legs_request(text, embedding, k=k, filters=filters, fuzzy=fuzzy)
        responses = self.client.send(req, what="_msearch legs").get("responses", [])
        out: list[list[Hit]] = []
        for leg, resp in zip(("lexical", "vector"), responses, strict=False):
            if "error" in resp:
                reason = root_cause(resp)
                msg = f"the {leg} leg failed in _msearch: {reason}"
                error = BackendError(msg, status=resp.get("status"), reason=reason)
                if out:  # the lexical leg answered: the Searcher may degrade to it
                    return Legs(out[0], [], error)
                raise error
            out.append(self._hits(resp, leg))
        lexical = out[0] if out else []
        vector = out[1] if len(out) > 1 else []
        return Legs(lexical, vector)

    def candidate_scores(
        self,
        text: str,
        embedding: np.ndarray | None,
        keys: Sequence[Hashable],
        *,
        fuzzy: bool = False,
    ) -> CandidateScores:
        """Each lexical field's BM25, the cosine and the field texts of given documents, in one
        ``_msearch`` (``queries.candidate_bodies``). BM25 is on Lucene's scale on every version
        (``versions.bm25_scale``: 2.x multiplies it by k1 + 1).

        Raises:
            BackendError: a part of the ``_msearch`` failed on the cluster.
        """
        ids = queries.ids_of(keys)
        fields = tuple(self.template.lexical_fields)
        scores = np.zeros((len(ids), len(fields)))
        cosines = np.full(len(ids), np.nan)
        texts: list[dict[str, str]] = [dict.fromkeys(fields, "") for _ in ids]
        doc_ids = list(ids)
        if not ids:
            return CandidateScores(fields, scores, cosines, texts, doc_ids)
        vec = self._query_vector(embedding) if embedding is not None else None
        bodies = queries.candidate_bodies(text, vec, self.template, ids, fuzzy=fuzzy)
        req = Request("POST", "/_msearch", queries.msearch_body(self.alias, bodies))
        responses = self.client.send(req, what="_msearch candidate scores").get("responses", [])
        where = {doc_id: i for i, doc_id in enumerate(ids)}
        bm25 = bm25_scale(self.bootstrapper.cluster_version())
        for n, resp in enumerate(responses):
            if "error" in resp:
                reason = root_cause(resp)
                msg = f"scoring the re-rank window failed in _msearch: {reason}"
                raise BackendError(msg, status=resp.get("status"), reason=reason)
            for hit in resp.get("hits", {}).get("hits", []):
                i = where.get(hit.get("_id"))
                if i is None:
                    continue
                if n < len(fields):
                    scores[i, n] = float(hit.get("_score") or 0.0) * bm25
                elif n == len(fields):
                    source = hit.get("_source") or {}
                    texts[i] = {path: source_text(source, path) for path in fields}
                    doc_ids[i] = str(source.get(self.template.id_field, hit["_id"]))
                else:
                    score = float(hit.get("_score") or 0.0)
                    cosine = cosine_from_score(score, self.template.vector.space_type)
                    cosines[i] = cosine / self.template.text_similarity_scale
        return CandidateScores(fields, scores, cosines, texts, doc_ids)

    # ------------------------------------------------------------------ fetch
    def fetch(self, keys: Sequence[Hashable]) -> dict[Hashable, tuple[str, dict[str, Any]]]:
        """``_id -> (id, source)`` through ``_mget`` (the vector is left out)."""
        ids = queries.ids_of(keys)
        if not ids:
            return {}
        req = Request(
            "POST",
            f"/{self.alias}/_mget",
            {"ids": ids},
            {"_source_excludes": self.template.vector.name},
        )
        out: dict[Hashable, tuple[str, dict[str, Any]]] = {}
        for doc in self.client.send(req, what="fetch").get("docs", []):
            if doc.get("found"):
                source = doc.get("_source") or {}
                out[doc["_id"]] = (str(source.get(self.template.id_field, doc["_id"])), source)
        return out

    def _get(self, doc_id: str, params: dict[str, str]) -> dict[str, Any] | None:
        from urllib.parse import quote

        req = Request("GET", f"/{self.alias}/_doc/{quote(doc_id, safe='')}", None, params)
        resp = self.client.send(req, what="get", ignore=(404,))
        return resp.get("_source") if resp.get("found") else None

    def get(self, doc_id: str) -> dict[str, Any] | None:
        """One document's source (without the vector), or None."""
        return self._get(doc_id, {"_source_excludes": self.template.vector.name})

    def vector_of(self, doc_id: str) -> np.ndarray | None:
        """The stored embedding of one document, or None if absent."""
        source = self._get(doc_id, {"_source_includes": self.template.vector.name})
        if source is None or self.template.vector.name not in source:
            return None
        return np.asarray(source[self.template.vector.name], dtype=np.float32)

    def scan(self, *, page: int = 500) -> Iterator[dict[str, Any]]:
        """Every document behind the alias, by id, with its non-text blocks under ``vectors``
        (``vector_blocks``: kept from the stored knn vector)."""
        field = self.template.vector.name
        for batch in self.bootstrapper.scan_index(self.alias, page):
            for raw in batch:
                stored = raw.pop(field, None)
                if stored is not None:
                    raw = restore_block_vectors(raw, np.asarray(stored), self.template)
                yield raw

    def vector_norms(self, keys: Sequence[Hashable]) -> np.ndarray:
        """L2 norms of the stored vectors (``inf`` for a missing document): what the confidence
        gate divides out of the inner product for a magnitude-keeping model. One ``_mget``."""
        ids = queries.ids_of(keys)
        out = np.full(len(ids), np.inf)
        if not ids:
            return out
        field = self.template.vector.name
        req = Request("POST", f"/{self.alias}/_mget", {"ids": ids}, {"_source_includes": field})
        docs = self.client.send(req, what="vector norms").get("docs", [])
        found = {d["_id"]: (d.get("_source") or {}).get(field) for d in docs if d.get("found")}
        for i, doc_id in enumerate(ids):
            vector = found.get(doc_id)
            if vector is not None:
                out[i] = float(np.linalg.norm(np.asarray(vector, dtype=np.float64)))
        return out

    def count(self) -> int:
        """Documents behind the alias."""
        resp = self.client.send(Request("GET", f"/{self.alias}/_count"), what="count")
        return int(resp.get("count", 0))

    # ------------------------------------------------------------------ admin
    def health(self) -> Health:
        """Cluster health and the alias's document count (never raises)."""
        try:
            cluster = self.client.send(Request("GET", "/_cluster/health"), what="health")
            documents = self.count()
        except HybridSearchError as exc:
            return Health(False, {"backend": self.name, "error": str(exc)})
        return Health(
            cluster.get("status") in ("green", "yellow"),
            {
                "backend": self.name,
                "hosts": self.client.hosts,
                "cluster_status": cluster.get("status"),
                "alias": self.alias,
                "documents": documents,
            },
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()
