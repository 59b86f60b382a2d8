"""Search backends behind one protocol, chosen by name from a registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hybrid_search.backends.base import Capabilities, Health, IndexInfo, SearchBackend
from hybrid_search.errors import ConfigError

if TYPE_CHECKING:
    from hybrid_search.config import Settings
    from hybrid_search.templates import IndexTemplate

__all__ = [
    "BACKENDS",
    "Capabilities",
    "Health",
    "IndexInfo",
    "SearchBackend",
    "create_backend",
]


def _embedded(settings: Settings, template: IndexTemplate) -> SearchBackend:
    from hybrid_search.backends.embedded import EmbeddedBackend

    return EmbeddedBackend(settings.embedded.data_dir, template, settings.embedded)


def _opensearch(settings: Settings, template: IndexTemplate) -> SearchBackend:
    from hybrid_search.backends.opensearch.backend import OpenSearchBackend

    return OpenSearchBackend(settings, template)


BACKENDS: dict[str, Callable[[Settings, IndexTemplate], SearchBackend]] = {
    "embedded": _embedded,
    "opensearch": _opensearch,
}


def create_backend(settings: Settings, template: IndexTemplate) -> SearchBackend:
    """Build the configured backend (no I/O: backends open on first use).

    Raises:
        ConfigError: unknown backend name; the message lists the registered ones.
    """
    factory = BACKENDS.get(settings.backend)
    if factory is None:
        msg = (
            f"HYBRID_SEARCH_BACKEND={settings.backend!r} is not a known backend; "
            f"allowed: {sorted(BACKENDS)}"
        )
        raise ConfigError(msg)
    return factory(settings, template)
