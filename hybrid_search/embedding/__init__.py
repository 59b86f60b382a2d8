"""Embedders: ONNX Runtime (default when it can be exported) or sentence-transformers (torch)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hybrid_search.config import EmbeddingSettings
from hybrid_search.embedding.base import Embedder, QueryEncoder
from hybrid_search.embedding.magnitude import MagnitudeEmbedder, load_spec
from hybrid_search.embedding.models import ModelFiles, default_cache_dir, resolve_model
from hybrid_search.errors import EmbedderError, MissingDependencyError

if TYPE_CHECKING:
    from hybrid_search.embedding.onnx import Quant

__all__ = ["Embedder", "ModelFiles", "QueryEncoder", "create_embedder", "resolve_model"]

logger = logging.getLogger(__name__)

# embedding.backend -> the ONNX query graph (documents are always embedded with fp32).
# auto = w8: 1.6x faster queries than fp32 at unchanged nDCG@10 on Home Depot, vector-only and
# hybrid (benchmarks/results/query-encoder.md).
_QUANT: dict[str, Quant] = {"auto": "w8", "onnx": "fp32", "onnx-int8": "int8", "onnx-w8": "w8"}


def create_embedder(settings: EmbeddingSettings, *, raw: bool = False) -> Embedder:
    """Build the configured embedder.

    ``backend="auto"`` uses ONNX Runtime when the model has local files and the export works:
    queries on the 8-bit block-wise graph (``onnx-w8``; fp32 if it cannot be built), documents
    on fp32; it falls back to torch with one warning otherwise. ``onnx`` is fp32 on both sides
    (torch's vectors), ``onnx-int8`` dynamic int8 queries. Quantised graphs serve the query
    side only; documents are always embedded in fp32. A model folder with ``magnitude.json``
    is wrapped in ``MagnitudeEmbedder`` (``raw`` skips that).

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
    if backend in _QUANT and files.path is not None:
        from hybrid_search.embedding.onnx import OnnxEmbedder, export_onnx

        quant = _QUANT[backend]
        try:
            fp32 = export_onnx(files, cache_dir)
            graph = fp32
            if quant != "fp32":
                try:
                    graph = export_onnx(files, cache_dir, quant=quant)
                except EmbedderError as exc:
                    if backend != "auto":
                        raise
                    # An onnxruntime without 8-bit MatMulNBits: fp32 queries, same rankings.
                    logger.warning("%s query graph unavailable (%s); using fp32", quant, exc)
                    quant = "fp32"
            return OnnxEmbedder(
                files,
                graph,
                threads=settings.threads,
                query_prefix=settings.query_prefix,
                document_prefix=settings.document_prefix,
                runtime="onnx" if quant == "fp32" else f"onnx-{quant}",
                # Quantised graphs serve queries only: documents stay fp32 (see OnnxEmbedder).
                document_graph=fp32,
                query_max_tokens=settings.query_max_tokens,
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
