"""The ``SearchBackend`` protocol: simple steps that return raw scores tagged with their leg.

Fusion, the fallback policy and the order of the stages live once, in ``searcher.py``, so the
backends cannot drift apart.

What only some backends offer is declared, not probed: each optional part is a small protocol
(``BothLegs``, ``NativeFusion``, ``BulkLoading``, ``BackgroundBuild``, ``CandidateScoring``,
``KeywordValues``), and a backend's ``capabilities`` holds the object that implements it (often
the backend itself) or None. A caller asks ``backend.capabilities.both_legs`` and gets a typed
object or nothing; mypy checks that what a backend declares has the methods.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hybrid_search.documents import FilterClause
from hybrid_search.errors import BackendError
from hybrid_search.hits import CandidateScores, Hit, IngestReport
from hybrid_search.ranking.commercial import CommercialParams, CommercialTerms
from hybrid_search.ranking.fusion import FusionResult

__all__ = [
    "BackgroundBuild",
    "BothLegs",
    "BulkLoading",
    "CandidateScoring",
    "Capabilities",
    "Health",
    "IndexInfo",
    "IndexVersions",
    "IndexWriter",
    "KeywordValues",
    "Legs",
    "NativeFusion",
    "NewVersion",
    "SearchBackend",
]


@dataclass(frozen=True)
class Legs:
    """Both legs' candidates from one round trip.

    Attributes:
        lexical: the lexical leg's hits, best first.
        vector: the vector leg's hits, best first (empty when it failed).
        vector_error: why the vector leg failed while the lexical one answered, else None; the
            Searcher degrades to the lexical hits, or raises this with ``search.fallback=off``.
    """

    lexical: Sequence[Hit]
    vector: Sequence[Hit]
    vector_error: BackendError | None = None


class BothLegs(Protocol):
    """Both legs in one round trip (OpenSearch: one ``_msearch``)."""

    def legs(
        self,
        text: str,
        embedding: np.ndarray,
        *,
        k: int,
        filters: list[FilterClause],
        fuzzy: bool = False,
    ) -> Legs:
        """Lexical and vector candidates, as ``lexical`` and ``vector`` would give them."""
        ...


class NativeFusion(Protocol):
    """Fusion inside the engine (OpenSearch's ``hybrid`` query and search pipeline)."""

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
        """The engine's fused window, best first (``min_vector_cosine``: the radial gate)."""
        ...


class BulkLoading(Protocol):
    """A bulk load: work that can wait (refreshes, graph rebuilds) is done once at the end."""

    def bulk(self) -> AbstractContextManager[None]:
        """A context (nestable) inside which writes defer that work to its outer end."""
        ...


class BackgroundBuild(Protocol):
    """Index structures built in the background after writes (the embedded HNSW graph)."""

    def optimize(self) -> None:
        """Finish the pending background work now (and save it)."""
        ...


class CandidateScoring(Protocol):
    """Per-field scores of given candidates (what the learned re-rank's features need)."""

    def candidate_scores(
        self,
        text: str,
        embedding: np.ndarray | None,
        keys: Sequence[Hashable],
        *,
        fuzzy: bool = False,
    ) -> CandidateScores:
        """Each lexical field's BM25, the cosine and the field texts of ``keys``."""
        ...


class KeywordValues(Protocol):
    """The most frequent values of keyword fields, counted by the engine."""

    def keyword_values(self, fields: list[str], *, size: int) -> dict[str, list[tuple[str, int]]]:
        """``field -> [(value, documents)]``, most frequent first, at most ``size`` each."""
        ...


class IndexWriter(Protocol):
    """What the ingest path writes through: a backend, or a new index version being built."""

    capabilities: Capabilities

    def ensure_index(self, *, model_id: str, dimension: int) -> IndexInfo:
        """Create the index if missing; refuse one built with another model."""
        ...

    def index(self, docs: Sequence[dict[str, Any]], vectors: np.ndarray) -> IngestReport:
        """Upsert validated documents with their vectors (one row each)."""
        ...


class NewVersion(IndexWriter, Protocol):
    """A new version of the index, written beside the live one and not yet searched.

    Attributes:
        name: the version (OpenSearch: the index name; embedded: the directory name).
        replaces: the live version it is built to replace.
    """

    name: str
    replaces: str

    def finish(self) -> int:
        """Make what was written durable and searchable; the version's document count."""
        ...

    def close(self) -> None:
        """Release what writing the version held."""
        ...


class IndexVersions(Protocol):
    """Index versions with an atomic switch: the batch re-embed's two primitives."""

    def new_version(self, *, model_id: str) -> NewVersion:
        """Start the next version (written through ``ensure_index`` and ``index``).

        Raises:
            IndexNotFoundError: there is no live index to replace.
        """
        ...

    def swap(self, version: NewVersion, *, drop_old: bool = False) -> bool:
        """Make ``version`` the live one in one atomic step; True if the old one was deleted."""
        ...


@dataclass(frozen=True)
class Capabilities:
    """The optional parts of a backend: the object implementing each, or None.

    Attributes:
        both_legs: both legs in one round trip.
        native_fusion: the engine fuses (set only when that mode is configured).
        bulk_loading: writes can be grouped into one bulk load.
        background_build: background index work that ``optimize`` finishes.
        candidate_scoring: per-field scores of given candidates (``search.rerank: ltr``).
        keyword_values: keyword value counts from the engine (``/v1/info``).
        index_versions: new index versions and an atomic swap (the batch re-embed).
    """

    both_legs: BothLegs | None = None
    native_fusion: NativeFusion | None = None
    bulk_loading: BulkLoading | None = None
    background_build: BackgroundBuild | None = None
    candidate_scoring: CandidateScoring | None = None
    keyword_values: KeywordValues | None = None
    index_versions: IndexVersions | None = None


@dataclass(frozen=True)
class Health:
    """The state ``/healthz`` and the CLI report."""

    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IndexInfo:
    """What is stored with an index: the model that embedded it, and the template digest."""

    model_id: str
    dimension: int
    template_digest: str
    documents: int


@runtime_checkable
class SearchBackend(Protocol):
    """One backend instance serves one index template."""

    name: str
    capabilities: Capabilities

    def ensure_index(self, *, model_id: str, dimension: int) -> IndexInfo:
        """Create the index if missing; refuse one built with another model."""
        ...

    def info(self) -> IndexInfo:
        """The model id, dimension and template digest stored with the index, and its count.

        Raises:
            IndexNotFoundError: there is no index yet.
        """
        ...

    def index(self, docs: Sequence[dict[str, Any]], vectors: np.ndarray) -> IngestReport:
        """Upsert validated documents with their vectors (one row each)."""
        ...

    def delete(self, ids: Sequence[str]) -> int:
        """Delete documents by id; returns how many existed."""
        ...

    def drop_index(self) -> None:
        """Delete the index and every document in it (``ingest --recreate``); no index is no
        error. Write again through a new instance (``ensure_index`` creates a fresh index)."""
        ...

    def get(self, doc_id: str) -> dict[str, Any] | None:
        """One document's source by id."""
        ...

    def vector_of(self, doc_id: str) -> np.ndarray | None:
        """The stored embedding of one document (float32, as indexed), or None if absent."""
        ...

    def lexical(
        self, text: str, *, k: int, filters: list[FilterClause], fuzzy: bool = False
    ) -> Sequence[Hit]:
        """BM25 candidates, best first.

        ``fuzzy`` matches each term within OpenSearch's ``fuzziness: AUTO`` edit distance
        (0 edits up to 2 characters, 1 up to 5, 2 beyond): the typo-tolerant retry. The embedded
        engine expands only terms its index does not know (a known term is spelt as indexed).
        """
        ...

    def vector(
        self, embedding: np.ndarray, *, k: int, filters: list[FilterClause]
    ) -> Sequence[Hit]:
        """Nearest-neighbour candidates, best first, scored on OpenSearch's ``_score`` scale."""
        ...

    def rerank(
        self, fused: FusionResult, params: CommercialParams, *, now: datetime
    ) -> CommercialTerms:
        """The commercial stage over the fused window: every term per candidate, in fused order."""
        ...

    def scan(self) -> Iterator[dict[str, Any]]:
        """Every stored document as the ingest path accepts it (the non-text blocks of its
        stored vector put back under ``vectors``), in a stable order."""
        ...

    def vector_norms(self, keys: Sequence[Hashable]) -> np.ndarray:
        """The stored vectors' lengths (float64, one per key; 0 for an unknown key): the gate of
        a model that keeps document magnitude divides them out."""
        ...

    def fetch(self, keys: Sequence[Hashable]) -> dict[Hashable, tuple[str, dict[str, Any]]]:
        """``key -> (id, source)`` for the hits of the page being returned."""
        ...

    def count(self) -> int:
        """Documents in the index."""
        ...

    def health(self) -> Health:
        """Whether the backend answers, with details."""
        ...

    def close(self) -> None:
        """Release files, threads and connections."""
        ...
