"""The HTTP sidecar: ``create_app(settings)`` serves the Searcher to storefronts."""

from hybrid_search.api.app import create_app

__all__ = ["create_app"]
