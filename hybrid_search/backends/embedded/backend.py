"""``EmbeddedBackend``: the in-process engine behind the ``SearchBackend`` protocol.

Layout of a data directory::

    manifest.json    model id, dimension, schema digest, index uuid, lexical directory (written
                     atomically: once, then again by each lexical merge)
    tantivy/         BM25 postings, filter and commercial fast fields; the commit point
                     (``tantivy-<id>/`` after a merge into one segment, see writes.py)
    vectors.f32      append-only rows (see rows.py), cut back to the committed count on open
    columns.f64      margin, received-at, popularity per row
    docs.jsonl       id and source per row
    hnsw.faiss/json  cached HNSW graph (optional; rebuilt when missing or stale)

One tantivy commit publishes a write: the rows are fsynced first, and a reserved meta document
carrying the committed row count is replaced in the same commit (writes.py). Readers take an
immutable snapshot (tantivy searcher + rows + alive mask + graph) and never block on writers.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Hashable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import tantivy

from hybrid_search.backends.base import Capabilities, Health
from hybrid_search.backends.embedded.lexical import (
    KEY_FIELD,
    best_per_key,
)
from hybrid_search.backends.embedded.lru import Lru
from hybrid_search.backends.embedded.rows import COLUMNS
from hybrid_search.backends.embedded.snapshot import (
    Snapshot,
)
from hybrid_search.backends.embedded.state import META_ID
from hybrid_search.backends.embedded.vectors import VectorSearch
from hybrid_search.backends.embedded.versions import EmbeddedVersions
from hybrid_search.backends.embedded.writes import WritePath
from hybrid_search.config import EmbeddedSettings
from hybrid_search.documents import FilterClause, restore_block_vectors
from hybrid_search.errors import (
    IndexCorruptError,
    IndexNotFoundError,
    ModelMismatchError,
)
from hybrid_search.hits import CandidateScores, Hit, HitColumns
from hybrid_search.ranking.commercial import CommercialParams, CommercialTerms, commercial_terms
from hybrid_search.ranking.confidence import scores_from_similarities
from hybrid_search.ranking.fusion import FusionResult
from hybrid_search.ranking.ltr_features import source_text
from hybrid_search.templates import IndexTemplate

__all__ = ["META_ID", "EmbeddedBackend"]

logger = logging.getLogger(__name__)

_FILTER_CACHE = 64
# Tantivy's BM25 carries the (k1 + 1) factor that Lucene dropped in 8.0: dividing it out puts
# the per-field scores the learned re-rank reads on OpenSearch's scale (k1 = 1.2).
_LUCENE_BM25_SCALE = 1.0 + 1.2


class EmbeddedBackend(WritePath):
    """BM25 + vectors in one process, persisted in ``data_dir``."""

    name = "embedded"

    def __init__(self, data_dir: Path, template: IndexTemplate, settings: EmbeddedSettings) -> None:
        super().__init__(data_dir, template, settings)
        self.vsearch = VectorSearch(
            template.vector.space_type,
            exact_threshold=settings.exact_threshold,
            selective_ratio=settings.selective_filter_ratio,
            ef_search=settings.hnsw_ef_search or template.vector.ef_search or 128,
        )
        self._filters = Lru(_FILTER_CACHE)
        self.capabilities = Capabilities(
            bulk_loading=self,
            background_build=self,
            candidate_scoring=self,
            index_versions=EmbeddedVersions(self),
        )

    # ----------------------------------------------------------------- reading
    def lexical(
        self, text: str, *, k: int, filters: list[FilterClause], fuzzy: bool = False
    ) -> Sequence[Hit]:
        """BM25 (``multi_match`` best_fields) candidates with filters, best first.

        ``fuzzy``: terms the index does not know match their closest known terms instead.

        best_fields scores a document by its best boosted field. Tantivy runs a dis_max
        exhaustively, so each field is searched on its own (an OR of boosted terms, which its
        block-max WAND prunes) and the per-field top ``k`` lists are merged, each document
        keeping its best score. That is the dis_max's top ``k`` exactly: a document in it has
        fewer than ``k`` documents above it in its best field, so its best field's list holds
        it with its full score (up to documents tied at the ``k``-th score). At 200k documents,
        300 queries, k=200: the searches take 0.43 against 0.68 ms p50 for the one dis_max, the
        whole leg 0.64 against 0.70 ms.

        Fields are searched likeliest high scorer first, and a field none of whose documents
        can reach the ``k``-th score of a field already searched in full is skipped
        (``LexicalSchema.below``): such a field is no top-``k`` document's best field, and no
        other document can enter through it. Over the benchmark's queries at 200k, 419 of 729
        field searches were skipped, with the same answers for all 4,800 query, filter and k
        combinations checked.
        """
        snap = self._open()
        fields = self.lex.field_queries(text, snap.searcher, fuzzy=fuzzy)
        fields.sort(key=lambda f: -f.potential)  # the likeliest high scorers first
        filter_query = self.lex.filter_query(filters)
        addresses: list[Any] = []
        scores: list[float] = []
        threshold = 0.0  # the k-th score of a field's full top k: the merged k-th is no lower
        for field in fields:
            if threshold > 0 and self.lex.below(snap.searcher, field, threshold):
                continue  # none of this field's documents can enter the top k
            hits = None
            if field.narrowed is not None:
                query = self.lex.combine(field.narrowed, filter_query)
                hits = snap.searcher.search(query, k, count=False).hits
                if len(hits) < k or hits[-1][0] <= field.common_bound:
                    hits = None  # a document with only common terms might still rank
            if hits is None:
                query = self.lex.combine(field.query, filter_query)
                hits = snap.searcher.search(query, k, count=False).hits
            if len(hits) >= k:
                threshold = max(threshold, hits[-1][0])
            if hits:
                found_scores, found_addresses = zip(*hits, strict=True)
                scores.extend(found_scores)
                addresses.extend(found_addresses)
        if not addresses:
            return []
        found_keys = snap.searcher.fast_field_values(KEY_FIELD, addresses)
        try:
            keys = np.array(found_keys, dtype=np.int64)
        except TypeError:  # a document without a key (None)
            keys = np.array([-1 if key is None else key for key in found_keys], dtype=np.int64)
        keys, best = best_per_key(keys, np.array(scores), k, limit=snap.rows.n)
        return HitColumns(keys, best, "lexical")

    def candidate_scores(
        self,
        text: str,
        embedding: np.ndarray | None,
        keys: Sequence[Hashable],
        *,
        fuzzy: bool = False,
    ) -> CandidateScores:
        """Each lexical field's BM25, the cosine and the field texts of given candidates.

        The field clauses are the lexical leg's own (``LexicalSchema.field_queries``, typo
        expansions included), each searched once over just these documents (a zero-score
        filter on their keys), so a field that was not a candidate's best still gets its score.
        Scores are on Lucene's BM25 scale (without tantivy's ``k1 + 1`` factor), as OpenSearch
        gives them, so one model serves both backends.
        """
        snap = self._open()
        rows = np.asarray([int(k) for k in keys], dtype=np.int64)  # type: ignore[call-overload]
        fields = tuple(self.template.lexical_fields)
        scores = np.zeros((rows.size, len(fields)))
        if rows.size:
            where = {int(r): i for i, r in enumerate(rows.tolist())}
            only = tantivy.Query.const_score_query(
                tantivy.Query.term_set_query(self.lex.schema, KEY_FIELD, rows.tolist()), 0.0
            )
            column = {name: j for j, name in enumerate(fields)}
            for field in self.lex.field_queries(text, snap.searcher, fuzzy=fuzzy):
                query = tantivy.Query.boolean_query(
                    [(tantivy.Occur.Must, field.query), (tantivy.Occur.Must, only)]
                )
                hits = snap.searcher.search(query, rows.size, count=False).hits
                if not hits:
                    continue
                found = snap.searcher.fast_field_values(KEY_FIELD, [a for _, a in hits])
                j = column[field.field]
                for (score, _), key in zip(hits, found, strict=True):
                    if key is not None and key in where:
                        scores[where[key], j] = score / (field.boost * _LUCENE_BM25_SCALE)
        cosines = np.full(rows.size, np.nan)
        valid = (rows >= 0) & (rows < snap.rows.n)
        if embedding is not None and valid.any():
            qvec = np.asarray(embedding, dtype=np.float64)
            stored = np.asarray(snap.rows.vectors[rows[valid]], dtype=np.float64)
            norms = np.linalg.norm(stored, axis=1) * float(np.linalg.norm(qvec))
            cosines[valid] = (stored @ qvec) / np.maximum(norms, 1e-12)
            cosines[valid] /= self.template.text_similarity_scale
        read = self._rows.read(snap.rows, rows[valid].tolist())
        texts: list[dict[str, str]] = []
        ids: list[str] = []
        for row in rows.tolist():
            doc_id, source = read.get(row, ("", {}))
            ids.append(doc_id)
            texts.append({path: source_text(source, path) for path in fields})
        return CandidateScores(fields, scores, cosines, texts, ids)

    def _filter_mask(self, snap: Snapshot, filters: list[FilterClause]) -> np.ndarray:
        def compute() -> np.ndarray:
            query = self.lex.filter_query(filters)
            mask = np.zeros(snap.rows.n, dtype=bool)
            total = snap.searcher.num_docs
            if query is not None and total:
                hits = snap.searcher.search(query, total, count=False).hits
                keys = snap.searcher.fast_field_values(KEY_FIELD, [addr for _, addr in hits])
                rows = [k for k in keys if k is not None and k < snap.rows.n]
                mask[np.array(rows, dtype=np.int64)] = True
            mask &= snap.alive[: snap.rows.n]
            return mask

        found: np.ndarray = self._filters.get((snap.generation, repr(filters)), compute)
        return found

    def vector(
        self, embedding: np.ndarray, *, k: int, filters: list[FilterClause]
    ) -> Sequence[Hit]:
        """Nearest rows by the template's space type, scored like OpenSearch's ``_score``."""
        snap = self._open()
        query = np.asarray(embedding, dtype=np.float32)
        space = self.template.vector.space_type
        if space == "cosinesimil":
            norm = float(np.sqrt(np.dot(query, query)))  # np.linalg.norm's value, at less cost
            if norm == 0 or not np.isfinite(norm):
                return []
            query = query / norm
        if filters:
            allowed = self._filter_mask(snap, filters)
            count, clean = int(allowed.sum()), False
        else:
            allowed, count, clean = snap.alive[: snap.rows.n], snap.alive_count, snap.graph_clean
        rows, sims = self.vsearch.search(
            snap.rows.vectors,
            allowed,
            query,
            k,
            snap.graph,
            filtered=bool(filters),
            allowed_count=count,
            graph_clean=clean,
        )
        scores = scores_from_similarities(sims, space).astype(np.float64, copy=False)
        return HitColumns(rows.astype(np.int64, copy=False), scores, "vector")

    def rerank(
        self, fused: FusionResult, params: CommercialParams, *, now: datetime
    ) -> CommercialTerms:
        """The commercial formula in numpy over the window (same numbers as the painless script)."""
        snap = self._open()
        keys = np.asarray(fused.keys, dtype=np.int64)
        cols = snap.rows.columns[keys] if keys.size else np.zeros((0, len(COLUMNS)))
        age_days = (now.timestamp() - cols[:, 1]) / 86400.0
        return commercial_terms(fused.scores, cols[:, 0], age_days, cols[:, 2], params)

    def fetch(self, keys: Sequence[Hashable]) -> dict[Hashable, tuple[str, dict[str, Any]]]:
        """Sources of the given row keys (deleted ones are left out)."""
        snap = self._open()
        rows = [int(k) for k in keys]  # type: ignore[call-overload]
        rows = [r for r in rows if 0 <= r < snap.alive.size and snap.alive[r]]
        return {row: found for row, found in self._rows.read(snap.rows, rows).items()}

    def get(self, doc_id: str) -> dict[str, Any] | None:
        """One document's source, or None."""
        self._open()  # fills the id map on first use
        key = self._id_to_key.get(doc_id)
        if key is None:
            return None
        found = self.fetch([key])
        return found[key][1] if key in found else None

    def vector_of(self, doc_id: str) -> np.ndarray | None:
        """One document's stored vector (unit length for cosinesimil), or None."""
        snap = self._open()
        key = self._id_to_key.get(doc_id)
        if key is None or key >= snap.rows.n or not snap.alive[key]:
            return None
        return np.array(snap.rows.vectors[key], dtype=np.float32)

    def scan(self, *, chunk: int = 1000) -> Iterator[dict[str, Any]]:
        """Every live document in row order, with its non-text blocks under ``vectors``
        (``vector_blocks``: kept from the stored knn vector)."""
        rows = self._open().rows.n
        for start in range(0, rows, chunk):
            found = self.fetch(list(range(start, min(start + chunk, rows))))
            for key in sorted(found, key=int):  # type: ignore[arg-type]
                doc_id, source = found[key]
                if self.template.blocks is None:
                    yield source
                else:
                    yield restore_block_vectors(source, self.vector_of(doc_id), self.template)

    def vector_norms(self, keys: Sequence[Hashable]) -> np.ndarray:
        """L2 norms of the stored vectors of row keys: a magnitude-keeping model's document
        lengths, which the confidence gate divides out of the inner product."""
        snap = self._open()
        rows = np.asarray([int(k) for k in keys], dtype=np.int64)  # type: ignore[call-overload]
        norms: np.ndarray = np.linalg.norm(snap.rows.vectors[rows], axis=1)
        return norms

    def count(self) -> int:
        """Live documents."""
        return int(self._open().alive.sum())

    def health(self) -> Health:
        """Open the index if needed and report its size."""
        try:
            snap = self._open()
        except (IndexNotFoundError, IndexCorruptError, ModelMismatchError) as exc:
            return Health(False, {"backend": self.name, "error": str(exc)})
        return Health(
            True,
            {
                "backend": self.name,
                "data_dir": str(self.data_dir),
                "documents": int(snap.alive.sum()),
                "rows": snap.rows.n,
                "hnsw_rows": snap.graph.rows if snap.graph else 0,
            },
        )

    def drop_index(self) -> None:
        """Close the index and delete ``data_dir`` (a versions symlink: the link only; the
        versions in ``<data_dir>.versions`` stay). This instance is closed afterwards."""
        self.close()
        if self.data_dir.is_symlink():
            self.data_dir.unlink()
            logger.info("unlinked %s (its versions stay beside it)", self.data_dir)
        elif self.data_dir.exists():
            shutil.rmtree(self.data_dir)
            logger.info("deleted %s", self.data_dir)

    def close(self) -> None:
        """Wait for a running rebuild and release the writer."""
        self._closed = True
        if self._rebuild is not None:
            self._rebuild.join(timeout=60)
        with self._lock:
            if self._writer is not None:
                self._writer.wait_merging_threads()
                self._writer = None
            self._snap = None
            self._index = None
