"""hybrid_search: lexical + semantic hybrid search for OpenSearch, with an embedded engine.

Importing the package loads nothing heavy: the embedders, engines and the API are imported by
the factories that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
