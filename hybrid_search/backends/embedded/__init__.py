"""The embedded engine: tantivy (BM25, filters) + faiss (vectors), in one directory, no server."""

from hybrid_search.backends.embedded.backend import EmbeddedBackend

__all__ = ["EmbeddedBackend"]
