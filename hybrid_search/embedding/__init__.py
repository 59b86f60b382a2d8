"""Embedders: ONNX Runtime (default when it can be exported) or sentence-transformers (torch)."""

from __future__ import annotations

import logging

from hybrid_search.config import EmbeddingSettings
from hybrid_search.embedding.base import Embedder, QueryEncoder
from hybrid_search.embedding.magnitude import MagnitudeEmbedder, load_spec
from hybrid_search.embedding.models import ModelFiles, default_cache_dir, resolve_model
from hybrid_search.errors import EmbedderError, MissingDependencyError

__all__ = ["Embedder", "ModelFiles", "QueryEncoder", "create_embedder", "resolve_model"]

logger = logging.getLogger(__name__)


def create_embedder(settings: EmbeddingSettings, *, raw: bool = False) -> Embedder:
    """Build the configured embedder.

    ``backend="auto"`` uses ONNX Runtime fp32 (identical vectors, faster) when the model has
    local files and the export works, and falls back to torch with one warning otherwise.
    ``onnx-int8`` quantises the query side only; documents are embedded in fp32. A model
    folder with ``magnitude.json`` is wrapped in ``MagnitudeEmbedder`` (``raw`` skips that).

    Raises:
        EmbedderError: an explicitly requested ONNX backend could not be built.
        MissingDependencyError: a needed package is missing.
        ConfigError: a trained model folder has an invalid ``magnitude.json`` or module list.
    """
    files = resolve_model(settings.model)
    spec = load_spec(files.path) if files.path is not None and not raw else None
    if spec is not None:
        # A model trained by `hybrid-search train`: any runtime gives its pooled vectors and the
        # policy's side transform (numpy) is applied on top (embedding/magnitude.py).
        inner = create_embedder(settings.model_copy(update={"model": str(files.path)}), raw=True)
        logger.info("magnitude-aware model %s: policy %s", files.model_id, spec.policy)
        return MagnitudeEmbedder(inner, spec)
    cache_dir = settings.cache_dir or default_cache_dir()
    backend = settings.backend
    if backend in ("auto", "onnx", "onnx-int8") and files.path is not None:
        from hybrid_search.embedding.onnx import OnnxEmbedder, export_onnx

        int8 = backend == "onnx-int8"
        try:
            graph = export_onnx(files, cache_dir, int8=int8)
            return OnnxEmbedder(
                files,
                graph,
                threads=settings.threads,
                query_prefix=settings.query_prefix,
                document_prefix=settings.document_prefix,
                int8=int8,
                # int8 for queries only: documents stay fp32 (see OnnxEmbedder).
                document_graph=export_onnx(files, cache_dir) if int8 else None,
            )
        except (EmbedderError, MissingDependencyError, ImportError) as exc:
            if backend != "auto":
                raise
            logger.warning("ONNX runtime unavailable (%s); using sentence-transformers", exc)
    elif backend != "torch":
        logger.warning("model %s has no local files; ONNX needs them, using torch", files.model_id)
    from hybrid_search.embedding.sentence_transformer import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(
        files,
        device=settings.device,
        query_prefix=settings.query_prefix,
        document_prefix=settings.document_prefix,
    )
