"""Catalogue operations on the embedded engine: read every product back, export an embedding
snapshot, and the batch re-embed job (cold start, batch path) with its model-version history.

Re-embedding builds a complete new index in ``<data_dir>.versions/vN-<model>``, checks that it
holds every product of the live one, and only then points ``data_dir`` at it by replacing a
symbolic link (``os.replace``: atomic on POSIX). The first run converts a plain ``data_dir``
into that layout by moving it to ``v<N-1>-...``: the only moment (two renames) when the path
is briefly absent. A running ``serve`` keeps its open index until restarted. Writes that arrive
during a re-embed go to the old version: pause them, as for the OpenSearch ``reindex``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from hybrid_search.backends.embedded.backend import EmbeddedBackend
from hybrid_search.config import Settings
from hybrid_search.documents import restore_block_vectors
from hybrid_search.embedding import Embedder
from hybrid_search.hits import IngestReport
from hybrid_search.ingest import index_documents
from hybrid_search.observability.drift import EmbeddingSnapshot
from hybrid_search.templates import IndexTemplate

__all__ = ["ReembedReport", "iter_documents", "reembed", "snapshot_of_index", "versions_dir"]

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


def versions_dir(data_dir: Path) -> Path:
    """Where the versions of ``data_dir`` live: ``<data_dir>.versions`` beside it."""
    data_dir = Path(data_dir)
    return data_dir.parent / f"{data_dir.name}.versions"


def _slug(model_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", model_id.rsplit("/", 1)[-1])[:60].strip("-") or "model"


@dataclass
class ReembedReport:
    """What a re-embed read, wrote and whether ``data_dir`` now points at the new version."""

    old_model: str
    new_model: str
    version: int
    path: Path
    source_count: int = 0
    ingest: IngestReport = field(default_factory=IngestReport)
    swapped: bool = False


def _history(root: Path) -> list[dict[str, Any]]:
    path = root / "versions.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return list(data.get("versions", []))


def _write_history(root: Path, versions: list[dict[str, Any]]) -> None:
    tmp = root / "versions.json.tmp"
    tmp.write_text(json.dumps({"versions": versions}, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, root / "versions.json")


def _point(data_dir: Path, target: Path) -> None:
    """Make ``data_dir`` a symlink to ``target`` in one atomic rename."""
    tmp = data_dir.parent / f".{data_dir.name}.swap"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(os.path.relpath(target, data_dir.parent), target_is_directory=True)
    os.replace(tmp, data_dir)


def reembed(settings: Settings, template: IndexTemplate, embedder: Embedder) -> ReembedReport:
    """Re-embed every document of the embedded index in ``settings.embedded.data_dir`` with
    ``embedder`` into a new version, verify it, then swap ``data_dir`` to it.

    Raises:
        IndexNotFoundError: there is no index in ``data_dir``.
    """
    data_dir = Path(settings.embedded.data_dir)
    root = versions_dir(data_dir)
    source = EmbeddedBackend(data_dir, template, settings.embedded)
    try:
        old_model = source.info().model_id
        history = _history(root)
        number = max((int(v["version"]) for v in history), default=0) + 1
        if not data_dir.is_symlink():
            number = max(number, 2)  # v1 is the plain directory being converted
        target = root / f"v{number}-{_slug(embedder.model_id)}"
        report = ReembedReport(old_model, embedder.model_id, number, target)
        root.mkdir(parents=True, exist_ok=True)
        new = EmbeddedBackend(target, template, settings.embedded)
        try:
            # vector_blocks: the behaviour/image blocks are kept from the stored knn vector.
            docs = [
                (doc_id, restore_block_vectors(doc, source.vector_of(doc_id), template))
                for doc_id, doc in iter_documents(source)
            ]
            report.source_count = len(docs)
            report.ingest = index_documents(
                ((doc_id, doc) for doc_id, doc in docs),
                template=template,
                embedder=embedder,
                backend=new,
                embed_batch_size=settings.embedding.batch_size,
            )
            new.optimize()
            count = new.count() if report.source_count else 0
        finally:
            new.close()
    finally:
        source.close()
    if count != report.source_count or report.ingest.failed:
        logger.warning(
            "re-embed: %s holds %d of %d documents; %s stays on the old version",
            target,
            count,
            report.source_count,
            data_dir,
        )
        return report
    now = datetime.now(timezone.utc).isoformat()
    if not data_dir.is_symlink():
        legacy = root / f"v{number - 1}-{_slug(old_model)}"
        os.replace(data_dir, legacy)
        history.append(
            {
                "version": number - 1,
                "model_id": old_model,
                "path": legacy.name,
                "documents": report.source_count,
                "created_at": None,
            }
        )
    _point(data_dir, target)
    report.swapped = True
    for entry in history:
        entry["active"] = False
    history.append(
        {
            "version": number,
            "model_id": embedder.model_id,
            "path": target.name,
            "documents": count,
            "created_at": now,
            "active": True,
        }
    )
    _write_history(root, history)
    return report
