"""The sentence-transformers (torch) embedder: any model id or local path."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from hybrid_search.embedding.models import ModelFiles
from hybrid_search.errors import EmbedderError, MissingDependencyError

__all__ = ["SentenceTransformerEmbedder"]

logger = logging.getLogger(__name__)


class SentenceTransformerEmbedder:
    """Wraps ``sentence_transformers.SentenceTransformer`` (imported lazily: it is slow)."""

    def __init__(
        self,
        files: ModelFiles,
        *,
        device: str = "cpu",
        query_prefix: str = "",
        document_prefix: str = "",
    ) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            msg = "the torch embedder needs sentence-transformers: pip install hybrid-search"
            raise MissingDependencyError(msg) from exc
        source = str(files.path) if files.path is not None else files.model_id
        self._model: Any = SentenceTransformer(source, device=device)
        self.model_id = files.model_id
        self.runtime = "torch"
        # sentence-transformers 6 renamed the method; 3.x-5.x only has the old name.
        get_dim = getattr(self._model, "get_embedding_dimension", None)
        if get_dim is None:
            get_dim = self._model.get_sentence_embedding_dimension
        dimension = get_dim()
        if dimension is None:
            msg = f"model {files.model_id!r} does not declare its embedding dimension"
            raise EmbedderError(msg)
        self.dimension = int(dimension)
        self.normalized = files.normalize
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix

    def encode_query(self, text: str) -> np.ndarray:
        """Encode one query."""
        vec = self._model.encode([self.query_prefix + text], convert_to_numpy=True)
        return np.asarray(vec[0], dtype=np.float32)

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        """Encode documents in batches."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vecs = self._model.encode(
            [self.document_prefix + t for t in texts],
            batch_size=batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
        )
        return np.asarray(vecs, dtype=np.float32)
