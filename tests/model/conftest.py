"""Fixtures of the real-model tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hybrid_search.config import load_settings
from hybrid_search.demo import load_catalogue
from hybrid_search.ingest import index_documents
from hybrid_search.searcher import Searcher


@pytest.fixture(scope="session")
def demo_searcher(minilm: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searcher]:
    """The bundled demo catalogue indexed once with the real MiniLM (tests only search it)."""
    settings = load_settings(embedded={"data_dir": tmp_path_factory.mktemp("demo")})
    searcher = Searcher.from_settings(settings)
    searcher._embedder_factory = lambda: minilm
    report = index_documents(
        ((str(i), d) for i, d in enumerate(load_catalogue())),
        template=searcher.template,
        embedder=minilm,
        backend=searcher.backend,
    )
    assert report.failed == [] and report.indexed == 600
    yield searcher
    searcher.close()
