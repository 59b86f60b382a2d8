"""The ``SearchBackend`` protocol: simple steps that return raw scores tagged with their leg.

Fusion, the fallback policy and the order of the stages live once, in ``searcher.py``, so the
backends cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hybrid_search.documents import FilterClause
from hybrid_search.hits import Hit, IngestReport
from hybrid_search.ranking.commercial import CommercialParams, CommercialTerms
from hybrid_search.ranking.fusion import FusionResult

__all__ = ["Capabilities", "Health", "IndexInfo", "SearchBackend"]


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do beyond the protocol's basics."""

    native_hybrid: bool = False
    persistent: bool = True


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

    def index(self, docs: Sequence[dict[str, Any]], vectors: np.ndarray) -> IngestReport:
        """Upsert validated documents with their vectors (one row each)."""
        ...

    def delete(self, ids: Sequence[str]) -> int:
        """Delete documents by id; returns how many existed."""
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
