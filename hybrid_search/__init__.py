"""hybrid_search: lexical + semantic hybrid search for OpenSearch, with an embedded engine.

The public API is importable from here::

    from hybrid_search import Searcher, load_settings

    searcher = Searcher.from_settings(load_settings())
    response = searcher.search({"query": "black leather ankle boots"})

Importing the package loads nothing heavy: each name below is imported on first access
(PEP 562), and the embedders, engines and the API only by the factories that need them. The
batch re-embed is ``hybrid_search.reembed.reembed`` (its module's name would shadow it here).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from hybrid_search.api.app import create_app
    from hybrid_search.config import Settings, load_settings
    from hybrid_search.errors import (
        BackendError,
        BackendUnavailableError,
        ConfigError,
        EmbedderError,
        EmbedderTimeoutError,
        HybridSearchError,
        IndexCorruptError,
        IndexNotFoundError,
        InvalidRequestError,
        MissingDependencyError,
        ModelMismatchError,
        TemplateError,
    )
    from hybrid_search.hits import IngestReport
    from hybrid_search.ingest import index_documents, read_jsonl
    from hybrid_search.schemas import SearchRequest, SearchResponse
    from hybrid_search.searcher import Searcher

# name -> the module that defines it
_LAZY = {
    "Searcher": "hybrid_search.searcher",
    "SearchRequest": "hybrid_search.schemas",
    "SearchResponse": "hybrid_search.schemas",
    "Settings": "hybrid_search.config",
    "load_settings": "hybrid_search.config",
    "create_app": "hybrid_search.api.app",
    "index_documents": "hybrid_search.ingest",
    "read_jsonl": "hybrid_search.ingest",
    "IngestReport": "hybrid_search.hits",
    **{
        name: "hybrid_search.errors"
        for name in (
            "BackendError",
            "BackendUnavailableError",
            "ConfigError",
            "EmbedderError",
            "EmbedderTimeoutError",
            "HybridSearchError",
            "IndexCorruptError",
            "IndexNotFoundError",
            "InvalidRequestError",
            "MissingDependencyError",
            "ModelMismatchError",
            "TemplateError",
        )
    },
}

__all__ = [
    "BackendError",
    "BackendUnavailableError",
    "ConfigError",
    "EmbedderError",
    "EmbedderTimeoutError",
    "HybridSearchError",
    "IndexCorruptError",
    "IndexNotFoundError",
    "IngestReport",
    "InvalidRequestError",
    "MissingDependencyError",
    "ModelMismatchError",
    "SearchRequest",
    "SearchResponse",
    "Searcher",
    "Settings",
    "TemplateError",
    "__version__",
    "create_app",
    "index_documents",
    "load_settings",
    "read_jsonl",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'hybrid_search' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
