"""Catalogue reads on the embedded engine: every product back, and an embedding snapshot of the
index for drift reports. The batch re-embed is ``hybrid_search/reembed.py`` (both backends).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import numpy as np

from hybrid_search.backends.embedded.backend import EmbeddedBackend
from hybrid_search.observability.drift import EmbeddingSnapshot
from hybrid_search.templates import IndexTemplate

__all__ = ["iter_documents", "snapshot_of_index"]

logger = logging.getLogger(__name__)


def iter_documents(
    backend: EmbeddedBackend, *, chunk: int = 1000
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(id, source)`` of every live document, in row order."""
    rows = int(backend.health().detail.get("rows", 0))
    for start in range(0, rows, chunk):
        found = backend.fetch(list(range(start, min(start + chunk, rows))))
        for key in sorted(found, key=int):  # type: ignore[arg-type]
            yield found[key]


def snapshot_of_index(backend: EmbeddedBackend, template: IndexTemplate) -> EmbeddingSnapshot:
    """The stored vectors of every live document, with category and popularity when the
    template has them (``category`` field; the ``popularity`` commercial field)."""
    ids: list[str] = []
    vectors: list[np.ndarray] = []
    cats: list[str] = []
    pops: list[float] = []
    pop_field = template.commercial_fields.get("popularity")
    for doc_id, source in iter_documents(backend):
        vec = backend.vector_of(doc_id)
        if vec is None:
            continue
        ids.append(doc_id)
        vectors.append(vec)
        cat = source.get("category", "")
        cats.append(str(cat[0] if isinstance(cat, list) and cat else cat or ""))
        pop = source.get(pop_field) if pop_field else None
        pops.append(float(pop) if isinstance(pop, int | float) else float("nan"))
    dim = template.vector.dimension
    return EmbeddingSnapshot(
        ids=ids,
        vectors=np.stack(vectors) if vectors else np.zeros((0, dim), np.float32),
        categories=cats,
        popularity=np.array(pops, dtype=np.float64),
        model_id=backend.info().model_id,
        created_at=datetime.now(timezone.utc).isoformat(),
    )
