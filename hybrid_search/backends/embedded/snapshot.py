"""What a reader holds (an immutable snapshot) and how the on-disk layout is identified."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybrid_search.backends.embedded.rows import RowView
from hybrid_search.backends.embedded.vectors import HnswGraph
from hybrid_search.templates import IndexTemplate

__all__ = ["Snapshot", "make_snapshot", "schema_digest", "write_json_atomic"]


@dataclass(frozen=True)
class Snapshot:
    searcher: Any
    rows: RowView
    alive: np.ndarray
    graph: HnswGraph | None
    generation: int
    alive_count: int = 0
    graph_clean: bool = False  # no row of the graph was deleted since it was built


def make_snapshot(
    searcher: Any, rows: RowView, alive: np.ndarray, graph: HnswGraph | None, generation: int
) -> Snapshot:
    """A snapshot with the per-query constants precomputed once (counts, graph cleanliness)."""
    clean = graph is not None and int(graph.index.ntotal) == int(alive[: graph.rows].sum())
    return Snapshot(searcher, rows, alive, graph, generation, int(alive.sum()), clean)


def schema_digest(template: IndexTemplate) -> str:
    """What the on-disk layout depends on (boosts and roles used only at query time excluded)."""
    analyzers = {
        p: template.analyzers[template.fields[p].analyzer or "standard"].describe()
        for p in template.lexical_fields
    }
    parts = {
        # Terms as analysed in Python (hybrid_search/analysis.py) since issue 19: a layout of
        # its own, so an index built by tantivy's analyzers is rebuilt, not read with others.
        "analysis": 2,
        "lexical": sorted((p, template.fields[p].analyzer) for p in template.lexical_fields),
        "analyzers": sorted((p, json.dumps(a, sort_keys=True)) for p, a in analyzers.items()),
        "columns": sorted(
            (p, template.fields[p].kind, template.fields[p].normalizer)
            for p in set(template.filter_fields) | set(template.commercial_fields.values())
        ),
        "commercial": sorted(template.commercial_fields.items()),
        "vector": [template.vector.dimension, template.vector.space_type],
        "id": template.id_field,
    }
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
