"""An app over a fresh embedded index of the tiny corpus (hash embedder), observability on."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hybrid_search.api import create_app


@pytest.fixture
def make_client(make_searcher, corpus) -> Iterator[Callable[..., TestClient]]:
    """``make_client(**settings_overrides)`` -> a started TestClient over the tiny corpus."""
    clients: list[TestClient] = []

    def factory(**overrides: Any) -> TestClient:
        searcher = make_searcher(corpus, **overrides)
        client = TestClient(create_app(searcher.settings, searcher=searcher, warm_up=False))
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)
