"""The exception tree of hybrid_search.

Every error the package raises on purpose is a ``HybridSearchError``::

    HybridSearchError
    ├── ConfigError(ValueError)             bad settings; names the env var
    ├── TemplateError(ValueError)           file path + JSON pointer + what was expected
    ├── MissingDependencyError(ImportError) names the extra to install
    ├── InvalidRequestError(ValueError)     bad search or document input  -> HTTP 400
    ├── ModelMismatchError                  index built with another embedding model -> HTTP 409
    ├── IndexNotFoundError                  -> HTTP 404
    ├── IndexCorruptError                   an index directory that cannot be opened safely
    ├── EmbedderError                       the embedding model failed
    │   └── EmbedderTimeoutError            it did not answer in time
    ├── BackendUnavailableError             connect / timeout  -> HTTP 503
    └── BackendError                        the engine rejected a request -> HTTP 502
"""

from __future__ import annotations

__all__ = [
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
]


class HybridSearchError(Exception):
    """Base class of every error raised on purpose by hybrid_search."""


class ConfigError(HybridSearchError, ValueError):
    """A setting is missing, malformed or inconsistent with another one."""


class TemplateError(HybridSearchError, ValueError):
    """An index template is malformed: the message names the file and the JSON pointer."""


class MissingDependencyError(HybridSearchError, ImportError):
    """An optional dependency is not installed: the message names the pip extra."""


class InvalidRequestError(HybridSearchError, ValueError):
    """A request or document is invalid: the message names field, value and what is allowed."""


class ModelMismatchError(HybridSearchError):
    """The index was built with a different embedding model than the one configured."""


class IndexNotFoundError(HybridSearchError):
    """The index (or a document in it) does not exist."""


class IndexCorruptError(HybridSearchError):
    """An index directory exists but cannot be opened safely: the message names the path."""


class EmbedderError(HybridSearchError):
    """The embedding model failed to encode a text."""


class EmbedderTimeoutError(EmbedderError):
    """The embedding model did not answer within the configured timeout."""


class BackendUnavailableError(HybridSearchError):
    """The search backend cannot be reached (connection refused, timeout)."""


class BackendError(HybridSearchError):
    """The search backend rejected a request; keeps the status and the root-cause reason."""

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason
