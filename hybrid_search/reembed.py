"""The batch path: every document re-embedded into a new index version, verified, swapped in.

``scan`` (the live index's documents, their non-text vector blocks kept) -> the ingest path
(``index_documents``: validate, embed, index) into ``new_version`` -> verify (the version holds
every document read and nothing was rejected) -> ``swap`` (one atomic step: the OpenSearch alias,
the embedded ``data_dir`` symlink). One path for both backends over their two ``IndexVersions``
primitives; the live index is untouched until the swap, and stays live when verification fails
(the new version is left for inspection). Pause writes during a re-embed: they go to the old
version.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hybrid_search.backends import SearchBackend
from hybrid_search.embedding import Embedder
from hybrid_search.errors import ConfigError
from hybrid_search.hits import IngestReport
from hybrid_search.ingest import index_documents
from hybrid_search.templates import IndexTemplate

__all__ = ["ReembedReport", "reembed"]

logger = logging.getLogger(__name__)


@dataclass
class ReembedReport:
    """What a re-embed read and wrote, and whether the new version is now the live one.

    Attributes:
        old_version: the version that was live (OpenSearch index, embedded directory name).
        new_version: the version built (``products-v3``, ``v3-<model>``).
    """

    old_model: str
    new_model: str
    old_version: str
    new_version: str
    source_count: int = 0
    ingest: IngestReport = field(default_factory=IngestReport)
    swapped: bool = False
    dropped_old: bool = False


def reembed(
    backend: SearchBackend,
    template: IndexTemplate,
    embedder: Embedder,
    *,
    batch_size: int = 512,
    embed_batch_size: int = 64,
    drop_old: bool = False,
    progress: bool = False,
) -> ReembedReport:
    """Re-embed every document of ``backend`` with ``embedder`` into a new version, verify it,
    then make it the live one (``drop_old``: delete the old version after the swap).

    Raises:
        ConfigError: the backend has no index versions.
        IndexNotFoundError: there is no live index.
        ModelMismatchError, TemplateError: as the ingest path raises them.
    """
    versions = backend.capabilities.index_versions
    if versions is None:
        msg = f"backend {backend.name!r} cannot build index versions: no batch re-embed"
        raise ConfigError(msg)
    old = backend.info()
    version = versions.new_version(model_id=embedder.model_id)
    report = ReembedReport(old.model_id, embedder.model_id, version.replaces, version.name)

    def documents() -> Iterator[tuple[str, Any]]:
        for doc in backend.scan():
            report.source_count += 1
            yield f"document {report.source_count}", doc

    try:
        report.ingest = index_documents(
            documents(),
            template=template,
            embedder=embedder,
            backend=version,
            batch_size=batch_size,
            embed_batch_size=embed_batch_size,
            progress=progress,
        )
        count = version.finish()
    finally:
        version.close()
    if count != report.source_count or report.ingest.failed:
        logger.warning(
            "re-embed: %s holds %d of %d documents; %s stays live",
            version.name,
            count,
            report.source_count,
            version.replaces,
        )
        return report
    report.dropped_old = versions.swap(version, drop_old=drop_old)
    report.swapped = True
    return report
