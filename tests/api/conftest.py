"""An app over a fresh embedded index of the tiny corpus, with the hash embedder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hybrid_search.api import create_app


@pytest.fixture
def make_client(make_searcher, corpus) -> Iterator[Callable[..., TestClient]]:
    """``make_client(docs="corpus", **settings_overrides)`` -> a started TestClient.

    ``docs=None`` leaves the data directory empty (no index yet).
    """
    clients: list[TestClient] = []

    def factory(docs: Any = "corpus", **overrides: Any) -> TestClient:
        searcher = make_searcher(corpus if docs == "corpus" else docs, **overrides)
        client = TestClient(create_app(searcher.settings, searcher=searcher))
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()
