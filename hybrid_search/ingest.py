"""The ingest path: validate against the template, build the text, embed in batches, index.

With ``vector_blocks`` in the template, each text embedding is fused with the document's own
block vectors (``documents.knn_vectors``) before it is indexed.

Nothing is lost silently: every input document is either counted as indexed or reported in
``IngestReport.failed`` as ``(id, reason)`` (the line number stands in for a missing id).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from hybrid_search.backends.base import IndexWriter
from hybrid_search.documents import embedding_text, knn_vectors, validate_document
from hybrid_search.embedding import Embedder
from hybrid_search.errors import HybridSearchError, InvalidRequestError
from hybrid_search.hits import IngestReport, ItemOutcome
from hybrid_search.templates import IndexTemplate, check_vector_space, knn_dimension

__all__ = ["embed_documents", "index_documents", "read_jsonl"]

logger = logging.getLogger(__name__)


def read_jsonl(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield ``(where, parsed object or the error)`` per non-empty line of a JSONL file.

    ``where`` is ``"line N"``; a line that is not JSON yields an ``InvalidRequestError``.

    Raises:
        InvalidRequestError: the file cannot be read.
    """
    try:
        fh = path.open("rb")
    except OSError as exc:
        msg = f"cannot read {path}: {exc}"
        raise InvalidRequestError(msg) from exc
    with fh:
        for number, raw in enumerate(fh, start=1):
            where = f"line {number}"
            try:
                # utf-8-sig: a byte-order mark on line 1 is not part of the JSON.
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield where, InvalidRequestError(f"not valid UTF-8: {exc.reason}")
                continue
            if not line.strip():
                continue
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as exc:
                yield where, InvalidRequestError(f"not valid JSON: {exc.msg}")


def _given_id(raw: Any, template: IndexTemplate) -> str | None:
    """The input's id when it has a non-empty string one."""
    if (
        isinstance(raw, dict)
        and isinstance(raw.get(template.id_field), str)
        and raw[template.id_field]
    ):
        return str(raw[template.id_field])
    return None


def _settle(
    report: IngestReport,
    batch: list[dict[str, Any]],
    slots: list[int],
    written: IngestReport,
    id_field: str,
) -> None:
    """Fold a backend's report on ``batch`` into ``report``: each document's outcome in its
    input slot (the backend names a failure by the document's id, several in input order)."""
    report.indexed += written.indexed
    report.failed.extend(written.failed)
    if not slots:  # no per-item outcomes kept (a bulk load) or an empty batch
        return
    pending: dict[str, list[str]] = {}
    for label, reason in written.failed:
        pending.setdefault(label, []).append(reason)
    for doc, slot in zip(batch, slots, strict=True):
        reasons = pending.get(str(doc[id_field]), [])
        if reasons:
            item = report.items[slot]
            report.items[slot] = ItemOutcome(item.index, item.id, reasons.pop(0))
    for label, reasons in pending.items():  # never expected: reported rather than lost
        report.items += [ItemOutcome(None, label, reason) for reason in reasons]


def embed_documents(
    docs: Sequence[dict[str, Any]],
    *,
    template: IndexTemplate,
    embedder: Embedder,
    batch_size: int = 64,
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Validated documents -> ``(sources, knn vectors)`` as the index stores them: the document
    text embedded, fused with the documents' own blocks under ``vector_blocks``.

    Raises:
        EmbedderError: the model failed.
        InvalidRequestError: a document's blocks do not fit the template's layout.
    """
    texts = [embedding_text(d, template) for d in docs]
    vectors = embedder.encode_documents(texts, batch_size=batch_size)
    return knn_vectors(docs, vectors, template)


def index_documents(
    items: Iterable[tuple[str, Any]],
    *,
    template: IndexTemplate,
    embedder: Embedder,
    backend: IndexWriter,
    batch_size: int = 512,
    embed_batch_size: int = 64,
    progress: bool = False,
    realtime: bool = False,
    per_item: bool = False,
) -> IngestReport:
    """Validate, embed and upsert ``(where, document)`` pairs, one backend commit per batch.

    A load runs in the backend's ``bulk()`` mode where it has one (embedded: one HNSW rebuild
    after the load; OpenSearch: no refresh per ``_bulk``, one ``_refresh`` after it).
    ``realtime`` (the API's ``POST /v1/documents``) leaves that mode out, so each batch is
    searchable when its ``index()`` returns (OpenSearch: ``refresh=wait_for``). ``per_item``
    fills ``report.items``: one outcome per input, in input order (the API's per-item answer;
    left out of a bulk load, which would hold one per document).

    Raises:
        ModelMismatchError: the index was built with another model.
        TemplateError: a magnitude-keeping model on a space other than ``innerproduct`` or
            with ``vector_blocks``; a text block whose dimension is not the model's.
    """
    check_vector_space(template, embedder)
    dimension = knn_dimension(template, embedder.dimension)
    backend.ensure_index(model_id=embedder.model_id, dimension=dimension)
    report = IngestReport()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(unit="doc", desc="indexing")
    batch: list[dict[str, Any]] = []
    slots: list[int] = []  # where each document of the batch has its outcome in report.items

    def flush() -> None:
        if not batch:
            return
        try:
            sources, vectors = embed_documents(
                batch, template=template, embedder=embedder, batch_size=embed_batch_size
            )
            written = backend.index(sources, vectors)
        except HybridSearchError as exc:
            logger.warning("a batch of %d documents failed: %s", len(batch), exc)
            failed = [(str(d[template.id_field]), str(exc)) for d in batch]
            written = IngestReport(failed=failed)
        _settle(report, batch, slots, written, template.id_field)
        if bar is not None:
            bar.update(len(batch))
        batch.clear()
        slots.clear()

    # One HNSW build at the end of a bulk load instead of one per few thousand rows.
    bulk = None if realtime else backend.capabilities.bulk_loading
    with bulk.bulk() if bulk is not None else nullcontext():
        for index, (where, raw) in enumerate(items):
            if isinstance(raw, Exception):
                report.failed.append((where, str(raw)))
                if per_item:
                    report.items.append(ItemOutcome(index, None, str(raw)))
                continue
            given = _given_id(raw, template)
            try:
                batch.append(validate_document(raw, template))
            except InvalidRequestError as exc:
                report.failed.append((given or where, str(exc)))
                if per_item:
                    report.items.append(ItemOutcome(index, given, str(exc)))
                continue
            if per_item:
                slots.append(len(report.items))
                report.items.append(ItemOutcome(index, given))
            if len(batch) >= batch_size:
                flush()
        flush()
    if bar is not None:
        bar.close()
    return report
