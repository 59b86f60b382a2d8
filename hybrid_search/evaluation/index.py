"""Build (or reuse) the embedded index an evaluation runs against, with cached corpus vectors.

Embedding a corpus is the slow part (54,667 Home Depot titles take minutes on two cores), so the
vectors are kept in ``cache_dir`` under a name made of the model, its runtime and the corpus
digest, and the index directory is keyed the same way plus the template digest: a second run
over the same data reuses both, and a change of model, text fields or boosts builds afresh.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import numpy as np

from hybrid_search.config import Settings
from hybrid_search.documents import validate_document
from hybrid_search.embedding import Embedder
from hybrid_search.errors import InvalidRequestError
from hybrid_search.evaluation.datasets import EvalDataset, eval_documents
from hybrid_search.templates import IndexTemplate

__all__ = ["build_eval_index", "corpus_vectors", "vectors_path"]

logger = logging.getLogger(__name__)

_BATCH = 4096


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")[:80]


def vectors_path(dataset: EvalDataset, embedder: Embedder, cache_dir: Path) -> Path:
    """Where the corpus vectors of this dataset and model are cached."""
    # The document side's runtime: a quantised query graph embeds documents in fp32 all the same.
    runtime = str(getattr(embedder, "document_runtime", embedder.runtime))
    name = f"vectors-{_slug(embedder.model_id)}-{_slug(runtime)}-{dataset.digest}.npy"
    return cache_dir / name


def corpus_vectors(
    dataset: EvalDataset, embedder: Embedder, cache_dir: Path | None, *, batch_size: int = 128
) -> np.ndarray:
    """Document vectors in ``eval_documents`` order, from the cache when present.

    Raises:
        InvalidRequestError: a cached file has the wrong shape (delete it to re-embed).
    """
    n = len(dataset.corpus)
    path = vectors_path(dataset, embedder, cache_dir) if cache_dir is not None else None
    if path is not None and path.is_file():
        vectors: np.ndarray = np.load(path)
        if vectors.shape != (n, embedder.dimension):
            msg = f"{path}: cached vectors have shape {vectors.shape}, expected ({n}, dim)"
            raise InvalidRequestError(msg)
        logger.info("corpus vectors from %s", path)
        return vectors
    texts = [dataset.text(d) for d in sorted(dataset.corpus)]
    logger.info("embedding %d documents with %s", n, embedder.model_id)
    vectors = np.asarray(
        embedder.encode_documents(texts, batch_size=batch_size, progress=True), dtype=np.float32
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)
    return vectors


def build_eval_index(
    dataset: EvalDataset,
    template: IndexTemplate,
    settings: Settings,
    embedder: Embedder,
    *,
    cache_dir: Path,
) -> Settings:
    """Make sure an embedded index of the dataset exists; return settings that point at it.

    The index lives in ``cache_dir/index-<model>-<corpus digest>-<template digest>-<layout>``
    (``layout``: the embedded engine's on-disk schema digest, which changes with its analysis,
    so an index built by an older analysis is rebuilt instead of refused) and uses exact vector
    search (no HNSW), so the evaluation measures ranking, not ANN recall.

    Raises:
        InvalidRequestError: a document failed to index.
    """
    from hybrid_search.backends.embedded import EmbeddedBackend
    from hybrid_search.backends.embedded.snapshot import schema_digest

    layout = schema_digest(template)[:8]
    name = f"index-{_slug(embedder.model_id)}-{dataset.digest}-{template.digest}-{layout}"
    data_dir = cache_dir / name
    embedded = settings.embedded.model_copy(
        update={"data_dir": data_dir, "exact_threshold": max(len(dataset.corpus) + 1, 1_000_000)}
    )
    out = settings.model_copy(update={"embedded": embedded})
    docs = [validate_document(d, template) for d in eval_documents(dataset)]
    ready = data_dir / "complete"
    if ready.is_file():
        return out
    if data_dir.exists():
        shutil.rmtree(data_dir)  # an interrupted build: start over
    vectors = corpus_vectors(dataset, embedder, cache_dir)
    backend = EmbeddedBackend(data_dir, template, embedded)
    try:
        backend.ensure_index(model_id=embedder.model_id, dimension=embedder.dimension)
        with backend.bulk():
            for start in range(0, len(docs), _BATCH):
                report = backend.index(
                    docs[start : start + _BATCH], vectors[start : start + _BATCH]
                )
                if report.failed:
                    doc_id, reason = report.failed[0]
                    msg = f"{len(report.failed)} documents failed to index, e.g. {doc_id}: {reason}"
                    raise InvalidRequestError(msg)
    finally:
        backend.close()
    ready.write_text(f"{len(docs)}\n")
    logger.info("evaluation index built in %s (%d documents)", data_dir, len(docs))
    return out
